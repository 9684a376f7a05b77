/**
 * The errors of user processes run by the process monitor: each carries the
 * RunInfo of its process (command, exit status, output), like the reference's.
 */
import { DummyNetError } from "../errors.js";
import type { RunInfo } from "./run-info.js";

export { MatchError } from "./match-error.js";

/** A process ran and exited with a non-zero status (or was killed). */
export class RunInfoError extends DummyNetError {
  constructor(
    /** The process that failed: its command, exit status and output. */
    readonly info: RunInfo,
    message?: string,
    options?: ErrorOptions,
  ) {
    super(message ?? `Command failed: ${info.describe()}`, options);
  }
}

/** A process did not finish within its timeout, or a wait did not succeed in time. */
export class TimeoutError extends DummyNetError {
  constructor(
    /** The process that timed out, if the wait was for one. */
    readonly info: RunInfo | undefined,
    message?: string,
    options?: ErrorOptions,
  ) {
    super(message ?? `Command timed out: ${info ? info.describe() : "(no process)"}`, options);
  }
}

/** A daemon (a process meant to run until stopped) exited on its own. */
export class DaemonExitError extends DummyNetError {
  constructor(
    /** The process that failed: its command, exit status and output. */
    readonly info: RunInfo,
    options?: ErrorOptions,
  ) {
    super(`Unexpected daemon exit: ${info.describe()}`, options);
  }
}

/** `keepRunning()` was asked to wait while only daemons were running. */
export class AllDaemonsError extends DummyNetError {
  constructor(options?: ErrorOptions) {
    super("All processes are daemons: keepRunning() needs at least one non-daemon process to wait for", options);
  }
}

/** `keepRunning()` had only daemons to watch: nothing would ever end the wait. */
export class NoProcessesError extends DummyNetError {
  constructor(options?: ErrorOptions) {
    super("No non-daemon processes: keepRunning() waits for jobs to finish, but only daemons were started; start a job with runAsync(cmd) (daemon: false)", options);
  }
}

/** A process had already exited when the monitor started watching it. */
export class ProcessExitError extends DummyNetError {
  constructor(
    /** The process that failed: its command, exit status and output. */
    readonly info: RunInfo,
    options?: ErrorOptions,
  ) {
    super(`Process exited before process monitor: ${info.describe()}`, options);
  }
}
