/**
 * Firewall operations (iptables): forwarding between links and NAT. Every
 * rule carries the owner's prefix as a comment, so a dead owner's rules can be
 * found and removed; rules name links but outlive them.
 */
import { markHostRules } from "../../lifecycle/owners.js";
import { NamespaceScoped } from "../../names/scoped.js";
import { checkAddressWithPrefix } from "../../validation/arguments.js";
import type { NamespaceHandle } from "./handle.js";

export class Firewall {
  constructor(private readonly at: NamespaceHandle) {}

  async forward(from: unknown, to: unknown): Promise<void> {
    const at = this.at;
    const inbound = at.iface(from, "from interface");
    const outbound = at.iface(to, "to interface");
    at.refuseHostInRootless("forward");
    const rule = ["FORWARD", "-i", inbound.scoped, "-o", outbound.scoped, ...this.#ruleComment(), "-j", "ACCEPT"];
    this.#noteHostRule();
    await at.shell.system(["iptables", "-w", "-A", ...rule]);
    at.register({
      targets: [inbound, outbound],
      reason: "forward",
      obsoleteWhen: at.diesWithThisNamespace(),
      cleanSync: at.syncUndo(["iptables", "-w", "-D", ...rule]),
      clean: () => at.shell.system(["iptables", "-w", "-D", ...rule]).then(() => undefined),
    });
  }

  async nat(source: string, iface: unknown): Promise<void> {
    const at = this.at;
    checkAddressWithPrefix("source", source);
    const link = at.iface(iface);
    at.refuseHostInRootless("nat");
    const rule = ["POSTROUTING", "-s", source, "-o", link.scoped, ...this.#ruleComment(), "-j", "MASQUERADE"];
    this.#noteHostRule();
    await at.shell.system(["iptables", "-w", "-t", "nat", "-A", ...rule]);
    at.register({
      targets: [link],
      reason: "nat",
      obsoleteWhen: at.diesWithThisNamespace(),
      cleanSync: at.syncUndo(["iptables", "-w", "-t", "nat", "-D", ...rule]),
      clean: () => at.shell.system(["iptables", "-w", "-t", "nat", "-D", ...rule]).then(() => undefined),
    });
  }

  /**
   * A rule in the host namespace (rules in a namespace go with it): the leftover check must list iptables, and
   * so must the reaping at a network's start if this owner dies before the rule is removed.
   */
  #noteHostRule(): void {
    if (!this.at.namespace.isRoot) return;
    this.at.network.madeHostIptablesRule = true;
    markHostRules(this.at.uid);
  }

  /** Rules carry the owner's prefix, so a dead owner's rules can be found and removed. */
  #ruleComment(): string[] {
    return ["-m", "comment", "--comment", new NamespaceScoped("dummynet", this.at.uid).scoped];
  }
}
