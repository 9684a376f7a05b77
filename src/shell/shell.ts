/**
 * A Shell is the way into the system for one place (the host, or one network
 * namespace), as in the reference: user commands go through `run`/`runAsync`
 * (watched by the ProcessMonitor), the library's own commands through
 * `system` (argument arrays, fast, not monitored).
 */
import type { Logger } from "../log.js";
import type { ProcessMonitor } from "../process/process-monitor.js";
import type { RunProcessAsyncOptions, RunProcessOptions } from "../process/options.js";
import type { UserOption } from "../process/run-as.js";
import type { RunInfo } from "../process/run-info.js";
import type { CommandResult, SystemCommandOptions } from "../system/command-runner.js";
import type { Privilege } from "../system/privilege.js";

/** Options of `run()`: the process monitor's, without the privilege (the shell's own), with whom the program runs as. */
export type RunOptions = Omit<RunProcessOptions, "sudo" | "privilege"> & UserOption;

/**
 * Options of `runAsync()`: the process monitor's, without the privilege (the shell's own), with whom the program runs as.
 * @inline
 */
export type RunAsyncOptions = Omit<RunProcessAsyncOptions, "sudo" | "privilege"> & UserOption;

/**
 * Options of `pollUntil()`: what output ends the wait, and how long to try.
 * @inline
 */
export interface PollUntilOptions extends RunOptions {
  /** fnmatch-style pattern that a line of stdout must match. */
  matchStdout?: string;
  /** fnmatch-style pattern that a line of stderr must match. */
  matchStderr?: string;
  /** Predicate on the output; true ends the wait. */
  matchFn?: (output: string) => boolean;
  /** Milliseconds to keep trying. @default 15000 */
  timeout?: number;
  /** Milliseconds between attempts. @default 100 */
  interval?: number;
}

/** The way into the system for one place (the host, or one namespace): `HostShell` and `NamespaceShell`. */
export interface Shell {
  /** Where the shell logs. */
  readonly log: Logger;
  /** The monitor that runs and watches this shell's processes. */
  readonly processMonitor: ProcessMonitor;
  /** Commands run through `sudo -n` (`privilege.mode === "sudo"`). */
  readonly sudo: boolean;
  /** How this shell's commands get their rights: the argv prefix of every command it runs, synchronous or not. */
  readonly privilege: Privilege;
  /** Scoped name of the namespace this shell runs in; undefined for the host. */
  readonly namespace: string | undefined;
  /**
   * Runs a command to completion. A string runs through /bin/sh -c; an array runs without a shell.
   *
   * @throws RunInfoError when it exits with a non-zero status or is killed.
   * @throws TimeoutError when it outlives `options.timeout`.
   * @example
   * ```ts
   * const info = await host.shell.run(["ip", "-brief", "link"], { timeout: 5000 });
   * console.log(info.stdout);
   * ```
   */
  run(cmd: string | readonly string[], options?: RunOptions): Promise<RunInfo>;
  /**
   * Starts a command in the background under the process monitor.
   *
   * @throws DaemonExitError later, from the monitor, when a `daemon` exits on its own.
   * @example
   * ```ts
   * const server = await host.shell.runAsync(["iperf3", "-s"], { daemon: true });
   * ```
   */
  runAsync(cmd: string | readonly string[], options?: RunAsyncOptions): Promise<RunInfo>;
  /**
   * Runs `cmd` repeatedly until its output matches.
   *
   * @throws TimeoutError when nothing matched within `options.timeout`.
   * @example
   * ```ts
   * await host.shell.pollUntil(["ss", "-ltn"], { matchStdout: "*:7000*", timeout: 10000 });
   * ```
   */
  pollUntil(cmd: string | readonly string[], options: PollUntilOptions): Promise<RunInfo>;
  /**
   * Runs one of the library's own system commands (ip, tc, iptables, ...) in this shell's place.
   *
   * @throws SystemCommandError when the command fails (unless `allowFailure`); MissingProgramError when its program is not installed.
   * @throws InvalidArgumentError for an argv that is empty or holds a non-string.
   *
   * @example
   * ```ts
   * const { stdout } = await host.shell.system(["ip", "-j", "link", "show"]);
   * ```
   */
  system(argv: readonly string[], options?: Omit<SystemCommandOptions, "namespace">): Promise<CommandResult>;
  /**
   * Processes the shell keeps for itself (system-command workers): not the user's, never listed or killed. With
   * `namespace` (a scoped name), those it started for that namespace.
   *
   * @example
   * ```ts
   * const workers: number[] = host.shell.helperPids?.() ?? [];
   * ```
   */
  helperPids?(namespace?: string): number[];
}
