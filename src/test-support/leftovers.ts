/**
 * Test support: what the system still holds of one owner. The implementation
 * ships as `dummynet/testing` (src/testing/leftovers.ts); the suite uses it
 * from here.
 */
export { assertNothingLeft, leftovers, leftoversAsync, ownerPrefix } from "../testing/leftovers.js";
