/**
 * One command the process monitor started: spawning it, reading its output,
 * and signalling it. Each command leads its own process group (`detached:
 * true` = setsid), so a signal reaches the command and everything it started
 * in one call; what left the group (a forked child that called setsid) is
 * found by parent pid and signalled one by one.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { argvInsideCgroup } from "../cgroups/start-inside.js";
import type { CGroup } from "../cgroups/cgroup.js";
import type { Logger } from "../log.js";
import { type Privilege, defaultPrivilege, privilegeFor } from "../system/privilege.js";
import { runQuietlySync } from "../system/quiet.js";
import { type ProcStat, isAlive, isRunningState } from "../system/proc.js";
import type { CommandOptions } from "./options.js";
import { readProcessTable } from "../system/process-tree.js";
import { liveGroupMembers, treePids } from "./proc-stats.js";
import { RunInfo, formatCommand } from "./run-info.js";

/**
 * Milliseconds to keep reading after a command exited: if its output pipes are
 * still open then, a background descendant holds them and would keep us
 * waiting forever, so we stop reading.
 */
const OUTPUT_DRAIN = 500;
/** Milliseconds to wait for SIGKILLed group members to die (they cannot refuse; only a D-state sleep delays them). */
const SIGKILL_GRACE = 2000;
/** Milliseconds between checks of a group's members (no event exists for a member's exit or stop). */
const GROUP_POLL = 20;
/** Milliseconds a `kill` run through the privilege (e.g. sudo) may take. */
const ESCALATED_KILL_TIMEOUT = 5000;
/** Milliseconds a pause or resume waits for every process of the tree to show the new state. */
const STATE_CHANGE_WAIT = 2000;

/** How a command is run: what `restart()` needs to run it again. */
export interface CommandSpec {
  readonly cmd: string | readonly string[];
  readonly options: CommandOptions;
  readonly isAsync: boolean;
  readonly isDaemon: boolean;
  readonly timeout: number | undefined;
}

/** What the monitor does when one of its processes spawns, exits, or is done (output closed). */
export interface ProcessEvents {
  readonly log: Logger;
  spawned(proc: MonitoredProcess): void;
  exited(proc: MonitoredProcess): void;
  finished(proc: MonitoredProcess): void;
}

/** One spawned command and the promises marking its progress. */
export class MonitoredProcess {
  isExited = false;
  isFinished = false;
  /** Stopped by pause() (SIGSTOP) and not resumed yet. */
  isPaused = false;
  /** Its end was asked for (kill, restart, stop): an exit that is no failure to report. */
  endAsked = false;
  /** Its failure was reported (by keepRunning, stop or a failed run): never reported again. */
  reported = false;
  /** The RunInfo of the process restart() started in its place (this one's own while that starts). */
  restartedAs: RunInfo | undefined;
  /** performance.now() of the last CPU sample (or of the spawn). */
  lastSampleAt = performance.now();
  readonly info: RunInfo;
  readonly child: ChildProcess;
  /** How the command was started; a group that refuses our signals is signalled this way too. */
  readonly privilege: Privilege;
  readonly started: Promise<void>;
  readonly exited: Promise<void>;
  readonly finished: Promise<void>;
  markStarted!: () => void;
  markExited!: () => void;
  markFinished!: () => void;

  /** Spawns `spec.cmd` as the leader of a new process group and watches it. */
  constructor(
    readonly spec: CommandSpec,
    readonly events: ProcessEvents,
  ) {
    this.started = new Promise((resolve) => (this.markStarted = resolve));
    this.exited = new Promise((resolve) => (this.markExited = resolve));
    this.finished = new Promise((resolve) => (this.markFinished = resolve));
    const { cmd, options } = spec;
    this.privilege = options.privilege ?? privilegeFor(options.sudo ?? false);
    const argv = commandArgv(cmd, this.privilege, options.cgroup);
    this.child = spawn(argv[0], argv.slice(1), {
      cwd: options.cwd,
      env: options.env ?? process.env,
      detached: true, // setsid(): the command leads its own process group, which stop() signals as a whole
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.info = new RunInfo({
      cmd,
      cwd: options.cwd,
      isAsync: spec.isAsync,
      isDaemon: spec.isDaemon,
      timeout: spec.timeout,
    });
    // Known now, not only at the 'spawn' event (a tick later): a stop() in the same tick must signal it, not wait for it to end.
    this.info.pid = this.child.pid;
    if (options.stdoutCallback) this.info.stdoutCallback = options.stdoutCallback;
    if (options.stderrCallback) this.info.stderrCallback = options.stderrCallback;
    this.#watch();
  }

  get log(): Logger {
    return this.events.log;
  }

  #watch(): void {
    const { info, child } = this;
    const decoders = { stdout: new TextDecoder("utf-8"), stderr: new TextDecoder("utf-8") };
    const deliver = (streamName: "stdout" | "stderr", text: string) => {
      try {
        info.appendOutput(streamName, text);
      } catch (error) {
        this.log.error(`${streamName} callback of pid ${info.pid} threw:`, error);
      }
    };
    child.stdout?.on("data", (chunk: Buffer) => {
      deliver("stdout", decoders.stdout.decode(chunk, { stream: true }));
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      deliver("stderr", decoders.stderr.decode(chunk, { stream: true }));
    });

    let drainTimer: NodeJS.Timeout | undefined;
    child.on("spawn", () => {
      this.lastSampleAt = performance.now();
      this.events.spawned(this);
      this.markStarted();
    });
    child.on("error", (error) => {
      if (info.pid === undefined) {
        info.startError = error;
        this.markStarted();
      } else {
        this.log.warn(`pid ${info.pid}: ${error.message}`);
      }
    });
    child.on("exit", (code, signal) => {
      this.events.exited(this);
      info.exitCode = code;
      info.signal = signal;
      this.isExited = true;
      this.isPaused = false;
      this.markExited();
      this.log.debug(`pid ${info.pid} ${info.describeState()}`);
      drainTimer = setTimeout(() => {
        // Timers run before I/O in an event-loop turn: let one more I/O phase read what is pending before giving up.
        setImmediate(() => {
          if (this.isFinished) return;
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
      this.isExited = true;
      this.isFinished = true;
      this.markExited();
      this.markFinished();
      info.markFinished();
      this.events.finished(this);
    });
  }

  /** A failure to report: a daemon that ended, or a job that failed, unless its end was asked for or it was reported. */
  get failed(): boolean {
    if (!this.isFinished || this.endAsked || this.reported) return false;
    return this.spec.isDaemon || this.info.exitCode !== 0;
  }

  /**
   * Sends `signal` to the process group and to every process forked from it
   * that left the group, then SIGKILL after `timeout` ms if it still runs, and
   * resolves once the command and its group have ended.
   */
  async end(signal: NodeJS.Signals, timeout: number): Promise<void> {
    const pgid = this.info.pid;
    if (this.isExited || pgid === undefined) {
      await this.finished;
      return;
    }
    const deadline = performance.now() + timeout;
    this.log.info(`sending ${signal} to process group ${pgid} (${formatCommand(this.info.cmd)})`);
    const { outside } = await this.signalTree(signal);
    // A stopped process keeps any signal but SIGKILL pending until it is continued.
    if (this.isPaused && signal !== "SIGKILL") await this.signalTree("SIGCONT");
    this.isPaused = false;
    const ended = (until: number) => treeEndedBefore(pgid, outside, until);
    if (signal !== "SIGKILL" && !(await resolvesWithin(this.exited, timeout))) {
      this.log.warn(`process group ${pgid} ignored ${signal} for ${timeout} ms: sending SIGKILL`);
      await this.signalTree("SIGKILL");
    } else if (signal !== "SIGKILL" && !(await ended(deadline))) {
      // The leader obeyed but something it started did not: the group is still pinned by it, so the id is safe to signal.
      this.log.warn(`processes forked by pid ${pgid} outlived ${signal} for ${timeout} ms: sending SIGKILL`);
      await this.signalGroup(pgid, [], "SIGKILL");
      await this.signalGroup(pgid, outside.filter(isAlive), "SIGKILL");
    }
    if (!(await resolvesWithin(this.exited, SIGKILL_GRACE))) {
      // Only an uninterruptible sleep survives SIGKILL: waiting on would hang the caller (a cleanup) with it.
      this.log.warn(
        `pid ${pgid} has not exited ${SIGKILL_GRACE} ms after SIGKILL (uninterruptible sleep?): no longer waiting for it`,
      );
      return;
    }
    // kill() returns before the targets are dead: resolve only once nothing of the tree runs any more.
    if (!(await ended(performance.now() + SIGKILL_GRACE))) {
      this.log.warn(`processes forked by pid ${pgid} still run after SIGKILL (uninterruptible sleep?)`);
    }
    await this.finished;
  }

  /**
   * SIGSTOP (pause) or SIGCONT (resume) to the whole tree, repeated for
   * processes forked meanwhile, until every process of it shows the new state
   * (resolved: the change is in force).
   */
  async setPaused(paused: boolean): Promise<void> {
    const signal = paused ? "SIGSTOP" : "SIGCONT";
    const pgid = this.info.pid;
    if (pgid === undefined) return;
    const deadline = performance.now() + STATE_CHANGE_WAIT;
    this.log.info(`sending ${signal} to the process tree of pid ${pgid} (${formatCommand(this.info.cmd)})`);
    this.isPaused = paused;
    let pending = (await this.signalTree(signal)).tree;
    while (pending.length > 0) {
      if (performance.now() >= deadline) {
        this.log.warn(
          `pid(s) ${pending.join(", ")} not ${paused ? "stopped" : "continued"} ${STATE_CHANGE_WAIT} ms after ${signal}`,
        );
        return;
      }
      await delay(GROUP_POLL);
      const table = await readProcessTable();
      pending = treePids(table, pgid).filter((pid) => {
        const stat = table.get(pid);
        return stat !== undefined && isRunningState(stat) && isStopped(stat) !== paused;
      });
      if (pending.length > 0) await this.signalGroup(pgid, pending, signal);
    }
  }

  /**
   * Sends `signal` to every process of the tree: those that left the process
   * group one by one, then the group in one call (which also catches a member
   * forked meanwhile). Resolves with the tree's pids as read before, and those
   * of them out of the group.
   */
  async signalTree(signal: NodeJS.Signals): Promise<{ tree: number[]; outside: number[] }> {
    const pgid = this.info.pid;
    if (pgid === undefined || this.isExited) return { tree: [], outside: [] };
    // Read first: once the leader is signalled it may die, and what it forked out of its group goes to init, out of reach.
    const table = await readProcessTable();
    const tree = treePids(table, pgid);
    const outside = tree.filter((pid) => table.get(pid)?.pgrp !== pgid);
    if (outside.length > 0) await this.signalGroup(pgid, outside, signal);
    await this.signalGroup(pgid, [], signal);
    return { tree, outside };
  }

  /** Sends `signal` to process group `pgid` (when `pids` is empty) or to `pids`, through the privilege on EPERM. */
  async signalGroup(pgid: number, pids: readonly number[], signal: NodeJS.Signals): Promise<void> {
    const targets = pids.length > 0 ? pids : [-pgid];
    // Started through sudo: the group holds root's sudo and maybe the user's program (run-as.ts); our own kill would
    // reach only the latter and still succeed, leaving sudo unsignalled (stopped, or never reaping). All through sudo.
    const refused: number[] = this.privilege.direct ? [] : [...targets];
    for (const target of this.privilege.direct ? targets : []) {
      try {
        process.kill(target, signal);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === "EPERM") refused.push(target);
        else if (code !== "ESRCH")
          this.log.warn(`could not send ${signal} to ${describeTarget(target)}: ${(error as Error).message}`);
      }
    }
    const through = escalation(this.privilege);
    if (refused.length === 0) return;
    if (through.direct) {
      this.log.warn(`could not send ${signal} to ${refused.map(describeTarget).join(", ")}: not permitted`);
      return;
    }
    // A group started through sudo belongs to root: signal it through sudo as well.
    const argv = through.wrap(killArgv(signal, refused));
    await new Promise<void>((resolve) => {
      execFile(argv[0], argv.slice(1), { timeout: ESCALATED_KILL_TIMEOUT }, (failure) => {
        if (failure)
          this.log.warn(
            `could not send ${signal} to ${refused.map(describeTarget).join(", ")} through ${through.mode}: ${failure.message}`,
          );
        resolve();
      });
    });
  }

  /** For the exit path, which cannot await: SIGKILL to the process group, through the privilege when refused. */
  killSync(): void {
    const pgid = this.info.pid;
    // An exited leader no longer pins its group id, which may belong to someone else by now.
    if (pgid === undefined || this.isExited) return;
    try {
      process.kill(-pgid, "SIGKILL");
    } catch (error) {
      const through = escalation(this.privilege);
      if ((error as NodeJS.ErrnoException).code === "EPERM" && !through.direct)
        runQuietlySync(through, killArgv("SIGKILL", [-pgid]));
    }
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

/** `kill` of processes and process groups (negative ids, after `--`). */
function killArgv(signal: NodeJS.Signals, targets: readonly number[]): string[] {
  return ["kill", "-s", signal.replace(/^SIG/u, ""), "--", ...targets.map(String)];
}

function describeTarget(target: number): string {
  return target < 0 ? `process group ${-target}` : `pid ${target}`;
}

/** Stopped by a signal (T) or for a tracer (t). */
function isStopped(stat: ProcStat): boolean {
  return stat.state === "T" || stat.state === "t";
}

/** Whether the group and the processes that left it have all ended by `deadline`. */
async function treeEndedBefore(pgid: number, outside: readonly number[], deadline: number): Promise<boolean> {
  for (;;) {
    const groupEnded = !groupExists(pgid) || (await liveGroupMembers(pgid)).length === 0;
    if (groupEnded && !outside.some(isAlive)) return true;
    if (performance.now() >= deadline) return false;
    await delay(GROUP_POLL);
  }
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
