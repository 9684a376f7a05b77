/**
 * A cut: for each (sender, receiver) pair, the receiver drops what the sender
 * sends to it, by blackhole rules (rules.ts) from its senders' addresses of one
 * family, as the fewest prefixes that hold exactly them (prefixes.ts), to each
 * of its own. Nothing is put on the sender's output path, where a blackhole
 * rule would fail its sends at once (EINVAL) instead of letting them time out.
 * A heal also drops the senders' unresolved neighbour entries (see
 * #forgetUnanswered).
 */
import { readFileSync } from "node:fs";
import { procNetOf } from "../network/namespace-processes.js";
import type { NamespaceHandle } from "../network/ops/handle.js";
import { type FaultHost, type HostAddress, hostAddresses } from "./hosts.js";
import { exactPrefixes } from "./prefixes.js";
import { type Family, NamespaceRules, type Pair, allSettledOrThrow } from "./rules.js";

/** One direction of a cut: packets from `from` to `to` are dropped at `to`. */
export type Direction = readonly [from: FaultHost, to: FaultHost];

/** The rules of every namespace a network's cuts touched, by scoped name. */
export class CutRules {
  readonly #byNamespace = new Map<string, NamespaceRules>();

  constructor(private readonly at: NamespaceHandle) {}

  /** Puts the cut in force; resolves with the function that takes it back. On failure, takes back what it did. */
  async cut(directions: readonly Direction[]): Promise<() => Promise<void>> {
    const hosts = new Map<string, FaultHost>();
    for (const [from, to] of directions) {
      hosts.set(from.scoped, from);
      hosts.set(to.scoped, to);
    }
    const addresses = new Map<string, HostAddress[]>();
    await Promise.all(
      [...hosts.values()].map(async (host) => addresses.set(host.scoped, await hostAddresses(this.at, host))),
    );
    // One change per receiving namespace and family, its rules together; each receiver address's senders as the
    // fewest prefixes that hold exactly them.
    const changes = new Map<string, { rules: NamespaceRules; family: Family; senders: Map<string, Set<string>> }>();
    // Only a sender some receiver drops may be left with unresolved neighbours (a host without addresses is none).
    const dropped = new Map<string, { host: FaultHost; families: Set<Family> }>();
    for (const [from, to] of directions) {
      for (const sender of addresses.get(from.scoped) ?? []) {
        for (const receiver of addresses.get(to.scoped) ?? []) {
          if (sender.family !== receiver.family) continue;
          let senderDropped = dropped.get(from.scoped);
          if (!senderDropped) dropped.set(from.scoped, (senderDropped = { host: from, families: new Set() }));
          senderDropped.families.add(sender.family);
          const key = `${to.scoped} ${sender.family}`;
          let change = changes.get(key);
          if (!change) {
            change = { rules: this.#rulesOf(to), family: sender.family, senders: new Map() };
            changes.set(key, change);
          }
          let senders = change.senders.get(receiver.address);
          if (!senders) change.senders.set(receiver.address, (senders = new Set()));
          senders.add(sender.address);
        }
      }
    }
    // A host's addresses mostly share one set of senders: its prefixes are worked out once.
    const prefixesOf = new Map<string, string[]>();
    const prefixes = (from: Set<string>, family: Family) => {
      const key = `${String(family)} ${[...from].join(" ")}`;
      let found = prefixesOf.get(key);
      if (!found) prefixesOf.set(key, (found = exactPrefixes(from, family)));
      return found;
    };
    const planned = [...changes.values()].map(({ rules, family, senders }) => ({
      rules,
      family,
      pairs: [...senders].flatMap(([to, from]): Pair[] =>
        prefixes(from, family).map((prefix) => ({ from: prefix, to })),
      ),
    }));
    const release = async () => {
      await allSettledOrThrow(planned.map((c) => c.rules.release(c.family, c.pairs)));
      await Promise.all([...dropped.values()].map(({ host, families }) => this.#forgetUnanswered(host, families)));
    };
    try {
      await allSettledOrThrow(planned.map((c) => c.rules.acquire(c.family, c.pairs)));
    } catch (error) {
      await release().catch(() => undefined);
      throw error;
    }
    return release;
  }

  /**
   * Keeps the local rule moved in every namespace of `hosts` with addresses, for each family they have, until the
   * returned function is called (a schedule, from its start to its end: its steps then change only their own rules).
   * A namespace where the move fails is left out: its steps move the rule themselves and report the failure.
   */
  async hold(hosts: readonly FaultHost[]): Promise<() => Promise<void>> {
    const wanted = await Promise.all(
      hosts.map(async (host) => {
        const families = new Set((await hostAddresses(this.at, host)).map((address) => address.family));
        return [...families].map((family) => ({ rules: this.#rulesOf(host), family }));
      }),
    );
    const tried = wanted.flat();
    const results = await Promise.allSettled(tried.map(({ rules, family }) => rules.hold(family)));
    const held = tried.filter((_, i) => results[i]?.status === "fulfilled");
    return () => allSettledOrThrow(held.map(({ rules, family }) => rules.unhold(family)));
  }

  /**
   * A cut receiver answers no ARP or neighbour solicitation (its reply's route lookup meets the blackhole rule), so a
   * sender's entry for it is left unresolved, retried only every second: after the heal, such entries are dropped, and
   * the next packet asks again at once. Where the sender's ARP table can be read without a command (procNetOf: IPv4
   * only, as root) and holds no unresolved entry, there is nothing to drop and no command is sent. Best effort: a heal
   * is not failed by it.
   */
  async #forgetUnanswered(sender: FaultHost, families: ReadonlySet<Family>): Promise<void> {
    if (!families.has(6) && (await this.#arpResolved(sender))) return;
    await sender.shell
      .system(["ip", "neigh", "flush", "nud", "incomplete", "nud", "failed"], { allowFailure: true })
      .catch(() => undefined);
  }

  /** Whether the sender's ARP table is known to hold no unresolved (incomplete or failed: flags 0x0) entry. */
  async #arpResolved(sender: FaultHost): Promise<boolean> {
    const procNet = await procNetOf(this.at.network.hostShell, sender.scoped);
    if (procNet === undefined) return false;
    try {
      const rows = readFileSync(`${procNet}/arp`, "utf8").split("\n").slice(1);
      return !rows.some((row) => row.split(/\s+/)[2] === "0x0");
    } catch {
      // The process ended meanwhile: the flush decides.
      return false;
    }
  }

  #rulesOf(host: FaultHost): NamespaceRules {
    let rules = this.#byNamespace.get(host.scoped);
    if (!rules) {
      rules = new NamespaceRules(host.shell);
      this.#byNamespace.set(host.scoped, rules);
    }
    return rules;
  }
}
