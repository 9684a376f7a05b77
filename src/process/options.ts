/**
 * The options of the process monitor's calls, from one base: every user
 * command takes `CommandOptions`; a run to completion adds a timeout and an
 * abort signal, a background run the daemon flag. The shells' `RunOptions`
 * and `RunAsyncOptions` (shell/shell.ts) are these without the privilege,
 * which a shell supplies itself.
 */
import type { CGroupRunOptions } from "../cgroups/start-inside.js";
import type { Logger } from "../log.js";
import type { Privilege } from "../system/privilege.js";
import type { OutputCallback } from "./run-info.js";

/**
 * Options of `new ProcessMonitor()`.
 * @inline
 */
export interface ProcessMonitorOptions {
  /** Where commands and process events are logged. @default defaultLogger (silent unless DUMMYNET_LOG is set) */
  log?: Logger;
  /** Milliseconds between CPU/memory samples of running processes. @default 100 */
  sampleInterval?: number;
}

/** Where a user command runs, what it sees, and where its output goes: what every run of a command takes. */
export interface CommandOptions extends CGroupRunOptions {
  /** Working directory. @default the current directory */
  cwd?: string | undefined;
  /** Environment of the command. @default process.env */
  env?: NodeJS.ProcessEnv | undefined;
  /** Receives stdout as it arrives, from the first byte, decoded UTF-8 (also settable later on the RunInfo). */
  stdoutCallback?: OutputCallback | undefined;
  /** Receives stderr as it arrives, from the first byte, decoded UTF-8 (also settable later on the RunInfo). */
  stderrCallback?: OutputCallback | undefined;
  /** Run through `sudo -n --preserve-env` (never with a password); ignored when `privilege` is given. @default false */
  sudo?: boolean | undefined;
  /** How the command gets its rights (system/privilege.ts). @default from `sudo` */
  privilege?: Privilege | undefined;
}

/**
 * Options of `ProcessMonitor.runProcess()`.
 * @inline
 */
export interface RunProcessOptions extends CommandOptions {
  /** Milliseconds before the command is stopped and the call rejects with TimeoutError. @default no limit */
  timeout?: number | undefined;
  /** Aborting stops the command (SIGTERM, then SIGKILL) and rejects with RunInfoError (cause: the abort reason). */
  signal?: AbortSignal | undefined;
}

/**
 * Options of `ProcessMonitor.runProcessAsync()`.
 * @inline
 */
export interface RunProcessAsyncOptions extends CommandOptions {
  /** A daemon must keep running until stopped; its exit is a DaemonExitError. @default false */
  daemon?: boolean | undefined;
}

/**
 * Options of `ProcessMonitor.stop()`.
 * @inline
 */
export interface StopOptions {
  /** Report daemons that died and jobs that failed (as an AggregateError, after stopping everything). @default true */
  validateState?: boolean;
  /** Milliseconds between SIGTERM and SIGKILL. @default 1000 */
  timeout?: number;
}

/**
 * Options of `ProcessMonitor.kill()`.
 * @inline
 */
export interface KillOptions {
  /** The signal the program gets (sent to its process group and everything it forked). @default "SIGKILL" */
  signal?: NodeJS.Signals;
  /** Milliseconds to wait for the exit before SIGKILL follows (for a signal the program may handle). @default 5000 */
  timeout?: number;
}

/**
 * Options of `ProcessMonitor.restart()`.
 * @inline
 */
export type RestartOptions = Pick<StopOptions, "timeout">;
