/**
 * Programs of a topology: daemons start first, in file order, each waiting
 * for its readiness check (a TCP port accepting connections, or a line in
 * its output); then the jobs run together, and the run ends when all have
 * exited. A daemon that dies, or a job that fails, ends the run.
 */
import { RunInfoError } from "../process/errors.js";
import { signalExitStatus } from "../process/exit-status.js";
import type { RunInfo } from "../process/run-info.js";
import type { BuiltNetwork } from "./build.js";
import { known, type ProgramSpec } from "./model.js";
import { waitForLine, waitForPort } from "./readiness.js";

/** Receives each line a topology's program prints: the program's name, the stream and the line. */
export type OutputSink = (program: string, stream: "stdout" | "stderr", line: string) => void;

export interface ProgramRunOptions {
  /** Receives the programs' output line by line. */
  onOutput?: OutputSink;
  /** Aborting stops waiting (the caller's cleanup stops the processes). */
  signal?: AbortSignal;
}

/** Starts the daemons of the topology, each ready before the next starts. */
export async function startDaemons(built: BuiltNetwork, options: ProgramRunOptions = {}): Promise<RunInfo[]> {
  const started: RunInfo[] = [];
  for (const program of built.topology.programs.filter((p) => p.daemon)) {
    const info = await startProgram(built, program, options);
    started.push(info);
    if (program.ready) await waitReady(built, program, program.ready, info, options.signal);
  }
  return started;
}

/** Starts `jobs` (programs that are not daemons) one after the other, without waiting for them to end. */
export async function startJobs(
  built: BuiltNetwork,
  jobs: readonly ProgramSpec[],
  options: ProgramRunOptions = {},
): Promise<RunInfo[]> {
  const infos: RunInfo[] = [];
  for (const job of jobs) infos.push(await startProgram(built, job, options));
  return infos;
}

/** The outcome of the jobs: exit status 0 when all succeeded, else the first failure's. */
export interface JobsResult {
  exitCode: number;
  /** The job (or daemon) that ended the run unsuccessfully, described. */
  failure?: string;
  jobs: RunInfo[];
}

/**
 * Starts `jobs` together and waits until all have exited, while checking
 * that the daemons stay up. A job over its `timeout` is stopped and fails.
 */
export async function runJobs(
  built: BuiltNetwork,
  jobs: readonly ProgramSpec[],
  options: ProgramRunOptions = {},
): Promise<JobsResult> {
  if (jobs.length === 0) return { exitCode: 0, jobs: [] };
  const first = built.hosts.values().next();
  if (first.done) throw new Error("internal error: a network without hosts runs programs");
  const monitor = first.value.processMonitor;
  const infos: RunInfo[] = [];
  const timers: NodeJS.Timeout[] = [];
  const timedOut = new Set<RunInfo>();
  try {
    for (const job of jobs) {
      const info = await startProgram(built, job, options);
      infos.push(info);
      if (job.timeout !== undefined) {
        timers.push(
          setTimeout(() => {
            timedOut.add(info);
            monitor.stopProcessAsync(info, { timeout: 1000 }).catch(() => undefined);
          }, job.timeout),
        );
      }
    }
    for (;;) {
      options.signal?.throwIfAborted();
      const failedByTimeout = infos.find((info) => timedOut.has(info));
      if (failedByTimeout) {
        const job = jobs[infos.indexOf(failedByTimeout)];
        return {
          exitCode: 124,
          failure: `job "${job.name}" in host ${job.host} ran longer than its timeout of ${job.timeout} ms and was stopped`,
          jobs: infos,
        };
      }
      if (!(await monitor.keepRunning(200))) break;
    }
  } catch (error) {
    return { ...describeFailure(error), jobs: infos };
  } finally {
    for (const timer of timers) clearTimeout(timer);
  }
  const failed = infos.find((info) => info.exitCode !== 0);
  if (failed) return { exitCode: jobStatus(failed), failure: failed.describe(), jobs: infos };
  return { exitCode: 0, jobs: infos };
}

function describeFailure(error: unknown): { exitCode: number; failure: string } {
  const errors = error instanceof AggregateError ? error.errors : [error];
  const jobError = errors.find((e): e is RunInfoError => e instanceof RunInfoError && !e.info.isDaemon);
  if (jobError) return { exitCode: jobStatus(jobError.info), failure: jobError.message };
  return { exitCode: 1, failure: errors.map((e) => (e as Error).message).join("; ") };
}

async function startProgram(built: BuiltNetwork, program: ProgramSpec, options: ProgramRunOptions): Promise<RunInfo> {
  const host = known(built.hosts, program.host);
  // Started inside its host's cgroup, so nothing it forks ever runs outside the limits.
  const cgroup = built.cgroups.get(program.host);
  const info = await host.runAsync(program.command, {
    daemon: program.daemon,
    ...(cgroup && { cgroup }),
    ...(program.user !== undefined && { user: program.user }),
  });
  const sink = options.onOutput;
  if (sink) {
    for (const stream of ["stdout", "stderr"] as const) {
      const split = lineSplitter((line) => {
        sink(program.name, stream, line);
      });
      split(info[stream]);
      info[stream === "stdout" ? "stdoutCallback" : "stderrCallback"] = split;
    }
  }
  return info;
}

function lineSplitter(onLine: (line: string) => void): (data: string) => void {
  let pending = "";
  return (data) => {
    pending += data;
    let newline: number;
    while ((newline = pending.indexOf("\n")) >= 0) {
      onLine(pending.slice(0, newline));
      pending = pending.slice(newline + 1);
    }
  };
}

/** Waits until the program's readiness checks pass (port and line at once), it exits, or the timeout ends. */
async function waitReady(
  built: BuiltNetwork,
  program: ProgramSpec,
  ready: NonNullable<ProgramSpec["ready"]>,
  info: RunInfo,
  signal?: AbortSignal,
): Promise<void> {
  const host = known(built.hosts, program.host);
  const who = `program "${program.name}" in host ${program.host}`;
  // One failing check ends the other one's wait too.
  const stop = new AbortController();
  const onAbort = () => {
    stop.abort(signal?.reason);
  };
  signal?.addEventListener("abort", onAbort, { once: true });
  const options = { timeout: ready.timeout, signal: stop.signal };
  try {
    await Promise.all([
      ready.port !== undefined
        ? waitForPort(host, ready.port, {
            ...options,
            info,
            what: `${who} to accept connections on TCP port ${ready.port}`,
          })
        : undefined,
      ready.line !== undefined
        ? waitForLine(info, ready.line, { ...options, what: `${who} to print a line matching "${ready.line}"` })
        : undefined,
    ]);
  } catch (error) {
    stop.abort(error);
    throw error;
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
}

/** A job's status as a shell would report it: its exit status, or 128 + the number of the signal that killed it. */
function jobStatus(info: RunInfo): number {
  if (info.exitCode !== null) return info.exitCode;
  return info.signal ? signalExitStatus(info.signal) : 1;
}
