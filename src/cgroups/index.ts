/** cgroups: CPU and memory limits for processes, on cgroup v2 and v1 / hybrid layouts. */
export { CGroup, type CGroupLimits, type CGroupOptions } from "./cgroup.js";
export { listCgroups, validateCgroupName } from "./directories.js";
export {
  detectCgroupLayout,
  cgroupMounts,
  type CGroupLayout,
  type CGroupV1Layout,
  type CGroupV2Layout,
  type LimitedController,
} from "./layout.js";
export { CPU_LIMIT_MIN, CPU_PERIOD_US, cpuQuota, validateCpuLimit, validateMemoryLimit } from "./limits.js";
export { argvInsideCgroup, ENTER_CGROUP_FAILED, validateCgroupOption, type CGroupRunOptions } from "./start-inside.js";
