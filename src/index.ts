/**
 * dummynet: throwaway test networks on one Linux machine.
 * The public API, re-exported from the modules that implement it: the classes and functions, every error class,
 * and the types a user names (options objects are documented where they are taken; name one with
 * `Parameters<DummyNet["runAsync"]>[1]`).
 */
export { DummyNet } from "./network/dummy-net.js";
export type { DummyNetOptions } from "./network/dummy-net.js";
export type { ProbeOptions, ProbeReport } from "./probe/probe.js";
export { describeProbeReport } from "./probe/describe.js";
export { HostShell } from "./shell/host-shell.js";
export { NamespaceShell } from "./shell/namespace-shell.js";
export type { RunOptions } from "./shell/shell.js";
export { ProcessMonitor } from "./process/process-monitor.js";
export { RunInfo } from "./process/run-info.js";
export { CGroup } from "./cgroups/cgroup.js";
export { Scoped, InterfaceScoped, NamespaceScoped, CGroupScoped } from "./names/scoped.js";
export type { NetemOptions, TcHandle } from "./tc/netem.js";
export { detectCapabilities, formatCapabilities, missingFeatures } from "./capabilities/index.js";
export type { Capabilities, KernelFeature } from "./capabilities/index.js";
export { loadTopology } from "./topology/load.js";
export type { TopologySource } from "./topology/load.js";
export type { TopologyDocument } from "./topology/normalize.js";
export { buildTopology, Lab } from "./topology/lab.js";
export type { BuildTopologyOptions } from "./topology/lab.js";
export type { Topology } from "./topology/model.js";
export { exportTopology } from "./export/export.js";
// Faults over time (docs/faults.md).
export type { Fault, FaultEvent } from "./faults/types.js";
export type { Schedule } from "./faults/schedule.js";
// Evidence (docs/evidence.md).
export type { Capture } from "./evidence/capture.js";
export type { Snapshot } from "./evidence/snapshot.js";
export { TopologyError } from "./topology/errors.js";
export { toMermaid, toDot } from "./topology/graph.js";
export { reapDeadOwners, listOwners } from "./lifecycle/reaper.js";
export type { Logger } from "./log.js";
export { createLogger } from "./log.js";
// Every error the library throws.
export { DummyNetError, InvalidArgumentError, SystemCommandError, MissingProgramError } from "./errors.js";
export {
  RunInfoError,
  TimeoutError,
  MatchError,
  DaemonExitError,
  AllDaemonsError,
  NoProcessesError,
  ProcessExitError,
} from "./process/errors.js";
export { ListingError } from "./lifecycle/inventory.js";
export { ExportError } from "./export/report.js";
export { CaptureError } from "./evidence/capture.js";
export { QdiscConflictError } from "./tc/netem-apply.js";
export { RootlessRefusedError } from "./rootless/refusals.js";
export { RootlessUnavailableError } from "./rootless/blockers.js";
export { HolderEndedError } from "./rootless/holder.js";
