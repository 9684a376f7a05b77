/**
 * The entry point DummyNet.tc/tcShow load on first use: `NetemOptions` here is
 * what `tc(iface, options)` accepts (the netem model plus `ingress`).
 */
export type { TcOptions as NetemOptions } from "./netem-model.js";
export { validateTcOptions as validateNetemOptions } from "./netem-validate.js";
export { applyNetem, TcHandles, type TcHandle } from "./netem-apply.js";
export { readNetem, type AppliedQdisc } from "./netem-read.js";
