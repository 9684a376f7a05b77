/**
 * Program steps of a schedule, through the network's ProcessMonitor:
 * pause (until resume or `for`), kill (restarted after `for`, if given),
 * resume and restart.
 */
import type { ProcessMonitor } from "../process/process-monitor.js";
import type { RunInfo } from "../process/run-info.js";

/** Pauses the program (and what it forked); resolves with the undo (resume). */
export async function pauseProgram(monitor: ProcessMonitor, info: RunInfo): Promise<() => Promise<void>> {
  await monitor.pause(info);
  return async () => {
    if (!info.hasExited) await monitor.resume(info);
  };
}

/** Kills the program as asked; resolves with the undo (restart), whose new RunInfo goes to `restarted`. */
export async function killProgram(
  monitor: ProcessMonitor,
  info: RunInfo,
  signal: NodeJS.Signals | undefined,
  restarted: (info: RunInfo) => void,
): Promise<() => Promise<void>> {
  await monitor.kill(info, signal ? { signal } : {});
  return async () => {
    restarted(await monitor.restart(info));
  };
}

export async function resumeProgram(monitor: ProcessMonitor, info: RunInfo): Promise<void> {
  await monitor.resume(info);
}

export async function restartProgram(monitor: ProcessMonitor, info: RunInfo): Promise<RunInfo> {
  return monitor.restart(info);
}
