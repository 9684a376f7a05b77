/**
 * A host's network as the commands its node runs (its `exec`), in the order
 * `buildTopology` makes it: link addresses, VLAN interfaces, bridges, sysctls
 * and forwarding, routes, forward and NAT rules, then netem. The same
 * commands as the library's calls (src/network/ops/), without the
 * `d-<owner>-` prefixes: a container's names are its own.
 */
import { isIPv6 } from "node:net";
import type { HostSpec, Topology } from "../topology/model.js";
import type { EgressNetem } from "./impairments.js";
import type { Names } from "./naming.js";

function addressCommands(iface: string, addresses: readonly string[]): string[][] {
  return addresses.map((address) => [
    "ip",
    "addr",
    "add",
    address,
    "dev",
    iface,
    // As addrAdd: usable at once, no duplicate address detection.
    ...(isIPv6(address.split("/")[0]) ? ["nodad"] : []),
  ]);
}

/** A sysctl key with an interface in it (`net.ipv4.conf.<iface>.rp_filter`) follows the interface's new name. */
function renamedSysctl(key: string, rename: (iface: string) => string): string {
  const parts = key.split(".");
  if (parts.length > 4 && /^ipv[46]$/.test(parts[1]) && (parts[2] === "conf" || parts[2] === "neigh")) {
    // sysctl writes the dots of an interface name (a VLAN's eth1.10) as slashes.
    parts[3] = rename(parts[3].replaceAll("/", ".")).replaceAll(".", "/");
  }
  return parts.join(".");
}

/** The commands that give `host`'s node the host's network. */
export function networkCommands(
  topology: Topology,
  host: HostSpec,
  names: Names,
  netem: readonly EgressNetem[],
): string[][] {
  const name = (iface: string) => names.iface(host.name, iface);
  const commands: string[][] = [];
  for (const link of topology.links) {
    for (const end of link.ends) {
      if (end.host !== host.name) continue;
      commands.push(...addressCommands(name(end.iface), end.addresses), [
        "ip",
        "link",
        "set",
        "dev",
        name(end.iface),
        "up",
      ]);
    }
  }
  for (const vlan of topology.vlans) {
    if (vlan.host !== host.name) continue;
    const iface = name(vlan.iface);
    commands.push(
      ["ip", "link", "add", "link", name(vlan.parent), "name", iface, "type", "vlan", "id", String(vlan.id)],
      ...addressCommands(iface, vlan.addresses),
      ["ip", "link", "set", "dev", iface, "up"],
    );
  }
  for (const bridge of topology.bridges) {
    if (bridge.host !== host.name) continue;
    const iface = name(bridge.name);
    commands.push(
      ["ip", "link", "add", "name", iface, "type", "bridge"],
      ...bridge.interfaces.map((member) => ["ip", "link", "set", "dev", name(member), "master", iface]),
      ...addressCommands(iface, bridge.addresses),
      ["ip", "link", "set", "dev", iface, "up"],
    );
  }
  const sysctls: [string, string][] = Object.entries(host.sysctls);
  if (host.forwarding) sysctls.push(["net.ipv4.ip_forward", "1"], ["net.ipv6.conf.all.forwarding", "1"]);
  for (const [key, value] of sysctls) commands.push(["sysctl", "-w", `${renamedSysctl(key, name)}=${value}`]);
  // replace, not add: a container already has a default route, through its management interface eth0.
  for (const route of host.routes) commands.push(["ip", "route", "replace", route.to, "via", route.via]);
  for (const rule of host.forward) {
    commands.push(["iptables", "-w", "-A", "FORWARD", "-i", name(rule.from), "-o", name(rule.to), "-j", "ACCEPT"]);
  }
  for (const rule of host.nat) {
    commands.push([
      "iptables",
      "-w",
      "-t",
      "nat",
      "-A",
      "POSTROUTING",
      "-s",
      rule.source,
      "-o",
      name(rule.out),
      "-j",
      "MASQUERADE",
    ]);
  }
  for (const shaped of netem) {
    if (shaped.host === host.name) {
      commands.push(["tc", "qdisc", "replace", "dev", name(shaped.iface), "root", "netem", ...shaped.args]);
    }
  }
  return commands;
}
