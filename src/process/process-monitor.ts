/**
 * The process monitor runs the user's commands and watches them, as the
 * reference's ProcessMonitor does: synchronous runs (with a timeout), jobs
 * (async commands the test waits for) and daemons (async commands that must
 * keep running until stopped). A daemon that exits, or a job that fails, is an
 * error reported by `keepRunning()`, by a failing `runProcess()` and by `stop()`.
 *
 * Each command leads its own process group (`detached: true` = setsid), so
 * stopping sends SIGTERM to the whole group (the command and everything it
 * started), then SIGKILL after a timeout.
 *
 * Size (~680 lines): spawning, watching, stopping and the state errors of one process table must agree on its states; split, they would share them through exports.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { InvalidArgumentError } from "../errors.js";
import { DaemonExitError, NoProcessesError, RunInfoError, TimeoutError } from "./errors.js";
import { type Logger, defaultLogger } from "../log.js";
import { type CGroupRunOptions, argvInsideCgroup, validateCgroupOption } from "../cgroups/start-inside.js";
import type { CGroup } from "../cgroups/cgroup.js";
import { type Privilege, defaultPrivilege, privilegeFor } from "../system/privilege.js";
import { runQuietlySync } from "../system/quiet.js";
import { finalCpu, liveGroupMembers, readProcessTable, reapedChildrenCpu, treeStats } from "./proc-stats.js";
import { type OutputCallback, RunInfo, formatCommand } from "./run-info.js";

/** Options of `new ProcessMonitor()`. */
export interface ProcessMonitorOptions {
  /** Where commands and process events are logged. @default defaultLogger (silent unless DUMMYNET_LOG is set) */
  log?: Logger;
  /** Milliseconds between CPU/memory samples of running processes. @default 100 */
  sampleInterval?: number;
}

interface CommonProcessOptions extends CGroupRunOptions {
  /** Working directory. @default the current directory */
  cwd?: string | undefined;
  /** Environment of the command. @default process.env */
  env?: NodeJS.ProcessEnv | undefined;
  /** Run through `sudo -n --preserve-env` (never with a password); ignored when `privilege` is given. @default false */
  sudo?: boolean | undefined;
  /** How the command gets its rights (system/privilege.ts). @default from `sudo` */
  privilege?: Privilege | undefined;
  /** Receives stdout as it arrives (also settable later on the RunInfo). */
  stdoutCallback?: OutputCallback | undefined;
  /** Receives stderr as it arrives (also settable later on the RunInfo). */
  stderrCallback?: OutputCallback | undefined;
}

/** Options of `ProcessMonitor.runProcess()`. */
export interface RunProcessOptions extends CommonProcessOptions {
  /** Milliseconds before the command is stopped and the call rejects with TimeoutError. @default no limit */
  timeout?: number | undefined;
  /** Aborting stops the command (SIGTERM, then SIGKILL) and rejects with RunInfoError (cause: the abort reason). */
  signal?: AbortSignal | undefined;
}

/** Options of `ProcessMonitor.runProcessAsync()`. */
export interface RunProcessAsyncOptions extends CommonProcessOptions {
  /** A daemon must keep running until stopped; its exit is a DaemonExitError. @default false */
  daemon?: boolean | undefined;
}

/** Options of `ProcessMonitor.stop()`. */
export interface StopOptions {
  /** Report daemons that died and jobs that failed (as an AggregateError, after stopping everything). @default true */
  validateState?: boolean;
  /** Milliseconds between SIGTERM and SIGKILL. @default 1000 */
  timeout?: number;
}

/** Milliseconds a timed-out or aborted synchronous run gets between SIGTERM and SIGKILL. */
const STOP_GRACE = 1000;
/**
 * Milliseconds to keep reading after a command exited: if its output pipes are
 * still open then, a background descendant holds them and would keep us
 * waiting forever, so we stop reading.
 */
const OUTPUT_DRAIN = 500;
/** Milliseconds to wait for SIGKILLed group members to die (they cannot refuse; only a D-state sleep delays them). */
const SIGKILL_GRACE = 2000;
/** Milliseconds between checks for group members that outlived their leader (no event exists for that). */
const GROUP_POLL = 20;
/** Milliseconds a `kill` run through the privilege (e.g. sudo) may take. */
const ESCALATED_KILL_TIMEOUT = 5000;

/** One spawned command and the promises marking its progress. */
class MonitoredProcess {
  isExited = false;
  isFinished = false;
  /** performance.now() of the last CPU sample (or of the spawn). */
  lastSampleAt = performance.now();
  readonly started: Promise<void>;
  readonly exited: Promise<void>;
  readonly finished: Promise<void>;
  markStarted!: () => void;
  markExited!: () => void;
  markFinished!: () => void;

  constructor(
    readonly info: RunInfo,
    readonly child: ChildProcess,
    /** How the command was started; a group that refuses our signals is signalled this way too. */
    readonly privilege: Privilege,
  ) {
    this.started = new Promise((resolve) => (this.markStarted = resolve));
    this.exited = new Promise((resolve) => (this.markExited = resolve));
    this.finished = new Promise((resolve) => (this.markFinished = resolve));
  }
}

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
  /** Wakes keepRunning() when a process finishes. */
  #waiters = new Set<() => void>();
  #sampler: NodeJS.Timeout | undefined;
  #sampling = false;
  /** Node's reaped-children CPU times at the latest reading (see proc-stats.ts). */
  #reapedBaseline = reapedChildrenCpu();

  /**
   * A monitor with no processes yet.
   *
   * @throws InvalidArgumentError for a `sampleInterval` that is not a positive number of milliseconds.
   */
  constructor(options: ProcessMonitorOptions = {}) {
    this.log = options.log ?? defaultLogger;
    this.sampleInterval = options.sampleInterval ?? 100;
    validateMilliseconds("sampleInterval", this.sampleInterval, { positive: true });
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
    const proc = this.#spawn(cmd, options, { isAsync: false, isDaemon: false, timeout: options.timeout });
    try {
      await proc.started;
      if (proc.info.startError) throw new RunInfoError(proc.info);
      const outcome = await settleFirst(proc.finished, options.timeout, options.signal);
      if (outcome === "timeout") {
        proc.info.timedOut = true;
        this.log.warn(`timeout of ${options.timeout} ms expired: stopping pid ${proc.info.pid}`);
        await this.#stopProcess(proc, STOP_GRACE);
        throw new TimeoutError(proc.info);
      }
      if (outcome === "aborted") {
        await this.#stopProcess(proc, STOP_GRACE);
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
    const proc = this.#spawn(cmd, options, { isAsync: true, isDaemon, timeout: undefined });
    // Listed at once: a stop() before the start has been confirmed must stop and forget it like the others.
    if (isDaemon) this.#daemons.push(proc);
    else this.#jobs.push(proc);
    try {
      await proc.started;
      if (proc.info.startError) throw new RunInfoError(proc.info);
    } catch (error) {
      this.#jobs = this.#jobs.filter((p) => p !== proc);
      this.#daemons = this.#daemons.filter((p) => p !== proc);
      throw this.#withStateErrors(error);
    }
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
    this.#jobs = this.#jobs.filter((p) => p !== proc);
    this.#daemons = this.#daemons.filter((p) => p !== proc);
    await this.#stopProcess(proc, timeout);
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
    await Promise.all([...all].map((proc) => this.#stopProcess(proc, timeout)));
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
    for (const proc of new Set([...this.#jobs, ...this.#daemons, ...this.#live])) {
      const pgid = proc.info.pid;
      // An exited leader no longer pins its group id, which may belong to someone else by now.
      if (pgid === undefined || proc.isExited) continue;
      try {
        process.kill(-pgid, "SIGKILL");
      } catch (error) {
        const through = escalation(proc.privilege);
        // A group started through sudo belongs to root: signal it through sudo as well.
        if ((error as NodeJS.ErrnoException).code === "EPERM" && !through.direct)
          runQuietlySync(through, groupKill("SIGKILL", pgid));
      }
    }
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

  #spawn(
    cmd: string | readonly string[],
    options: CommonProcessOptions,
    mode: { isAsync: boolean; isDaemon: boolean; timeout: number | undefined },
  ): MonitoredProcess {
    const privilege = options.privilege ?? privilegeFor(options.sudo ?? false);
    const argv = commandArgv(cmd, privilege, options.cgroup);
    const child = spawn(argv[0], argv.slice(1), {
      cwd: options.cwd,
      env: options.env ?? process.env,
      detached: true, // setsid(): the command leads its own process group, which stop() signals as a whole
      stdio: ["ignore", "pipe", "pipe"],
    });
    const info = new RunInfo({ cmd, cwd: options.cwd, ...mode });
    // Known now, not only at the 'spawn' event (a tick later): a stop() in the same tick must signal it, not wait for it to end.
    info.pid = child.pid;
    if (options.stdoutCallback) info.stdoutCallback = options.stdoutCallback;
    if (options.stderrCallback) info.stderrCallback = options.stderrCallback;
    const proc = new MonitoredProcess(info, child, privilege);
    this.#live.add(proc);

    const decoders = { stdout: new TextDecoder("utf-8"), stderr: new TextDecoder("utf-8") };
    const deliver = (streamName: "stdout" | "stderr", text: string) => {
      try {
        info.appendOutput(streamName, text);
      } catch (error) {
        this.log.error(`${streamName} callback of pid ${info.pid} threw:`, error);
      }
    };
    child.stdout.on("data", (chunk: Buffer) => {
      deliver("stdout", decoders.stdout.decode(chunk, { stream: true }));
    });
    child.stderr.on("data", (chunk: Buffer) => {
      deliver("stderr", decoders.stderr.decode(chunk, { stream: true }));
    });

    let drainTimer: NodeJS.Timeout | undefined;
    child.on("spawn", () => {
      proc.lastSampleAt = performance.now();
      this.#startSampler();
      proc.markStarted();
    });
    child.on("error", (error) => {
      if (info.pid === undefined) {
        info.startError = error;
        proc.markStarted();
      } else {
        this.log.warn(`pid ${info.pid}: ${error.message}`);
      }
    });
    child.on("exit", (code, signal) => {
      this.#recordFinalCpu(proc);
      info.exitCode = code;
      info.signal = signal;
      proc.isExited = true;
      proc.markExited();
      this.log.debug(`pid ${info.pid} ${info.describeState()}`);
      drainTimer = setTimeout(() => {
        // Timers run before I/O in an event-loop turn: let one more I/O phase read what is pending before giving up.
        setImmediate(() => {
          if (proc.isFinished) return;
          this.log.warn(`pid ${info.pid} exited but a descendant keeps its output open; no longer reading it`);
          child.stdout?.destroy();
          child.stderr?.destroy();
        });
      }, OUTPUT_DRAIN);
      drainTimer.unref();
    });
    child.on("close", () => {
      clearTimeout(drainTimer);
      // Flush a multi-byte sequence cut off at the end (it becomes U+FFFD).
      deliver("stdout", decoders.stdout.decode());
      deliver("stderr", decoders.stderr.decode());
      if (info.startError) info.exitCode = null;
      proc.isExited = true;
      proc.isFinished = true;
      this.#live.delete(proc);
      if (this.#live.size === 0) this.#stopSampler();
      proc.markExited();
      proc.markFinished();
      info.markFinished();
      for (const wake of this.#waiters) wake();
    });
    return proc;
  }

  /** Sends SIGTERM to the process group, SIGKILL after `timeout`, and waits until the command has finished. */
  async #stopProcess(proc: MonitoredProcess, timeout: number): Promise<void> {
    const pgid = proc.info.pid;
    if (proc.isExited || pgid === undefined) {
      await proc.finished;
      return;
    }
    const deadline = performance.now() + timeout;
    this.log.info(`sending SIGTERM to process group ${pgid} (${formatCommand(proc.info.cmd)})`);
    await this.#signalGroup(proc, pgid, "SIGTERM");
    if (!(await resolvesWithin(proc.exited, timeout))) {
      this.log.warn(`process group ${pgid} ignored SIGTERM for ${timeout} ms: sending SIGKILL`);
      await this.#signalGroup(proc, pgid, "SIGKILL");
      if (!(await resolvesWithin(proc.exited, SIGKILL_GRACE))) {
        // Only an uninterruptible sleep survives SIGKILL: waiting on would hang the caller (a cleanup) with it.
        this.log.warn(
          `pid ${pgid} has not exited ${SIGKILL_GRACE} ms after SIGKILL (uninterruptible sleep?): no longer waiting for it`,
        );
        return;
      }
    } else if (!(await this.#groupEmptyBefore(pgid, deadline))) {
      // The leader obeyed but something it started did not: the group is still pinned by it, so the id is safe to signal.
      this.log.warn(`members of process group ${pgid} outlived SIGTERM for ${timeout} ms: sending SIGKILL`);
      await this.#signalGroup(proc, pgid, "SIGKILL");
    }
    // kill() returns before the targets are dead: resolve only once no member of the group runs any more.
    if (!(await this.#groupEmptyBefore(pgid, performance.now() + SIGKILL_GRACE))) {
      this.log.warn(`process group ${pgid} still has members after SIGKILL (uninterruptible sleep?)`);
    }
    await proc.finished;
  }

  async #groupEmptyBefore(pgid: number, deadline: number): Promise<boolean> {
    for (;;) {
      if (!groupExists(pgid) || (await liveGroupMembers(pgid)).length === 0) return true;
      if (performance.now() >= deadline) return false;
      await delay(GROUP_POLL);
    }
  }

  async #signalGroup(proc: MonitoredProcess, pgid: number, signal: NodeJS.Signals): Promise<void> {
    try {
      process.kill(-pgid, signal);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ESRCH") return;
      const through = escalation(proc.privilege);
      if (code === "EPERM" && !through.direct) {
        // A group started through sudo belongs to root: signal it through sudo as well.
        const argv = through.wrap(groupKill(signal, pgid));
        await new Promise<void>((resolve) => {
          execFile(argv[0], argv.slice(1), { timeout: ESCALATED_KILL_TIMEOUT }, (failure) => {
            if (failure)
              this.log.warn(
                `could not send ${signal} to process group ${pgid} through ${through.mode}: ${failure.message}`,
              );
            resolve();
          });
        });
        return;
      }
      this.log.warn(`could not send ${signal} to process group ${pgid}: ${(error as Error).message}`);
    }
  }

  #stateErrors(): Error[] {
    const errors: Error[] = [];
    for (const job of this.#jobs) {
      if (job.isFinished && job.info.exitCode !== 0) errors.push(new RunInfoError(job.info));
    }
    for (const daemon of this.#daemons) {
      if (daemon.isFinished) errors.push(new DaemonExitError(daemon.info));
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
      `Run failure: ${(error as Error).message?.split("\n")[0]}; and ${invalidStateMessage(errors)}`,
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

  #startSampler(): void {
    if (this.#sampler) return;
    this.#sampler = setInterval(() => void this.#sample(), this.sampleInterval);
    this.#sampler.unref();
  }

  #stopSampler(): void {
    clearInterval(this.#sampler);
    this.#sampler = undefined;
  }

  /** One CPU/memory sample of every running process tree. */
  async #sample(): Promise<void> {
    if (this.#sampling) return;
    this.#sampling = true;
    try {
      // Read synchronously before anything else: a child reaped from now on is not in this baseline.
      this.#reapedBaseline = reapedChildrenCpu();
      const table = await readProcessTable();
      const now = performance.now();
      for (const proc of this.#live) {
        if (proc.isExited || proc.info.pid === undefined) continue;
        const stats = treeStats(table, proc.info.pid);
        if (!stats) continue;
        // CPU time only grows; a dip means a descendant went away unreaped, so keep the larger figure.
        proc.info.cpuUser = Math.max(proc.info.cpuUser, roundSeconds(stats.cpuUser));
        proc.info.cpuSystem = Math.max(proc.info.cpuSystem, roundSeconds(stats.cpuSystem));
        proc.info.memRss = stats.memRss;
        proc.info.memVms = stats.memVms;
        proc.lastSampleAt = now;
      }
    } catch (error) {
      this.log.debug("process sample failed:", error);
    } finally {
      this.#sampling = false;
    }
  }

  /** At the exit event the child is already reaped: derive its final CPU times (see proc-stats.ts). */
  #recordFinalCpu(proc: MonitoredProcess): void {
    const after = reapedChildrenCpu();
    const final = finalCpu({
      lastSample: { user: proc.info.cpuUser, system: proc.info.cpuSystem },
      lastSampleAt: proc.lastSampleAt,
      before: this.#reapedBaseline,
      after,
      now: performance.now(),
    });
    this.#reapedBaseline = after;
    proc.info.cpuUser = roundSeconds(final.user);
    proc.info.cpuSystem = roundSeconds(final.system);
  }
}

/**
 * The argv that runs `cmd`: strings through /bin/sh -c, arrays as they are;
 * with a cgroup, through the wrapper that enters it first (see
 * cgroups/start-inside.ts); with the privilege's prefix outermost (e.g.
 * `sudo -n --preserve-env`), so that the wrapper may write the cgroup files.
 */
export function commandArgv(cmd: string | readonly string[], privilege: Privilege, cgroup?: CGroup): string[] {
  const command = typeof cmd === "string" ? ["/bin/sh", "-c", cmd] : [...cmd];
  return privilege.wrapUserCommand(cgroup ? argvInsideCgroup(cgroup, command) : command);
}

/**
 * How to signal a group that refused our own signal (EPERM): the way it was
 * started, or, for one started as it is, this process's default way (a
 * setuid program in the group belongs to someone else).
 */
function escalation(started: Privilege): Privilege {
  return started.direct ? defaultPrivilege() : started;
}

/** `kill` of a whole process group (a negative pid after `--`). */
function groupKill(signal: NodeJS.Signals, pgid: number): string[] {
  return ["kill", "-s", signal.replace(/^SIG/u, ""), "--", `-${pgid}`];
}

function inCgroup(cgroup: CGroup | undefined): string {
  return cgroup ? ` (in cgroup ${cgroup.name})` : "";
}

function validateCommand(cmd: unknown): asserts cmd is string | readonly string[] {
  if (typeof cmd === "string") {
    if (cmd.includes("\0")) throw new InvalidArgumentError("cmd", cmd, "must not contain NUL characters");
    return;
  }
  if (!Array.isArray(cmd)) {
    throw new InvalidArgumentError(
      "cmd",
      cmd,
      "must be a string (run by /bin/sh -c) or an array of strings (run without a shell)",
    );
  }
  if (cmd.length === 0)
    throw new InvalidArgumentError("cmd", cmd, "must not be an empty array: its first element is the program");
  for (const arg of cmd) {
    if (typeof arg !== "string") throw new InvalidArgumentError("cmd", cmd, "must contain only strings");
    if (arg.includes("\0")) throw new InvalidArgumentError("cmd", cmd, "must not contain NUL characters");
  }
  if (cmd[0] === "") throw new InvalidArgumentError("cmd", cmd, "must start with a program name, not an empty string");
}

export function validateMilliseconds(argument: string, value: unknown, options: { positive?: boolean } = {}): void {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0 || (options.positive && value === 0)) {
    throw new InvalidArgumentError(
      argument,
      value,
      `must be a ${options.positive ? "positive" : "non-negative"} finite number of milliseconds`,
    );
  }
}

function invalidStateMessage(errors: readonly Error[]): string {
  const daemons = errors.filter((e) => e instanceof DaemonExitError).length;
  const jobs = errors.length - daemons;
  const parts = [];
  if (daemons) parts.push(`${daemons} daemon${daemons > 1 ? "s" : ""} exited`);
  if (jobs) parts.push(`${jobs} job${jobs > 1 ? "s" : ""} failed`);
  return `Invalid state: ${parts.join(", ")}`;
}

/** Whether a process group with this id has any member (zombies included). */
function groupExists(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** CPU times come in clock ticks (1/100 s); rounding hides the float noise of adding them up (1.0299999999999998). */
function roundSeconds(seconds: number): number {
  return Math.round(seconds * 1e6) / 1e6;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function resolvesWithin(promise: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<false>(
    (resolve) =>
      (timer = setTimeout(() => {
        resolve(false);
      }, ms)),
  );
  try {
    return await Promise.race([promise.then(() => true), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

/** Waits for `finished`, a timeout, or an abort, whichever comes first. */
async function settleFirst(
  finished: Promise<void>,
  timeout: number | undefined,
  signal: AbortSignal | undefined,
): Promise<"finished" | "timeout" | "aborted"> {
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const racers: Promise<"finished" | "timeout" | "aborted">[] = [finished.then(() => "finished" as const)];
  if (timeout !== undefined)
    racers.push(
      new Promise(
        (resolve) =>
          (timer = setTimeout(() => {
            resolve("timeout");
          }, timeout)),
      ),
    );
  if (signal) {
    racers.push(
      new Promise((resolve) => {
        onAbort = () => {
          resolve("aborted");
        };
        signal.addEventListener("abort", onAbort, { once: true });
      }),
    );
  }
  try {
    return await Promise.race(racers);
  } finally {
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener("abort", onAbort);
  }
}
