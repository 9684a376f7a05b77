/**
 * The hosts a fault names, resolved and checked before anything changes: a
 * namespace of the network (by name, NamespaceScoped or namespaced DummyNet),
 * never the network's own (host) namespace; and the addresses its cut rules
 * are keyed by.
 */
import { isIP } from "node:net";
import { InvalidArgumentError } from "../errors.js";
import type { NamespaceScoped } from "../names/scoped.js";
import type { NamespaceHandle } from "../network/ops/handle.js";
import { NamespaceShell } from "../shell/namespace-shell.js";
import type { Shell } from "../shell/shell.js";
import { parseIpJsonArray } from "../system/ip-json.js";
import type { Family } from "./rules.js";

/** A host as faults use it: its name, its namespace's scoped name, and the shell that runs commands in it. */
export interface FaultHost {
  readonly name: string;
  readonly scoped: string;
  readonly shell: Shell;
}

/** Resolves one host argument; refuses the network's own namespace and namespaces that do not exist. */
export function resolveHost(at: NamespaceHandle, value: unknown, argument: string): FaultHost {
  let ns: NamespaceScoped;
  try {
    ns = at.ns(value);
  } catch (error) {
    throw new InvalidArgumentError(
      argument,
      value,
      `is not a host: name one of the network's namespaces ("a"), or pass its DummyNet`,
      { cause: error },
    );
  }
  if (ns.isRoot) {
    throw new InvalidArgumentError(
      argument,
      typeof value === "string" ? value : ns.name,
      "is the network itself (the owning DummyNet's namespace), not one of its hosts: name a namespace made with netnsAdd()",
    );
  }
  if (ns.uid !== at.uid) {
    throw new InvalidArgumentError(
      argument,
      typeof value === "string" ? value : ns.scoped,
      `belongs to another network (uid ${ns.uid}, this one's is ${at.uid}): name a host of this network`,
    );
  }
  if (!at.namespaceExists(ns.scoped)) {
    throw new InvalidArgumentError(
      argument,
      typeof value === "string" ? value : ns.name,
      `is not a host of this network (no namespace ${ns.scoped}); make it with netnsAdd() first, or check the name`,
    );
  }
  return { name: ns.name, scoped: ns.scoped, shell: new NamespaceShell(ns.scoped, at.network.hostShell) };
}

/** Resolves partition groups: two or more non-empty arrays, no host in two of them. */
export function resolveGroups(at: NamespaceHandle, groups: unknown): FaultHost[][] {
  const rule = 'must be an array of two or more non-empty arrays of hosts, e.g. [["a"], ["b", "c"]]';
  if (!Array.isArray(groups)) throw new InvalidArgumentError("groups", groups, rule);
  if (groups.length < 2) {
    throw new InvalidArgumentError(
      "groups",
      groups,
      "has fewer than two groups: a partition cuts between groups; to cut one host from all others use isolate(host)",
    );
  }
  const seen = new Map<string, number>();
  return groups.map((group: unknown, index) => {
    if (!Array.isArray(group) || group.length === 0) throw new InvalidArgumentError(`groups[${index}]`, group, rule);
    return group.map((value: unknown, j) => {
      const host = resolveHost(at, value, `groups[${index}][${j}]`);
      const other = seen.get(host.scoped);
      if (other !== undefined) {
        throw new InvalidArgumentError(
          `groups[${index}][${j}]`,
          host.name,
          `is also in groups[${other}]: groups must not overlap (a host is in one group at most)`,
        );
      }
      seen.set(host.scoped, index);
      return host;
    });
  });
}

/** An address of a host and its family. */
export interface HostAddress {
  readonly address: string;
  readonly family: Family;
}

/**
 * The addresses of a host: those the network gave it (addrAdd, a topology file),
 * else read from the kernel (global scope) for a host addressed some other way.
 */
export async function hostAddresses(at: NamespaceHandle, host: FaultHost): Promise<HostAddress[]> {
  const known = at.network.addresses.get(host.scoped);
  const addresses = known && known.size > 0 ? [...known] : await readAddresses(host);
  return addresses.map((address) => ({ address, family: isIP(address) === 6 ? 6 : 4 }));
}

/**
 * What the kernel says, kept a moment: a schedule's burst of steps reads a host once, not once per step. A reading
 * in the last fifth of its time is read again in the background, so that steps every few ms do not wait for the read
 * (a round trip to the host's `ip` worker).
 */
const READ_FOR_MS = 1000;
const REREAD_AFTER_MS = 800;
const read = new Map<string, { at: number; addresses: Promise<string[]>; next?: Promise<string[]> }>();

function readAddresses(host: FaultHost): Promise<string[]> {
  const key = `${host.shell.privilege.mode}\u0000${host.scoped}`;
  const cached = read.get(key);
  const age = cached ? performance.now() - cached.at : Infinity;
  if (cached && age < READ_FOR_MS) {
    if (age >= REREAD_AFTER_MS && !cached.next) {
      const started = performance.now();
      const next = readNow(host);
      cached.next = next;
      void next.then(
        () => read.set(key, { at: started, addresses: next }),
        () => undefined,
      );
    }
    return cached.addresses;
  }
  const addresses = readNow(host);
  read.set(key, { at: performance.now(), addresses });
  addresses.catch(() => read.delete(key));
  return addresses;
}

function readNow(host: FaultHost): Promise<string[]> {
  return host.shell
    .system(["ip", "-j", "addr", "show"])
    .then((result) =>
      parseIpJsonArray<{ addr_info?: { local?: string; scope?: string }[] }>(result.stdout).flatMap((link) =>
        (link.addr_info ?? []).flatMap((info) => (info.scope === "global" && info.local ? [info.local] : [])),
      ),
    );
}
