/**
 * A cgroup that holds processes under a CPU and a memory limit, on cgroup v2
 * and on cgroup v1 / hybrid layouts. The limits are the kernel's own (CFS
 * bandwidth control and the memory controller), so they are enforced: a busy
 * loop gets its share of CPU time and no more; a process allocating beyond the
 * memory limit is killed by the kernel's OOM killer.
 *
 * Where the cgroup lives:
 * - v2: `<parent>/<name>`, the parent being the v2 root (/sys/fs/cgroup) as in
 *   the reference, or the parent of a layout passed in (a delegated subtree).
 *   cpu and memory are enabled in the parent's cgroup.subtree_control first.
 * - v1: one directory per controller hierarchy, `<cpu mount>/<name>` and
 *   `<memory mount>/<name>`; a pid is added to both.
 *
 * Needs root (or a delegated subtree): the library writes the cgroup files
 * directly, and the kernel's EACCES / EPERM becomes a DummyNetError saying so.
 *
 * The cgroup directories on the system (naming, listing, removal) are in
 * directories.ts; the layout detection is in layout.ts.
 */
import { mkdir, readFile, rmdir } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { DummyNetError, InvalidArgumentError } from "../errors.js";
import { defaultLogger, type Logger } from "../log.js";
import type { CGroupScoped } from "../names/scoped.js";
import { cgroupFileError, readProcs, writeControlFile } from "./control-file.js";
import {
  childDirectory,
  exists,
  removeCgroupDirectories,
  requireCgroupFileSystem,
  validateCgroupName,
} from "./directories.js";
import {
  availableControllers,
  detectCgroupLayout,
  enableV2Controllers,
  LIMITED_CONTROLLERS,
  type CGroupLayout,
  type LimitedController,
} from "./layout.js";
import { cpuQuota, validateCpuLimit, validateMemoryLimit } from "./limits.js";
import { descendantsOf } from "../system/process-tree.js";
import { isErrno } from "../system/already-gone.js";
import { PF_EXITING, checkRunningPid, readStat } from "../system/proc.js";

/**
 * New limits of a cgroup (`setLimit()`); a missing key keeps the current limit, `null` removes it.
 * @inline
 */
export interface CGroupLimits {
  /** CPUs, like `docker --cpus`; null = unlimited. */
  cpu?: number | null;
  /** Bytes; null = unlimited. */
  memory?: number | null;
}

/**
 * The limits a new cgroup starts with (`CGroup.create()`, `DummyNet.addCgroup()`): `CGroupLimits` under the
 * reference's keyword names (`cpu_limit`, `memory_limit`), beside a cgroup's other options; an omitted limit is not set.
 * @inline
 */
export interface CGroupInitialLimits {
  /** CPU limit in CPUs, like `docker --cpus` (0.5 = half of one CPU). @default no limit */
  cpuLimit?: NonNullable<CGroupLimits["cpu"]>;
  /** Memory limit in bytes; beyond it the kernel's OOM killer kills. @default no limit */
  memoryLimit?: NonNullable<CGroupLimits["memory"]>;
}

/**
 * Options of `CGroup.create()`: its name, its initial limits, where to log and where to make it.
 * @inline
 */
export interface CGroupOptions extends CGroupInitialLimits {
  /** The cgroup's name on the system: a scoped name such as `d-2-web`, or a CGroupScoped. */
  name: string | CGroupScoped;
  /** @default the library's default logger (silent unless DUMMYNET_LOG is set) */
  log?: Logger;
  /** Where to make the cgroup. @default detectCgroupLayout() */
  layout?: CGroupLayout;
}

/** How often addPid() looks for descendants still outside before it stops (a tree forking faster than it is moved). */
const DESCENDANT_SCAN_ROUNDS = 10;

/**
 * A cgroup with CPU and memory limits (v2, or v1 cpu and memory hierarchies), as the reference's CGroup.
 * `DummyNet.addCgroup()` makes one that the network's cleanup removes.
 *
 * @example
 * ```ts
 * const group = await CGroup.create({ name: new CGroupScoped("web"), cpuLimit: 0.5, memoryLimit: 64 * 2 ** 20 });
 * const info = await net.runAsync(["my-server"], { cgroup: group });
 * // ...
 * await group.hardClean();
 * ```
 */
export class CGroup {
  /** The scoped name, e.g. `d-2-web`, as the reference's `name`. */
  readonly name: string;
  /** The primary directory (v2: the only one; v1: the cpu hierarchy's, else the memory one's). */
  readonly path: string;
  /** Every directory of this cgroup: one on v2, one per controller hierarchy on v1. */
  readonly paths: readonly string[];
  /** Which cgroup version and directories it uses. */
  readonly layout: CGroupLayout;
  private readonly log: Logger;
  /** Directory of each controller's cgroup. */
  private readonly controllerPaths: Partial<Record<LimitedController, string>>;
  /** For each pid added: the cgroup it came from, per directory of ours; hardClean() moves it back there. */
  private readonly origins = new Map<number, Map<string, string>>();
  private currentMemoryLimit: number | null = null;
  #removed = false;

  private constructor(
    name: string,
    layout: CGroupLayout,
    controllerPaths: Partial<Record<LimitedController, string>>,
    log: Logger,
  ) {
    this.name = name;
    this.layout = layout;
    this.controllerPaths = controllerPaths;
    this.paths = [...new Set(Object.values(controllerPaths))];
    const first = this.paths.at(0);
    if (first === undefined) throw new Error(`cgroup ${name} has no directory`);
    this.path = first;
    this.log = log;
  }

  /**
   * Validates every argument, then creates the cgroup and writes its limits.
   * Rejects with InvalidArgumentError (nothing created) for a bad name or
   * limit, and with DummyNetError when the cgroup already exists or a needed
   * controller is missing. If writing a limit fails, the cgroup is removed
   * again before the error is thrown.
   *
   * @throws InvalidArgumentError for a bad name or limit (nothing created).
   * @throws DummyNetError when the cgroup exists already or a needed controller is missing.
   *
   * @example
   * ```ts
   * await using group = await CGroup.create({ name: new CGroupScoped("web"), cpuLimit: 0.5 });
   * ```
   */
  static async create(options: CGroupOptions): Promise<CGroup> {
    const name = validateCgroupName(options.name);
    const cpuLimit = options.cpuLimit === undefined ? undefined : validateCpuLimit(options.cpuLimit);
    const memoryLimit = options.memoryLimit === undefined ? undefined : validateMemoryLimit(options.memoryLimit);
    const log = options.log ?? defaultLogger;
    if (options.layout !== undefined) validateLayout(options.layout);
    const layout = options.layout ?? (await detectCgroupLayout());

    const needed: LimitedController[] = [];
    if (cpuLimit !== undefined) needed.push("cpu");
    if (memoryLimit !== undefined) needed.push("memory");

    const controllerPaths: Partial<Record<LimitedController, string>> = {};
    if (layout.version === 2) {
      await requireCgroupFileSystem(layout.parent);
      const offered = await enableV2Controllers(layout.parent);
      requireControllers(needed, offered, `the cgroup v2 parent ${layout.parent} (its cgroup.controllers)`);
      const dir = childDirectory(layout.parent, name);
      for (const controller of LIMITED_CONTROLLERS) controllerPaths[controller] = dir;
    } else {
      const mounted = LIMITED_CONTROLLERS.filter((c) => layout.hierarchies[c] !== undefined);
      requireControllers(needed, mounted, "the mounted cgroup v1 hierarchies");
      for (const controller of LIMITED_CONTROLLERS) {
        const hierarchy = layout.hierarchies[controller];
        if (hierarchy === undefined) continue;
        await requireCgroupFileSystem(hierarchy);
        controllerPaths[controller] = childDirectory(hierarchy, name);
      }
    }

    const cgroup = new CGroup(name, layout, controllerPaths, log);
    for (const dir of cgroup.paths) {
      if (await exists(dir)) {
        throw new DummyNetError(
          `Cgroup ${name} already exists at ${dir}: a leftover of an earlier run, or a name used twice. ` +
            "Choose another name, or remove it (`dummynet cleanup`, or rmdir once its processes are gone).",
        );
      }
    }
    const made: string[] = [];
    try {
      for (const dir of cgroup.paths) {
        try {
          await mkdir(dir);
        } catch (error) {
          throw cgroupFileError("create the cgroup directory", dir, error);
        }
        made.push(dir);
      }
      await cgroup.setLimit({ cpu: cpuLimit, memory: memoryLimit });
    } catch (error) {
      // Undo only what this call made: another run's cgroup of the same name must survive.
      for (const dir of made.reverse()) await rmdir(dir).catch(() => undefined);
      throw error;
    }
    log.info(`Cgroup ${name} created at ${cgroup.paths.join(", ")}`);
    return cgroup;
  }

  /**
   * Changes the limits: `cpu` in CPUs (like `docker --cpus`), `memory` in
   * bytes; a missing key keeps the current value, `null` removes the limit.
   * Both are validated before either is written.
   *
   * @throws InvalidArgumentError for a limit out of range or not an object (nothing written).
   * @throws DummyNetError when the cgroup was removed, a controller is missing, or a control file cannot be written.
   *
   * @example
   * ```ts
   * await group.setLimit({ cpu: 1, memory: 128 * 2 ** 20 });
   * ```
   */
  async setLimit(limits: CGroupLimits): Promise<void> {
    const given: unknown = limits; // JavaScript callers can pass anything
    if (given === null || typeof given !== "object") {
      throw new InvalidArgumentError("limits", limits, "must be an object such as { cpu: 0.5, memory: 268435456 }");
    }
    const cpu = limits.cpu == null ? limits.cpu : validateCpuLimit(limits.cpu, "cpu");
    const memory = limits.memory == null ? limits.memory : validateMemoryLimit(limits.memory, "memory");
    if (cpu !== undefined) await this.writeCpuLimit(cpu);
    if (memory !== undefined) await this.writeMemoryLimit(memory);
  }

  private controllerPath(controller: LimitedController): string {
    const dir = this.controllerPaths[controller];
    if (dir === undefined) {
      throw new DummyNetError(
        `Cgroup ${this.name} has no ${controller} controller: the ${controller} cgroup hierarchy is not mounted on this machine`,
      );
    }
    return dir;
  }

  private async writeCpuLimit(cpus: number | null): Promise<void> {
    const dir = this.controllerPath("cpu");
    const { quotaUs, periodUs } = cpuQuota(cpus ?? 1);
    if (this.layout.version === 2) {
      await requireFile(dir, "cpu.max", "cpu");
      await writeControlFile(dir, "cpu.max", cpus === null ? `max ${periodUs}` : `${quotaUs} ${periodUs}`);
    } else {
      await writeControlFile(dir, "cpu.cfs_period_us", String(periodUs));
      await writeControlFile(dir, "cpu.cfs_quota_us", cpus === null ? "-1" : String(quotaUs));
    }
    this.log.info(
      `Cgroup ${this.name}: cpu limit ${cpus === null ? "removed" : `${cpus} CPUs (${quotaUs} us per ${periodUs} us)`}`,
    );
  }

  private async writeMemoryLimit(bytes: number | null): Promise<void> {
    const dir = this.controllerPath("memory");
    if (this.layout.version === 2) {
      await requireFile(dir, "memory.max", "memory");
      await writeControlFile(dir, "memory.max", bytes === null ? "max" : String(bytes));
      // Without swap.max = 0 the kernel swaps instead of enforcing the limit.
      if (await exists(join(dir, "memory.swap.max"))) {
        await writeControlFile(dir, "memory.swap.max", bytes === null ? "max" : "0");
      }
    } else {
      const value = bytes === null ? "-1" : String(bytes);
      // v1 keeps memory.limit_in_bytes <= memory.memsw.limit_in_bytes (memory + swap) at all times,
      // so memsw goes first when the limit grows and last when it shrinks.
      const hasMemsw = await exists(join(dir, "memory.memsw.limit_in_bytes"));
      const grows = bytes === null || (this.currentMemoryLimit !== null && bytes > this.currentMemoryLimit);
      if (hasMemsw && grows) await writeControlFile(dir, "memory.memsw.limit_in_bytes", value);
      await writeControlFile(dir, "memory.limit_in_bytes", value);
      if (hasMemsw && !grows) await writeControlFile(dir, "memory.memsw.limit_in_bytes", value);
    }
    this.currentMemoryLimit = bytes;
    this.log.info(`Cgroup ${this.name}: memory limit ${bytes === null ? "removed" : `${bytes} bytes`}`);
  }

  /**
   * Moves the running process `pid` and every descendant it has (on v1, in
   * every hierarchy) into this cgroup, so that a shell line's children are
   * held too; what they fork from then on is born inside. Remembers where
   * each came from so that hardClean() can move it back. Rejects with
   * InvalidArgumentError when `pid` is not a running process; a descendant
   * that exits meanwhile is skipped.
   *
   * @throws InvalidArgumentError when `pid` is not a running process.
   * @throws DummyNetError when the cgroup was removed or the kernel refuses the move.
   *
   * @example
   * ```ts
   * await group.addPid(info.pid!); // a started command has a pid
   * ```
   */
  async addPid(pid: number): Promise<void> {
    checkRunningPid("pid", pid);
    this.#requireNotRemoved();
    // The parent first: from then on it forks inside. Its descendants then, scanning again until a scan finds none
    // outside: one forked between a scan and its parent's move is found by the next (bounded for a tree that
    // keeps forking from processes not moved yet).
    await this.#move(pid, true);
    const handled = new Set([pid]);
    const moved: number[] = [];
    for (let round = 0; round < DESCENDANT_SCAN_ROUNDS; round++) {
      let movedThisRound = 0;
      for (const descendant of await descendantsOf(pid)) {
        if (handled.has(descendant)) continue;
        handled.add(descendant);
        if (await this.#move(descendant, false)) {
          moved.push(descendant);
          movedThisRound++;
        }
      }
      if (movedThisRound === 0) break;
    }
    this.log.info(
      `Cgroup ${this.name}: added pid ${pid}${moved.length > 0 ? ` and its descendants ${moved.join(" ")}` : ""}`,
    );
  }

  /**
   * Writes `pid` to the cgroup.procs of each of our directories it is not in
   * yet, remembering where it was. Resolves whether it moved. For the named
   * pid, a process that is gone is the caller's mistake; for a descendant it
   * just exited meanwhile.
   */
  async #move(pid: number, named: boolean): Promise<boolean> {
    let origin = await originCgroups(pid, this.layout);
    if (!named) {
      // A descendant that is exiting has nothing left to hold (and v1 shows it in the root cgroups).
      const stat = await readStat(pid);
      if (stat === undefined || (stat.flags & PF_EXITING) !== 0) return false;
      if (isInitialCgroups(origin, this.layout)) {
        // A child still being forked shows the root cgroups until its fork completes. A migration waits for the
        // forks in flight, so moving its parent again (inside already: nothing changes) lets the fork finish first.
        await writeControlFile(this.path, "cgroup.procs", String(stat.ppid)).catch(() => undefined);
        origin = await originCgroups(pid, this.layout);
        this.log.debug(
          `Cgroup ${this.name}: pid ${pid} showed the root cgroups while being forked; then: ${JSON.stringify(origin)}`,
        );
      }
    }
    const outside = (Object.entries(this.controllerPaths) as [LimitedController, string][]).filter(
      ([controller, dir]) => origin[controller] !== dir,
    );
    if (outside.length === 0) return false; // born inside, or moved already
    const known = this.origins.get(pid) ?? new Map<string, string>();
    for (const [controller, dir] of outside) {
      const from = origin[controller];
      if (from !== undefined && !known.has(dir)) known.set(dir, from);
    }
    try {
      for (const dir of new Set(outside.map(([, dir]) => dir))) {
        try {
          await writeControlFile(dir, "cgroup.procs", String(pid));
        } catch (error) {
          if (isErrno(error, "ESRCH")) {
            if (!named) return false;
            throw new InvalidArgumentError(
              "pid",
              pid,
              "is not a running process (it exited): start it first and pass its pid",
            );
          }
          if (isErrno(error, "EINVAL")) {
            throw new DummyNetError(
              `Cannot move pid ${pid} into cgroup ${this.name}: the kernel refused (EINVAL; a kernel thread?)`,
              {
                cause: error,
              },
            );
          }
          throw error;
        }
      }
    } finally {
      if (known.size > 0) this.origins.set(pid, known);
    }
    return true;
  }

  /** True once hardClean() has removed the cgroup: it can hold no process any more. */
  get removed(): boolean {
    return this.#removed;
  }

  #requireNotRemoved(): void {
    if (this.#removed) {
      throw new DummyNetError(
        `Cgroup ${this.name} was removed by hardClean() (or its network's cleanup): create a new one`,
      );
    }
  }

  /**
   * The processes in this cgroup (on v1: in any of its hierarchies), sorted.
   *
   * @throws DummyNetError when a cgroup.procs file cannot be read (the cgroup was removed, say).
   *
   * @example
   * ```ts
   * const inside: number[] = await group.pids();
   * ```
   */
  async pids(): Promise<number[]> {
    const all = new Set<number>();
    for (const dir of this.paths) for (const pid of await readProcs(dir)) all.add(pid);
    return [...all].sort((a, b) => a - b);
  }

  /**
   * Removes the cgroup, whatever it holds. Processes added with addPid() go
   * back to the cgroup they came from (or the hierarchy's root when that is
   * gone), so adding the caller's own process is safe, as in the reference's
   * test; every other process inside (children born in the cgroup, and any
   * nested cgroups' processes) is killed with SIGKILL, as the reference's
   * cgroup.kill does. Then every directory is removed, nested ones first.
   * Idempotent: a cgroup already removed is fine.
   *
   * @throws DummyNetError when a process cannot be moved back or a directory cannot be removed.
   *
   * @example
   * ```ts
   * await group.hardClean();
   * ```
   */
  async hardClean(): Promise<void> {
    for (const [pid, fromByDir] of this.origins) {
      for (const dir of this.paths) {
        if (!(await readProcs(dir)).includes(pid)) continue;
        const back = fromByDir.get(dir);
        const targets = back !== undefined && (await exists(back)) ? [back, dirname(dir)] : [dirname(dir)];
        await moveProcess(pid, targets);
      }
    }
    this.origins.clear();

    await removeCgroupDirectories(this.paths, this.name, this.log);
    this.#removed = true;
    this.log.info(`Cgroup ${this.name} removed`);
  }

  /**
   * `await using cgroup = await CGroup.create(...)` removes it on scope exit (hardClean()).
   *
   * @throws DummyNetError as hardClean() does.
   *
   * @example
   * ```ts
   * {
   *   await using web = await net.addCgroup("web", { memoryLimit: 64 * 2 ** 20 });
   * } // removed here
   * ```
   */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.hardClean();
  }

  /**
   * The scoped name, as for Scoped objects.
   *
   * @example
   * ```ts
   * String(group); // "d-2-web"
   * ```
   */
  toString(): string {
    return this.name;
  }
}

function validateLayout(layout: unknown): void {
  const candidate = layout as { version?: unknown; root?: unknown; parent?: unknown; hierarchies?: unknown } | null;
  const valid =
    candidate !== null &&
    typeof candidate === "object" &&
    ((candidate.version === 2 && typeof candidate.parent === "string" && typeof candidate.root === "string") ||
      (candidate.version === 1 && typeof candidate.hierarchies === "object" && candidate.hierarchies !== null));
  if (!valid) {
    throw new InvalidArgumentError(
      "layout",
      layout,
      "must be { version: 2, root, parent } or { version: 1, hierarchies: { cpu?, memory? } }, as detectCgroupLayout() returns",
    );
  }
}

function requireControllers(needed: LimitedController[], available: readonly string[], where: string): void {
  const missing = needed.filter((c) => !available.includes(c));
  if (missing.length > 0) {
    throw new DummyNetError(
      `The ${missing.join(" and ")} cgroup controller is not available in ${where}: ` +
        "this kernel or its mounts do not offer it, so that limit cannot be enforced. " +
        "Check /proc/cgroups and the cgroup mounts (`mount -t cgroup2` or `mount -t cgroup -o <controller>`).",
    );
  }
}

async function requireFile(dir: string, file: string, controller: LimitedController): Promise<void> {
  if (!(await exists(join(dir, file)))) {
    const offered = await availableControllers(dirname(dir));
    throw new DummyNetError(
      `Cgroup ${dir} has no ${file}: the ${controller} controller is not enabled for it ` +
        `(its parent offers: ${offered.join(" ") || "nothing"}); enable it in ${dirname(dir)}/cgroup.subtree_control`,
    );
  }
}

/** Where `pid` is now, per controller, as directories of this layout. */
async function originCgroups(pid: number, layout: CGroupLayout): Promise<Partial<Record<LimitedController, string>>> {
  let text: string;
  try {
    text = await readFile(`/proc/${pid}/cgroup`, "utf8");
  } catch {
    return {}; // Exited meanwhile; writing cgroup.procs will say so.
  }
  const origin: Partial<Record<LimitedController, string>> = {};
  for (const line of text.split("\n")) {
    // <hierarchy id>:<controllers>:<path>; v2 is "0::<path>".
    const match = /^(\d+):([^:]*):(.*)$/.exec(line);
    if (!match) continue;
    const [, id, controllers, path] = match as unknown as [string, string, string, string];
    if (layout.version === 2) {
      if (id !== "0") continue;
      for (const c of LIMITED_CONTROLLERS) origin[c] = join(layout.root, path);
    } else {
      for (const c of controllers.split(",")) {
        const mount = layout.hierarchies[c as LimitedController];
        if (mount !== undefined) origin[c as LimitedController] = join(mount, path);
      }
    }
  }
  return origin;
}

/** True when `origin` is the root of every hierarchy of the layout: where the kernel shows a process it is still forking. */
function isInitialCgroups(origin: Partial<Record<LimitedController, string>>, layout: CGroupLayout): boolean {
  const roots = layout.version === 2 ? { cpu: layout.root, memory: layout.root } : layout.hierarchies;
  const controllers = Object.keys(origin) as LimitedController[];
  return (
    controllers.length > 0 &&
    controllers.every((c) => {
      const [from, root] = [origin[c], roots[c]];
      return from !== undefined && root !== undefined && resolve(from) === resolve(root);
    })
  );
}

/**
 * Writes `pid` to the cgroup.procs of the first of `targets` that takes it
 * (v2 refuses a cgroup that has become an inner node: then its parent).
 * A process that has exited meanwhile needs no move.
 */
async function moveProcess(pid: number, targets: string[]): Promise<void> {
  let lastError: unknown;
  for (const target of targets) {
    try {
      await writeControlFile(target, "cgroup.procs", String(pid));
      return;
    } catch (error) {
      if (isErrno(error, "ESRCH")) return;
      lastError = error;
    }
  }
  throw lastError;
}
