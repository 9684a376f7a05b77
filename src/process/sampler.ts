/**
 * CPU and memory samples of the monitor's live process trees, every
 * `interval` ms while any runs, and the final CPU times of each at its exit
 * (see proc-stats.ts for why two sources).
 */
import type { Logger } from "../log.js";
import { roundSeconds } from "./checks.js";
import type { MonitoredProcess } from "./monitored-process.js";
import { readProcessTable } from "../system/process-tree.js";
import { finalCpu, reapedChildrenCpu, treeStats } from "./proc-stats.js";

export class Sampler {
  #timer: NodeJS.Timeout | undefined;
  #sampling = false;
  /** Node's reaped-children CPU times at the latest reading (see proc-stats.ts). */
  #reapedBaseline = reapedChildrenCpu();

  constructor(
    readonly interval: number,
    readonly log: Logger,
    /** The processes to sample (the monitor's live set, read at each sample). */
    readonly live: ReadonlySet<MonitoredProcess>,
  ) {}

  start(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => void this.sample(), this.interval);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** One CPU/memory sample of every running process tree. */
  async sample(): Promise<void> {
    if (this.#sampling) return;
    this.#sampling = true;
    try {
      // Read synchronously before anything else: a child reaped from now on is not in this baseline.
      this.#reapedBaseline = reapedChildrenCpu();
      const table = await readProcessTable();
      const now = performance.now();
      for (const proc of this.live) {
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
  recordFinalCpu(proc: MonitoredProcess): void {
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
