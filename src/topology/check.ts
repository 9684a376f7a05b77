/**
 * The checks a JSON Schema cannot express: names that must exist or be
 * unique within a host, address clashes, routes that cannot work, limits
 * this machine cannot give. Each problem keeps the path of its node.
 */
import { statSync } from "node:fs";
import { totalmem } from "node:os";
import {
  cidrProblem,
  contains,
  formatNetwork,
  overlaps,
  parseCidr,
  parseIp,
  reservedHostAddress,
  type ParsedCidr,
} from "./addresses.js";
import { InvalidArgumentError } from "../errors.js";
import { validateCpuLimit } from "../cgroups/limits.js";
import { formatPath } from "./errors.js";
import { checkFaults } from "./fault-steps.js";
import { checkImpairment } from "./impairment-check.js";
import type { HostSpec, NodePath, Topology } from "./model.js";
import { NAME_CHARACTERS } from "../names/scoped.js";

export interface Problem {
  path: NodePath;
  message: string;
  /** Point at the key of a mapping entry instead of its value. */
  atKey?: boolean;
}

/** Linux's 15 characters less the 7 of `d-<uid>-`. */
const MAX_INTERFACE_NAME = 8;

interface InterfaceDecl {
  host: string;
  name: string;
  path: NodePath;
  addresses: { text: string; cidr: ParsedCidr; path: NodePath }[];
  kind: "veth" | "bridge" | "vlan";
}

export function checkTopology(topology: Topology): Problem[] {
  const problems: Problem[] = [];
  const report = (path: NodePath, message: string, atKey = false) =>
    problems.push({ path, message, ...(atKey ? { atKey } : {}) });
  const hosts = new Map(topology.hosts.map((host) => [host.name, host]));
  const hostList = [...hosts.keys()].slice(0, 10).join(", ") + (hosts.size > 10 ? ", ..." : "");
  const knownHost = (host: string, path: NodePath): boolean => {
    if (hosts.has(host)) return true;
    report(path, `unknown host "${host}"; expected a host declared under hosts (${hostList})`);
    return false;
  };

  // Interface names are unique per host (link ends are made directly in their hosts), keyed "host:name".
  const interfaces = new Map<string, InterfaceDecl>();
  const at = (host: string, name: string) => `${host}:${name}`;
  const declare = (decl: Omit<InterfaceDecl, "addresses">): InterfaceDecl | undefined => {
    if (!NAME_CHARACTERS.test(decl.name) || decl.name === "lo") {
      report(decl.path, `interface name "${decl.name}" is not allowed; expected letters, digits, _ . - (and not "lo")`);
      return undefined;
    }
    if (decl.name.length > MAX_INTERFACE_NAME) {
      report(
        decl.path,
        `interface name "${decl.name}" is ${decl.name.length} characters long; at most ${MAX_INTERFACE_NAME} are allowed (Linux's 15 less 7 for the d-<owner>- prefix); choose a shorter name`,
      );
      return undefined;
    }
    const earlier = interfaces.get(at(decl.host, decl.name));
    if (earlier) {
      report(
        decl.path,
        `interface name "${decl.name}" is already used in host "${decl.host}" (${formatPath(earlier.path)}); interface names must be unique within a host`.slice(
          0,
          400,
        ),
      );
      return undefined;
    }
    const full = { ...decl, addresses: [] };
    interfaces.set(at(decl.host, decl.name), full);
    return full;
  };
  const addAddresses = (decl: InterfaceDecl | undefined, texts: string[], base: NodePath): void => {
    if (!decl) return;
    texts.forEach((text, i) => {
      const path = texts.length === 1 ? base : [...base, i];
      const problem = cidrProblem(text);
      if (problem) return report(path, `address "${text}" ${problem}`);
      const cidr = parseCidr(text);
      if (!cidr) return report(path, `address "${text}" is not an address with a prefix`);
      const reserved = reservedHostAddress(cidr);
      if (reserved)
        return report(
          path,
          `address "${text}" is the ${reserved} of ${formatNetwork(cidr)}; expected a host address inside the subnet`,
        );
      decl.addresses.push({ text, cidr, path });
    });
  };

  for (const link of topology.links) {
    if (link.linkIngressPath) {
      report(
        link.linkIngressPath,
        "a link-wide impairment already applies to both directions (each end shapes what it sends); ingress here would impair each direction twice. Put ingress under one end's impair instead",
      );
    }
    const decls = link.ends.map((end) => {
      if (end.impair) checkImpairment(end.impair, end.impairPath ?? [...end.path, "impair"], report);
      if (!knownHost(end.host, end.path)) return undefined;
      const decl = declare({ host: end.host, name: end.iface, path: end.path, kind: "veth" });
      addAddresses(decl, end.addresses, [...end.path, "address"]);
      return decl;
    });
    if (decls[0] && decls[1]) checkLinkSubnets(decls[0], decls[1], link.path, report);
  }

  for (const vlan of topology.vlans) {
    if (!knownHost(vlan.host, [...vlan.path, "on"])) continue;
    const parent = interfaces.get(at(vlan.host, vlan.parent));
    if (!parent) {
      report(
        [...vlan.path, "on"],
        `unknown interface "${vlan.parent}" in host "${vlan.host}"; expected an interface of that host declared by a link`,
      );
      continue;
    }
    const decl = declare({ host: vlan.host, name: vlan.iface, path: [...vlan.path, "id"], kind: "vlan" });
    addAddresses(decl, vlan.addresses, [...vlan.path, "address"]);
  }

  const bridged = new Map<string, string>();
  for (const bridge of topology.bridges) {
    if (!knownHost(bridge.host, [...bridge.path, "host"])) continue;
    const decl = declare({ host: bridge.host, name: bridge.name, path: [...bridge.path, "name"], kind: "bridge" });
    addAddresses(decl, bridge.addresses, [...bridge.path, "address"]);
    bridge.interfaces.forEach((member, i) => {
      const path = [...bridge.path, "interfaces", i];
      const found = interfaces.get(at(bridge.host, member));
      if (!found || found.kind === "bridge") {
        report(
          path,
          `unknown interface "${member}" in host "${bridge.host}"; expected a link end or VLAN of the bridge's host`,
        );
        return;
      }
      const other = bridged.get(at(bridge.host, member));
      if (other)
        return void report(
          path,
          `interface "${member}" already joins bridge "${other}"; an interface joins at most one bridge`,
        );
      bridged.set(at(bridge.host, member), bridge.name);
    });
  }

  // The same IP address twice in one network is almost always a copy-paste slip.
  const seenAddresses = new Map<string, { iface: InterfaceDecl; path: NodePath }>();
  for (const iface of interfaces.values()) {
    for (const address of iface.addresses) {
      const key = `${address.cidr.family}:${address.cidr.value}`;
      const earlier = seenAddresses.get(key);
      if (earlier) {
        report(
          address.path,
          `address ${address.cidr.text} is already used by ${earlier.iface.host}:${earlier.iface.name} (${formatPath(earlier.path)}); expected each address once`,
        );
      } else seenAddresses.set(key, { iface, path: address.path });
    }
  }

  const byHost = new Map<string, InterfaceDecl[]>();
  for (const iface of interfaces.values()) {
    const list = byHost.get(iface.host) ?? [];
    list.push(iface);
    byHost.set(iface.host, list);
  }
  for (const host of topology.hosts) checkHost(host, byHost.get(host.name) ?? [], report);

  for (const program of topology.programs) {
    knownHost(program.host, [...program.path, "host"]);
    if (program.ready && program.ready.port === undefined && program.ready.line === undefined) {
      report(
        [...program.path, "ready"],
        "says neither what to wait for; expected port (a TCP port that accepts connections) or line (a glob matched against the output)",
      );
    }
    if (Array.isArray(program.command) && program.command[0] === "") {
      report([...program.path, "command", 0], "is empty; expected the program to run");
    }
  }
  checkFaults(topology, report);
  return problems;
}

function checkLinkSubnets(
  a: InterfaceDecl,
  b: InterfaceDecl,
  path: NodePath,
  report: (path: NodePath, message: string) => void,
): void {
  for (const family of [4, 6] as const) {
    const left = a.addresses.filter((x) => x.cidr.family === family);
    const right = b.addresses.filter((x) => x.cidr.family === family);
    if (left.length === 0 || right.length === 0) continue;
    let shared = false;
    for (const x of left) {
      for (const y of right) {
        if (!overlaps(x.cidr, y.cidr)) continue;
        if (x.cidr.prefix !== y.cidr.prefix) {
          report(
            y.path,
            `address ${y.text} overlaps ${x.text} at the other end of the link but with a different prefix length; expected the same subnet at both ends, e.g. ${y.cidr.text}/${x.cidr.prefix}`,
          );
        }
        shared = true;
      }
    }
    if (!shared) {
      report(
        path,
        `the ends of this link are in different IPv${family} subnets (${left.map((x) => formatNetwork(x.cidr)).join(", ")} and ${right.map((y) => formatNetwork(y.cidr)).join(", ")}); expected both ends in one subnet`,
      );
    }
  }
}

function checkHost(
  host: HostSpec,
  ifaces: InterfaceDecl[],
  report: (path: NodePath, message: string, atKey?: boolean) => void,
): void {
  const names = new Set(ifaces.map((iface) => iface.name));
  const nameList = [...names].join(", ") || "none";
  if (host.cpu !== undefined) {
    try {
      validateCpuLimit(host.cpu);
    } catch (error) {
      report([...host.path, "cpu"], `is ${host.cpu} CPUs; ${(error as InvalidArgumentError).rule}`);
    }
  }
  if (host.memory !== undefined && (host.memory <= 0 || host.memory >= totalmem())) {
    report(
      [...host.path, "memory"],
      `is ${host.memory} bytes; expected more than 0 and less than this machine's ${totalmem()} bytes`,
    );
  }
  for (const [key, value] of Object.entries(host.sysctls)) {
    if (/[\n\0]/.test(value))
      report([...host.path, "sysctls", key], "contains a line break; expected a single-line value");
    const known = knownSysctl(key);
    if (known !== true) report([...host.path, "sysctls", key], known);
  }
  const defaults = new Set<number>();
  for (const route of host.routes) {
    const via = parseIp(route.via);
    const viaPath = route.to === "default" && route.path.at(-1) === "gateway" ? route.path : [...route.path, "via"];
    if (!via) {
      report(viaPath, `"${route.via}" is not an IPv4 or IPv6 address; expected e.g. 10.0.0.1`);
      continue;
    }
    if (route.to === "default") {
      if (defaults.has(via.family))
        report(
          viaPath,
          `is a second IPv${via.family} default route of host "${host.name}"; expected one gateway per address family`,
        );
      defaults.add(via.family);
    } else {
      const problem = cidrProblem(route.to);
      const to = parseCidr(route.to);
      if (problem || !to) {
        report([...route.path, "to"], `"${route.to}" ${problem ?? "is invalid"}`);
        continue;
      }
      if (to.value !== to.network)
        report([...route.path, "to"], `"${route.to}" has host bits set; expected the network, ${formatNetwork(to)}`);
      if (to.family !== via.family)
        report(viaPath, `is IPv${via.family} but the destination is IPv${to.family}; expected the same family`);
    }
    const connected = ifaces.some((iface) => iface.addresses.some((address) => contains(address.cidr, via)));
    const own = ifaces.some((iface) =>
      iface.addresses.some((address) => address.cidr.value === via.value && address.cidr.family === via.family),
    );
    if (own)
      report(viaPath, `${route.via} is an address of host "${host.name}" itself; expected the address of a neighbour`);
    else if (!connected) {
      const subnets = ifaces.flatMap((iface) => iface.addresses.map((a) => formatNetwork(a.cidr)));
      report(
        viaPath,
        `gateway ${route.via} is not on a subnet of host "${host.name}" (${subnets.join(", ") || "it has no addresses"}); expected an address of a directly connected neighbour`,
      );
    }
  }
  host.nat.forEach((rule) => {
    const problem = cidrProblem(rule.source);
    if (problem) report([...rule.path, "source"], `"${rule.source}" ${problem}`);
    if (!names.has(rule.out))
      report(
        [...rule.path, "out"],
        `unknown interface "${rule.out}" in host "${host.name}"; expected one of: ${nameList}`,
      );
  });
  host.forward.forEach((rule) => {
    for (const side of ["from", "to"] as const) {
      if (!names.has(rule[side]))
        report(
          [...rule.path, side],
          `unknown interface "${rule[side]}" in host "${host.name}"; expected one of: ${nameList}`,
        );
    }
  });
  if ((host.nat.length > 0 || host.forward.length > 0) && !host.forwarding) {
    report(
      host.path,
      `has nat or forward rules but forwarding is off, so nothing would be forwarded; add forwarding: true`,
      true,
    );
  }
}

/**
 * Whether a network sysctl exists on this kernel, so that a typo is reported
 * with its position instead of failing half-way through a build. Settings of
 * one interface (net.ipv4.conf.<iface>.x) are checked through the "default"
 * entry, since the interface does not exist yet.
 */
function knownSysctl(name: string): true | string {
  const parts = name.replaceAll("/", ".").split(".");
  if (parts.length >= 5 && (parts[2] === "conf" || parts[2] === "neigh")) parts[3] = "default";
  const path = `/proc/sys/${parts.join("/")}`;
  try {
    if (statSync(path).isFile()) return true;
    return "is a group of settings, not one; expected the name of a single setting, e.g. net.ipv4.conf.all.forwarding";
  } catch {
    return `is not a network setting of this kernel (no ${path}); expected e.g. net.ipv4.ip_forward or net.ipv6.conf.all.disable_ipv6`;
  }
}
