/**
 * cgroups of a network: made with their limits, removed by cleanup, listed
 * by owner.
 */
import { CGroup, type CGroupInitialLimits } from "../../cgroups/cgroup.js";
import { listCgroups, removeCgroupDirectoriesSync } from "../../cgroups/directories.js";
import { CGroupScoped } from "../../names/scoped.js";
import { isRootless } from "../../rootless/privilege.js";
import { cgroupsRefused } from "../../rootless/refusals.js";
import type { NamespaceHandle } from "./handle.js";

export class Cgroups {
  constructor(private readonly at: NamespaceHandle) {}

  async add(name: string, limits: CGroupInitialLimits): Promise<CGroup> {
    const at = this.at;
    if (isRootless(at.shell.privilege)) throw cgroupsRefused();
    const cgroups = at.network.cgroups;
    const scoped = new CGroupScoped(name, at.uid);
    const cgroup = await CGroup.create({ name: scoped.scoped, log: at.log, ...limits });
    cgroups.set(scoped.scoped, cgroup);
    at.register({
      targets: [scoped],
      reason: "addCgroup",
      clean: async () => {
        await cgroup.hardClean();
        cgroups.delete(scoped.scoped);
      },
      cleanSync: () => {
        removeCgroupDirectoriesSync(cgroup.paths);
      },
    });
    return cgroup;
  }

  list(): Promise<CGroupScoped[]> {
    return listCgroups(this.at.uid);
  }
}
