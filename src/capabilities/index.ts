export { detectCapabilities, formatCapabilities, isKernelFeature, missingFeatures } from "./capabilities.js";
export { KERNEL_FEATURES } from "./report.js";
export type { Capabilities, KernelFeature } from "./report.js";
