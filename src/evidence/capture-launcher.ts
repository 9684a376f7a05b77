/**
 * The fixtures' capture engines, started by one long-lived `sh` per privilege
 * (per process) instead of one Node spawn per host: Node forks its whole
 * process, on its main thread, for every program it starts, and that was
 * most of what evidence cost a passing test (docs/evidence.md). The shell
 * reads commands on its standard input:
 *
 *   start ID NAMESPACE-PATH FILE   runs `nsenter --net=PATH ENGINE... FILE` in the background (ENGINE: `tcpdump
 *                                  -i any ... -C 1 -W 4 -w`, or rootless, the packet engine, packet-engine.ts)
 *   kill SIGNAL PID                signals a capture engine
 *
 * and tells, one line each, prefixed by the capture's ID: `@pid N`, each
 * line tcpdump writes on stderr ("listening on any" once it records), and
 * `@exit STATUS`. The engine writes its own ring of files (FILE0..FILE3, the
 * newest ~4 MB), so no packet crosses into Node while a test runs. When this
 * process ends, the shell sees its input close and kills every engine. The
 * pids are the shell's: in rootless mode, numbers of the holder's PID
 * namespace, so only the shell signals them there.
 */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import type { Socket } from "node:net";
import { createInterface } from "node:readline";
import { isRootless } from "../rootless/privilege.js";
import type { Privilege } from "../system/privilege.js";
import { packetEngineArgv } from "./packet-engine.js";
import { captureEnginePids, requireTcpdump } from "./tcpdump.js";

/** Bytes of each packet kept: headers and some payload, which is what a failure's story needs. */
export const EVIDENCE_SNAPLEN = 2048;
/** The ring: RING_FILES files of RING_FILE_MB million bytes each (tcpdump's -W and -C). */
export const RING_FILES = 4;
const RING_FILE_MB = 1;

/** The engine's argv but the file (given as its last argument, it writes the ring FILE0...). */
function engineArgv(privilege: Privilege): string[] {
  if (isRootless(privilege))
    return packetEngineArgv("any", EVIDENCE_SNAPLEN, { fileBytes: RING_FILE_MB * 1e6, files: RING_FILES });
  const ring = ["-C", String(RING_FILE_MB), "-W", String(RING_FILES)];
  return [
    requireTcpdump(),
    "-i",
    "any",
    "-s",
    String(EVIDENCE_SNAPLEN),
    "-U",
    "--immediate-mode",
    "-Z",
    "root",
    ...ring,
    "-w",
  ];
}

// "$@" is the engine's argv (engineArgv()).
const SCRIPT = `while read -r cmd id a b; do
  case $cmd in
  start)
    { nsenter --net="$a" -- "$@" "$b" 2>&1 >/dev/null </dev/null &
      echo "@pid $!"; wait $!; echo "@exit $?"; } | while IFS= read -r line; do echo "$id $line"; done &
    ;;
  kill) kill "-$id" "$a" 2>/dev/null ;;
  esac
done
kill -KILL 0`;

/** What a running capture is told. */
export interface LaunchedCapture {
  /** The engine's pid (as the shell sees it), once the shell has told it. */
  pid: number | undefined;
  /** Resolves once the engine records (it said "listening on"), or rejects with why it did not. */
  readonly listening: Promise<void>;
  /** Resolves with the engine's exit status and its stderr once it has exited. */
  readonly exited: Promise<{ status: number; stderr: string }>;
}

interface Pending extends LaunchedCapture {
  stderr: string;
  /** A signal asked for before the shell told the pid. */
  signal: "INT" | "KILL" | undefined;
  onLine(line: string): void;
}

class Launcher {
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #captures = new Map<string, Pending>();
  #next = 0;
  #ended = false;
  /** Whether the engines' pids are this process's to signal (not in rootless mode: see the file comment). */
  readonly #ownPids: boolean;

  constructor(privilege: Privilege) {
    this.#ownPids = !isRootless(privilege);
    // The README's sudoers line allows nsenter, not sh: nsenter without a namespace runs sh as it is.
    const argv = privilege.wrap(["nsenter", "--", "sh", "-c", SCRIPT, "sh", ...engineArgv(privilege)]);
    // Its own process group: a Ctrl-C in the terminal reaches this process, which stops the captures in order.
    this.#child = spawn(argv[0], argv.slice(1), { stdio: ["pipe", "pipe", "pipe"], detached: true });
    this.#child.stderr.resume();
    this.#child.stdin.on("error", () => undefined);
    this.#child.on("error", () => {
      this.#end("could not be started");
    });
    this.#child.on("close", (code, signal) => {
      this.#end(`ended (${String(code ?? signal)})`);
    });
    createInterface({ input: this.#child.stdout }).on("line", (line) => {
      const space = line.indexOf(" ");
      this.#captures.get(line.slice(0, space))?.onLine(line.slice(space + 1));
    });
    this.#idle();
  }

  get alive(): boolean {
    return !this.#ended;
  }

  start(namespacePath: string, file: string): LaunchedCapture {
    const id = `c${this.#next++}`;
    let ready!: () => void;
    let notReady!: (error: Error) => void;
    let exit!: (value: { status: number; stderr: string }) => void;
    const listening = new Promise<void>((resolve, reject) => ((ready = resolve), (notReady = reject)));
    listening.catch(() => undefined);
    const capture: Pending = {
      pid: undefined,
      stderr: "",
      signal: undefined,
      listening,
      exited: new Promise((resolve) => (exit = resolve)),
      onLine: (line) => {
        if (line.startsWith("@pid ")) {
          capture.pid = Number(line.slice(5));
          if (this.#ownPids) captureEnginePids.add(capture.pid);
          if (capture.signal) this.signal(capture, capture.signal);
        } else if (line.startsWith("@exit ")) {
          this.#captures.delete(id);
          if (capture.pid !== undefined && this.#ownPids) captureEnginePids.delete(capture.pid);
          this.#idle();
          notReady(new Error(capture.stderr.trim() || "tcpdump ended before it listened"));
          exit({ status: Number(line.slice(6)), stderr: capture.stderr });
        } else {
          capture.stderr = (capture.stderr + line + "\n").slice(-4096);
          if (line.includes("listening on ")) ready();
        }
      },
    };
    this.#captures.set(id, capture);
    if (this.#ended) capture.onLine("@exit 255");
    else {
      this.#hold(true);
      this.#child.stdin.write(`start ${id} ${namespacePath} ${file}\n`);
    }
    return capture;
  }

  /** INT: tcpdump writes what it holds and exits; KILL: at once. Resolve on `exited`. */
  signal(capture: LaunchedCapture, signal: "INT" | "KILL"): void {
    const pending = capture as Pending;
    if (pending.pid === undefined) pending.signal = signal;
    else if (!this.#ended) this.#child.stdin.write(`kill ${signal} ${pending.pid}\n`);
  }

  /** The exit path: end the engines now (the shell would, once it sees its input close). */
  killSync(): void {
    if (!this.#ownPids) return;
    for (const capture of this.#captures.values()) {
      try {
        if (capture.pid !== undefined) process.kill(capture.pid, "SIGKILL");
      } catch {
        // Gone, or not ours to signal (sudo): the shell kills it as this process's pipe closes.
      }
    }
  }

  #end(why: string): void {
    if (this.#ended) return;
    this.#ended = true;
    for (const capture of [...this.#captures.values()]) {
      capture.stderr += `the capture launcher ${why}\n`;
      capture.onLine("@exit 255");
    }
  }

  /** Keeps this process alive only while a capture runs. */
  #idle(): void {
    if (this.#captures.size === 0) this.#hold(false);
  }

  #hold(on: boolean): void {
    // The pipes of a spawned child are sockets (their types say only streams).
    const pipes = [this.#child.stdin, this.#child.stdout, this.#child.stderr] as unknown as Socket[];
    for (const handle of [this.#child, ...pipes])
      if (on) handle.ref();
      else handle.unref();
  }
}

const launchers = new Map<Privilege, Launcher>();

/** Starts recording every interface of the namespace at `namespacePath` into tcpdump's ring of files `file0`... */
export function launchCapture(
  privilege: Privilege,
  namespacePath: string,
  file: string,
): { capture: LaunchedCapture; launcher: Launcher } {
  let launcher = launchers.get(privilege);
  if (!launcher?.alive) launchers.set(privilege, (launcher = new Launcher(privilege)));
  return { capture: launcher.start(namespacePath, file), launcher };
}

export type { Launcher };

process.on("exit", () => {
  for (const launcher of launchers.values()) launcher.killSync();
});
