/**
 * Link operations: veth pairs, VLANs, bridges and their ports, moving links
 * between namespaces, listing and deleting them, and their administrative
 * state (up, down). The network's LinkRegistry follows every change.
 */
import { InvalidArgumentError } from "../../errors.js";
import { InterfaceScoped, type NamespaceScoped, Scoped, parseScoped } from "../../names/scoped.js";
import { parseIpJsonArray } from "../../system/ip-json.js";
import { checkVlanId } from "../../validation/arguments.js";
import { type AdminState, linkKey, placeKey } from "../link-registry.js";
import { ROOT_NAMESPACE } from "../network-state.js";
import { type CleanupItem, UNDO_KINDS } from "../undo-log.js";
import type { NamespaceHandle } from "./handle.js";

/** Where a veth end is made: in this namespace unless given. */
export interface VethPlaces {
  p1Namespace?: unknown;
  p2Namespace?: unknown;
}

export class Links {
  constructor(private readonly at: NamespaceHandle) {}

  async vethAdd(p1: string, p2: string, options: VethPlaces): Promise<[InterfaceScoped, InterfaceScoped]> {
    const at = this.at;
    const registry = at.network.links;
    const a = new InterfaceScoped(p1, at.uid);
    const b = new InterfaceScoped(p2, at.uid);
    const homes = [options.p1Namespace, options.p2Namespace].map((ns) => (ns === undefined ? at.namespace : at.ns(ns)));
    const [homeA, homeB] = homes as [NamespaceScoped, NamespaceScoped];
    if (a.equals(b) && homeA.equals(homeB)) {
      throw new InvalidArgumentError(
        "p2",
        p2,
        "must differ from p1: the two ends of a veth pair in one namespace need two names",
      );
    }
    for (const home of homes) at.requireNamespace(home);
    at.refuseHostInRootless("linkVethAdd with an end in the host namespace", homes);
    const where = (home: NamespaceScoped) =>
      home.equals(at.namespace) ? [] : ["netns", home.isRoot ? String(process.pid) : home.scoped];
    await at.ip(["link", "add", a.scoped, ...where(homeA), "type", "veth", "peer", "name", b.scoped, ...where(homeB)]);
    const ends = [registry.created(a.scoped, homeA.scoped), registry.created(b.scoped, homeB.scoped)];
    // Deleting one end deletes the pair: do it through an end that is here, else one whose namespace still exists.
    const liveEnd = () =>
      ends.find((end) => end.namespace === at.namespace.scoped) ??
      ends.find((end) => end.namespace === ROOT_NAMESPACE || at.namespaceExists(end.namespace)) ??
      ends[0];
    at.register({
      namespace: homeA,
      targets: [a, b],
      links: ends,
      reason: "linkVethAdd",
      // Moot only when both ends die with namespaces of ours: the kernel destroys a deleted
      // namespace's links asynchronously (seconds later on a busy machine), so an end left
      // outside (moved there by linkSet, or made there) would linger until then.
      obsoleteWhen: (doomed) => ends.every((end) => doomed.has(end.namespace)),
      cleanSync: at.namespace.isRoot
        ? () => {
            const end = liveEnd();
            if (end.namespace === at.namespace.scoped) at.syncUndo(["ip", "link", "delete", end.name])?.();
          }
        : undefined,
      clean: () => {
        const end = liveEnd();
        return at.ipIn(end.namespace, ["link", "delete", end.name]).then(() => undefined);
      },
    });
    return [a, b];
  }

  async vlanAdd(parent: unknown, vlanId: number): Promise<InterfaceScoped> {
    const parentIface = this.at.iface(parent, "parent interface");
    checkVlanId("vlanId", vlanId);
    this.at.refuseHostInRootless("linkVlanAdd");
    const iface = new InterfaceScoped(`${parentIface.name}.${vlanId}`, this.at.uid);
    await this.at.ip([
      "link",
      "add",
      "link",
      parentIface.scoped,
      "name",
      iface.scoped,
      "type",
      "vlan",
      "id",
      String(vlanId),
    ]);
    this.#made(iface, "linkVlanAdd");
    return iface;
  }

  async bridgeAdd(name: string): Promise<InterfaceScoped> {
    const bridge = new InterfaceScoped(name, this.at.uid);
    this.at.refuseHostInRootless("bridgeAdd");
    await this.at.ip(["link", "add", "name", bridge.scoped, "type", "bridge"]);
    this.#made(bridge, "bridgeAdd");
    return bridge;
  }

  async bridgeSet(bridge: unknown, iface: unknown): Promise<void> {
    const at = this.at;
    const br = at.iface(bridge, "bridge");
    const link = at.iface(iface);
    at.refuseHostInRootless("bridgeSet");
    await at.ip(["link", "set", "dev", link.scoped, "master", br.scoped]);
    at.register({
      targets: [link, br],
      reason: "bridgeSet",
      obsoleteWhen: at.diesWithLinks(link, br),
      clean: () => at.ip(["link", "set", "dev", link.scoped, "nomaster"]).then(() => undefined),
    });
  }

  /** Records a link just made in this namespace and registers its deletion as the undo. */
  #made(link: InterfaceScoped, reason: "linkVlanAdd" | "bridgeAdd"): void {
    const at = this.at;
    at.network.links.created(link.scoped, at.namespace.scoped);
    at.register({
      targets: [link],
      reason,
      obsoleteWhen: at.diesWithLinks(link),
      cleanSync: at.syncUndo(["ip", "link", "delete", "dev", link.scoped]),
      clean: () => at.ip(["link", "delete", "dev", link.scoped]).then(() => undefined),
    });
  }

  async move(namespace: unknown, iface: unknown): Promise<void> {
    const at = this.at;
    const ns = at.ns(namespace);
    const link = at.iface(iface);
    at.requireNamespace(ns);
    at.refuseHostInRootless("linkSet into or out of the host namespace", [at.namespace, ns]);
    // "netns <pid>" names the namespace of that process: ours is the host side.
    const target = ns.isRoot ? String(process.pid) : ns.scoped;
    await at.ip(["link", "set", "dev", link.scoped, "netns", target]);
    const record = at.network.links.moved(link.scoped, at.namespace.scoped, ns.scoped);
    const home = at.namespace.isRoot ? String(process.pid) : at.namespace.scoped;
    at.register({
      namespace: ns,
      targets: [link],
      reason: "linkSet",
      // A link of ours is destroyed with the namespace; a user's own link must be brought back.
      obsoleteWhen: (doomed) => record !== undefined && doomed.has(record.namespace),
      clean: async () => {
        await at.ipIn(ns.scoped, ["link", "set", "dev", link.scoped, "netns", home]);
        if (record) record.namespace = at.namespace.scoped;
      },
    });
  }

  async list(linkType?: string): Promise<InterfaceScoped[]> {
    if (linkType !== undefined && !/^[a-z0-9_]{1,16}$/.test(linkType)) {
      throw new InvalidArgumentError("linkType", linkType, "must be an ip link type such as veth, bridge, vlan or ifb");
    }
    const output = await this.at.ip(["-j", "link", "show", ...(linkType ? ["type", linkType] : [])]);
    const links = parseIpJsonArray<{ ifname: string }>(output);
    const found: InterfaceScoped[] = [];
    for (const { ifname } of links) {
      const parsed = parseScoped(ifname);
      if (parsed?.uid !== this.at.uid) continue;
      try {
        found.push(new InterfaceScoped(parsed.name, parsed.uid));
      } catch {
        // Not one of ours after all (a name our rules would not make).
      }
    }
    return found.sort(Scoped.compare);
  }

  async delete(iface: unknown): Promise<void> {
    const at = this.at;
    const undo = at.network.undo;
    const link = at.iface(iface);
    const here = linkKey(link.scoped, at.namespace.scoped);
    const gone = new Set<string>([here]);
    for (const item of undo.entries) {
      if (UNDO_KINDS[item.reason].deletesLinks && item.links.some((place) => placeKey(place) === here)) {
        for (const place of item.links) gone.add(placeKey(place));
      }
    }
    const dies = (item: CleanupItem) =>
      UNDO_KINDS[item.reason].boundToLink === true && item.links.some((place) => gone.has(placeKey(place)));
    for (const item of undo.entries.filter((c) => UNDO_KINDS[c.reason].runsBeforeLinkDelete && dies(c))) {
      await item.clean().catch((error: unknown) => {
        at.log.warn(`linkDelete: restoring the qdiscs of ${link.scoped}: ${(error as Error).message}`);
      });
    }
    await at.ip(["link", "delete", "dev", link.scoped]);
    undo.forget(dies);
    at.network.links.forgetLinks(gone);
  }

  async #adminState(link: InterfaceScoped): Promise<AdminState> {
    const known = this.at.network.links.adminState(link.scoped, this.at.namespace.scoped);
    if (known) return known;
    const output = await this.at.ip(["-j", "link", "show", "dev", link.scoped]);
    const device = parseIpJsonArray<{ flags: string[] }>(output).at(0);
    return device?.flags.includes("UP") ? "up" : "down";
  }

  async setState(iface: unknown, state: AdminState): Promise<void> {
    const at = this.at;
    const registry = at.network.links;
    const link = at.iface(iface);
    at.refuseHostInRootless("up/down");
    const before = await this.#adminState(link);
    await at.ip(["link", "set", "dev", link.scoped, state]);
    registry.setAdminState(link.scoped, at.namespace.scoped, state);
    at.register({
      targets: [link],
      reason: state,
      obsoleteWhen: link.isUnscoped ? at.diesWithThisNamespace() : at.diesWithLinks(link),
      clean: async () => {
        await at.ip(["link", "set", "dev", link.scoped, before]);
        registry.setAdminState(link.scoped, at.namespace.scoped, before);
      },
    });
  }
}
