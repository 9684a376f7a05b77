/**
 * dummynet: throwaway test networks on one Linux machine.
 * The public API, re-exported from the modules that implement it.
 */
export { DummyNet } from "./network/dummy-net.js";
export type { DummyNetOptions, VethOptions, RouteOptions, InterfaceLike, NamespaceLike } from "./network/dummy-net.js";
export type { CleanupItem } from "./network/undo-log.js";
export type { ProbeHost, ProbeOptions, ProbeReport, RttStats } from "./probe/probe.js";
export { describeProbeReport } from "./probe/describe.js";
export { HostShell } from "./shell/host-shell.js";
export { NamespaceShell } from "./shell/namespace-shell.js";
export type { Shell, RunOptions, RunAsyncOptions, PollUntilOptions } from "./shell/shell.js";
export { ProcessMonitor } from "./process/process-monitor.js";
export { RunInfo } from "./process/run-info.js";
export { CGroup } from "./cgroups/cgroup.js";
export type { CGroupOptions, CGroupInitialLimits, CGroupLimits } from "./cgroups/cgroup.js";
export type { CGroupRunOptions } from "./cgroups/start-inside.js";
export { Scoped, InterfaceScoped, NamespaceScoped, CGroupScoped } from "./names/scoped.js";
export { intToBase58, base58ToInt } from "./names/base58.js";
export type { NetemOptions, NetemSettings, AppliedQdisc, TcHandle } from "./tc/netem.js";
export {
  detectCapabilities,
  formatCapabilities,
  missingFeatures,
  isKernelFeature,
  KERNEL_FEATURES,
} from "./capabilities/index.js";
export type {
  Capabilities,
  KernelFeature,
  FeatureStatus,
  DetectCapabilitiesOptions,
  ProgramStatus,
  PrivilegeStatus,
} from "./capabilities/index.js";
export { loadTopology } from "./topology/load.js";
export type {
  TopologySource,
  TopologyText,
  TopologyFormat,
  TopologyDocument,
  LoadTopologyOptions,
} from "./topology/load.js";
export { buildTopology, Lab } from "./topology/lab.js";
export type { BuildTopologyOptions, LabStartOptions, StartedProgram } from "./topology/lab.js";
export type { BuildProgress } from "./topology/build.js";
export type {
  Topology,
  HostSpec,
  LinkSpec,
  LinkEndSpec,
  BridgeSpec,
  VlanSpec,
  ProgramSpec,
  RouteSpec,
  Impairment,
} from "./topology/model.js";
export { TopologyError } from "./topology/errors.js";
export type { TopologyProblem } from "./topology/errors.js";
export { toMermaid, toDot } from "./topology/graph.js";
export { RESERVED_UID_RANGE } from "./lifecycle/owners.js";
export { reapDeadOwners, listOwners, surveyOwners } from "./lifecycle/reaper.js";
export type { Owner, Leftover, ReapOptions, ReapResult, OwnerSurvey, SkippedStep } from "./lifecycle/reaper.js";
export { ListingError } from "./lifecycle/inventory.js";
export { IpBatchRunner } from "./system/ip-batch-runner.js";
export type { Logger } from "./log.js";
export { createLogger } from "./log.js";
export type { CommandRunner, CommandResult, SystemCommandOptions } from "./system/command-runner.js";
export { SpawnRunner } from "./system/spawn-runner.js";
export type { Privilege, PrivilegeMode } from "./system/privilege.js";
export type { RootlessOption } from "./rootless/mode.js";
// What a rootless network throws: a refused feature, a machine that refuses user namespaces, a holder that ended.
export { RootlessRefusedError } from "./rootless/refusals.js";
export { type RootlessBlocker, type RootlessProblem, RootlessUnavailableError } from "./rootless/blockers.js";
export { HolderEndedError } from "./rootless/holder.js";
export type { HolderRef } from "./rootless/enter.js";
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
// Option and data types that the exported classes and functions take or return.
export type { CGroupStatus, CGroupV1Hierarchy, IptablesStatus } from "./capabilities/capabilities.js";
export type {
  ProcessMonitorOptions,
  RunProcessOptions,
  RunProcessAsyncOptions,
  StopOptions,
} from "./process/process-monitor.js";
export type { OutputCallback } from "./process/run-info.js";
export type { HostShellOptions } from "./shell/host-shell.js";
export type { IpBatchRunnerOptions } from "./system/ip-batch-runner.js";
export type { SpawnRunnerOptions } from "./system/spawn-runner.js";
export type { GilbertElliottModel, LossStateModel } from "./tc/netem-model.js";
// Types that public signatures use (fields of exported interfaces, parameters), so that every name the API reference shows can be imported.
export type { LeftoverKind } from "./lifecycle/inventory.js";
export type { OwnerState } from "./lifecycle/owners.js";
export type { ScopedClass, ScopedKind } from "./names/scoped.js";
export type { LinkPlace } from "./network/link-registry.js";
export type { DelayDistribution, TableDistribution, LossModel, SlotOptions } from "./tc/netem-model.js";
export type { NodePath } from "./topology/model.js";
export type { OutputSink } from "./topology/programs.js";
