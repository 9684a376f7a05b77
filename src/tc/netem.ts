/**
 * The entry point DummyNet.tc/tcShow load on first use: `NetemOptions` here is
 * what `tc(iface, options)` accepts (the netem model plus `ingress`).
 */
export type { TcOptions as NetemOptions, NetemSettings } from "./netem-options.js";
export { validateTcOptions as validateNetemOptions, netemArguments } from "./netem-options.js";
export { applyNetem, TcHandles, QdiscConflictError, type TcHandle } from "./netem-apply.js";
export { readNetem, type AppliedQdisc } from "./netem-read.js";
