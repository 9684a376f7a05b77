/**
 * Test support: what the system still holds of one owner (uid). Tests call
 * `assertNothingLeft(uid)` at their end: no namespace, link, cgroup, iptables
 * rule or IFB device named d-<uid>-* may remain. The machine is read through
 * the reaper's own lister, so a listing that fails throws here (naming the
 * command and its error) instead of passing as "nothing left".
 */
import assert from "node:assert/strict";
import { takeInventorySync } from "../lifecycle/inventory.js";
import { intToBase58 } from "../names/base58.js";

export function ownerPrefix(uid: number): string {
  return `d-${intToBase58(uid)}-`;
}

/**
 * Every object on this machine owned by `uid`, as "kind name" strings
 * ("netns d-5x-h1", "link d-5x-br0", "cgroup /sys/fs/cgroup/cpu/d-5x-cg",
 * "iptables nat -A POSTROUTING ..."). Throws a ListingError when a listing fails.
 */
export function leftovers(uid: number): string[] {
  return takeInventorySync()
    .objects.filter((found) => found.uid === uid)
    .map(({ object }) => {
      switch (object.kind) {
        case "cgroup":
          return `cgroup ${object.where}`;
        case "iptables":
          return `iptables ${object.where} ${object.name}`;
        default:
          return `${object.kind} ${object.name}`;
      }
    });
}

export function assertNothingLeft(uid: number): void {
  assert.deepEqual(leftovers(uid), [], `objects of uid ${uid} (${ownerPrefix(uid)}*) are left on the system`);
}
