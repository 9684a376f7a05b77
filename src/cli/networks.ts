/**
 * The networks `dummynet up` holds, as their owner records describe them
 * (lifecycle/owners: one store and one liveness rule for the library and the
 * command): found by name, topology file or uid, alive while the owner's pid
 * runs with its recorded start time.
 */
import { resolve } from "node:path";
import { ownerState, readOwnerRecords, type NetworkRecord, type OwnerRecord } from "../lifecycle/owners.js";
import { attachRootlessPrivilege } from "../rootless/privilege.js";
import { defaultPrivilege, type Privilege } from "../system/privilege.js";
import { UsageError } from "./command-io.js";

/** The owner record of a `dummynet up` (or `run`): one with its network. */
export type HeldNetwork = OwnerRecord & { network: NetworkRecord };

/** Every recorded network, oldest first, whether its owner is alive or not. */
async function listNetworks(): Promise<HeldNetwork[]> {
  const records = [...(await readOwnerRecords()).values()];
  return records
    .filter((record): record is HeldNetwork => record.network !== undefined)
    .sort((a, b) => a.createdAt.localeCompare(b.createdAt));
}

/** True while the process that holds the network runs (same pid AND same start time). */
function isAlive(held: HeldNetwork): boolean {
  return ownerState(held.uid, held) === "alive";
}

/**
 * Finds the network a command means: by name, by topology file, or by uid;
 * without a selector, the only running one. Throws a UsageError otherwise.
 */
export async function findNetwork(
  selector: string | undefined,
  options: { liveOnly?: boolean } = {},
): Promise<HeldNetwork> {
  const all = (await listNetworks()).filter((held) => !options.liveOnly || isAlive(held));
  if (selector === undefined) {
    if (all.length === 1) return all[0];
    if (all.length === 0) throw new UsageError("no network is up; start one with `dummynet up FILE`");
    throw new UsageError(
      `${all.length} networks are up (${all.map(describeNetwork).join(", ")}); say which with --network NAME`,
    );
  }
  const asFile = resolve(selector);
  const matches = all.filter(
    (held) => held.network.name === selector || held.network.file === asFile || String(held.uid) === selector,
  );
  if (matches.length === 1) return matches[0];
  if (matches.length === 0) {
    throw new UsageError(
      `no network named "${selector}" is up; running: ${all.map(describeNetwork).join(", ") || "none"}`,
    );
  }
  throw new UsageError(
    `${matches.length} networks match "${selector}" (${matches.map(describeNetwork).join(", ")}); give the uid instead`,
  );
}

/** The namespace of `host` in the network, or a UsageError naming the hosts it has. */
export function hostOf(held: HeldNetwork, host: string): string {
  const namespace = held.network.hosts[host];
  if (!namespace)
    throw new UsageError(
      `no host "${host}" in network ${held.network.name}; hosts: ${Object.keys(held.network.hosts).join(", ")}`,
    );
  return namespace;
}

export function describeNetwork(held: HeldNetwork): string {
  return `${held.network.name} (uid ${held.uid}, pid ${held.pid})`;
}

/**
 * The way into a held network's system: a rootless network's holder (its
 * namespaces are only there, and only its user can enter them), else this
 * process's own (as it is when root, else `sudo -n`).
 */
export function privilegeOf(held: HeldNetwork): Privilege {
  return held.network.rootlessHolder ? attachRootlessPrivilege(held.network.rootlessHolder) : defaultPrivilege();
}
