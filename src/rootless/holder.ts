/**
 * The holder of a rootless network: a tiny shell that an unprivileged owner
 * starts in a new user namespace (the owner's uid mapped to root), mount
 * namespace (a private tmpfs on /run, so /run/netns and /run/xtables.lock are
 * its own), network namespace (the network's "host") and PID namespace, of
 * which it is init.
 *
 * Nothing is left even when the owner is SIGKILLed: the holder reads a pipe
 * whose other end only the owner holds, so it ends at the owner's end however
 * that comes (the kernel closes the pipe); as init of its PID namespace its
 * end makes the kernel kill every process inside (the programs started in the
 * network's hosts, commands in flight), and the namespaces go with the last of
 * them. No reaper is needed. `unshare --kill-child` ties the holder to its
 * launcher as well, and the holder's `wait` reaps orphans reparented to it.
 */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { readdirSync, readFileSync, readlinkSync, statSync } from "node:fs";
import type { Socket } from "node:net";
import { DummyNetError, InvalidArgumentError } from "../errors.js";
import { effectiveUid, processStartTime } from "../system/proc.js";
import { findExecutable } from "../system/executables.js";
import { type Logger, defaultLogger } from "../log.js";
import { classifyRootless, readUserNamespaceSysctls, RootlessUnavailableError } from "./blockers.js";
import { type EnterOptions, type HolderRef, enterArgv, holderAlive } from "./enter.js";

export interface RootlessHolderOptions {
  /** Milliseconds the holder gets to make its namespaces and say it is ready. @default 10000 */
  startTimeout?: number | undefined;
  /**
   * A directory under /run that stays visible inside (the private /run hides
   * the host's). "" keeps none.
   * @default the caller's XDG_RUNTIME_DIR when it is under /run (/run/user/<uid>), so programs that use it keep working
   */
  keepRunDirectory?: string | undefined;
  /** Where the holder's start and end are logged. @default the library's logger */
  log?: Logger | undefined;
}

/** The namespaces a holder owns, as `type:[inode]` (what /proc/<pid>/ns/* and lsns show). */
export interface HolderNamespaces {
  user: string;
  mnt: string;
  net: string;
  pid: string;
}

/**
 * The holder's script, run by sh as init of the new PID namespace. $1: the
 * directory under /run to keep visible ("" for none). It mounts the private
 * /run (fd 4 keeps the host's /run reachable to bind the kept directory back;
 * --no-canonicalize, or mount would resolve that path into the new /run),
 * prints its pid as the caller sees it (the host's /proc is still mounted, so
 * /proc/self is that pid), then waits for the end of its standard input:
 * `wait` also reaps orphans that the kernel reparents to init.
 */
const HOLDER_SCRIPT = [
  "set -e",
  "exec 4</run",
  "mount -t tmpfs -o mode=0755,nosuid,nodev dummynet-run /run",
  "mkdir /run/netns",
  'if [ -n "$1" ] && [ -d "/proc/self/fd/4/${1#/run/}" ]; then mkdir -p "$1"; mount --no-canonicalize --bind "/proc/self/fd/4/${1#/run/}" "$1"; fi',
  "exec 4<&-",
  "read -r pid rest < /proc/self/stat",
  'echo "ready $pid"',
  "exec 3<&0 0</dev/null",
  "cat <&3 >/dev/null &",
  "exec 3<&-",
  "wait",
].join("\n");

/** The argv of a holder's launcher (exported for doctor's report and the tests). */
function holderArgv(keepRunDirectory: string): string[] {
  return [
    "unshare",
    "--user",
    "--map-root-user",
    "--mount",
    "--net",
    "--pid",
    "--fork",
    "--kill-child",
    "--",
    "sh",
    "-c",
    HOLDER_SCRIPT,
    "dummynet-holder",
    keepRunDirectory,
  ];
}

/** Milliseconds stop() waits for the holder to end after closing its pipe, before it kills it. */
const STOP_GRACE = 5000;

/** A running holder; see the module comment. Enter it with `enter()`, end it with `stop()` (or let the owner end). */
export class RootlessHolder implements HolderRef, AsyncDisposable {
  /** The holder's pid (init of its PID namespace, 1 inside). */
  readonly pid: number;
  /** Its start time in clock ticks since boot (with the pid, how other processes recognise it). */
  readonly startTime: number;
  /** The `unshare` that launched it (outside the PID namespace; it leads the process group of both). */
  readonly launcherPid: number;
  /** Its namespaces, as /proc/<pid>/ns/* name them. */
  readonly namespaces: HolderNamespaces;
  /** Milliseconds from spawn to ready. */
  readonly startMs: number;
  /** Resolves when the holder has ended (its launcher has exited: by then the kernel has killed everything inside). */
  readonly exited: Promise<void>;
  readonly #launcher: ChildProcessWithoutNullStreams;
  readonly #log: Logger;
  #ended = false;

  /** @internal Use startRootlessHolder(). */
  constructor(
    launcher: ChildProcessWithoutNullStreams,
    pid: number,
    startTime: number,
    startMs: number,
    exited: Promise<void>,
    log: Logger,
  ) {
    this.#launcher = launcher;
    this.pid = pid;
    this.startTime = startTime;
    this.launcherPid = launcher.pid ?? -1;
    this.startMs = startMs;
    this.#log = log;
    const ns = (type: string) => readlinkSync(`/proc/${pid}/ns/${type}`);
    this.namespaces = { user: ns("user"), mnt: ns("mnt"), net: ns("net"), pid: ns("pid") };
    this.exited = exited.then(() => {
      this.#ended = true;
    });
  }

  /** True until the holder has ended. */
  get running(): boolean {
    return !this.#ended;
  }

  /** What another process of the same user needs to enter this holder (see record.ts). */
  get ref(): HolderRef {
    return { pid: this.pid, startTime: this.startTime };
  }

  /** The argv that runs `argv` inside this holder's namespaces (see enterArgv); throws once the holder has ended. */
  enter(argv: readonly string[], options?: EnterOptions): string[] {
    if (this.#ended) throw new HolderEndedError(this.pid);
    return enterArgv(this, argv, options);
  }

  /** Ends the holder (closing its pipe; SIGKILL after 5 s) and resolves once it and everything inside are gone. */
  async stop(): Promise<void> {
    if (this.#ended) return;
    this.#launcher.stdin.end();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<"late">(
      (resolve) =>
        (timer = setTimeout(() => {
          resolve("late");
        }, STOP_GRACE)),
    );
    const outcome = await Promise.race([this.exited, late]);
    clearTimeout(timer);
    if (outcome === "late") {
      this.#log.warn(`rootless holder ${this.pid} did not end ${STOP_GRACE} ms after its pipe closed: killing it`);
      this.stopSync();
      await this.exited;
    }
    this.#log.debug(`rootless holder ${this.pid} ended`);
  }

  /** Kills the holder at once (SIGKILL to its process group), for exit paths that cannot wait; the kernel removes the rest. */
  stopSync(): void {
    if (this.#ended) return;
    try {
      process.kill(-this.launcherPid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

/**
 * The holder has ended (its owner stopped it, or it was killed): nothing can
 * enter it any more, and the network that lived in it is gone with it.
 *
 * @example
 * ```ts
 * try {
 *   await net.netnsAdd("late");
 * } catch (error) {
 *   if (error instanceof HolderEndedError) console.error(`holder ${error.pid} is gone: build the network again`);
 *   else throw error;
 * }
 * ```
 */
export class HolderEndedError extends DummyNetError {
  constructor(
    /** The holder's pid, as this process saw it. */
    readonly pid: number,
    options?: { cause?: unknown },
  ) {
    super(
      `The rootless holder (pid ${pid}) has ended: its namespaces, and the network in them, are gone; start a new one (\`dummynet up\`, or a new DummyNet)`,
      options,
    );
  }
}

/**
 * Starts a holder owned by this process (see the module comment) and resolves
 * once its namespaces are ready. Throws RootlessUnavailableError naming the
 * cause and the fix when this machine refuses (user namespaces disabled,
 * AppArmor, seccomp, a missing program).
 */
export function startRootlessHolder(options: RootlessHolderOptions = {}): Promise<RootlessHolder> {
  const log = options.log ?? defaultLogger;
  const startTimeout = options.startTimeout ?? 10_000;
  if (!Number.isFinite(startTimeout) || startTimeout <= 0) {
    return Promise.reject(
      new InvalidArgumentError("options.startTimeout", startTimeout, "must be a positive number of milliseconds"),
    );
  }
  let keep: string;
  try {
    keep = keptRunDirectory(options.keepRunDirectory);
  } catch (error) {
    return Promise.reject(error);
  }
  const missing = ["unshare", "nsenter"].filter((program) => !onPath(program));
  if (missing.length > 0) return Promise.reject(unavailable({ missingPrograms: missing }));

  const argv = holderArgv(keep);
  log.debug(`starting a rootless holder: ${argv.slice(0, 10).join(" ")} <holder script> ${keep}`);
  const started = performance.now();
  return new Promise((resolve, reject) => {
    // detached: its own process group, so a terminal's Ctrl-C reaches the owner (which cleans up through the holder), not the holder.
    const launcher = spawn(argv[0], argv.slice(1), { stdio: ["pipe", "pipe", "pipe"], detached: true });
    let stdout = "";
    let stderr = "";
    let settled = false;
    const exited = new Promise<void>((done) =>
      launcher.once("close", () => {
        done();
      }),
    );
    const fail = (error: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      killGroup(launcher.pid);
      reject(error);
    };
    const timer = setTimeout(() => {
      fail(
        new DummyNetError(
          `The rootless holder did not get ready within ${startTimeout} ms (killed); it printed: ${(stdout + stderr).trim() || "nothing"}`,
        ),
      );
    }, startTimeout);
    launcher.stdin.on("error", () => {
      // The holder is gone; 'close' reports it.
    });
    launcher.stderr.setEncoding("utf8").on("data", (text: string) => (stderr += text));
    launcher.stdout.setEncoding("utf8").on("data", (text: string) => {
      stdout += text;
      const ready = /^ready (\d+)$/m.exec(stdout);
      if (ready === null || settled) return;
      const pid = Number(ready[1]);
      const startTime = processStartTime(pid);
      if (startTime === undefined) {
        fail(
          new DummyNetError(
            `The rootless holder said it was ready as pid ${pid}, but no such process runs; it printed: ${stderr.trim()}`,
          ),
        );
        return;
      }
      settled = true;
      clearTimeout(timer);
      const holder = new RootlessHolder(launcher, pid, startTime, performance.now() - started, exited, log);
      // The owner's event loop must not wait for the holder: it ends with the owner.
      launcher.unref();
      for (const stream of [launcher.stdin, launcher.stdout, launcher.stderr]) (stream as unknown as Socket).unref();
      log.debug(`rootless holder ${pid} ready in ${holder.startMs.toFixed(0)} ms (${holder.namespaces.user})`);
      resolve(holder);
    });
    launcher.on("error", (error: NodeJS.ErrnoException) => {
      fail(
        error.code === "ENOENT"
          ? unavailable({ missingPrograms: ["unshare"] })
          : new DummyNetError(`Could not start the rootless holder: ${error.message}`, { cause: error }),
      );
    });
    launcher.on("close", (code) => {
      fail(unavailable({ missingPrograms: [], failure: { exitCode: code, stderr } }));
    });
  });
}

/**
 * The holders this user runs now, whoever owns them (found in /proc by their
 * command line: `sh -c <the holder script> dummynet-holder ...`), so that
 * `dummynet ls` and `cleanup` look inside each.
 */
export function listOwnHolders(): HolderRef[] {
  const uid = effectiveUid();
  const found: HolderRef[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (statSync(`/proc/${entry}`).uid !== uid) continue;
      const argv = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
      if (argv[0] !== "sh" || argv[1] !== "-c" || argv[2] !== HOLDER_SCRIPT || argv[3] !== "dummynet-holder") continue;
      const startTime = processStartTime(Number(entry));
      if (startTime !== undefined) found.push({ pid: Number(entry), startTime });
    } catch {
      // Ended meanwhile.
    }
  }
  return found;
}

/** Kills a holder that another process owns (`dummynet down` from another terminal): SIGKILL, if it still runs. Returns whether it did. */
export function killHolder(holder: HolderRef): boolean {
  if (!holderAlive(holder)) return false;
  try {
    process.kill(holder.pid, "SIGKILL");
    return true;
  } catch {
    return false;
  }
}

function unavailable(facts: {
  missingPrograms: string[];
  failure?: { exitCode: number | null; stderr: string };
}): Error {
  const problem = classifyRootless({ sysctls: readUserNamespaceSysctls(), ...facts });
  if (problem === undefined)
    return new DummyNetError(
      `The rootless holder ended before it was ready: ${facts.failure?.stderr.trim() || "no output"}`,
    );
  return new RootlessUnavailableError(problem);
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    // Already gone.
  }
}

/** The directory under /run to keep visible inside: the option when given, else XDG_RUNTIME_DIR when it lies under /run. */
function keptRunDirectory(option: string | undefined): string {
  if (option === "") return "";
  const candidate = option ?? process.env["XDG_RUNTIME_DIR"];
  const valid = (path: string) =>
    path.startsWith("/run/") && !path.includes("\0") && !path.split("/").includes("..") && path.length <= 4096;
  if (option !== undefined && !valid(option)) {
    throw new InvalidArgumentError(
      "options.keepRunDirectory",
      option,
      'must be an absolute path under /run/ without ".." (other paths stay visible anyway), or "" for none',
    );
  }
  return candidate !== undefined && valid(candidate) ? candidate.replace(/\/+$/, "") : "";
}

/** True when `program` is an executable on PATH. */
export function onPath(program: string): boolean {
  return findExecutable(program) !== undefined;
}
