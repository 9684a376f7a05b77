/**
 * A cut: for each (sender, receiver) pair, the receiver drops what the sender
 * sends to it, by one blackhole rule per pair of their addresses of one family
 * (rules.ts). Nothing is put on the sender's output path, where a blackhole
 * rule would fail its sends at once (EINVAL) instead of letting them time out.
 */
import type { NamespaceHandle } from "../network/ops/handle.js";
import { type FaultHost, type HostAddress, hostAddresses } from "./hosts.js";
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
    // One change per receiving namespace and family, its rules together.
    const changes = new Map<string, { rules: NamespaceRules; family: Family; pairs: Pair[] }>();
    for (const [from, to] of directions) {
      for (const sender of addresses.get(from.scoped) ?? []) {
        for (const receiver of addresses.get(to.scoped) ?? []) {
          if (sender.family !== receiver.family) continue;
          const key = `${to.scoped} ${sender.family}`;
          let change = changes.get(key);
          if (!change) {
            change = { rules: this.#rulesOf(to), family: sender.family, pairs: [] };
            changes.set(key, change);
          }
          change.pairs.push({ from: sender.address, to: receiver.address });
        }
      }
    }
    const release = async () => {
      await allSettledOrThrow([...changes.values()].map((c) => c.rules.release(c.family, c.pairs)));
    };
    try {
      await allSettledOrThrow([...changes.values()].map((c) => c.rules.acquire(c.family, c.pairs)));
    } catch (error) {
      await release().catch(() => undefined);
      throw error;
    }
    return release;
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
