/**
 * Addresses, routes and network sysctls of one namespace; each undone by
 * cleanup (an address removed is added back, a sysctl gets its old value).
 */
import { statSync } from "node:fs";
import { InvalidArgumentError } from "../../errors.js";
import {
  checkAddressWithPrefix,
  checkIpAddress,
  checkSysctlName,
  checkSysctlValue,
} from "../../validation/arguments.js";
import type { NamespaceHandle } from "./handle.js";

export class AddressesAndRoutes {
  constructor(private readonly at: NamespaceHandle) {}

  async addrAdd(ip: string, iface: unknown): Promise<void> {
    const at = this.at;
    const { family, address } = checkAddressWithPrefix("ip", ip);
    // The kernel answers "ip addr add 0.0.0.0/N" with success and adds nothing.
    if (address === "0.0.0.0")
      throw new InvalidArgumentError(
        "ip",
        ip,
        'is the unspecified address, which the kernel silently ignores on an interface; give the interface\'s own address, e.g. "10.0.0.1/24"',
      );
    const link = at.iface(iface);
    // After the arguments: bad input is named as such in every mode.
    at.refuseHostInRootless("addrAdd");
    await at.ip(["addr", "add", ip, "dev", link.scoped, ...(family === 6 ? ["nodad"] : [])]);
    const known = at.network.addresses.get(at.namespace.scoped) ?? new Set<string>();
    at.network.addresses.set(at.namespace.scoped, known.add(address));
    at.register({
      targets: [link],
      reason: "addrAdd",
      obsoleteWhen: at.diesWithLinks(link),
      clean: () => at.ip(["addr", "del", ip, "dev", link.scoped]).then(() => undefined),
    });
  }

  async addrDel(ip: string, iface: unknown): Promise<void> {
    const at = this.at;
    const { family, address } = checkAddressWithPrefix("ip", ip);
    const link = at.iface(iface);
    at.refuseHostInRootless("addrDel");
    await at.ip(["addr", "del", ip, "dev", link.scoped]);
    at.network.addresses.get(at.namespace.scoped)?.delete(address);
    at.register({
      targets: [link],
      reason: "addrDel",
      obsoleteWhen: at.diesWithLinks(link),
      clean: () =>
        at.ip(["addr", "add", ip, "dev", link.scoped, ...(family === 6 ? ["nodad"] : [])]).then(() => undefined),
    });
  }

  async route(gateway: string, options: { to?: string }): Promise<void> {
    const at = this.at;
    checkIpAddress("gateway", gateway);
    const to = options.to ?? "default";
    if (options.to !== undefined) checkAddressWithPrefix("route destination", options.to);
    at.refuseHostInRootless("route");
    await at.ip(["route", "add", to, "via", gateway]);
    at.register({
      targets: [],
      reason: "route",
      obsoleteWhen: at.diesWithThisNamespace(),
      clean: () => at.ip(["route", "del", to, "via", gateway]).then(() => undefined),
    });
  }

  async sysctl(name: string, value: string | number): Promise<void> {
    const at = this.at;
    const key = checkSysctlName("sysctl name", name);
    const text = checkSysctlValue("sysctl value", value);
    // `sysctl -w` on a group of settings (net.ipv4.conf.all) exits 0 and sets nothing; groups are the same in every namespace.
    if (isDirectory(`/proc/sys/${key.replaceAll(".", "/")}`)) {
      throw new InvalidArgumentError(
        "sysctl name",
        name,
        'names a group of settings (a directory), not one setting: add the setting, e.g. "net.ipv4.conf.all.forwarding"',
      );
    }
    at.refuseHostInRootless("sysctl (a host sysctl)");
    const before = (await at.shell.system(["sysctl", "-n", key])).stdout.trim();
    await at.shell.system(["sysctl", "-q", "-w", `${key}=${text}`]);
    at.register({
      targets: [],
      reason: "sysctl",
      obsoleteWhen: at.diesWithThisNamespace(),
      clean: () => at.shell.system(["sysctl", "-q", "-w", `${key}=${before}`]).then(() => undefined),
    });
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
