/**
 * Where this machine keeps its cgroups, and how to reach the cpu and memory
 * controllers: cgroup v2 (one unified tree, usually at /sys/fs/cgroup) or
 * cgroup v1 / hybrid (one tree per controller, /sys/fs/cgroup/cpu,
 * /sys/fs/cgroup/memory or a combined cpu,cpuacct). Read from
 * /proc/self/mountinfo, so unusual mount points are found too: where the
 * library makes cgroups (detectCgroupLayout) and what `dummynet doctor`
 * reports (surveyCgroups).
 */
import { readFileSync } from "node:fs";
import { DummyNetError } from "../errors.js";
import { type Mount, readMounts, readMountsSync } from "../system/proc.js";
import { readControlFile, writeControlFile } from "./control-file.js";

/** The controllers the library limits. */
export type LimitedController = "cpu" | "memory";
export const LIMITED_CONTROLLERS: readonly LimitedController[] = ["cpu", "memory"];

export interface CGroupV2Layout {
  readonly version: 2;
  /** Mount point of the unified hierarchy, e.g. /sys/fs/cgroup. */
  readonly root: string;
  /**
   * The directory new cgroups are made in: by default the v2 root, as the
   * reference does (/sys/fs/cgroup/<name>). A delegated subtree (for a user
   * without root, or inside a container) can be given instead.
   */
  readonly parent: string;
}

export interface CGroupV1Layout {
  readonly version: 1;
  /**
   * Mount point of each controller's hierarchy (the parent of new cgroups),
   * e.g. { cpu: "/sys/fs/cgroup/cpu", memory: "/sys/fs/cgroup/memory" }.
   * A controller that is not mounted is absent.
   */
  readonly hierarchies: Readonly<Partial<Record<LimitedController, string>>>;
}

export type CGroupLayout = CGroupV2Layout | CGroupV1Layout;

/** One cgroup mount, as read from /proc/self/mountinfo. */
export interface CgroupMount {
  mountPoint: string;
  fsType: "cgroup" | "cgroup2";
  /** For v1: the controllers bound to this hierarchy (from the super options). */
  controllers: string[];
}

/** The cgroup and cgroup2 mounts among `mounts` (from readMounts()). */
export function cgroupMounts(mounts: readonly Mount[]): CgroupMount[] {
  const found: CgroupMount[] = [];
  for (const { mountPoint, fsType, superOptions } of mounts) {
    if (fsType !== "cgroup" && fsType !== "cgroup2") continue;
    const controllers = fsType === "cgroup" ? superOptions.split(",").filter((o) => o !== "rw" && o !== "ro") : [];
    found.push({ mountPoint, fsType, controllers });
  }
  return found;
}

/** Prefers the conventional mount point when a hierarchy is mounted twice (bind mounts). */
function preferred(mounts: CgroupMount[]): CgroupMount | undefined {
  return mounts.find((m) => m.mountPoint.startsWith("/sys/fs/cgroup")) ?? mounts[0];
}

/**
 * Describes this machine's cgroup layout. v2 is chosen when the unified
 * hierarchy offers cpu or memory (a pure v2 machine); otherwise the v1
 * hierarchies of cpu and memory are used (v1, or hybrid with an empty v2 at
 * /sys/fs/cgroup/unified). Nothing is changed on the system.
 */
export async function detectCgroupLayout(): Promise<CGroupLayout> {
  const mounts = cgroupMounts(await readMounts());
  const unified = preferred(mounts.filter((m) => m.fsType === "cgroup2"));
  if (unified) {
    const controllers = await availableControllers(unified.mountPoint);
    if (controllers.includes("cpu") || controllers.includes("memory")) {
      return { version: 2, root: unified.mountPoint, parent: unified.mountPoint };
    }
  }
  const hierarchies: Partial<Record<LimitedController, string>> = {};
  for (const controller of LIMITED_CONTROLLERS) {
    const mount = preferred(mounts.filter((m) => m.fsType === "cgroup" && m.controllers.includes(controller)));
    if (mount) hierarchies[controller] = mount.mountPoint;
  }
  if (Object.keys(hierarchies).length > 0) return { version: 1, hierarchies };
  throw new DummyNetError(
    "No cgroup hierarchy with the cpu or memory controller is mounted (looked in /proc/self/mountinfo). " +
      "Mount cgroup v2 with `mount -t cgroup2 none /sys/fs/cgroup`, or the v1 controllers, e.g. " +
      "`mount -t cgroup -o cpu,cpuacct none /sys/fs/cgroup/cpu,cpuacct`.",
  );
}

/** The controllers a v2 cgroup directory can hand to its children. */
export async function availableControllers(dir: string): Promise<string[]> {
  const text = await readControlFile(dir, "cgroup.controllers").catch(() => "");
  return text.split(/\s+/).filter(Boolean);
}

/**
 * Makes the cpu and memory controllers available to the children of a v2
 * `parent` by writing "+cpu +memory" to its cgroup.subtree_control, only for
 * those offered by the parent and not yet enabled. Never creates the file (the
 * reference left a stray cgroup.subtree_control in /sys/fs/cgroup on v1
 * machines). Controllers it enables are left enabled: other cgroups made since
 * may rely on them, and systemd machines enable both anyway.
 * @returns the controllers now enabled for children, of cpu and memory.
 */
export async function enableV2Controllers(parent: string): Promise<LimitedController[]> {
  const offered = await availableControllers(parent);
  const enabled = (await readControlFile(parent, "cgroup.subtree_control")).split(/\s+/);
  const missing = LIMITED_CONTROLLERS.filter((c) => offered.includes(c) && !enabled.includes(c));
  if (missing.length > 0) {
    try {
      await writeControlFile(parent, "cgroup.subtree_control", missing.map((c) => `+${c}`).join(" "));
    } catch (error) {
      if ((error as { cause?: NodeJS.ErrnoException }).cause?.code === "EBUSY") {
        throw new DummyNetError(
          `Cannot enable the ${missing.join(" and ")} controller(s) in ${parent}/cgroup.subtree_control: ` +
            "the cgroup has processes of its own (cgroup v2's no-internal-processes rule; typical inside a container " +
            "whose root cgroup holds its processes). Move those processes into a leaf cgroup first, or pass a " +
            "layout whose parent is a cgroup without processes.",
          { cause: error },
        );
      }
      throw error;
    }
  }
  return LIMITED_CONTROLLERS.filter((c) => offered.includes(c));
}

/** A cgroup v1 hierarchy: where it is mounted and its controllers. */
interface CGroupV1Hierarchy {
  /** Where it is mounted, e.g. /sys/fs/cgroup/cpu. */
  mountPoint: string;
  /** Controllers mounted there, e.g. `cpu`, `cpuacct`. */
  controllers: string[];
}

/** The machine's cgroup layout and the controllers usable for limits. */
export interface CGroupStatus {
  /** 2 when the unified hierarchy is the cgroup root; 1 for legacy and hybrid layouts; undefined without cgroups. */
  version: 1 | 2 | undefined;
  /** `unified`: v2 only; `hybrid`: v1 controllers plus a v2 mount; `legacy`: v1 only. */
  layout: "unified" | "hybrid" | "legacy" | "none";
  /** Where the cgroup v2 hierarchy is mounted, if anywhere (hybrid: usually /sys/fs/cgroup/unified). */
  v2MountPoint?: string;
  /** Controllers the v2 root offers (its cgroup.controllers); empty in hybrid layouts. */
  v2Controllers: string[];
  /** Controllers the v2 root enables for its children (cgroup.subtree_control). */
  v2SubtreeControl: string[];
  /** The v1 hierarchies and the controllers mounted on each. */
  v1Hierarchies: CGroupV1Hierarchy[];
  /** Every controller usable for limits, in either version. */
  controllers: string[];
}

/**
 * The machine's cgroup mounts as `dummynet doctor` reports them: the layout,
 * the v2 root's controllers, and the v1 hierarchies with the controllers the
 * kernel has enabled (/proc/cgroups). Synchronous; changes nothing.
 */
export function surveyCgroups(): CGroupStatus {
  const read = (path: string) => {
    try {
      return readFileSync(path, "utf8");
    } catch {
      return "";
    }
  };
  const words = (text: string) => text.split(/\s+/).filter((word) => word !== "");
  let mounts: CgroupMount[];
  try {
    mounts = cgroupMounts(readMountsSync());
  } catch {
    mounts = [];
  }
  const enabled = new Set(
    read("/proc/cgroups")
      .split("\n")
      .filter((line) => line !== "" && !line.startsWith("#"))
      .map((line) => line.split(/\s+/))
      .filter((fields) => fields[3] === "1")
      .map((fields) => fields[0]),
  );
  const v1Hierarchies: CGroupV1Hierarchy[] = mounts
    .filter((m) => m.fsType === "cgroup")
    .map((m) => ({ mountPoint: m.mountPoint, controllers: m.controllers.filter((c) => enabled.has(c)) }))
    .filter((h) => h.controllers.length > 0);
  const v2MountPoint = preferred(mounts.filter((m) => m.fsType === "cgroup2"))?.mountPoint;
  const v2Controllers = v2MountPoint ? words(read(`${v2MountPoint}/cgroup.controllers`)) : [];
  const v2SubtreeControl = v2MountPoint ? words(read(`${v2MountPoint}/cgroup.subtree_control`)) : [];
  let layout: CGroupStatus["layout"];
  if (v1Hierarchies.length > 0) layout = v2MountPoint ? "hybrid" : "legacy";
  else layout = v2MountPoint ? "unified" : "none";
  const controllers =
    layout === "unified" ? v2Controllers : [...new Set(v1Hierarchies.flatMap((h) => h.controllers))].sort();
  return {
    version: layout === "unified" ? 2 : layout === "none" ? undefined : 1,
    layout,
    ...(v2MountPoint ? { v2MountPoint } : {}),
    v2Controllers,
    v2SubtreeControl,
    v1Hierarchies,
    controllers,
  };
}
