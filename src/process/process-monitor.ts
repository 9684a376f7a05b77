/**
 * The process monitor runs the user's commands and watches them, as the
 * reference's ProcessMonitor does: synchronous runs (with a timeout), jobs
 * (async commands the test waits for) and daemons (async commands that must
 * keep running until stopped). A daemon that exits, or a job that fails, is an
 * error reported once, by the first of `keepRunning()`, a failing
 * `runProcess()` and `stop()` that sees it. Faults on purpose (pause, resume,
 * kill, restart) are no failure. One command's spawning and signalling is in
 * monitored-process.ts.
 */
import { InvalidArgumentError } from "../errors.js";
import { DaemonExitError, NoProcessesError, RunInfoError, TimeoutError } from "./errors.js";
import { type Logger, defaultLogger } from "../log.js";
import { validateCgroupOption } from "../cgroups/start-inside.js";
import type { CGroup } from "../cgroups/cgroup.js";
import {
  invalidStateMessage,
  settleFirst,
  validateCommand,
  validateEndingSignal,
  validateMilliseconds,
} from "./checks.js";
import { type CommandSpec, MonitoredProcess, type ProcessEvents } from "./monitored-process.js";
import type {
  CommandOptions,
  KillOptions,
  ProcessMonitorOptions,
  RestartOptions,
  RunProcessAsyncOptions,
  RunProcessOptions,
  StopOptions,
} from "./options.js";
import { Sampler } from "./sampler.js";
import { type RunInfo, formatCommand } from "./run-info.js";

export { validateMilliseconds } from "./checks.js";
export { commandArgv } from "./monitored-process.js";
export type {
  KillOptions,
  ProcessMonitorOptions,
  RestartOptions,
  RunProcessAsyncOptions,
  RunProcessOptions,
  StopOptions,
} from "./options.js";

/** Milliseconds a timed-out or aborted synchronous run gets between SIGTERM and SIGKILL. */
const STOP_GRACE = 1000;
/** Milliseconds a program asked to end by kill() gets before SIGKILL. */
const KILL_GRACE = 5000;

/**
 * Runs user commands and watches them, as the reference's ProcessMonitor: synchronous runs,
 * background jobs and daemons (whose exit is an error), with CPU and memory samples,
 * and stops them all (SIGTERM, then SIGKILL) at the end.
 *
 * @example
 * ```ts
 * const monitor = new ProcessMonitor();
 * await monitor.runProcessAsync(["sleep", "60"], { daemon: true });
 * await monitor.runProcessAsync(["sh", "-c", "echo done"]);
 * while (await monitor.keepRunning()) {} // until every job has exited; throws if a daemon dies
 * await monitor.stop();
 * ```
 */
export class ProcessMonitor {
  /** Where the monitor logs. */
  readonly log: Logger;
  /** Milliseconds between CPU/memory samples of running processes. */
  readonly sampleInterval: number;

  /** Async non-daemon commands, kept (also when finished) until stop(). */
  #jobs: MonitoredProcess[] = [];
  #daemons: MonitoredProcess[] = [];
  /** Every process not yet finished, synchronous runs included. */
  #live = new Set<MonitoredProcess>();
  /** CPU and memory samples of the live processes. */
  readonly #sampler: Sampler;
  /** Wakes keepRunning() when a process finishes. */
  #waiters = new Set<() => void>();
  /** Every async command started here, also once stopped, killed or restarted: what pause/kill/restart accept. */
  #started = new WeakMap<RunInfo, MonitoredProcess>();
  /** What a process tells the monitor about itself. */
  readonly #events: ProcessEvents = {
    log: defaultLogger,
    spawned: () => {
      this.#sampler.start();
    },
    exited: (proc) => {
      this.#sampler.recordFinalCpu(proc);
    },
    finished: (proc) => {
      this.#live.delete(proc);
      if (this.#live.size === 0) this.#sampler.stop();
      for (const wake of this.#waiters) wake();
    },
  };

  /**
   * A monitor with no processes yet.
   *
   * @throws InvalidArgumentError for a `sampleInterval` that is not a positive number of milliseconds.
   */
  constructor(options: ProcessMonitorOptions = {}) {
    this.log = options.log ?? defaultLogger;
    this.#events = { ...this.#events, log: this.log };
    this.sampleInterval = options.sampleInterval ?? 100;
    validateMilliseconds("sampleInterval", this.sampleInterval, { positive: true });
    this.#sampler = new Sampler(this.sampleInterval, this.log, this.#live);
  }

  /** The async commands started with runProcessAsync and not stopped yet (jobs, then daemons). */
  get processes(): readonly RunInfo[] {
    return [...this.#jobs, ...this.#daemons].map((p) => p.info);
  }

  /**
   * Runs a command to completion. Rejects with RunInfoError on a non-zero
   * exit, TimeoutError after `timeout` (the command's process group is
   * stopped first); when it fails while a monitored daemon has died or a job
   * has failed, rejects with an AggregateError holding this error first, then those.
   *
   * @throws RunInfoError on a non-zero exit.
   * @throws TimeoutError after `options.timeout`.
   * @example
   * ```ts
   * const info = await monitor.runProcess(["uname", "-r"], { timeout: 5000 });
   * ```
   */
  async runProcess(cmd: string | readonly string[], options: RunProcessOptions = {}): Promise<RunInfo> {
    validateCommand(cmd);
    if (options.timeout !== undefined) validateMilliseconds("timeout", options.timeout, { positive: true });
    validateCgroupOption(options.cgroup);
    options.signal?.throwIfAborted();
    this.log.info(`run: ${formatCommand(cmd)}${inCgroup(options.cgroup)}`);
    const proc = this.#spawn({ cmd, options, isAsync: false, isDaemon: false, timeout: options.timeout });
    try {
      await proc.started;
      if (proc.info.startError) throw new RunInfoError(proc.info);
      const outcome = await settleFirst(proc.finished, options.timeout, options.signal);
      if (outcome === "timeout") {
        proc.info.timedOut = true;
        this.log.warn(`timeout of ${options.timeout} ms expired: stopping pid ${proc.info.pid}`);
        await proc.end("SIGTERM", STOP_GRACE);
        throw new TimeoutError(proc.info);
      }
      if (outcome === "aborted") {
        await proc.end("SIGTERM", STOP_GRACE);
        throw new RunInfoError(proc.info, `Command aborted: ${proc.info.describe()}`, {
          cause: options.signal?.reason,
        });
      }
      if (proc.info.exitCode !== 0) throw new RunInfoError(proc.info);
      return proc.info;
    } catch (error) {
      throw this.#withStateErrors(error);
    }
  }

  /**
   * Starts a command in the background and resolves once it runs (its pid is
   * known). A job's failure or a daemon's exit is reported later by
   * keepRunning() and stop().
   *
   * @throws InvalidArgumentError for an empty command, a non-string argument or a bad `cgroup`.
   * @throws RunInfoError when the program cannot be started (not found, not executable), with the
   * monitor's own failures in an AggregateError when there are any.
   * @example
   * ```ts
   * const server = await monitor.runProcessAsync(["python3", "-m", "http.server"], { daemon: true });
   * ```
   */
  async runProcessAsync(cmd: string | readonly string[], options: RunProcessAsyncOptions = {}): Promise<RunInfo> {
    validateCommand(cmd);
    validateCgroupOption(options.cgroup);
    const isDaemon = options.daemon ?? false;
    this.log.info(`${isDaemon ? "run daemon" : "run async"}: ${formatCommand(cmd)}${inCgroup(options.cgroup)}`);
    return this.#startAsync({ cmd, options, isAsync: true, isDaemon, timeout: undefined });
  }

  async #startAsync(spec: CommandSpec): Promise<RunInfo> {
    const proc = this.#spawn(spec);
    // Listed at once: a stop() before the start has been confirmed must stop and forget it like the others.
    if (spec.isDaemon) this.#daemons.push(proc);
    else this.#jobs.push(proc);
    try {
      await proc.started;
      if (proc.info.startError) throw new RunInfoError(proc.info);
    } catch (error) {
      this.#forget(proc);
      throw this.#withStateErrors(error);
    }
    this.#started.set(proc.info, proc);
    return proc.info;
  }

  /**
   * Waits up to `timeoutMs` for a process to finish, then says whether jobs
   * are still running: `while (await monitor.keepRunning()) {}` waits for all
   * jobs while checking that daemons stay up. As in the reference: throws
   * NoProcessesError when only daemons were started; throws an AggregateError
   * of DaemonExitError / RunInfoError when a daemon exited or a job failed;
   * resolves false when no job is running (also when nothing was started).
   *
   * @throws AggregateError of DaemonExitError / RunInfoError when a daemon exited or a job failed.
   * @throws NoProcessesError when only daemons were started.
   * @example
   * ```ts
   * while (await monitor.keepRunning()) {}
   * ```
   */
  async keepRunning(timeoutMs = 200): Promise<boolean> {
    validateMilliseconds("timeoutMs", timeoutMs);
    if (this.#jobs.length === 0 && this.#daemons.length > 0) throw new NoProcessesError();
    this.#throwIfInvalidState();
    if (!this.#jobs.some((job) => !job.isFinished)) return false;
    await this.#waitForFinish(timeoutMs);
    this.#throwIfInvalidState();
    return this.#jobs.some((job) => !job.isFinished);
  }

  /**
   * Stops one async command (SIGTERM to its process group, SIGKILL after
   * `timeout` ms), resolves when it has exited, and forgets it (a stopped
   * daemon is no error). Rejects with InvalidArgumentError for a RunInfo this
   * monitor does not manage. `options.timeout` is 1000 ms when not given.
   *
   * @throws InvalidArgumentError for a RunInfo this monitor does not manage, or a bad `timeout`.
   * @example
   * ```ts
   * await monitor.stopProcessAsync(server, { timeout: 2000 });
   * ```
   */
  async stopProcessAsync(info: RunInfo, options: { timeout?: number } = {}): Promise<RunInfo> {
    const timeout = options.timeout ?? 1000;
    validateMilliseconds("timeout", timeout);
    const proc = [...this.#jobs, ...this.#daemons].find(
      (p) => p.info === info || (info.pid !== undefined && p.info.pid === info.pid),
    );
    if (!proc) {
      throw new InvalidArgumentError(
        "process",
        info.pid,
        "is not managed by this process monitor: pass a RunInfo returned by its runProcessAsync() that was not stopped yet",
      );
    }
    this.#forget(proc);
    proc.endAsked = true;
    await proc.end("SIGTERM", timeout);
    return proc.info;
  }

  /**
   * Stops every process of this monitor (jobs, daemons and runs still in
   * flight) in parallel: SIGTERM to each process group, SIGKILL after
   * `timeout` ms. With `validateState`, daemons that had died and jobs that
   * had failed before the stop are then reported as an AggregateError
   * (unlike the reference, which reported them without stopping the rest).
   *
   * @throws AggregateError of DaemonExitError / RunInfoError (with `validateState`) when a daemon
   * had died or a job had failed; everything is stopped first.
   * @throws InvalidArgumentError for a bad `timeout`.
   * @example
   * ```ts
   * await monitor.stop();
   * ```
   */
  async stop(options: StopOptions = {}): Promise<void> {
    const timeout = options.timeout ?? 1000;
    validateMilliseconds("timeout", timeout);
    const errors = (options.validateState ?? true) ? this.#stateErrors() : [];
    const all = new Set([...this.#jobs, ...this.#daemons, ...this.#live]);
    this.#jobs = [];
    this.#daemons = [];
    await Promise.all([...all].map((proc) => proc.end("SIGTERM", timeout)));
    if (errors.length > 0) throw new AggregateError(errors, invalidStateMessage(errors));
  }

  /**
   * For the exit path, which cannot await: SIGKILL to the process group of
   * every command still running (each leads its own group, so it would
   * outlive this process).
   *
   * @example
   * ```ts
   * process.on("exit", () => monitor.killAllSync());
   * ```
   */
  killAllSync(): void {
    for (const proc of new Set([...this.#jobs, ...this.#daemons, ...this.#live])) proc.killSync();
  }

  /**
   * `await using monitor = new ProcessMonitor()` stops everything on scope exit
   * (stop() without validating state: what died is not reported here).
   *
   * @example
   * ```ts
   * {
   *   await using monitor = new ProcessMonitor();
   *   await monitor.runProcessAsync(["sleep", "60"], { daemon: true });
   * } // stopped here
   * ```
   */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop({ validateState: false });
  }

  /**
   * Pauses a program started with runProcessAsync: SIGSTOP to it and to
   * everything it forked (its process group, and descendants that left the
   * group), until resume(). Resolves once every process of the tree is
   * stopped. Output stops; the program's sockets and timers are kept (a peer
   * sees a program that no longer answers).
   *
   * @throws InvalidArgumentError for a RunInfo this monitor did not start, one that has ended, or one already paused.
   * @example
   * ```ts
   * await monitor.pause(server);
   * await monitor.resume(server);
   * ```
   */
  async pause(info: RunInfo): Promise<void> {
    const proc = this.#running(info, "paused");
    if (proc.isPaused) throw refusal(info, "is already paused: resume(info) it first");
    await proc.setPaused(true);
  }

  /**
   * Resumes a program paused by pause(): SIGCONT to it and everything it forked.
   *
   * @throws InvalidArgumentError for a RunInfo this monitor did not start, one that has ended, or one that is not paused.
   * @example
   * ```ts
   * await monitor.resume(server);
   * ```
   */
  async resume(info: RunInfo): Promise<void> {
    const proc = this.#running(info, "resumed");
    if (!proc.isPaused) throw refusal(info, "is not paused: only a program paused with pause(info) can be resumed");
    await proc.setPaused(false);
  }

  /**
   * Ends a program started with runProcessAsync on purpose: `signal`
   * (default SIGKILL, a crash) to it and everything it forked, SIGKILL after
   * `timeout` ms if it still runs. Resolves once it has ended. Its exit is no
   * failure: never a DaemonExitError or RunInfoError later. The monitor
   * forgets it; restart(info) starts it again.
   *
   * @throws InvalidArgumentError for a RunInfo this monitor did not start, one that has ended, or a signal that does not end a process.
   * @example
   * ```ts
   * await monitor.kill(server, { signal: "SIGTERM" });
   * ```
   */
  async kill(info: RunInfo, options: KillOptions = {}): Promise<RunInfo> {
    const signal = options.signal ?? "SIGKILL";
    const timeout = options.timeout ?? KILL_GRACE;
    validateEndingSignal(signal);
    validateMilliseconds("timeout", timeout);
    const proc = this.#running(info, "killed");
    proc.endAsked = true;
    this.#forget(proc);
    await proc.end(signal, timeout);
    return proc.info;
  }

  /**
   * Starts the command of `info` again, as it was started (same command, so
   * the same host or namespace; same cwd, env, cgroup, privilege, daemon
   * flag, and the output callbacks `info` has now), and tracks the new
   * process instead. A program still running is stopped first (SIGTERM,
   * SIGKILL after `timeout` ms), as asked: no failure. One that had failed by
   * itself is still reported.
   *
   * @throws InvalidArgumentError for a RunInfo this monitor did not start, or one already restarted (restart the RunInfo its restart returned).
   * @throws RunInfoError when the command cannot be started again.
   * @example
   * ```ts
   * const again = await monitor.restart(server);
   * ```
   */
  async restart(info: RunInfo, restartOptions: RestartOptions = {}): Promise<RunInfo> {
    const timeout = restartOptions.timeout ?? 1000;
    validateMilliseconds("timeout", timeout);
    const proc = this.#known(info, "restarted");
    if (proc.restartedAs) {
      throw refusal(
        info,
        `was restarted already as pid ${proc.restartedAs.pid}: restart the RunInfo restart() returned`,
      );
    }
    proc.restartedAs = proc.info; // claimed now: a second restart in the same tick is refused too
    if (!proc.isExited) {
      proc.endAsked = true;
      this.#forget(proc);
      await proc.end("SIGTERM", timeout);
    }
    const { spec } = proc;
    // The callbacks the caller has set on the RunInfo by now, and the privilege the first start resolved.
    const options: CommandOptions = { ...spec.options, privilege: proc.privilege, ...callbacksOf(info) };
    this.log.info(`restart: ${formatCommand(spec.cmd)}${inCgroup(spec.options.cgroup)}`);
    await proc.privilege.ready();
    const again = await this.#startAsync({ ...spec, options });
    proc.restartedAs = again;
    return again;
  }

  /** The process of `info`, which this monitor started with runProcessAsync. */
  #known(info: RunInfo, action: string): MonitoredProcess {
    const proc = this.#started.get(info);
    if (!proc) {
      throw refusal(
        info,
        `is not a program this process monitor started: only a RunInfo returned by its runProcessAsync() (or restart()) can be ${action}`,
      );
    }
    return proc;
  }

  /** As #known, and still running. */
  #running(info: RunInfo, action: string): MonitoredProcess {
    const proc = this.#known(info, action);
    if (proc.isExited)
      throw refusal(info, `has already ended (${info.describeState()}): only a running program can be ${action}`);
    return proc;
  }

  #forget(proc: MonitoredProcess): void {
    this.#jobs = this.#jobs.filter((p) => p !== proc);
    this.#daemons = this.#daemons.filter((p) => p !== proc);
  }

  #spawn(spec: CommandSpec): MonitoredProcess {
    const proc = new MonitoredProcess(spec, this.#events);
    this.#live.add(proc);
    return proc;
  }

  /** The failures not reported yet, marked reported now: each is reported once. */
  #stateErrors(): Error[] {
    const errors: Error[] = [];
    for (const proc of [...this.#jobs, ...this.#daemons]) {
      if (!proc.failed) continue;
      proc.reported = true;
      errors.push(proc.spec.isDaemon ? new DaemonExitError(proc.info) : new RunInfoError(proc.info));
    }
    return errors;
  }

  #throwIfInvalidState(): void {
    const errors = this.#stateErrors();
    if (errors.length > 0) throw new AggregateError(errors, invalidStateMessage(errors));
  }

  /** The error of a failed run, grouped with the monitor's own failures (as the reference's "Run failure" group). */
  #withStateErrors(error: unknown): unknown {
    const errors = this.#stateErrors();
    if (errors.length === 0) return error;
    return new AggregateError(
      [error, ...errors],
      `Run failure: ${(error as Error).message.split("\n")[0]}; and ${invalidStateMessage(errors)}`,
    );
  }

  #waitForFinish(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.#waiters.add(done);
    });
  }
}

function inCgroup(cgroup: CGroup | undefined): string {
  return cgroup ? ` (in cgroup ${cgroup.name})` : "";
}

function callbacksOf(info: RunInfo): Pick<CommandOptions, "stdoutCallback" | "stderrCallback"> {
  return { stdoutCallback: info.stdoutCallback, stderrCallback: info.stderrCallback };
}

/** The refusal of a pause, resume, kill or restart of `info`. */
function refusal(info: RunInfo, rule: string): InvalidArgumentError {
  return new InvalidArgumentError("info", `pid ${info.pid ?? "none"}: ${formatCommand(info.cmd)}`, rule);
}
