/**
 * Every error the library throws on purpose is a DummyNetError, so callers can
 * tell "dummynet refused or failed" from a bug with one `instanceof`.
 * Process errors carry the RunInfo of the process, like the reference's.
 */
import type { RunInfo } from "./process/run-info.js";

/**
 * The base of every error dummynet throws on purpose.
 *
 * @example
 * ```ts
 * try {
 *   await net.netnsAdd("bad name");
 * } catch (error) {
 *   if (error instanceof DummyNetError) console.error(error.message);
 *   else throw error;
 * }
 * ```
 */
export class DummyNetError extends Error {
  /** Brand so that checks work across duplicated copies of the package. */
  readonly isDummyNetError = true;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * A bad argument, rejected before anything changes on the system. The message
 * names the argument, the value and the rule, and says what to do.
 */
export class InvalidArgumentError extends DummyNetError {
  constructor(
    /** The argument's name, e.g. `name` or `options.timeout`. */
    readonly argument: string,
    /** The value given. */
    readonly value: unknown,
    /** The rule it broke and what to do, as the message's tail. */
    readonly rule: string,
  ) {
    super(`Invalid ${argument}: ${describeValue(value)} ${rule}`);
  }
}

/** A value as messages quote it: strings in JSON quotes, other values with their type, e.g. `-1 (number)`. */
export function describeValue(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "bigint" || typeof value === "boolean") {
    return `${String(value)} (${typeof value})`;
  }
  if (value === undefined || value === null) return String(value);
  try {
    return `${JSON.stringify(value)} (${typeof value})`;
  } catch {
    return `(${typeof value})`;
  }
}

/** A process ran and exited with a non-zero status (or was killed). */
export class RunInfoError extends DummyNetError {
  constructor(
    /** The process that failed: its command, exit status and output. */
    readonly info: RunInfo,
    message?: string,
  ) {
    super(message ?? `Command failed: ${info.describe()}`);
  }
}

/** A process did not finish within its timeout, or a wait did not succeed in time. */
export class TimeoutError extends DummyNetError {
  constructor(
    /** The process that timed out, if the wait was for one. */
    readonly info: RunInfo | undefined,
    message?: string,
  ) {
    super(message ?? `Command timed out: ${info ? info.describe() : "(no process)"}`);
  }
}

/** `RunInfo.match()` found no line matching the pattern. */
export class MatchError extends DummyNetError {
  constructor(
    /** The pattern looked for (a `fnmatch`-style glob). */
    readonly pattern: string,
    /** The stream searched. */
    readonly streamName: "stdout" | "stderr",
    /** That stream's output, if it was captured. */
    readonly output: string | undefined,
  ) {
    super(`Could not match '${pattern}' in ${streamName} output:\n${output ?? "(no output)"}`);
  }
}

/** A daemon (a process meant to run until stopped) exited on its own. */
export class DaemonExitError extends DummyNetError {
  constructor(
    /** The process that failed: its command, exit status and output. */
    readonly info: RunInfo,
  ) {
    super(`Unexpected daemon exit: ${info.describe()}`);
  }
}

/** `keepRunning()` was asked to wait while only daemons were running. */
export class AllDaemonsError extends DummyNetError {
  constructor() {
    super("All processes are daemons: keepRunning() needs at least one non-daemon process to wait for");
  }
}

/** `keepRunning()` had only daemons to watch: nothing would ever end the wait. */
export class NoProcessesError extends DummyNetError {
  constructor() {
    super("No non-daemon processes: keepRunning() waits for jobs to finish, but only daemons were started; start a job with runAsync(cmd) (daemon: false)");
  }
}

/** A process had already exited when the monitor started watching it. */
export class ProcessExitError extends DummyNetError {
  constructor(
    /** The process that failed: its command, exit status and output. */
    readonly info: RunInfo,
  ) {
    super(`Process exited before process monitor: ${info.describe()}`);
  }
}

/**
 * A system command (ip, tc, iptables, ...) that the library ran on the user's
 * behalf failed. `hint` says what to do when the failure has a known cause
 * (a missing kernel module, a missing program, missing privileges).
 */
export class SystemCommandError extends DummyNetError {
  constructor(
    /** The command, as run (an argument array). */
    readonly argv: readonly string[],
    /** Its exit status; `null` when it did not start or was killed by a signal. */
    readonly exitCode: number | null,
    /** What it printed on stderr (or why it could not start). */
    readonly stderr: string,
    /** What to do, when the failure has a known cause. */
    readonly hint?: string,
  ) {
    const what = stderr.trim() || `exit status ${String(exitCode)}`;
    super(`\`${argv.join(" ")}\` failed: ${what}${hint ? `\n${hint}` : ""}`);
  }
}

/**
 * A system command could not start because its program is not installed
 * (spawn's ENOENT, or sudo's "command not found"). Distinct from a program
 * that ran and failed: a step that only lists or removes what that program
 * makes may skip honestly, a step that needs it may not.
 */
export class MissingProgramError extends SystemCommandError {
  constructor(
    argv: readonly string[],
    /** The program that is missing, e.g. `iptables`. */
    readonly program: string,
    /** The Debian/Ubuntu package that provides it, if known. */
    readonly debianPackage: string | undefined,
    reason: string,
    hint: string,
  ) {
    super(argv, null, reason, hint);
  }
}
