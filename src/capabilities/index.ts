export { detectCapabilities, formatCapabilities, isKernelFeature, missingFeatures } from "./capabilities.js";
export { KERNEL_FEATURES } from "./report.js";
export type { DetectCapabilitiesOptions } from "./capabilities.js";
export type { Capabilities, FeatureStatus, KernelFeature } from "./report.js";
