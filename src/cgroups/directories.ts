/**
 * The library's cgroup directories on the system: their names (one directory
 * directly below its parent), the listing of those named d-<uid>-<name>, and
 * their removal with whatever they hold (hardClean, the reaper, exit cleanup).
 */
import { readdir, rmdir, stat, statfs } from "node:fs/promises";
import { readFileSync, readdirSync, rmdirSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { DummyNetError, InvalidArgumentError } from "../errors.js";
import { defaultLogger, type Logger } from "../log.js";
import { CGroupScoped, isPlainName, parseScoped, Scoped } from "../names/scoped.js";
import { isErrno } from "../system/already-gone.js";
import { cgroupFileError, readProcs } from "./control-file.js";
import { detectCgroupLayout, type CGroupLayout } from "./layout.js";

/** How long hardClean() waits for killed processes to leave before giving up. */
const HARD_CLEAN_TIMEOUT_MS = 5_000;
const NAME_MAX_LENGTH = 255;
/** statfs(2) f_type of cgroup v2 and v1 file systems (linux/magic.h). */
const CGROUP2_SUPER_MAGIC = 0x63677270;
const CGROUP_SUPER_MAGIC = 0x27e0eb;

/**
 * The scoped cgroups (named d-<uid>-<name>) found in the layout's parent
 * (v2) or in the cpu and memory hierarchies (v1); only those of `uid` when
 * given. Sorted by uid, then name.
 */
export async function listCgroups(uid?: number, layout?: CGroupLayout): Promise<CGroupScoped[]> {
  const resolved = layout ?? (await detectCgroupLayout());
  const parents = resolved.version === 2 ? [resolved.parent] : Object.values(resolved.hierarchies);
  const found = new Map<string, CGroupScoped>();
  for (const parent of parents) {
    let entries;
    try {
      entries = scopedCgroupDirectories(parent);
    } catch (error) {
      throw cgroupFileError("list", parent, error);
    }
    for (const entry of entries) {
      let scoped: CGroupScoped;
      try {
        scoped = CGroupScoped.fromScoped(entry.name);
      } catch {
        continue; // d-...-<name> with characters the library never makes: not ours.
      }
      if (uid === undefined || scoped.uid === uid) found.set(entry.name, scoped);
    }
  }
  return [...found.values()].sort(Scoped.compare);
}

/**
 * The directories in `parent` named like the library's cgroups (d-<uid>-<name>):
 * the one cgroup lister, of listCgroups() and the leftovers inventory. Read
 * synchronously (a few entries). None when `parent` does not exist (unmounted
 * meanwhile); other errors are thrown as they are.
 */
export function scopedCgroupDirectories(parent: string): { name: string; path: string }[] {
  let entries;
  try {
    entries = readdirSync(parent, { withFileTypes: true });
  } catch (error) {
    if (isErrno(error, "ENOENT")) return [];
    throw error;
  }
  return entries
    .filter((entry) => entry.isDirectory() && parseScoped(entry.name))
    .map((entry) => ({ name: entry.name, path: join(parent, entry.name) }));
}

/** Checks a cgroup name so that it is one directory, directly below its parent. */
export function validateCgroupName(name: unknown): string {
  const value = name instanceof CGroupScoped ? name.scoped : name;
  const argument = "cgroup name";
  if (typeof value !== "string") throw new InvalidArgumentError(argument, value, "must be a string or a CGroupScoped");
  if (value.length === 0 || value.length > NAME_MAX_LENGTH) {
    throw new InvalidArgumentError(argument, value, `must be 1 to ${NAME_MAX_LENGTH} characters long`);
  }
  if (!isPlainName(value)) {
    throw new InvalidArgumentError(
      argument,
      value,
      "may only contain the characters A-Z a-z 0-9 _ . - and must not be . or .. (it names one directory)",
    );
  }
  return value;
}

/** `parent/name`, refusing anything that would not be a direct child of `parent`. */
export function childDirectory(parent: string, name: string): string {
  const dir = resolve(parent, name);
  if (dirname(dir) !== resolve(parent) || basename(dir) !== name) {
    throw new InvalidArgumentError("cgroup name", name, `must name a directory directly inside ${parent}`);
  }
  return dir;
}

/** Refuses a parent directory that is not on a cgroup file system (a mkdir there would be a stray directory). */
export async function requireCgroupFileSystem(dir: string): Promise<void> {
  let type: number;
  try {
    type = (await statfs(dir)).type;
  } catch (error) {
    throw cgroupFileError("inspect the cgroup parent directory", dir, error);
  }
  if (type !== CGROUP2_SUPER_MAGIC && type !== CGROUP_SUPER_MAGIC) {
    throw new InvalidArgumentError(
      "layout",
      dir,
      "is not a directory of a mounted cgroup file system: use detectCgroupLayout(), or a directory inside its hierarchies",
    );
  }
}

/**
 * Kills every process inside `paths` (and the cgroups nested in them) with
 * SIGKILL, waits until they have left, and removes the directories, deepest
 * first. Used by hardClean() and by the reaper for a dead owner's cgroups.
 */
export async function removeCgroupDirectories(
  paths: readonly string[],
  name: string,
  log: Logger = defaultLogger,
): Promise<void> {
  const deadline = Date.now() + HARD_CLEAN_TIMEOUT_MS;
  const dirs: string[] = [];
  for (const dir of paths) dirs.push(...(await nestedFirst(dir)));
  let remaining = await processesIn(dirs);
  if (remaining.length > 0) log.warn(`Cgroup ${name}: killing processes left inside: ${remaining.join(" ")}`);
  while (remaining.length > 0) {
    for (const pid of remaining) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    }
    remaining = await processesIn(dirs);
    if (remaining.length > 0 && Date.now() > deadline) {
      throw new DummyNetError(
        `Cgroup ${name}: processes ${remaining.join(" ")} are still inside ${HARD_CLEAN_TIMEOUT_MS} ms after SIGKILL ` +
          "(stuck in the kernel, e.g. on a hung disk or NFS); the cgroup was not removed",
      );
    }
    // Between rounds, let the killed processes exit (no event tells us on v1).
    if (remaining.length > 0) await new Promise((done) => setTimeout(done, 10));
  }
  for (const dir of dirs) {
    try {
      await rmdir(dir);
    } catch (error) {
      if (isErrno(error, "ENOENT")) continue;
      throw cgroupFileError("remove the cgroup directory", dir, error);
    }
  }
}

/**
 * removeCgroupDirectories for the process.exit() path, which cannot await:
 * kills what is inside, waits (blocking, up to the same timeout) for it to
 * leave, removes the directories. Best effort: errors are ignored.
 */
export function removeCgroupDirectoriesSync(paths: readonly string[]): void {
  const procs = (dir: string) => {
    try {
      return readFileSync(join(dir, "cgroup.procs"), "utf8").split("\n").filter(Boolean).map(Number);
    } catch {
      return [];
    }
  };
  const deadline = Date.now() + HARD_CLEAN_TIMEOUT_MS;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    const remaining = paths.flatMap(procs);
    if (remaining.length === 0 || Date.now() > deadline) break;
    for (const pid of remaining) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    }
    // Let the killed processes exit: a blocking 10 ms pause, since nothing can be awaited here.
    Atomics.wait(pause, 0, 0, 10);
  }
  for (const dir of paths) {
    try {
      rmdirSync(dir);
    } catch {
      // Nested groups or stuck processes: the dead-owner reaper removes it later.
    }
  }
}

/** `dir` and every cgroup nested in it, deepest first (the order rmdir needs). */
async function nestedFirst(dir: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    if (isErrno(error, "ENOENT")) return [];
    throw cgroupFileError("list", dir, error);
  }
  const result: string[] = [];
  for (const entry of entries) if (entry.isDirectory()) result.push(...(await nestedFirst(join(dir, entry.name))));
  result.push(dir);
  return result;
}

async function processesIn(dirs: string[]): Promise<number[]> {
  const all = new Set<number>();
  for (const dir of dirs) for (const pid of await readProcs(dir)) all.add(pid);
  return [...all];
}

export async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
