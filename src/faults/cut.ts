/**
 * A cut: for each (sender, receiver) pair, the receiver drops what the sender
 * sends to it, by one blackhole rule per pair of their addresses of one family
 * (rules.ts). Nothing is put on the sender's output path, where a blackhole
 * rule would fail its sends at once (EINVAL) instead of letting them time out.
 */
import type { NamespaceHandle } from "../network/ops/handle.js";
import { type FaultHost, type HostAddress, hostAddresses } from "./hosts.js";
import { NamespaceRules } from "./rules.js";

/** One direction of a cut: packets from `from` to `to` are dropped at `to`. */
export type Direction = readonly [from: FaultHost, to: FaultHost];

interface RuleRef {
  readonly rules: NamespaceRules;
  readonly family: 4 | 6;
  readonly from: string;
  readonly to: string;
}

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
    const refs: RuleRef[] = [];
    for (const [from, to] of directions) {
      const rules = this.#rulesOf(to);
      for (const sender of addresses.get(from.scoped) ?? []) {
        for (const receiver of addresses.get(to.scoped) ?? []) {
          if (sender.family === receiver.family) {
            refs.push({ rules, family: sender.family, from: sender.address, to: receiver.address });
          }
        }
      }
    }
    const release = async () => {
      await settleAll(refs.map((ref) => ref.rules.release(ref.family, ref.from, ref.to)));
    };
    try {
      await settleAll(refs.map((ref) => ref.rules.acquire(ref.family, ref.from, ref.to)));
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

/** Waits for every promise; rejects with the first error once all have settled (so nothing is left half done). */
async function settleAll(promises: readonly Promise<unknown>[]): Promise<void> {
  const results = await Promise.allSettled(promises);
  const failed = results.find((result): result is PromiseRejectedResult => result.status === "rejected");
  if (failed) throw failed.reason;
}
