/**
 * `dummynet/testing`: networks in tests. useNetwork and useTopology give a
 * test its own network, removed at its end and checked for leftovers;
 * skipUnless skips a test the kernel cannot run, naming what is missing;
 * waitForPort and waitForLine wait for readiness without fixed sleeps.
 */
export { useNetwork, useTopology } from "./node-test.js";
export type { AfterContext } from "./node-test.js";
export type { NetworkOptions, TopologyOptions, EvidenceOptions } from "./harness.js";
export type { EvidenceMode } from "../evidence/test-evidence.js";
export { skipUnless, machineCapabilities } from "./capabilities.js";
export type { PrivilegeFeature, SkippableContext } from "./capabilities.js";
export { assertNothingLeft, leftovers, leftoversAsync, ownerPrefix } from "./leftovers.js";
export type { OwnerLike } from "./leftovers.js";
export { waitForPort, waitForLine } from "../topology/readiness.js";
export type { WaitOptions, LinePattern } from "../topology/readiness.js";
