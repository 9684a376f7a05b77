/**
 * The process table from /proc, and the descendants of a process: read by
 * the process monitor (src/process) and by cgroups (src/cgroups) alike.
 */
import { existsSync } from "node:fs";
import { readFile, readdir } from "node:fs/promises";
import { type ProcStat, isAlive, isRunningState, readStat } from "./proc.js";

/** Every process on the system, by pid (processes that vanish while reading are skipped). */
export async function readProcessTable(): Promise<Map<number, ProcStat>> {
  const table = new Map<number, ProcStat>();
  const entries = await readdir("/proc");
  await Promise.all(
    entries.map(async (entry) => {
      if (!/^\d+$/u.test(entry)) return;
      // undefined: exited between readdir and read.
      const stat = await readStat(Number(entry));
      if (stat) table.set(stat.pid, stat);
    }),
  );
  return table;
}

/** The pids in `table` by their parent's pid. */
export function childrenByParent(table: ReadonlyMap<number, ProcStat>): Map<number, number[]> {
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
  for (let parent = pending.shift(); parent !== undefined; parent = pending.shift()) {
    for (const child of children.get(parent) ?? []) {
      if (seen.has(child)) continue;
      seen.add(child);
      pending.push(child);
      const stat = table.get(child);
      if (stat && isRunningState(stat)) found.push(child);
    }
  }
  return found;
}

/** descendantsOf() through the children files, which name the children forked by each thread. */
export async function descendantsByChildrenFiles(pid: number): Promise<number[]> {
  const found: number[] = [];
  const pending = [pid];
  const seen = new Set(pending);
  for (let parent = pending.shift(); parent !== undefined; parent = pending.shift()) {
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
