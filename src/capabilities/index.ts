export {
  KERNEL_FEATURES,
  detectCapabilities,
  formatCapabilities,
  isKernelFeature,
  missingFeatures,
} from "./capabilities.js";
export type { Capabilities, DetectCapabilitiesOptions, FeatureStatus, KernelFeature } from "./capabilities.js";
