/**
 * Names that the target accepts, chosen once and used everywhere (links,
 * VLANs, bridges, NAT and forward rules, sysctl keys), each change reported.
 *
 * containerlab: node names match `^[a-zA-Z0-9][a-zA-Z0-9-._]*$`; a linux
 * node's link may not be `eth0` (its management interface); interface names
 * stay within Linux's 15 characters. clabernetes adds: node names become
 * Kubernetes names (lowercase letters, digits, `-`), and each link end gets a
 * veth `<node>-<iface>` in its launcher pod, which must fit in 15 characters.
 */
import type { Topology } from "../topology/model.js";
import type { ExportReport, ExportTarget } from "./report.js";

/** Linux's limit on interface names. */
export const MAX_IFACE = 15;
/** clabernetes node names are kept this short so that `<node>-e<N>` always fits in 15 characters. */
const MAX_CLABERNETES_NODE = 11;

export const CONTAINERLAB_NODE_NAME = /^[a-zA-Z0-9][a-zA-Z0-9-._]*$/;
export const KUBERNETES_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** The names a topology gets in the exported file. */
export interface Names {
  /** The node of a host. */
  node(host: string): string;
  /** An interface of a host (a link end, a VLAN interface or a bridge) as the node has it. */
  iface(host: string, iface: string): string;
  /** Renamed interfaces of a host, old name to new. */
  renamed(host: string): ReadonlyMap<string, string>;
}

export function chooseNames(topology: Topology, target: ExportTarget, report: ExportReport): Names {
  const nodes = new Map<string, string>();
  const taken = new Set<string>();
  for (const host of topology.hosts) {
    const wanted = nodeName(host.name, target);
    let name = wanted;
    for (let n = 2; taken.has(name); n++) {
      const suffix = `-${n}`;
      name =
        target === "clabernetes" ? wanted.slice(0, MAX_CLABERNETES_NODE - suffix.length) + suffix : wanted + suffix;
    }
    taken.add(name);
    nodes.set(host.name, name);
    if (name !== host.name) {
      report.notice(
        host.path,
        `host ${host.name} is node ${name}: ${target === "clabernetes" ? "clabernetes names nodes as Kubernetes names (lowercase letters, digits, -; at most 11 characters here, so that each link's <node>-<interface> fits Linux's 15)" : "containerlab node names start with a letter or digit"}`,
      );
    }
  }

  // Every interface name a host has, so a new name never collides.
  const used = new Map<string, Set<string>>();
  const usedIn = (host: string) => entry(used, host, () => new Set<string>());
  for (const link of topology.links) for (const end of link.ends) usedIn(end.host).add(end.iface);
  for (const vlan of topology.vlans) usedIn(vlan.host).add(vlan.iface);
  for (const bridge of topology.bridges) usedIn(bridge.host).add(bridge.name);

  const renames = new Map<string, Map<string, string>>();
  const renamesIn = (host: string) => entry(renames, host, () => new Map<string, string>());
  const nodeOf = (host: string) => nodes.get(host) ?? host;
  for (const link of topology.links) {
    for (const end of link.ends) {
      const node = nodeOf(end.host);
      const fits = (iface: string) => target !== "clabernetes" || node.length + 1 + iface.length <= MAX_IFACE;
      if (end.iface !== "eth0" && fits(end.iface)) continue;
      const names = usedIn(end.host);
      // containerlab's own style (eth1, eth2, ...) where it fits, else the shortest (e1, e2, ...).
      const candidates = ["eth", "e"].flatMap((prefix) => Array.from({ length: 999 }, (_, i) => `${prefix}${i + 1}`));
      const fresh = candidates.find((candidate) => !names.has(candidate) && fits(candidate)) ?? `e${names.size + 1}`;
      names.add(fresh);
      renamesIn(end.host).set(end.iface, fresh);
      report.notice(
        end.path,
        `interface ${end.host}:${end.iface} is ${node}:${fresh}: ${end.iface === "eth0" ? "eth0 is a containerlab linux node's management interface" : `clabernetes makes a veth ${node}-${end.iface} in the launcher pod, over Linux's ${MAX_IFACE} characters`}`,
      );
    }
  }
  for (const vlan of topology.vlans) {
    const parent = renamesIn(vlan.host).get(vlan.parent);
    if (parent) renamesIn(vlan.host).set(vlan.iface, `${parent}.${vlan.id}`);
  }
  return {
    node: nodeOf,
    iface: (host, iface) => renamesIn(host).get(iface) ?? iface,
    renamed: renamesIn,
  };
}

function nodeName(host: string, target: ExportTarget): string {
  if (target === "containerlab") return CONTAINERLAB_NODE_NAME.test(host) ? host : `n${host}`;
  let name = host.toLowerCase().replace(/[^a-z0-9-]/g, "-");
  if (!/^[a-z0-9]/.test(name)) name = `n${name}`;
  name = name.slice(0, MAX_CLABERNETES_NODE).replace(/-+$/, "");
  return name;
}

/** The value of `key`, made and stored on first use. */
function entry<K, V>(map: Map<K, V>, key: K, make: () => V): V {
  let value = map.get(key);
  if (value === undefined) {
    value = make();
    map.set(key, value);
  }
  return value;
}
