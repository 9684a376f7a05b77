/**
 * What the kernel tells about processes and mounts, read the one way: a
 * process's /proc/<pid>/stat, whether it runs, which processes live in a
 * named network namespace (/run/netns), the mounts of /proc/self/mountinfo;
 * and the check of a process id argument. Reading another user's
 * /proc/<pid>/ns needs root: callers whose Privilege is not `direct` ask
 * through commands instead (`ip netns pids`).
 */
import { readFileSync, readdirSync, readlinkSync, statSync } from "node:fs";
import { readFile, readdir, readlink, stat } from "node:fs/promises";
import { endianness } from "node:os";
import { InvalidArgumentError } from "../errors.js";

// ---------------------------------------------------------------------------
// /proc/<pid>/stat

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

/** The kernel's flag for a process that has begun to exit (include/linux/sched.h). */
export const PF_EXITING = 0x4;

let clockTicks: number | undefined;
let pageSize: number | undefined;

/** The auxiliary vector's AT_PAGESZ and AT_CLKTCK (elf.h): what `getconf` would say, without starting it. */
const AT_PAGESZ = 6;
const AT_CLKTCK = 17;

/**
 * A value the kernel handed this process at exec in its auxiliary vector (/proc/self/auxv: pairs of
 * machine words), or `fallback` if it cannot be read: no `getconf` process to start (and wait for) when a
 * process makes its first network.
 */
function auxv(type: number, fallback: number): number {
  try {
    const bytes = readFileSync("/proc/self/auxv");
    const wide = !["arm", "ia32"].includes(process.arch);
    const size = wide ? 8 : 4;
    const little = endianness() === "LE";
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const word = (at: number) => (wide ? Number(view.getBigUint64(at, little)) : view.getUint32(at, little));
    for (let at = 0; at + 2 * size <= bytes.length; at += 2 * size) {
      if (word(at) === type) {
        const value = word(at + size);
        return value > 0 ? value : fallback;
      }
    }
  } catch {
    // Not readable (no /proc): the usual value.
  }
  return fallback;
}

/** USER_HZ: the unit of CPU times in /proc (100 on every mainstream architecture). */
export function ticksPerSecond(): number {
  clockTicks ??= auxv(AT_CLKTCK, 100);
  return clockTicks;
}

/** The page size, in bytes (the unit of /proc/<pid>/stat's rss). */
export function bytesPerPage(): number {
  pageSize ??= auxv(AT_PAGESZ, 4096);
  return pageSize;
}

/** Parses /proc/<pid>/stat; the command name may itself contain spaces and parentheses. */
function parseStat(pid: number, text: string): ProcStat | undefined {
  const close = text.lastIndexOf(")");
  if (close < 0) return undefined;
  // Fields after the name, starting with field 3 (state); see proc(5).
  const f = text
    .slice(close + 2)
    .trim()
    .split(" ");
  if (f.length < 22) return undefined;
  const hz = ticksPerSecond();
  const field = (n: number) => Number(f[n - 3]);
  return {
    pid,
    state: f[0],
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

/** /proc/<pid>/stat of one process (`"self"`: this one); undefined when it has gone. */
export async function readStat(pid: number | "self"): Promise<ProcStat | undefined> {
  try {
    return parseStat(pid === "self" ? process.pid : pid, await readFile(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return undefined;
  }
}

/** readStat() for callers that cannot await (the exit path, owner records). */
export function readStatSync(pid: number | "self"): ProcStat | undefined {
  try {
    return parseStat(pid === "self" ? process.pid : pid, readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return undefined;
  }
}

/** True for a process that has not exited: a zombie (Z) or dead (X) one has, only its parent has not reaped it. */
export function isRunningState(stat: ProcStat): boolean {
  return stat.state !== "Z" && stat.state !== "X";
}

/**
 * True while a process has a thread that has not exited. The thread-group
 * leader shows Z once its own thread has ended while other threads of the
 * process may still run (a process on its way out, a leader that called
 * pthread_exit); only when every thread has ended is the process gone.
 */
function runs(pid: number, stat: ProcStat): boolean {
  if (isRunningState(stat)) return true;
  try {
    return readdirSync(`/proc/${pid}/task`).some((tid) => {
      try {
        const thread = parseStat(Number(tid), readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8"));
        return thread !== undefined && isRunningState(thread);
      } catch {
        return false; // that thread has ended meanwhile
      }
    });
  } catch {
    return false; // reaped meanwhile
  }
}

/** True when `pid` exists and has not exited (a zombie has, only its parent has not reaped it). */
export function isAlive(pid: number): boolean {
  const stat = readStatSync(pid);
  return stat !== undefined && runs(pid, stat);
}

/**
 * Start time of a process in clock ticks since boot, or undefined if it is not
 * running (a zombie holds nothing: it has exited). With the pid, it tells a
 * process from a later one that got the same pid.
 */
export function processStartTime(pid: number): number | undefined {
  const stat = readStatSync(pid);
  return stat !== undefined && runs(pid, stat) ? stat.startTime : undefined;
}

/** True while the process `pid` that started at `startTime` (0: any) has a thread that has not exited. */
export function processRuns(pid: number, startTime: number): boolean {
  const stat = readStatSync(pid);
  if (stat === undefined || (startTime !== 0 && stat.startTime !== startTime)) return false;
  return runs(pid, stat);
}

/** The process ids listed in /proc (a snapshot). */
function procEntries(entries: readonly string[]): string[] {
  return entries.filter((entry) => /^\d+$/u.test(entry));
}

// ---------------------------------------------------------------------------
// Named network namespaces

/** Where `ip netns` names network namespaces (a bind mount per name). */
const NETNS_DIRECTORY = "/run/netns";

/** The path that names network namespace `scoped`. */
export function netnsPath(scoped: string): string {
  return `${NETNS_DIRECTORY}/${scoped}`;
}

/**
 * Where this process finds a path of the system its commands see: the path itself, or (rootless)
 * the holder's private /run through /proc/<holder>/root (systemPath in privilege.ts).
 */
export type PathOnSystem = (path: string) => string;
const asIs: PathOnSystem = (path) => path;

/** How /proc/<pid>/ns/net shows a namespace whose inode is `inode`. */
function netnsLink(inode: number): string {
  return `net:[${inode}]`;
}

/**
 * The processes in each of the named network namespaces: one pass over /proc
 * however many namespaces. A namespace that does not exist has none. Needs a
 * `direct` Privilege (root) to see other users' processes.
 */
export async function processesInNetns(
  scopedNamespaces: readonly string[],
  where: PathOnSystem = asIs,
): Promise<Map<string, number[]>> {
  const found = new Map<string, number[]>(scopedNamespaces.map((name) => [name, []]));
  const byLink = new Map<string, string>();
  for (const name of scopedNamespaces) {
    try {
      byLink.set(netnsLink((await stat(where(netnsPath(name)))).ino), name);
    } catch {
      // Deleted already: no processes to find.
    }
  }
  if (byLink.size === 0) return found;
  const entries = procEntries(await readdir("/proc"));
  await Promise.all(
    entries.map(async (entry) => {
      try {
        const name = byLink.get(await readlink(`/proc/${entry}/ns/net`));
        if (name !== undefined) found.get(name)?.push(Number(entry));
      } catch {
        // The process ended while we looked, or is a kernel thread without a namespace link.
      }
    }),
  );
  return found;
}

/** Whether process `pid` is in named network namespace `scoped` now. */
export async function isInNetns(pid: number, scoped: string, where: PathOnSystem = asIs): Promise<boolean> {
  try {
    const [wanted, actual] = await Promise.all([stat(where(netnsPath(scoped))), readlink(`/proc/${pid}/ns/net`)]);
    return actual === netnsLink(wanted.ino);
  } catch {
    return false; // the namespace or the process is gone
  }
}

/** The processes in one named network namespace, read synchronously (for the exit path). */
export function processesInNetnsSync(scopedNamespace: string, where: PathOnSystem = asIs): number[] {
  let wanted: string;
  let entries: string[];
  try {
    wanted = netnsLink(statSync(where(netnsPath(scopedNamespace))).ino);
    entries = procEntries(readdirSync("/proc"));
  } catch {
    return [];
  }
  return entries
    .filter((entry) => {
      try {
        return readlinkSync(`/proc/${entry}/ns/net`) === wanted;
      } catch {
        return false;
      }
    })
    .map(Number);
}

// ---------------------------------------------------------------------------
// /proc/self/mountinfo

/** One mount, as /proc/self/mountinfo shows it. */
export interface Mount {
  /** Where it is mounted (unescaped). */
  mountPoint: string;
  /** The file system type, e.g. `cgroup2`. */
  fsType: string;
  /** The file system's own options (for cgroup v1: its controllers). */
  superOptions: string;
}

/** Parses /proc/self/mountinfo text; lines it cannot read are left out. */
export function parseMountinfo(text: string): Mount[] {
  const mounts: Mount[] = [];
  for (const line of text.split("\n")) {
    // <id> <parent> <maj:min> <root> <mount point> <options> [optional...] - <fstype> <source> <super options>
    const parts = line.split(" - ");
    if (parts.length < 2) continue;
    const [before, after] = parts as [string, string];
    const [fsType, , superOptions = ""] = after.split(" ");
    const mountPoint = unescapeMountField(before.split(" ")[4] ?? "");
    if (!fsType || !mountPoint) continue;
    mounts.push({ mountPoint, fsType, superOptions });
  }
  return mounts;
}

/** mountinfo escapes space, tab, newline and backslash as octal (\040). */
function unescapeMountField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

/** The mounts of this process's mount namespace. Rejects when /proc/self/mountinfo cannot be read. */
export async function readMounts(): Promise<Mount[]> {
  return parseMountinfo(await readFile("/proc/self/mountinfo", "utf8"));
}

/** readMounts() for synchronous callers. Throws when /proc/self/mountinfo cannot be read. */
export function readMountsSync(): Mount[] {
  return parseMountinfo(readFileSync("/proc/self/mountinfo", "utf8"));
}

// ---------------------------------------------------------------------------
// Process id arguments

/** Largest process id Linux hands out: pid_max is at most 2^22 (PID_MAX_LIMIT), and a pid is below pid_max. */
const PID_MAX = 2 ** 22 - 1;

/** Checks that `value` is a process id (a whole number from 1 to PID_MAX), whether or not it runs. */
export function checkPid(argument: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1 || value > PID_MAX) {
    throw new InvalidArgumentError(argument, value, `must be a process id: a whole number from 1 to ${PID_MAX}`);
  }
  return value;
}

/** Checks that `value` is the pid of a running process (one of another user counts: the kernel decides later). */
export function checkRunningPid(argument: string, value: unknown): number {
  const pid = checkPid(argument, value);
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    if ((error as NodeJS.ErrnoException).code === "ESRCH") {
      throw new InvalidArgumentError(argument, value, "is not a running process: start it first and pass its pid");
    }
  }
  return pid;
}

/** This process's effective uid (process.geteuid exists on Linux, the only system dummynet runs on). */
export function effectiveUid(): number {
  return process.geteuid?.() ?? -1;
}
