/**
 * skipUnless: skip a test, naming what is missing, when this machine's kernel
 * lacks a feature it needs. Detection runs once per process (per module
 * instance), with a uid of its own, so its scratch objects never show up as
 * a test's leftovers.
 */
import {
  detectCapabilities,
  isKernelFeature,
  KERNEL_FEATURES,
  missingFeatures,
  type Capabilities,
  type KernelFeature,
} from "../capabilities/index.js";
import { InvalidArgumentError } from "../errors.js";
import { claimReservedUid, releaseUid } from "../lifecycle/owners.js";
import { RootlessUnavailableError } from "../rootless/blockers.js";
import { startRootlessHolder } from "../rootless/holder.js";
import { isRoot, sudoWorksWithoutPassword } from "../system/privilege.js";

/**
 * What a test may need besides kernel features: `"privileges"`, some way to
 * build a network (root, passwordless sudo, or rootless mode), and
 * `"rootless"`, rootless mode itself (a user namespace this user may make).
 */
export type PrivilegeFeature = "privileges" | "rootless";

const PRIVILEGE_FEATURES: readonly PrivilegeFeature[] = ["privileges", "rootless"];

let rootless: Promise<string | undefined> | undefined;

/** Why rootless mode is unavailable here (with the fix), or undefined when a holder starts; tried once per process. */
function rootlessProblem(): Promise<string | undefined> {
  rootless ??= (async () => {
    try {
      const holder = await startRootlessHolder();
      await holder.stop();
      return undefined;
    } catch (error) {
      if (error instanceof RootlessUnavailableError) return `${error.reason}; ${error.fix}`;
      throw error;
    }
  })();
  return rootless;
}

/** Why `feature` is unavailable on this machine, or undefined when it is there. */
async function privilegeProblem(feature: PrivilegeFeature): Promise<string | undefined> {
  if (feature === "privileges" && (isRoot() || sudoWorksWithoutPassword())) return undefined;
  const problem = await rootlessProblem();
  if (problem === undefined) return undefined;
  return feature === "rootless"
    ? `rootless mode is unavailable (${problem})`
    : `no privileges: not root, no passwordless sudo, and rootless mode is unavailable (${problem})`;
}

/** What skipUnless needs of a test context: node:test's `t.skip(message)`, vitest's `ctx.skip(note)`. */
export interface SkippableContext {
  /** Skips the test with `message` as the reason. */
  skip(message?: string): void;
}

let detected: Promise<Capabilities> | undefined;

/**
 * This machine's capabilities, detected once (probed in a throwaway namespace of a uid of its own).
 *
 * @example
 * ```ts
 * const { netem } = await machineCapabilities();
 * if (!netem.available) console.log(netem.howToGet);
 * ```
 *
 * @throws Error when no uid of the reserved range is free for the probe (the owner records are full).
 */
export function machineCapabilities(): Promise<Capabilities> {
  detected ??= (async () => {
    const uid = claimReservedUid();
    try {
      return await detectCapabilities({ uid });
    } finally {
      releaseUid(uid);
    }
  })().catch((error: unknown) => {
    detected = undefined;
    throw error;
  });
  return detected;
}

/**
 * Resolves `true` when this machine has every one of `features` (kernel
 * features, `"privileges"`: root, passwordless sudo or rootless mode, and
 * `"rootless"`); otherwise marks the test skipped with a message naming what
 * is missing and how to get it, and resolves `false` (node:test goes on
 * running the test: return).
 *
 * @throws InvalidArgumentError when `features` names a feature dummynet does not know.
 * @example
 * ```ts
 * test("delay", async (t) => {
 *   if (!(await skipUnless(t, ["netem"]))) return;
 *   // ...
 * });
 * ```
 */
export async function skipUnless(
  t: SkippableContext,
  features: readonly (KernelFeature | PrivilegeFeature)[],
): Promise<boolean> {
  const known = [...KERNEL_FEATURES, ...PRIVILEGE_FEATURES].join(", ");
  if (!Array.isArray(features))
    throw new InvalidArgumentError("features", features, `must be a list of features, e.g. ["netem"]; known: ${known}`);
  const isPrivilege = (feature: unknown): feature is PrivilegeFeature =>
    (PRIVILEGE_FEATURES as readonly unknown[]).includes(feature);
  const unknown = features.filter(
    (feature) => !(typeof feature === "string" && isKernelFeature(feature)) && !isPrivilege(feature),
  );
  if (unknown.length > 0)
    throw new InvalidArgumentError("features", unknown, `are not features dummynet knows; known: ${known}`);
  const reasons: string[] = [];
  for (const feature of features.filter(isPrivilege)) {
    const problem = await privilegeProblem(feature);
    if (problem !== undefined) reasons.push(problem);
  }
  if (reasons.length > 0) {
    // Without a way to build a network, the kernel cannot be probed either: say why and stop here.
    t.skip(`this machine lacks ${reasons.join("; ")}`);
    return false;
  }
  const kernel = features.filter((feature): feature is KernelFeature => !isPrivilege(feature));
  if (kernel.length === 0) return true;
  const capabilities = await machineCapabilities();
  const missing = missingFeatures(capabilities, kernel);
  if (missing.length === 0) return true;
  const how = missing
    .map((feature) => `${feature}: ${capabilities[feature].howToGet ?? capabilities[feature].evidence}`)
    .join("; ");
  t.skip(`this machine lacks ${missing.join(", ")} (${how})`);
  return false;
}
