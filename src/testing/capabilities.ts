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
 * Resolves `true` when the kernel has every one of `features`; otherwise
 * marks the test skipped with a message naming what is missing and how to get
 * it, and resolves `false` (node:test goes on running the test: return).
 *
 * @throws InvalidArgumentError when `features` is not a list of KERNEL_FEATURES names.
 * @example
 * ```ts
 * test("delay", async (t) => {
 *   if (!(await skipUnless(t, ["netem"]))) return;
 *   // ...
 * });
 * ```
 */
export async function skipUnless(t: SkippableContext, features: readonly KernelFeature[]): Promise<boolean> {
  const given: unknown = features; // JavaScript callers can pass anything
  if (!Array.isArray(given))
    throw new InvalidArgumentError(
      "features",
      features,
      `must be a list of kernel features, e.g. ["netem"]; known: ${KERNEL_FEATURES.join(", ")}`,
    );
  const unknown = (given as unknown[]).filter((feature) => typeof feature !== "string" || !isKernelFeature(feature));
  if (unknown.length > 0)
    throw new InvalidArgumentError(
      "features",
      unknown,
      `are not kernel features dummynet knows; known: ${KERNEL_FEATURES.join(", ")}`,
    );
  const capabilities = await machineCapabilities();
  const missing = missingFeatures(capabilities, features);
  if (missing.length === 0) return true;
  const how = missing
    .map((feature) => `${feature}: ${capabilities[feature].howToGet ?? capabilities[feature].evidence}`)
    .join("; ");
  t.skip(`this machine lacks ${missing.join(", ")} (${how})`);
  return false;
}
