/**
 * Program steps of a schedule, through the network's ProcessMonitor:
 * pause (until resume or `for`), kill (restarted after `for`, if given),
 * resume and restart.
 */
import { DummyNetError } from "../errors.js";
import type { ProcessMonitor } from "../process/process-monitor.js";
import type { RunInfo } from "../process/run-info.js";

/** What schedules need of the ProcessMonitor. */
interface ProgramControl {
  pause(info: RunInfo): Promise<unknown>;
  resume(info: RunInfo): Promise<unknown>;
  kill(info: RunInfo, options?: { signal?: NodeJS.Signals }): Promise<unknown>;
  restart(info: RunInfo): Promise<RunInfo>;
}

function control(monitor: ProcessMonitor, method: keyof ProgramControl): ProgramControl {
  const candidate = monitor as unknown as Partial<ProgramControl>;
  if (typeof candidate[method] !== "function") {
    throw new DummyNetError(`ProcessMonitor.${method}() is not available in this build of dummynet`);
  }
  return candidate as ProgramControl;
}

/** Pauses the program (and what it forked); resolves with the undo (resume). */
export async function pauseProgram(monitor: ProcessMonitor, info: RunInfo): Promise<() => Promise<void>> {
  const programs = control(monitor, "pause");
  await programs.pause(info);
  return async () => {
    if (!info.hasExited) await programs.resume(info);
  };
}

/** Kills the program as asked; resolves with the undo (restart), whose new RunInfo goes to `restarted`. */
export async function killProgram(
  monitor: ProcessMonitor,
  info: RunInfo,
  signal: NodeJS.Signals | undefined,
  restarted: (info: RunInfo) => void,
): Promise<() => Promise<void>> {
  const programs = control(monitor, "kill");
  await programs.kill(info, signal ? { signal } : {});
  return async () => {
    restarted(await control(monitor, "restart").restart(info));
  };
}

export async function resumeProgram(monitor: ProcessMonitor, info: RunInfo): Promise<void> {
  await control(monitor, "resume").resume(info);
}

export async function restartProgram(monitor: ProcessMonitor, info: RunInfo): Promise<RunInfo> {
  return control(monitor, "restart").restart(info);
}
