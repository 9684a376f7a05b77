export {
  KERNEL_FEATURES,
  PROGRAMS,
  detectCapabilities,
  findProgram,
  formatCapabilities,
  isKernelFeature,
  missingFeatures,
} from "./capabilities.js";
export type {
  Capabilities,
  CGroupStatus,
  CGroupV1Hierarchy,
  DetectCapabilitiesOptions,
  FeatureStatus,
  IptablesStatus,
  KernelFeature,
  PrivilegeStatus,
  ProgramName,
  ProgramStatus,
} from "./capabilities.js";
