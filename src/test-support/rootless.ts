/**
 * Test support for the rootless phase of `npm test` (scripts/test.mjs): the
 * network, process and topology host tests run a second time as uid 65534
 * with DUMMYNET_ROOTLESS=1. What rootless mode refuses on purpose (the real
 * host's namespace, cgroups) cannot pass there: such a test either asserts the
 * refusal when `runsRootless()`, or is listed here, the one list, with why.
 * The runner prints the list, and fails on an entry that no longer matches a
 * test (a stale exclusion) as on a listed test that was not skipped.
 */
import { dirname, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** A test (or, without `test`, a whole file) the rootless phase does not run, and why. */
interface RootlessExclusion {
  /** The test file, relative to the checkout. */
  readonly file: string;
  /** The test's name (its own, not its suite's); absent: the whole file. */
  readonly test?: string;
  readonly why: string;
}

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

const HOST_NAMESPACE =
  "its subject is the host namespace (links, addresses, states or rules there), which rootless mode refuses on purpose; the refusals are asserted in src/rootless/dummynet-rootless.test.ts and by this file's rootless tests";

/** What the rootless phase leaves out, and why. @public scripts/test.mjs loads it with tsImport, which knip cannot follow. */
export const ROOTLESS_EXCLUSIONS: readonly RootlessExclusion[] = [
  {
    file: "src/topology/schema-validator.test.ts",
    why: "writes its generated validator inside the checkout (node_modules/.cache, so that it resolves ajv as dist/ does), which uid 65534 cannot write; it touches no system state and runs as root in the host phase",
  },
  {
    file: "src/topology/limits.test.ts",
    test: "a host's memory limit holds for a program's forked child: OOM-killed under 96 MiB, alive without",
    why: "cgroups are refused in rootless mode without a delegated cgroup v2 subtree (this machine has cgroup v1); the file's rootless test asserts the refusal",
  },
  {
    file: "src/network/dummy-net.test.ts",
    test: "a namespaced instance moves a link to the host namespace and back, and makes a veth end there",
    why: HOST_NAMESPACE,
  },
  {
    file: "src/network/dummy-net.test.ts",
    test: "linkDelete keeps the undos of iptables rules and of same-named links elsewhere",
    why: HOST_NAMESPACE,
  },
  {
    file: "src/network/dummy-net.test.ts",
    test: "system devices outside our namespaces are cleaned one by one",
    why: HOST_NAMESPACE,
  },
  {
    file: "src/network/dummy-net.test.ts",
    test: "up and down restore the state seen before, per instance",
    why: HOST_NAMESPACE,
  },
  {
    file: "src/network/dummy-net.test.ts",
    test: "links in the host namespace taken down and up again are undone one by one",
    why: HOST_NAMESPACE,
  },
];

/** True in the rootless phase: DUMMYNET_ROOTLESS=1 and not root. */
export function runsRootless(): boolean {
  return process.env["DUMMYNET_ROOTLESS"] === "1" && process.getuid?.() !== 0;
}

/**
 * The `skip` option for test `name` of the file at `fileUrl` (import.meta.url):
 * its exclusion's reason in the rootless phase, else false.
 *
 * @example
 * test(name, { skip: rootlessExcluded(import.meta.url, name) }, async () => { ... });
 */
export function rootlessExcluded(fileUrl: string, name: string): string | false {
  if (!runsRootless()) return false;
  const file = relative(repoRoot, fileURLToPath(fileUrl));
  const found = ROOTLESS_EXCLUSIONS.find((exclusion) => exclusion.file === file && exclusion.test === name);
  return found ? `excluded in rootless mode: ${found.why}` : false;
}
