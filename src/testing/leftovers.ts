/**
 * What the system still holds of one owner (uid): namespaces, links, cgroups,
 * iptables rules and IFB devices named d-<uid>-*. The machine is read through
 * the reaper's own lister (src/lifecycle/inventory.ts), so a listing that
 * fails throws (naming the command and its error) instead of passing as
 * "nothing left".
 */
import { AssertionError } from "node:assert";
import { InvalidArgumentError } from "../errors.js";
import {
  type Inventory,
  type InventoryOptions,
  type Leftover,
  takeInventory,
  takeInventorySync,
} from "../lifecycle/inventory.js";
import { intToBase58 } from "../names/base58.js";
import { createLogger } from "../log.js";
import { holderAlive } from "../rootless/enter.js";
import { useRootless } from "../rootless/mode.js";
import { isRootless, ownRootlessPrivilege } from "../rootless/privilege.js";
import { type Privilege, defaultPrivilege } from "../system/privilege.js";
import { SpawnRunner } from "../system/spawn-runner.js";

/** The owner whose objects to look for: a uid, or anything with one (a DummyNet, a Lab). */
export type OwnerLike =
  | number
  | {
      /** The owner's uid. */
      readonly uid: number;
    };

/**
 * The prefix of every name owner `uid` makes: `d-<uid in base58>-`.
 *
 * @example
 * ```ts
 * ownerPrefix(4242); // "d-2G9-"
 * ```
 */
export function ownerPrefix(uid: number): string {
  return `d-${intToBase58(uid)}-`;
}

function uidOf(owner: OwnerLike): number {
  const uid = typeof owner === "number" ? owner : (owner as { uid?: unknown } | null)?.uid;
  if (typeof uid !== "number" || !Number.isInteger(uid) || uid < 0) {
    throw new InvalidArgumentError(
      "owner",
      owner,
      "must be a uid (a non-negative integer) or an object with one (a DummyNet, a Lab)",
    );
  }
  return uid;
}

function describe(object: Leftover): string {
  switch (object.kind) {
    case "cgroup":
      return `cgroup ${object.where}`;
    case "iptables":
      return `iptables ${object.where} ${object.name}`;
    default:
      return `${object.kind} ${object.name}`;
  }
}

function ownedBy(inventory: Inventory, uid: number): string[] {
  return inventory.objects.filter((found) => found.uid === uid).map(({ object }) => describe(object));
}

/**
 * Every object on this machine owned by `owner`, as "kind name" strings
 * ("netns d-5x-h1", "link d-5x-br0", "cgroup /sys/fs/cgroup/cpu/d-5x-cg",
 * "iptables nat -A POSTROUTING ..."). Throws a ListingError when a listing fails.
 *
 * @example
 * ```ts
 * assert.deepEqual(leftovers(net), []);
 * ```
 *
 * @throws ListingError when a listing command fails.
 */
export function leftovers(owner: OwnerLike): string[] {
  const uid = uidOf(owner);
  const where = lookingPrivilege(owner);
  return where === "holder ended" ? [] : ownedBy(takeInventorySync(where, { direct: !isRootless(where) }), uid);
}

/**
 * Where the owner's objects live. In rootless mode (the owner's shell is
 * rootless, or for a bare uid DUMMYNET_ROOTLESS/"auto" choose it) that is this
 * process's holder: listed inside it while it runs; once it has ended the
 * kernel has removed its namespaces, and every process in them with its PID
 * namespace, so nothing of it can remain. Otherwise the machine, as root or
 * through sudo.
 */
function lookingPrivilege(owner: OwnerLike): Privilege | "holder ended" {
  const shell = typeof owner === "object" ? (owner as { shell?: { privilege?: Privilege } }).shell : undefined;
  const rootless = shell?.privilege ? isRootless(shell.privilege) : useRootless(undefined, createLogger("silent"));
  if (!rootless) return defaultPrivilege();
  const privilege = shell?.privilege && isRootless(shell.privilege) ? shell.privilege : ownRootlessPrivilege();
  return privilege.holder !== undefined && holderAlive(privilege.holder) ? privilege : "holder ended";
}

/**
 * leftovers() without blocking the event loop (other tests keep running meanwhile).
 *
 * @example
 * ```ts
 * assert.deepEqual(await leftoversAsync(net.uid), []);
 * ```
 *
 * @throws ListingError when a listing command fails.
 */
export async function leftoversAsync(owner: OwnerLike): Promise<string[]> {
  return leftoversListed(owner, {});
}

/**
 * leftoversAsync, for a caller that may know more: `skipIptables` when its owner made no iptables rule in the
 * host namespace (the test fixtures ask their network), so the slowest listing is left out.
 */
export async function leftoversListed(
  owner: OwnerLike,
  options: Pick<InventoryOptions, "skipIptables">,
): Promise<string[]> {
  const uid = uidOf(owner);
  const where = lookingPrivilege(owner);
  if (where === "holder ended") return [];
  const direct = !isRootless(where);
  return ownedBy(await takeInventory(new SpawnRunner({ privilege: where }), { ...options, direct }), uid);
}

/** The failure for objects left behind, each named. */
export function leftoverError(uid: number, objects: readonly string[]): AssertionError {
  return new AssertionError({
    message: `${objects.length} object(s) of uid ${uid} (${ownerPrefix(uid)}*) are left on the system:\n${objects.map((object) => `  ${object}`).join("\n")}`,
    actual: objects,
    expected: [],
    operator: "nothingLeft",
  });
}

/**
 * Throws an AssertionError naming each object of `owner` (a uid, a DummyNet
 * or a Lab) still on the system; throws a ListingError when it cannot look.
 *
 * @throws AssertionError naming every object of `owner` still on the machine.
 * @example
 * ```ts
 * await net.cleanup();
 * assertNothingLeft(net);
 * ```
 */
export function assertNothingLeft(owner: OwnerLike): void {
  const uid = uidOf(owner);
  // The owner itself, not its uid: a rootless network's objects are listed inside its own holder.
  const objects = leftovers(owner);
  if (objects.length > 0) throw leftoverError(uid, objects);
}
