/**
 * RunInfo: what is known about one command run by the process monitor: the
 * command, its pid, its output so far, how it ended, and the CPU and memory
 * its process tree used. The monitor fills it in while the process runs.
 */
import { MatchError } from "./match-error.js";
import { signalOfExitStatus } from "./exit-status.js";
import { fnmatchFilter, splitLines } from "./glob.js";

/** Receives output as it arrives, already decoded (UTF-8, invalid bytes as U+FFFD). */
export type OutputCallback = (data: string) => void;

export interface RunInfoInit {
  cmd: string | readonly string[];
  cwd?: string | undefined;
  pid?: number | undefined;
  stdout?: string;
  stderr?: string;
  exitCode?: number | null;
  signal?: NodeJS.Signals | null;
  isAsync?: boolean;
  isDaemon?: boolean;
  /** Milliseconds; undefined = no timeout. */
  timeout?: number | undefined;
  cpuSystem?: number;
  cpuUser?: number;
  memRss?: number;
  memVms?: number;
}

/**
 * One run of a command: what ran, where, its pid, status and output, as the reference's RunInfo.
 * `run()` resolves with it once the command exited; `runAsync()` at once (`finished` resolves at the exit).
 *
 * @example
 * ```ts
 * const info = await host.run(["ping", "-c", "1", "10.0.0.2"]);
 * info.match({ stdout: "*1 received*" }); // throws MatchError when no line matches
 * ```
 */
export class RunInfo {
  /** The command as the user gave it (a string ran through /bin/sh -c; an array without a shell). */
  cmd: string | readonly string[];
  /** Working directory; undefined = the caller's. */
  cwd: string | undefined;
  /** Process id (also the process group id: each command leads its own group); undefined if it never started. */
  pid: number | undefined;
  /** Everything the command wrote to stdout so far. */
  stdout = "";
  /** Everything the command wrote to stderr so far. */
  stderr = "";
  /** Exit status; null while running, or when it was killed by a signal. */
  exitCode: number | null;
  /** The signal that killed the process, if any. */
  signal: NodeJS.Signals | null;
  /** Started with runAsync. */
  isAsync: boolean;
  /** Started as a daemon: expected to run until stopped. */
  isDaemon: boolean;
  /** Milliseconds the command was allowed to run; undefined = no limit. */
  timeout: number | undefined;
  /** True when the monitor stopped the command because its timeout expired. */
  timedOut = false;
  /** Why the command could not be started (program or cwd missing, ...), if it could not. */
  startError: Error | undefined;
  /** Seconds of kernel-mode CPU used by the process tree. */
  cpuSystem: number;
  /** Seconds of user-mode CPU used by the process tree. */
  cpuUser: number;
  /** Resident memory of the process tree in bytes, at the last sample. */
  memRss: number;
  /** Virtual memory of the process tree in bytes, at the last sample. */
  memVms: number;

  /**
   * A RunInfo as the process monitor makes it when it starts a command; users get theirs from
   * run(), runAsync() and the monitor, and build one only to test code that reads one.
   */
  constructor(init: RunInfoInit) {
    this.cmd = init.cmd;
    this.cwd = init.cwd;
    this.pid = init.pid;
    this.stdout = init.stdout ?? "";
    this.stderr = init.stderr ?? "";
    this.exitCode = init.exitCode ?? null;
    this.signal = init.signal ?? null;
    this.isAsync = init.isAsync ?? false;
    this.isDaemon = init.isDaemon ?? false;
    this.timeout = init.timeout;
    this.startError = undefined;
    this.stdoutCallback = undefined;
    this.stderrCallback = undefined;
    this.cpuSystem = init.cpuSystem ?? 0;
    this.cpuUser = init.cpuUser ?? 0;
    this.memRss = init.memRss ?? 0;
    this.memVms = init.memVms ?? 0;
  }

  /** Seconds of CPU (user + system) used by the process tree. */
  get cpuTotal(): number {
    return this.cpuSystem + this.cpuUser;
  }

  /**
   * Called with each piece of stdout as it arrives (not with what arrived
   * before it was set: that is in `stdout`; to miss nothing, pass
   * `stdoutCallback` in the options of run/runAsync).
   */
  stdoutCallback: OutputCallback | undefined;
  /** Like stdoutCallback, for stderr. */
  stderrCallback: OutputCallback | undefined;

  #settle: (() => void) | undefined;
  readonly #finished = new Promise<RunInfo>(
    (resolve) =>
      (this.#settle = () => {
        resolve(this);
      }),
  );

  /**
   * Resolves (never rejects) once the process has ended, or could not start,
   * and all its output has been read: `await info.finished` instead of polling
   * `hasExited`.
   */
  get finished(): Promise<RunInfo> {
    return this.#finished;
  }

  /** @internal The process monitor calls this when the process is done. */
  markFinished(): void {
    this.#settle?.();
  }

  /** True once the process has exited (or could not start). */
  get hasExited(): boolean {
    return this.exitCode !== null || this.signal !== null || this.startError !== undefined;
  }

  /** True when the process exited with status 0. */
  get succeeded(): boolean {
    return this.exitCode === 0;
  }

  /**
   * Checks that some line of the output matches an fnmatch-style pattern
   * (`*` `?` `[seq]` `[!seq]`, the whole line must match), as the
   * reference's `match()` does. Throws MatchError naming the pattern.
   *
   * @throws MatchError when no line of the stream matches its pattern.
   * @example
   * ```ts
   * info.match({ stdout: "5 packets transmitted*" });
   * ```
   */
  match(patterns: { stdout?: string | undefined; stderr?: string | undefined }): void {
    if (patterns.stdout !== undefined) matchStream(patterns.stdout, "stdout", this.stdout);
    if (patterns.stderr !== undefined) matchStream(patterns.stderr, "stderr", this.stderr);
  }

  /** @internal Appends decoded output and passes it to the callback. */
  appendOutput(streamName: "stdout" | "stderr", data: string): void {
    if (data === "") return;
    if (streamName === "stdout") {
      this.stdout += data;
      this.stdoutCallback?.(data);
    } else {
      this.stderr += data;
      this.stderrCallback?.(data);
    }
  }

  /**
   * How the process ended (or that it is running), in words.
   *
   * @example
   * ```ts
   * info.describeState(); // "exited with status 1", "was killed by SIGKILL", "is still running"
   * ```
   */
  describeState(): string {
    if (this.startError) return `could not be started: ${this.startError.message}`;
    let state: string;
    if (this.signal !== null) state = `was ${signalVerb(this.signal)}`;
    else if (this.exitCode !== null) state = `exited with status ${this.exitCode}${explainExitCode(this.exitCode)}`;
    else state = "is still running";
    if (this.timedOut) state += ` after its timeout of ${this.timeout} ms`;
    return state;
  }

  /**
   * One paragraph for error messages: pid, command, cwd, how it ended, the
   * timeout, and the tails of stdout and stderr.
   *
   * @example
   * ```ts
   * if (!info.succeeded) console.error(info.describe());
   * ```
   */
  describe(): string {
    const parts = [`\`${formatCommand(this.cmd)}\``];
    if (this.pid !== undefined) parts.push(`(pid ${this.pid}${this.cwd !== undefined ? `, cwd ${this.cwd}` : ""})`);
    else if (this.cwd !== undefined) parts.push(`(cwd ${this.cwd})`);
    const modes = [this.isAsync ? "async" : "", this.isDaemon ? "daemon" : ""].filter(Boolean);
    if (modes.length) parts.push(`[${modes.join(", ")}]`);
    parts.push(this.describeState());
    if (this.timeout !== undefined && !this.timedOut) parts.push(`(timeout ${this.timeout} ms)`);
    let text = parts.join(" ");
    for (const [name, output] of [
      ["stdout", this.stdout],
      ["stderr", this.stderr],
    ] as const) {
      if (output.trim() !== "") text += `\n${name}${tailNote(output)}:\n${indent(tail(output))}`;
    }
    return text;
  }

  /**
   * `RunInfo` and `describe()`: the command, its state and its output's tail.
   *
   * @example
   * ```ts
   * console.log(`${info}`); // RunInfo `ping -c 1 10.0.0.2` (pid 4242) exited with status 0 ...
   * ```
   */
  toString(): string {
    return `RunInfo ${this.describe()}`;
  }
}

/** The command as one readable line; array elements are quoted where a shell would need it. */
export function formatCommand(cmd: string | readonly string[]): string {
  if (typeof cmd === "string") return cmd;
  return cmd.map(quoteForDisplay).join(" ");
}

function quoteForDisplay(arg: string): string {
  if (arg !== "" && /^[A-Za-z0-9_@%+=:,./-]+$/u.test(arg)) return arg;
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}

function matchStream(pattern: string, streamName: "stdout" | "stderr", output: string | undefined): void {
  if (output === undefined || fnmatchFilter(splitLines(output), pattern).length === 0) {
    throw new MatchError(pattern, streamName, output);
  }
}

const TAIL_LINES = 20;
const TAIL_CHARS = 2000;

function tail(output: string): string {
  const lines = splitLines(output);
  let text = lines.slice(-TAIL_LINES).join("\n");
  if (text.length > TAIL_CHARS) text = "…" + text.slice(-TAIL_CHARS);
  return text;
}

function tailNote(output: string): string {
  const lines = splitLines(output).length;
  return lines > TAIL_LINES || output.length > TAIL_CHARS
    ? ` (last lines of ${lines}, ${output.length} characters)`
    : "";
}

function indent(text: string): string {
  return text
    .split("\n")
    .map((line) => `  ${line}`)
    .join("\n");
}

const SIGNAL_WORDS: Partial<Record<NodeJS.Signals, string>> = {
  SIGTERM: "terminated",
  SIGKILL: "killed",
  SIGINT: "interrupted",
  SIGHUP: "hung up",
  SIGQUIT: "quit",
  SIGSEGV: "a segmentation fault",
  SIGABRT: "aborted",
  SIGBUS: "a bus error",
  SIGFPE: "a floating point exception",
  SIGILL: "an illegal instruction",
  SIGPIPE: "a broken pipe (its reader went away)",
  SIGALRM: "an alarm clock",
  SIGXCPU: "exceeding its CPU time limit",
  SIGXFSZ: "exceeding its file size limit",
};

function signalVerb(signal: NodeJS.Signals): string {
  const words = SIGNAL_WORDS[signal];
  if (signal === "SIGTERM") return "terminated by SIGTERM";
  if (signal === "SIGKILL") return "killed by SIGKILL";
  return words ? `killed by ${signal} (${words})` : `killed by ${signal}`;
}

/** A short explanation of exit statuses with a conventional meaning, zx-style. */
export function explainExitCode(code: number): string {
  if (code === 0) return "";
  if (code === 1) return " (general error)";
  if (code === 2) return " (misuse of shell builtins or bad usage)";
  if (code === 126) return " (command found but cannot be executed: permission or not an executable)";
  if (code === 127) return " (command not found)";
  const name = signalOfExitStatus(code);
  if (name) return ` (the shell reports its command was ${signalVerb(name)})`;
  if (code === 255) return " (exit status out of range, or ssh/sudo failure)";
  return "";
}
