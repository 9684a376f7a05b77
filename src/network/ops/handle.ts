/**
 * One namespace of one network, as the operations (ops/*.ts) see it: where
 * commands run, the network's shared state, and the bookkeeping every
 * operation does (names from the API's arguments, registering undos, what an
 * undo dies with). Like a netlink handle: each kind of operation hangs off it.
 */
import { existsSync } from "node:fs";
import { InvalidArgumentError } from "../../errors.js";
import type { Logger } from "../../log.js";
import { InterfaceScoped, NamespaceScoped } from "../../names/scoped.js";
import type { Shell } from "../../shell/shell.js";
import { netnsPath } from "../../system/proc.js";
import { systemPath } from "../../system/privilege.js";
import { isRootless } from "../../rootless/privilege.js";
import { hostNamespaceRefused } from "../../rootless/refusals.js";
import type { LinkPlace } from "../link-registry.js";
import { type NetworkState, ROOT_NAMESPACE } from "../network-state.js";
import { syncUndo } from "../sync-undo.js";
import type { CleanupItem } from "../undo-log.js";

/** An undo as operations register it: the namespace defaults to the handle's, the links to those among the targets. */
export type UndoRegistration = Omit<CleanupItem, "namespace" | "obsoleteWhen" | "links"> & {
  namespace?: NamespaceScoped;
  obsoleteWhen?: CleanupItem["obsoleteWhen"];
  links?: LinkPlace[];
};

export class NamespaceHandle {
  /**
   * @param namespaceOf the namespace a DummyNet given as an argument stands for (undefined for anything else)
   */
  constructor(
    readonly network: NetworkState,
    readonly namespace: NamespaceScoped,
    readonly shell: Shell,
    private readonly namespaceOf: (value: unknown) => NamespaceScoped | undefined,
  ) {}

  get uid(): number {
    return this.network.uid;
  }

  get log(): Logger {
    return this.network.log;
  }

  // ---------------------------------------------------------------- names

  iface(value: unknown, argument = "interface"): InterfaceScoped {
    if (value instanceof InterfaceScoped) return value;
    if (typeof value !== "string") {
      throw new InvalidArgumentError(argument, value, "must be an interface name (string) or an InterfaceScoped");
    }
    return InterfaceScoped.fromAny(value, this.uid);
  }

  ns(value: unknown): NamespaceScoped {
    const of = this.namespaceOf(value);
    if (of) return of;
    if (value instanceof NamespaceScoped) return value;
    if (typeof value !== "string") {
      throw new InvalidArgumentError(
        "namespace",
        value,
        "must be a namespace name (string), a NamespaceScoped or a namespaced DummyNet",
      );
    }
    return NamespaceScoped.fromAny(value, this.uid);
  }

  requireNamespace(ns: NamespaceScoped): void {
    if (ns.isRoot) return;
    if (!this.namespaceExists(ns.scoped)) {
      throw new InvalidArgumentError(
        "namespace",
        ns.name,
        `does not exist (no /run/netns/${ns.scoped}); create it with netnsAdd() first`,
      );
    }
  }

  /** Whether named namespace `scoped` exists, read where this shell's commands see /run/netns (a rootless holder's is private). */
  namespaceExists(scoped: string): boolean {
    return existsSync(systemPath(this.shell.privilege, netnsPath(scoped)));
  }

  /** Refuses `operation` in rootless mode when it would act on the host namespace (see rootless/refusals.ts); before anything changes. */
  refuseHostInRootless(operation: string, namespaces: readonly NamespaceScoped[] = [this.namespace]): void {
    if (isRootless(this.shell.privilege) && namespaces.some((ns) => ns.isRoot)) throw hostNamespaceRefused(operation);
  }

  // ---------------------------------------------------------------- commands

  async ip(args: readonly string[]): Promise<string> {
    return (await this.shell.system(["ip", ...args])).stdout;
  }

  /** Runs `ip` in any namespace of the network ("1": the host's), whichever namespace this handle stands for. */
  async ipIn(scopedNamespace: string, args: readonly string[]): Promise<string> {
    if (scopedNamespace === this.namespace.scoped) return this.ip(args);
    // `ip -n` takes only names under /run/netns; the host namespace is reached through the host's shell.
    const argv = scopedNamespace === ROOT_NAMESPACE ? ["ip", ...args] : ["ip", "-n", scopedNamespace, ...args];
    return (await this.network.hostShell.system(argv)).stdout;
  }

  /** The synchronous undo (exit path) of an object made here: only in the host namespace. */
  syncUndo(argv: string[]): (() => void) | undefined {
    return syncUndo(this.shell, this.namespace, argv);
  }

  // ---------------------------------------------------------------- undos

  register(item: UndoRegistration): void {
    const namespace = item.namespace ?? this.namespace;
    // The links it concerns: our own links are tracked as they move; others stay where they were.
    const links =
      item.links ??
      item.targets
        .filter((target): target is InterfaceScoped => target instanceof InterfaceScoped && !target.isUnscoped)
        .map((link) => this.network.links.place(link.scoped, namespace.scoped));
    this.network.undo.register({ ...item, namespace, links, obsoleteWhen: item.obsoleteWhen ?? (() => false) });
  }

  /** Undo is moot once this (non-root) namespace is deleted. */
  diesWithThisNamespace(): CleanupItem["obsoleteWhen"] {
    const here = this.namespace;
    return (doomed) => !here.isRoot && doomed.has(here.scoped);
  }

  /** Undo is moot once any of these links (if made by us) is destroyed with its namespace. Links are in this namespace unless given as [link, namespace]. */
  diesWithLinks(...links: (InterfaceScoped | [InterfaceScoped, NamespaceScoped])[]): CleanupItem["obsoleteWhen"] {
    const registry = this.network.links;
    return registry.diesWith(
      links.map((entry) =>
        Array.isArray(entry)
          ? registry.own(entry[0].scoped, entry[1].scoped)
          : registry.own(entry.scoped, this.namespace.scoped),
      ),
    );
  }
}
