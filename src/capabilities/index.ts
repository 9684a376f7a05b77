export {
  KERNEL_FEATURES,
  detectCapabilities,
  formatCapabilities,
  isKernelFeature,
  missingFeatures,
} from "./capabilities.js";
export type {
  Capabilities,
  DetectCapabilitiesOptions,
  FeatureStatus,
  KernelFeature,
  PrivilegeStatus,
  ProgramStatus,
} from "./capabilities.js";
