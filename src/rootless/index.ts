/**
 * Rootless mode's foundation: a holder process that owns a user, mount,
 * network and PID namespace for an unprivileged owner (holder.ts), the argv
 * that enters it (enter.ts), per-user records to find it from another process
 * (record.ts), and what blocks it on a given machine (blockers.ts, doctor.ts).
 */
export {
  type RootlessBlocker,
  type RootlessFacts,
  type RootlessProblem,
  type UserNamespaceSysctls,
  classifyRootless,
  readUserNamespaceSysctls,
  RootlessUnavailableError,
} from "./blockers.js";
export {
  type CgroupDelegation,
  type RootlessFeature,
  type RootlessReport,
  cgroupDelegation,
  checkRootless,
  probeRootlessFeatures,
} from "./doctor.js";
export { type EnterOptions, type HolderRef, enterArgv, holderAlive, holderPath } from "./enter.js";
export {
  type HolderNamespaces,
  type RootlessHolderOptions,
  HolderEndedError,
  holderArgv,
  killHolder,
  listOwnHolders,
  RootlessHolder,
  startRootlessHolder,
} from "./holder.js";
export {
  type RootlessRecord,
  findRootlessRecord,
  listRootlessRecords,
  removeRootlessRecord,
  rootlessRecordDirectory,
  writeRootlessRecord,
} from "./record.js";
