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
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { readFile, readdir } from "node:fs/promises";
import { availableParallelism } from "node:os";

export interface ProcStat {
  pid: number;
  state: string;
  ppid: number;
  pgrp: number;
  /** The kernel's PF_* flags of the process (see PF_EXITING). */
  flags: number;
  /** Seconds. */
  utime: number;
  stime: number;
  cutime: number;
  cstime: number;
  /** Bytes. */
  vsize: number;
  rss: number;
  /** When the process started, in clock ticks since boot (with the pid, it names one process for good). */
  startTime: number;
}

export interface TreeStats {
  cpuUser: number;
  cpuSystem: number;
  memRss: number;
  memVms: number;
  /** Number of live processes counted. */
  processes: number;
}

let clockTicks: number | undefined;
let pageSize: number | undefined;

function getconf(name: string, fallback: number): number {
  try {
    const value = Number(execFileSync("getconf", [name], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim());
    return Number.isFinite(value) && value > 0 ? value : fallback;
  } catch {
    return fallback;
  }
}

/** USER_HZ: the unit of CPU times in /proc (100 on every mainstream architecture). */
export function ticksPerSecond(): number {
  clockTicks ??= getconf("CLK_TCK", 100);
  return clockTicks;
}

function bytesPerPage(): number {
  pageSize ??= getconf("PAGESIZE", 4096);
  return pageSize;
}

/** Parses /proc/<pid>/stat; the command name may itself contain spaces and parentheses. */
export function parseStat(pid: number, text: string): ProcStat | undefined {
  const close = text.lastIndexOf(")");
  if (close < 0) return undefined;
  // Fields after the name, starting with field 3 (state); see proc(5).
  const f = text.slice(close + 2).trim().split(" ");
  if (f.length < 22) return undefined;
  const hz = ticksPerSecond();
  const field = (n: number) => Number(f[n - 3]);
  return {
    pid,
    state: f[0]!,
    ppid: field(4),
    pgrp: field(5),
    flags: field(9),
    utime: field(14) / hz,
    stime: field(15) / hz,
    cutime: field(16) / hz,
    cstime: field(17) / hz,
    vsize: field(23),
    rss: field(24) * bytesPerPage(),
    startTime: field(22),
  };
}

/** The kernel's flag for a process that has begun to exit (include/linux/sched.h). */
export const PF_EXITING = 0x4;

/** /proc/<pid>/stat of one process; undefined when it has gone. */
export async function readStat(pid: number): Promise<ProcStat | undefined> {
  try {
    return parseStat(pid, await readFile(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return undefined;
  }
}

/** Every process on the system, by pid (processes that vanish while reading are skipped). */
export async function readProcessTable(): Promise<Map<number, ProcStat>> {
  const table = new Map<number, ProcStat>();
  const entries = await readdir("/proc");
  await Promise.all(
    entries.map(async (entry) => {
      if (!/^\d+$/u.test(entry)) return;
      const pid = Number(entry);
      try {
        const stat = parseStat(pid, await readFile(`/proc/${entry}/stat`, "utf8"));
        if (stat) table.set(pid, stat);
      } catch {
        // exited between readdir and read
      }
    }),
  );
  return table;
}

/** Totals for the tree rooted at `rootPid` in `table`; undefined when the root is not there. */
export function treeStats(table: ReadonlyMap<number, ProcStat>, rootPid: number): TreeStats | undefined {
  if (!table.has(rootPid)) return undefined;
  const children = childrenByParent(table);
  const members = new Set<number>();
  const pending = [rootPid];
  for (const stat of table.values()) if (stat.pgrp === rootPid) pending.push(stat.pid);
  while (pending.length > 0) {
    const pid = pending.pop()!;
    if (members.has(pid)) continue;
    members.add(pid);
    for (const child of children.get(pid) ?? []) pending.push(child);
  }
  const totals: TreeStats = { cpuUser: 0, cpuSystem: 0, memRss: 0, memVms: 0, processes: 0 };
  for (const pid of members) {
    const stat = table.get(pid)!;
    totals.cpuUser += stat.utime + stat.cutime;
    totals.cpuSystem += stat.stime + stat.cstime;
    totals.memRss += stat.rss;
    totals.memVms += stat.vsize;
    if (stat.state !== "Z" && stat.state !== "X") totals.processes++;
  }
  return totals;
}

/** The pids in `table` by their parent's pid. */
function childrenByParent(table: ReadonlyMap<number, ProcStat>): Map<number, number[]> {
  const children = new Map<number, number[]>();
  for (const stat of table.values()) {
    const list = children.get(stat.ppid);
    if (list) list.push(stat.pid);
    else children.set(stat.ppid, [stat.pid]);
  }
  return children;
}

/** Whether this kernel lists each task's children in /proc/<pid>/task/<tid>/children (CONFIG_PROC_CHILDREN). */
let childrenFiles: boolean | undefined;

/**
 * The live descendants of `pid` (its children, their children, ...), each
 * parent before its children; zombies and `pid` itself are left out. Read
 * from /proc/<pid>/task/<tid>/children where the kernel has those files,
 * else by scanning the parent pid of every process. A snapshot: a process
 * forked or gone while reading may be missing or still listed.
 */
export async function descendantsOf(pid: number): Promise<number[]> {
  childrenFiles ??= existsSync("/proc/thread-self/children");
  return childrenFiles ? descendantsByChildrenFiles(pid) : descendantsByScan(pid);
}

/** descendantsOf() by scanning every process's parent pid (works on every kernel). */
export async function descendantsByScan(pid: number): Promise<number[]> {
  const table = await readProcessTable();
  const children = childrenByParent(table);
  const found: number[] = [];
  const pending = [pid];
  const seen = new Set(pending);
  while (pending.length > 0) {
    for (const child of children.get(pending.shift()!) ?? []) {
      if (seen.has(child)) continue;
      seen.add(child);
      pending.push(child);
      const state = table.get(child)!.state;
      if (state !== "Z" && state !== "X") found.push(child);
    }
  }
  return found;
}

/** descendantsOf() through the children files, which name the children forked by each thread. */
export async function descendantsByChildrenFiles(pid: number): Promise<number[]> {
  const found: number[] = [];
  const pending = [pid];
  const seen = new Set(pending);
  while (pending.length > 0) {
    const parent = pending.shift()!;
    let tasks: string[];
    try {
      tasks = await readdir(`/proc/${parent}/task`);
    } catch {
      continue; // exited meanwhile
    }
    for (const task of tasks) {
      let text = "";
      try {
        text = await readFile(`/proc/${parent}/task/${task}/children`, "utf8");
      } catch {
        continue; // the thread ended meanwhile
      }
      for (const word of text.split(/\s+/u)) {
        const child = Number(word);
        if (word === "" || seen.has(child)) continue;
        seen.add(child);
        pending.push(child);
        if (isAlive(child)) found.push(child);
      }
    }
  }
  return found;
}

/** CPU seconds of the children this Node process has waited for (its cutime/cstime). */
export function reapedChildrenCpu(): { user: number; system: number } {
  try {
    const stat = parseStat(process.pid, readFileSync("/proc/self/stat", "utf8"));
    if (stat) return { user: stat.cutime, system: stat.cstime };
  } catch {
    // no /proc: fall back to the periodic samples only
  }
  return { user: 0, system: 0 };
}

/** Live (not zombie) members of process group `pgid`. */
export async function liveGroupMembers(pgid: number): Promise<number[]> {
  const table = await readProcessTable();
  const members: number[] = [];
  for (const stat of table.values()) {
    if (stat.pgrp === pgid && stat.state !== "Z" && stat.state !== "X") members.push(stat.pid);
  }
  return members;
}

/** True when `pid` exists and is not a zombie (a zombie has exited; only its parent has not reaped it). */
export function isAlive(pid: number): boolean {
  try {
    const stat = parseStat(pid, readFileSync(`/proc/${pid}/stat`, "utf8"));
    return stat !== undefined && stat.state !== "Z" && stat.state !== "X";
  } catch {
    return false;
  }
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
