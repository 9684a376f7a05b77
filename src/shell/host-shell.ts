/**
 * The shell of the host (the root network namespace, or whichever namespace
 * this process runs in): user commands go to the ProcessMonitor, the
 * library's own commands to a CommandRunner. Both get their rights from one
 * Privilege (system/privilege.ts): when not root, `sudo -n` after one check.
 */
import { validateCgroupOption } from "../cgroups/start-inside.js";
import { InvalidArgumentError } from "../errors.js";
import { MatchError, RunInfoError, TimeoutError } from "../process/errors.js";
import { type Logger, defaultLogger } from "../log.js";
import { ProcessMonitor, validateMilliseconds } from "../process/process-monitor.js";
import { type RunInfo, formatCommand } from "../process/run-info.js";
import type { CommandResult, CommandRunner, SystemCommandOptions } from "../system/command-runner.js";
import { IpBatchRunner } from "../system/ip-batch-runner.js";
import { type Privilege, ROOT, defaultPrivilege, isRoot, privilegeFor } from "../system/privilege.js";
import { argvAs, isUserApplied, resolveRunAs } from "../process/run-as.js";
import type { PollUntilOptions, RunAsyncOptions, RunOptions, Shell } from "./shell.js";

/**
 * Options of `new HostShell()`.
 * @inline
 */
export interface HostShellOptions {
  /** @default defaultLogger (silent unless DUMMYNET_LOG is set) */
  log?: Logger;
  /** Run commands through `sudo -n`; ignored when `privilege` is given. @default true unless this process runs as root */
  sudo?: boolean;
  /** How every command of this shell gets its rights. @default from `sudo` (as they are when root, else `sudo -n`) */
  privilege?: Privilege;
  /** Watches the commands started by run/runAsync. @default a new ProcessMonitor with the same log */
  processMonitor?: ProcessMonitor;
  /**
   * Runs the library's own system commands.
   * @default the IpBatchRunner (long-lived `ip -batch` workers, one process per other command) of every shell of this process with the same privilege and log
   */
  runner?: CommandRunner;
}

/**
 * The runners of this process's shells, one per privilege and log: every network of a test process shares
 * one `ip -batch` worker in the host namespace, instead of starting its own and leaving it idle until the
 * process ends.
 */
const sharedRunners = new WeakMap<Privilege, WeakMap<Logger, IpBatchRunner>>();

function sharedRunner(privilege: Privilege, log: Logger): IpBatchRunner {
  let byLog = sharedRunners.get(privilege);
  if (!byLog) sharedRunners.set(privilege, (byLog = new WeakMap()));
  let runner = byLog.get(log);
  if (!runner) byLog.set(log, (runner = new IpBatchRunner({ privilege, log })));
  return runner;
}

/**
 * The shell of the host: user commands go to a ProcessMonitor, the library's own commands to a
 * CommandRunner, both through `sudo -n` when not root.
 *
 * @example
 * ```ts
 * const shell = new HostShell({ sudo: false });
 * const info = await shell.run(["uname", "-r"]);
 * console.log(info.stdout.trim());
 * ```
 */
export class HostShell implements Shell {
  /** Where the shell logs. */
  readonly log: Logger;
  readonly privilege: Privilege;
  /** The monitor of the commands started by run/runAsync. */
  readonly processMonitor: ProcessMonitor;
  /** Runs the library's own system commands. */
  readonly runner: CommandRunner;
  readonly namespace: string | undefined = undefined;

  constructor(options: HostShellOptions = {}) {
    this.log = options.log ?? defaultLogger;
    this.privilege =
      options.privilege ?? (options.sudo === undefined ? defaultPrivilege() : privilegeFor(options.sudo));
    this.processMonitor = options.processMonitor ?? new ProcessMonitor({ log: this.log });
    this.runner = options.runner ?? sharedRunner(this.privilege, this.log);
  }

  get sudo(): boolean {
    return this.privilege.mode === "sudo";
  }

  helperPids(namespace?: string): number[] {
    return this.runner.helperPids?.(namespace) ?? [];
  }

  async run(cmd: string | readonly string[], options: RunOptions = {}): Promise<RunInfo> {
    validateCgroupOption(options.cgroup);
    const prepared = this.#asUser(cmd, options);
    const rest = withoutUser(options);
    await this.privilege.ready();
    return this.processMonitor.runProcess(prepared.cmd, { ...rest, privilege: prepared.privilege });
  }

  async runAsync(cmd: string | readonly string[], options: RunAsyncOptions = {}): Promise<RunInfo> {
    validateCgroupOption(options.cgroup);
    const prepared = this.#asUser(cmd, options);
    const rest = withoutUser(options);
    await this.privilege.ready();
    return this.processMonitor.runProcessAsync(prepared.cmd, { ...rest, privilege: prepared.privilege });
  }

  /** The command as the user it runs as (run-as.ts), and the privilege that starts it. */
  #asUser(
    cmd: string | readonly string[],
    options: RunOptions,
  ): { cmd: string | readonly string[]; privilege: Privilege } {
    if (isUserApplied(options)) return { cmd, privilege: this.privilege };
    const identity = resolveRunAs(this.privilege, options.user);
    if (!identity) return { cmd, privilege: this.privilege };
    // This very process's user, at the host, with no cgroup to enter as root first: no sudo at all.
    if (!isRoot() && identity.uid === process.getuid?.() && !options.cgroup) return { cmd, privilege: ROOT };
    return { cmd: argvAs(identity, cmd, (options.env ?? process.env)["PATH"]), privilege: this.privilege };
  }

  pollUntil(cmd: string | readonly string[], options: PollUntilOptions): Promise<RunInfo> {
    return pollUntil((runOptions) => this.run(cmd, runOptions), formatCommand(cmd), options);
  }

  /**
   * Runs one of the library's own commands on the host. A NamespaceShell
   * passes `namespace` here so that the runner can use `ip -n` or nsenter.
   *
   * @throws SystemCommandError when the command fails (unless `allowFailure`); MissingProgramError when its program is not installed.
   * @throws DummyNetError when sudo needs a password and there is no terminal to ask for it.
   * @example
   * ```ts
   * const { stdout } = await new HostShell().system(["ip", "-j", "link", "show"]);
   * ```
   */
  async system(argv: readonly string[], options: SystemCommandOptions = {}): Promise<CommandResult> {
    await this.privilege.ready();
    return this.runner.run(argv, options);
  }
}

/**
 * Runs a command again and again (every `interval` ms) until its output
 * matches, as the reference's poll_until (a non-zero exit is just another
 * attempt). Resolves with the RunInfo that matched; rejects with TimeoutError
 * saying what was awaited and for how long. Each attempt may only use the
 * time that is left; stdoutCallback and stderrCallback receive every attempt's output.
 */
export async function pollUntil(
  runOnce: (options: RunOptions) => Promise<RunInfo>,
  description: string,
  options: PollUntilOptions,
): Promise<RunInfo> {
  const { matchStdout, matchStderr, matchFn, signal, cwd, env, cgroup, stdoutCallback, stderrCallback } = options;
  const timeout = options.timeout ?? 15000;
  const interval = options.interval ?? 100;
  validateMilliseconds("timeout", timeout, { positive: true });
  validateMilliseconds("interval", interval);
  if (matchStdout === undefined && matchStderr === undefined && matchFn === undefined) {
    throw new InvalidArgumentError(
      "pollUntil options",
      options,
      "must give matchStdout, matchStderr or matchFn: say what to wait for",
    );
  }
  const awaited = [
    matchStdout !== undefined ? `stdout matching "${matchStdout}"` : "",
    matchStderr !== undefined ? `stderr matching "${matchStderr}"` : "",
    matchFn !== undefined ? "output accepted by matchFn" : "",
  ]
    .filter(Boolean)
    .join(" and ");

  const deadline = performance.now() + timeout;
  let attempts = 0;
  let last: RunInfo | undefined;
  for (;;) {
    signal?.throwIfAborted();
    const left = deadline - performance.now();
    if (left <= 0) break;
    attempts++;
    try {
      last = await runOnce({
        cwd,
        env,
        signal,
        cgroup,
        stdoutCallback,
        stderrCallback,
        timeout: Math.max(1, Math.ceil(left)),
      });
    } catch (error) {
      if (error instanceof TimeoutError && error.info) {
        last = error.info;
        break; // the attempt used up the time that was left
      }
      if (!(error instanceof RunInfoError) || (signal?.aborted ?? false)) throw error;
      last = error.info;
    }
    if (outputMatches(last, matchStdout, matchStderr, matchFn)) return last;
    const wait = Math.min(interval, deadline - performance.now());
    if (wait > 0) await sleep(wait, signal);
  }
  const lastOutput = last ? `\nlast attempt: ${last.describe()}` : "";
  throw new TimeoutError(
    last,
    `pollUntil: \`${description}\` did not produce ${awaited} within ${timeout} ms (${attempts} attempt${attempts === 1 ? "" : "s"})${lastOutput}`,
  );
}

function outputMatches(
  info: RunInfo,
  matchStdout: string | undefined,
  matchStderr: string | undefined,
  matchFn: ((output: string) => boolean) | undefined,
): boolean {
  if (matchStdout !== undefined || matchStderr !== undefined) {
    try {
      info.match({ stdout: matchStdout, stderr: matchStderr });
    } catch (error) {
      if (error instanceof MatchError) return false;
      throw error;
    }
    return true;
  }
  return matchFn !== undefined && (matchFn(info.stdout) || matchFn(info.stderr));
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** Run options without `user`, which the shell has applied to the command (the monitor does not know it). */
function withoutUser<T extends RunOptions | RunAsyncOptions>(options: T): T {
  const rest = { ...options };
  delete rest.user;
  return rest;
}
