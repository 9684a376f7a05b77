/**
 * CPU and memory of a process tree, read from /proc (Linux).
 *
 * A tree is the process, every descendant (by parent pid) and every member of
 * its process group (which catches `cmd &` children orphaned to init). CPU
 * times of a process include those of its children that it has already
 * waited for (`cutime`/`cstime`), as the reference (psutil) counts them.
 *
 * After a process exits Node reaps it at once, so /proc no longer has it. Two
 * sources give the final numbers: the last periodic sample, and the growth of
 * Node's own "waited-for children" CPU times (`/proc/self/stat` cutime/cstime)
 * across the exit, which is exactly the child's lifetime CPU when nothing else
 * was reaped at the same moment. `finalCpu()` takes the latter only when it is
 * plausible (not less than the last sample, not more than the wall time since
 * then allows) and otherwise keeps the last sample.
 */
import { availableParallelism } from "node:os";
import { type ProcStat, isRunningState, readStatSync } from "../system/proc.js";
import { childrenByParent, readProcessTable } from "../system/process-tree.js";

export interface TreeStats {
  cpuUser: number;
  cpuSystem: number;
  memRss: number;
  memVms: number;
  /** Number of live processes counted. */
  processes: number;
}

/** Totals for the tree rooted at `rootPid` in `table`; undefined when the root is not there. */
export function treeStats(table: ReadonlyMap<number, ProcStat>, rootPid: number): TreeStats | undefined {
  if (!table.has(rootPid)) return undefined;
  const totals: TreeStats = { cpuUser: 0, cpuSystem: 0, memRss: 0, memVms: 0, processes: 0 };
  for (const pid of treePids(table, rootPid)) {
    const stat = table.get(pid);
    if (!stat) continue;
    totals.cpuUser += stat.utime + stat.cutime;
    totals.cpuSystem += stat.stime + stat.cstime;
    totals.memRss += stat.rss;
    totals.memVms += stat.vsize;
    if (isRunningState(stat)) totals.processes++;
  }
  return totals;
}

/**
 * The tree of `rootPid` in `table`: the process, the members of its process
 * group (which catches `cmd &` children orphaned to init) and every
 * descendant of those (also one that left the group); zombies included.
 */
export function treePids(table: ReadonlyMap<number, ProcStat>, rootPid: number): number[] {
  const children = childrenByParent(table);
  const members = new Set<number>();
  const pending = table.has(rootPid) ? [rootPid] : [];
  for (const stat of table.values()) if (stat.pgrp === rootPid) pending.push(stat.pid);
  for (let pid = pending.pop(); pid !== undefined; pid = pending.pop()) {
    if (members.has(pid)) continue;
    members.add(pid);
    for (const child of children.get(pid) ?? []) pending.push(child);
  }
  return [...members];
}

/** CPU seconds of the children this Node process has waited for (its cutime/cstime). */
export function reapedChildrenCpu(): { user: number; system: number } {
  const stat = readStatSync("self");
  // No /proc: fall back to the periodic samples only.
  return stat ? { user: stat.cutime, system: stat.cstime } : { user: 0, system: 0 };
}

/** Live (not zombie) members of process group `pgid`. */
export async function liveGroupMembers(pgid: number): Promise<number[]> {
  const table = await readProcessTable();
  const members: number[] = [];
  for (const stat of table.values()) {
    if (stat.pgrp === pgid && isRunningState(stat)) members.push(stat.pid);
  }
  return members;
}

const TICK_SLACK = 0.05;

/**
 * The final CPU times of a process that was just reaped: the growth of Node's
 * reaped-children times across the exit when plausible, else the last sample.
 */
export function finalCpu(options: {
  lastSample: { user: number; system: number };
  lastSampleAt: number;
  before: { user: number; system: number };
  after: { user: number; system: number };
  now: number;
}): { user: number; system: number } {
  const { lastSample, before, after } = options;
  const user = after.user - before.user;
  const system = after.system - before.system;
  const sampled = lastSample.user + lastSample.system;
  const grown = user + system;
  const elapsed = Math.max(0, options.now - options.lastSampleAt) / 1000;
  const ceiling = sampled + elapsed * availableParallelism() + TICK_SLACK;
  if (grown >= sampled - TICK_SLACK && grown <= ceiling && user >= 0 && system >= 0) return { user, system };
  return lastSample;
}
