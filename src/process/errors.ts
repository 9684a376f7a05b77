/**
 * The errors of user processes run by the process monitor: each carries the
 * RunInfo of its process (command, exit status, output), like the reference's.
 */
import { DummyNetError } from "../errors.js";
import type { RunInfo } from "./run-info.js";

export { MatchError } from "./match-error.js";

/**
 * A process ran and exited with a non-zero status (or was killed).
 *
 * @example
 * ```ts
 * try {
 *   await host.run(["false"]);
 * } catch (error) {
 *   if (error instanceof RunInfoError) console.error(error.info.exitCode, error.info.stderr);
 *   else throw error;
 * }
 * ```
 */
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

/**
 * A process did not finish within its timeout, or a wait did not succeed in time.
 *
 * @example
 * ```ts
 * try {
 *   await host.run(["sleep", "10"], { timeout: 100 });
 * } catch (error) {
 *   if (error instanceof TimeoutError) console.error(error.message); // names the command and its timeout
 *   else throw error;
 * }
 * ```
 */
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

/**
 * A daemon (a process meant to run until stopped) exited on its own; keepRunning() and stop()
 * report it inside an AggregateError.
 *
 * @example
 * ```ts
 * try {
 *   while (await monitor.keepRunning()) {}
 * } catch (error) {
 *   const daemons = error instanceof AggregateError ? error.errors.filter((e) => e instanceof DaemonExitError) : [];
 *   for (const daemon of daemons) console.error(daemon.info.describe());
 * }
 * ```
 */
export class DaemonExitError extends DummyNetError {
  constructor(
    /** The process that failed: its command, exit status and output. */
    readonly info: RunInfo,
    options?: ErrorOptions,
  ) {
    super(`Unexpected daemon exit: ${info.describe()}`, options);
  }
}

/**
 * `keepRunning()` was asked to wait while only daemons were running (kept for the reference's
 * name; keepRunning() reports that case as NoProcessesError).
 *
 * @example
 * ```ts
 * const isDaemonsOnly = (error: unknown) => error instanceof AllDaemonsError || error instanceof NoProcessesError;
 * ```
 */
export class AllDaemonsError extends DummyNetError {
  constructor(options?: ErrorOptions) {
    super("All processes are daemons: keepRunning() needs at least one non-daemon process to wait for", options);
  }
}

/**
 * `keepRunning()` had only daemons to watch: nothing would ever end the wait.
 *
 * @example
 * ```ts
 * await monitor.runProcessAsync(["sleep", "60"], { daemon: true });
 * await monitor.keepRunning().catch((error) => assert.ok(error instanceof NoProcessesError));
 * ```
 */
export class NoProcessesError extends DummyNetError {
  constructor(options?: ErrorOptions) {
    super(
      "No non-daemon processes: keepRunning() waits for jobs to finish, but only daemons were started; start a job with runAsync(cmd) (daemon: false)",
      options,
    );
  }
}

/**
 * A process had already exited when the monitor started watching it.
 *
 * @example
 * ```ts
 * const exitedEarly = (error: unknown) => error instanceof ProcessExitError && error.info.hasExited;
 * ```
 */
export class ProcessExitError extends DummyNetError {
  constructor(
    /** The process that failed: its command, exit status and output. */
    readonly info: RunInfo,
    options?: ErrorOptions,
  ) {
    super(`Process exited before process monitor: ${info.describe()}`, options);
  }
}
