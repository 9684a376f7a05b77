/** Traffic control: the netem model, applying it in both directions, reading it back. */
export * from "./netem-options.js";
export * from "./netem-read.js";
export { applyNetem, TcHandles, QdiscConflictError, NETEM_HANDLE, REDIRECT_FILTER_PREF, type TcHandle } from "./netem-apply.js";
