/**
 * dummynet: throwaway test networks on one Linux machine.
 * The public API, re-exported from the modules that implement it.
 */
export { DummyNet } from "./network/dummy-net.js";
export type { DummyNetOptions, VethOptions, RouteOptions, InterfaceLike, NamespaceLike } from "./network/dummy-net.js";
export type { CleanupItem } from "./network/undo-log.js";
export type { ProbeOptions, ProbeReport } from "./probe/probe.js";
export { describeProbeReport } from "./probe/describe.js";
export { HostShell } from "./shell/host-shell.js";
export type { HostShellOptions } from "./shell/host-shell.js";
export { NamespaceShell } from "./shell/namespace-shell.js";
export type { Shell, RunOptions, RunAsyncOptions, PollUntilOptions } from "./shell/shell.js";
export { ProcessMonitor } from "./process/process-monitor.js";
export type {
  ProcessMonitorOptions,
  RunProcessOptions,
  RunProcessAsyncOptions,
  StopOptions,
  KillOptions,
  RestartOptions,
} from "./process/process-monitor.js";
export type { UserOption } from "./process/run-as.js";
export { RunInfo } from "./process/run-info.js";
export { CGroup } from "./cgroups/cgroup.js";
export type { CGroupOptions, CGroupInitialLimits, CGroupLimits } from "./cgroups/cgroup.js";
export { Scoped, InterfaceScoped, NamespaceScoped, CGroupScoped } from "./names/scoped.js";
export type { NetemOptions, AppliedQdisc, TcHandle } from "./tc/netem.js";
export { detectCapabilities, formatCapabilities, missingFeatures } from "./capabilities/index.js";
export type { Capabilities, KernelFeature, FeatureStatus, DetectCapabilitiesOptions } from "./capabilities/index.js";
export { loadTopology } from "./topology/load.js";
export type { TopologySource, TopologyDocument, LoadTopologyOptions } from "./topology/load.js";
export { buildTopology, Lab } from "./topology/lab.js";
export type { BuildTopologyOptions, LabStartOptions, StartedProgram } from "./topology/lab.js";
export type { Topology } from "./topology/model.js";
export { exportTopology } from "./export/export.js";
export type { ExportTopologyOptions } from "./export/export.js";
export type { ExportTarget, ExportWarning } from "./export/report.js";
// Faults over time (docs/faults.md).
export type { Fault, FaultEvent, FaultOptions } from "./faults/types.js";
export type { ScheduleStep, ScheduleOptions } from "./faults/plan.js";
export type { Schedule } from "./faults/schedule.js";
// Evidence (docs/evidence.md).
export type { Capture, CaptureOptions, CaptureResult } from "./evidence/capture.js";
export type { Snapshot } from "./evidence/snapshot.js";
export { TopologyError } from "./topology/errors.js";
export type { TopologyProblem } from "./topology/errors.js";
export { toMermaid, toDot } from "./topology/graph.js";
export { reapDeadOwners, listOwners } from "./lifecycle/reaper.js";
export type { Owner, ReapOptions, ReapResult } from "./lifecycle/reaper.js";
export type { Logger } from "./log.js";
export { createLogger } from "./log.js";
export type { RootlessOption } from "./rootless/mode.js";
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
