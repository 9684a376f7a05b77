/**
 * The capture engine: Debian's tcpdump, run in the host's network namespace
 * (nsenter --net, through the network's privilege: as root or through sudo),
 * writing pcap to its standard output, which PcapReader splits into records;
 * in rootless mode, where tcpdump cannot run, the packet-socket engine
 * (packet-engine.ts), which speaks the same dialect. Writing through our
 * pipe instead of `-w FILE` keeps files, size caps, disk errors and packet
 * counts on this side, whatever user the engine runs as.
 */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { DummyNetError, MissingProgramError } from "../errors.js";
import { inNamespace } from "../system/command-runner.js";
import { findExecutable, pathDirectories } from "../system/executables.js";
import { missingProgramHint, PACKAGE_OF_PROGRAM } from "../system/hints.js";
import type { Privilege } from "../system/privilege.js";
import { isRootless } from "../rootless/privilege.js";
import { packetEngineArgv } from "./packet-engine.js";
import { PcapReader, type PcapRecord } from "./pcap.js";

/** Bytes of each packet kept when nobody says: the whole of any packet on a 64 KiB MTU link. */
export const DEFAULT_SNAPLEN = 262_144;
/** How long tcpdump may take to open the interface before the capture fails. */
const START_TIMEOUT_MS = 10_000;
/** How long tcpdump may take to flush and exit after SIGINT before it is killed. */
const STOP_TIMEOUT_MS = 3_000;

/**
 * The pids of the running capture engines: they live in the namespaces they
 * record but are not the user's, so namespace process lists leave them out.
 */
export const captureEnginePids = new Set<number>();

/** Where and what one tcpdump captures. */
export interface TcpdumpOptions {
  privilege: Privilege;
  /** Scoped name of the namespace; undefined: the namespace the privilege's commands run in. */
  namespace: string | undefined;
  /** The interface on the system (scoped name), or "any" for every interface of the namespace. */
  iface: string;
  snaplen: number;
  /** Receives the records as they arrive (after the header). */
  onRecords: (records: PcapRecord[], reader: PcapReader) => void;
  /** Called once when tcpdump ends by itself (not by stop()): the interface went away, say. */
  onFailure: (error: Error) => void;
}

/** Where tcpdump is, or a MissingProgramError naming its package. */
export function requireTcpdump(): string {
  const tcpdump = findExecutable("tcpdump", [...pathDirectories(), "/usr/sbin", "/usr/bin", "/sbin"]);
  if (tcpdump !== undefined) return tcpdump;
  throw new MissingProgramError(
    ["tcpdump"],
    "tcpdump",
    PACKAGE_OF_PROGRAM["tcpdump"],
    "captures need tcpdump, which is not installed",
    missingProgramHint("tcpdump"),
  );
}

/** A running tcpdump: resolves `start()` once it listens; `stop()` makes it flush and exit. */
/** What a capture engine said on stderr, without its progress and statistics lines ("no message" if nothing else). */
export function engineMessage(stderr: string): string {
  const lines = stderr
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !/^(tcpdump: )?(listening on|data link type)|^\d+ packets/.test(line));
  return lines.join("; ") || "no message";
}

export class Tcpdump {
  readonly reader = new PcapReader();
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #argv: string[];
  readonly #exited: Promise<void>;
  #stderr = "";
  #stopping = false;
  #lastData = 0;

  constructor(private readonly options: TcpdumpOptions) {
    const engine = isRootless(options.privilege)
      ? packetEngineArgv(options.iface, options.snaplen)
      : // -U: each packet reaches the pipe at once; --immediate-mode: and leaves the kernel at once;
        // -Z root: no switch to the tcpdump user.
        [
          requireTcpdump(),
          "-i",
          options.iface,
          "-s",
          String(options.snaplen),
          "-U",
          "--immediate-mode",
          "-Z",
          "root",
          "-w",
          "-",
        ];
    this.#argv = options.privilege.wrap(inNamespace(engine, options.namespace));
    // Its own process group: a Ctrl-C in the terminal reaches this process, which stops the capture in order (flushing it).
    this.#child = spawn(this.#argv[0], this.#argv.slice(1), { stdio: ["pipe", "pipe", "pipe"], detached: true });
    this.#child.stdin.end();
    const pid = this.#child.pid;
    if (pid !== undefined) captureEnginePids.add(pid);
    this.#child.stderr.setEncoding("utf8");
    this.#child.stderr.on("data", (text: string) => (this.#stderr = (this.#stderr + text).slice(-4096)));
    this.#child.stdout.on("data", (chunk: Buffer) => {
      this.#lastData = performance.now();
      try {
        const records = this.reader.push(chunk);
        if (records.length > 0) options.onRecords(records, this.reader);
      } catch (error) {
        this.#fail(error as Error);
      }
    });
    this.#exited = new Promise((resolve) => {
      this.#child.on("error", (error) => {
        this.#stderr += `\n${error.message}`;
        resolve();
      });
      this.#child.on("close", () => {
        if (pid !== undefined) captureEnginePids.delete(pid);
        resolve();
      });
    });
    void this.#exited.then(() => {
      // Ended by itself, or stopped but with an error of its own (the interface went away as it was stopped).
      const code = this.#child.exitCode;
      if (!this.#stopping || (code !== null && code !== 0))
        this.#fail(new DummyNetError(`capture of ${this.#what()} ended: ${this.#why()}`));
    });
  }

  /** The process id of tcpdump (or of the sudo/nsenter in front of it). */
  get pid(): number | undefined {
    return this.#child.pid;
  }

  /** Resolves once tcpdump says it is listening: from then on, every packet of the interface is recorded. */
  async start(): Promise<void> {
    let onData: ((text: string) => void) | undefined;
    let timer: NodeJS.Timeout | undefined;
    const listening = new Promise<void>((resolve, reject) => {
      onData = () => {
        if (/listening on /.test(this.#stderr)) resolve();
      };
      this.#child.stderr.on("data", onData);
      void this.#exited.then(() => {
        reject(new DummyNetError(`capture of ${this.#what()} failed to start: ${this.#why()}`));
      });
      timer = setTimeout(() => {
        reject(new DummyNetError(`capture of ${this.#what()}: tcpdump did not listen within ${START_TIMEOUT_MS} ms`));
      }, START_TIMEOUT_MS);
    });
    try {
      await listening;
    } catch (error) {
      await this.stop();
      throw error;
    } finally {
      clearTimeout(timer);
      if (onData) this.#child.stderr.off("data", onData);
    }
  }

  /**
   * Lets tcpdump hand over what the kernel still holds, then ends it; resolves once it has exited.
   * `discard`: what is still on its way does not matter (a passing test's recording): end it at once.
   */
  async stop(options: { discard?: boolean } = {}): Promise<void> {
    if (this.#stopping) return this.#exited;
    this.#stopping = true;
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return this.#exited;
    if (options.discard) {
      this.#signal("SIGKILL");
      return this.#exited;
    }
    // Packets sent just before stop() may still be on their way out of the kernel's buffer: wait until
    // the pipe has been quiet for a few milliseconds (bounded), so that SIGINT does not cut them off.
    const deadline = performance.now() + 200;
    while (performance.now() < deadline && performance.now() - this.#lastData < 20) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    this.#signal("SIGINT");
    const timer = setTimeout(() => {
      this.#signal("SIGKILL");
    }, STOP_TIMEOUT_MS);
    await this.#exited;
    clearTimeout(timer);
  }

  /** The exit path: ends tcpdump at once. */
  stopSync(): void {
    this.#stopping = true;
    try {
      this.#signal("SIGKILL");
    } catch {
      // Gone already.
    }
  }

  /**
   * Signals the engine's process group (its own, see the constructor): the nsenter that enters a rootless holder
   * does not forward signals to the engine behind it.
   */
  #signal(signal: NodeJS.Signals): void {
    try {
      if (this.#child.pid === undefined) throw new Error("no pid");
      process.kill(-this.#child.pid, signal);
    } catch {
      this.#child.kill(signal);
    }
  }

  #what(): string {
    return `${this.options.iface === "any" ? "every interface" : `interface ${this.options.iface}`}${this.options.namespace ? ` in namespace ${this.options.namespace}` : ""}`;
  }

  #why(): string {
    const code = this.#child.exitCode ?? this.#child.signalCode;
    // The packet engine's script is long: its argv is shown without it.
    const argv = this.#argv.map((word, i) => (this.#argv[i - 1] === "-e" ? "SCRIPT" : word));
    return `${engineMessage(this.#stderr)} (exit ${String(code)}; \`${argv.join(" ")}\`)`;
  }

  #failed = false;
  #fail(error: Error): void {
    if (this.#failed) return;
    this.#failed = true;
    this.options.onFailure(error);
  }
}
