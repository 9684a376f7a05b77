/**
 * Namespace operations: make, use, list and delete network namespaces, and
 * list and kill the processes inside them.
 */
import { InvalidArgumentError } from "../../errors.js";
import { NamespaceScoped, Scoped, parseScoped } from "../../names/scoped.js";
import type { Shell } from "../../shell/shell.js";
import { parseIpJsonArray } from "../../system/ip-json.js";
import { checkPid } from "../../system/proc.js";
import { killProcess, namespaceProcesses } from "../namespace-processes.js";
import { ROOT_NAMESPACE } from "../network-state.js";
import { namespaceAdded, namespacesDeleting } from "../namespace-watchers.js";
import { deleteNamespaceSync } from "../sync-undo.js";
import type { NamespaceHandle } from "./handle.js";

/** The namespaced objects (DummyNets) this handle hands out, and where it keeps those it made. */
export interface NamespaceChildren<Child extends { readonly shell: Shell }> {
  /** Namespaces made through this handle, by scoped name (DummyNet.namespaces). */
  readonly made: Map<string, Child>;
  /** An object whose commands run in `namespace`, sharing this network. */
  open(namespace: NamespaceScoped): Child;
}

export class Namespaces<Child extends { readonly shell: Shell }> {
  constructor(
    private readonly at: NamespaceHandle,
    private readonly children: NamespaceChildren<Child>,
  ) {}

  async add(name: string): Promise<Child> {
    const at = this.at;
    const namespace = new NamespaceScoped(name, at.uid);
    if (namespace.isRoot)
      throw new InvalidArgumentError("namespace name", name, "is the root namespace; choose another name");
    // Namespaces are named in the host's /run/netns, whatever namespace this object stands for.
    await at.ipIn(ROOT_NAMESPACE, ["netns", "add", namespace.scoped]);
    const child = this.children.open(namespace);
    this.children.made.set(namespace.scoped, child);
    at.register({
      namespace,
      targets: [namespace],
      reason: "netnsAdd",
      // cleanup() kills the namespace's processes first, for all namespaces at once.
      clean: async () => {
        await namespacesDeleting(at.uid, [namespace.scoped]);
        await at.ipIn(ROOT_NAMESPACE, ["netns", "delete", namespace.scoped]);
        this.children.made.delete(namespace.scoped);
      },
      cleanSync: () => {
        deleteNamespaceSync(at.shell, namespace.scoped);
      },
    });
    await child.shell.system(["ip", "link", "set", "dev", "lo", "up"]);
    // Known from here on: a user's up("lo") (as the reference's users write it) need not ask the kernel first.
    at.network.links.setAdminState("lo", namespace.scoped, "up");
    namespaceAdded(at.uid, namespace.scoped, at.network.hostShell.privilege);
    return child;
  }

  async use(name: string): Promise<Child> {
    const at = this.at;
    const namespace = NamespaceScoped.fromAny(name, at.uid);
    if (!at.namespaceExists(namespace.scoped)) {
      const known = (await this.list()).map((ns) => ns.name);
      throw new InvalidArgumentError(
        "namespace",
        name,
        `does not exist (looked for /run/netns/${namespace.scoped}); namespaces of uid ${at.uid}: ${known.length ? known.join(", ") : "none"}. Create it with netnsAdd() first`,
      );
    }
    return this.children.open(namespace);
  }

  async list(): Promise<NamespaceScoped[]> {
    const uid = this.at.uid;
    const output = await this.at.ip(["-j", "netns", "list"]);
    const entries = parseIpJsonArray<{ name: string }>(output);
    return entries
      .map((entry) => parseScoped(entry.name))
      .filter((parsed): parsed is { uid: number; name: string } => parsed?.uid === uid)
      .flatMap((parsed) => {
        try {
          return [new NamespaceScoped(parsed.name, parsed.uid)];
        } catch {
          return [];
        }
      })
      .sort(Scoped.compare);
  }

  async delete(namespace: unknown): Promise<void> {
    const at = this.at;
    const ns = at.ns(namespace);
    await namespacesDeleting(at.uid, [ns.scoped]);
    await at.ipIn(ROOT_NAMESPACE, ["netns", "delete", ns.scoped]);
    at.network.undo.forget(
      (item) =>
        item.namespace.equals(ns) ||
        (item.links.length > 0 && item.links.every((place) => place.namespace === ns.scoped)),
    );
    this.children.made.delete(ns.scoped);
    at.network.links.forgetNamespace(ns.scoped);
    at.network.addresses.delete(ns.scoped);
  }

  async processList(namespace: unknown): Promise<number[]> {
    const ns = this.at.ns(namespace);
    this.at.requireNamespace(ns);
    return namespaceProcesses(this.at.shell, ns.scoped);
  }

  async killProcess(namespace: unknown, pid: number): Promise<void> {
    const ns = this.at.ns(namespace);
    checkPid("pid", pid);
    const members = await this.processList(ns);
    if (!members.includes(pid)) {
      throw new InvalidArgumentError(
        "pid",
        pid,
        `is not a process of namespace ${ns.scoped}; its processes are: ${members.join(", ") || "none"}`,
      );
    }
    await killProcess(this.at.shell, pid);
  }

  async killAll(namespace: unknown): Promise<void> {
    const ns = this.at.ns(namespace);
    if (!this.at.namespaceExists(ns.scoped)) return;
    for (const pid of await namespaceProcesses(this.at.shell, ns.scoped)) {
      try {
        await killProcess(this.at.shell, pid);
      } catch (error) {
        this.at.log.debug(`could not kill ${pid} in ${ns.scoped}: ${(error as Error).message}`);
      }
    }
  }
}
