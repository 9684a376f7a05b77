/** The entry point DummyNet.tc/tcShow load on first use. */
export type { NetemOptions } from "./netem-model.js";
export { validateNetemOptions } from "./netem-validate.js";
export { applyNetem, TcHandles, type TcHandle } from "./netem-apply.js";
export { readNetem, type AppliedQdisc } from "./netem-read.js";
