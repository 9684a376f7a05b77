/**
 * What every test runner adapter shares: a network (or a built topology)
 * per test, owned by a uid the test holds until it has checked that nothing
 * of that uid is left; dead owners' leftovers reaped first (once per
 * process). The node:test and vitest adapters only hook `close` into their
 * runner's end-of-test.
 */
import { InvalidArgumentError } from "../errors.js";
import { claimDefaultUid, claimUid, describeHolder, releaseUid } from "../lifecycle/owners.js";
import { DummyNet, type DummyNetOptions } from "../network/dummy-net.js";
import { buildTopology, type BuildTopologyOptions, type Lab } from "../topology/lab.js";
import type { TopologySource } from "../topology/load.js";
import type { Topology } from "../topology/model.js";
import { leftoverError, leftoversAsync } from "./leftovers.js";

/** Options of useNetwork and the vitest `net` fixture: DummyNet's, except what the harness decides. */
export type NetworkOptions = Omit<DummyNetOptions, "reapDeadOwners">;

/** Options of useTopology and the vitest `topology` fixture. */
export type TopologyOptions = Omit<BuildTopologyOptions, "reapDeadOwners">;

interface Held<T> {
  value: T;
  /** Cleans up, then fails naming what of the uid is left; the uid is held until then. */
  close: () => Promise<void>;
}

/**
 * Takes a uid for one test, so that nobody else can get it before its
 * leftovers are checked (cleanup alone gives the uid back).
 */
function holdUid(uid: number | undefined): number {
  if (uid === undefined) return claimDefaultUid();
  const claim = claimUid(uid, { share: true });
  if (!claim.claimed)
    throw new InvalidArgumentError(
      "uid",
      uid,
      `is held by a live owner: ${describeHolder(claim.holder)}. Omit uid to get a free one`,
    );
  return uid;
}

async function closeAndCheck(uid: number, cleanup: () => Promise<void>): Promise<void> {
  let failed: { error: unknown } | undefined;
  try {
    await cleanup();
  } catch (error) {
    failed = { error };
  }
  try {
    const left = await leftoversAsync(uid);
    if (left.length > 0) {
      const leak = leftoverError(uid, left);
      throw failed === undefined
        ? leak
        : new AggregateError(
            [leak, failed.error],
            `${leak.message}\ncleanup failed too: ${(failed.error as Error).message}`,
          );
    }
  } finally {
    releaseUid(uid);
  }
  if (failed) throw failed.error;
}

export function openNetwork(options: NetworkOptions = {}): Held<DummyNet> {
  const uid = holdUid(options.uid);
  let net: DummyNet;
  try {
    net = new DummyNet({ ...options, uid, reapDeadOwners: "once" });
  } catch (error) {
    releaseUid(uid);
    throw error;
  }
  return { value: net, close: () => closeAndCheck(uid, () => net.cleanup()) };
}

/** Builds a topology for one test; when the build fails, its uid is checked and given back before the error is thrown. */
export async function openTopology(
  source: TopologySource | Topology,
  options: TopologyOptions = {},
): Promise<Held<Lab>> {
  const uid = holdUid(options.uid);
  let lab: Lab;
  try {
    lab = await buildTopology(source, { ...options, uid, reapDeadOwners: "once" });
  } catch (error) {
    // buildTopology removed what it made; make sure, then give the uid back.
    await closeAndCheck(uid, () => Promise.resolve()).catch((leak: unknown) => {
      throw new AggregateError([error, leak], `${(error as Error).message}\n${(leak as Error).message}`);
    });
    throw error;
  }
  return { value: lab, close: () => closeAndCheck(uid, () => lab.cleanup()) };
}
