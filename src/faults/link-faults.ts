/**
 * Faults on one link of a host, for schedules: an impairment for a while
 * (netem, restored as it was) and a flap (down, then up with what going down
 * took away: the routes through the link, and its IPv6 addresses, which the
 * kernel flushes on down).
 */
import type { NetworkState } from "../network/network-state.js";
import type { DummyNet } from "../network/dummy-net.js";
import { parseIpJsonArray } from "../system/ip-json.js";
import type { NetemOptions } from "../tc/netem.js";
import type { FaultHost } from "./hosts.js";

/**
 * Impairs `iface` of `host` and resolves with the undo. A link this network had not impaired gets its qdisc back
 * exactly (the netem handle's restore); on one it had, the fields this impairment set go back to their old values.
 */
export async function impair(
  network: NetworkState,
  host: FaultHost,
  hostNet: DummyNet,
  iface: string,
  options: NetemOptions,
): Promise<() => Promise<void>> {
  const shapedBefore = network.tcHandles?.of(host.shell, iface);
  const before = shapedBefore ? await hostNet.tcRead(iface) : undefined;
  await hostNet.tc(iface, options);
  if (!shapedBefore) {
    const handle = network.tcHandles?.of(host.shell, iface);
    return async () => {
      await handle?.restore();
    };
  }
  const previous = (before?.netem ?? {}) as Record<string, unknown>;
  const back = Object.fromEntries(
    Object.keys(options)
      .filter((key) => key !== "ingress")
      .map((key) => [key, previous[key] ?? null]),
  ) as NetemOptions;
  return async () => {
    await hostNet.tc(iface, back);
  };
}

interface RouteJson {
  dst: string;
  gateway?: string;
  protocol?: string;
  metric?: number;
  prefsrc?: string;
  scope?: string;
  type?: string;
}

/** Sets `iface` of `host` down and resolves with the undo: up again, with its IPv6 addresses and routes. */
export async function linkDown(host: FaultHost, iface: string): Promise<() => Promise<void>> {
  const read = async (argv: string[]) => (await host.shell.system(argv)).stdout;
  const [routes4, routes6, addresses6] = await Promise.all([
    read(["ip", "-j", "route", "show", "dev", iface]),
    read(["ip", "-6", "-j", "route", "show", "dev", iface]),
    read(["ip", "-6", "-j", "addr", "show", "dev", iface, "scope", "global"]),
  ]);
  const addresses = parseIpJsonArray<{ addr_info?: { local?: string; prefixlen?: number }[] }>(addresses6).flatMap(
    (link) =>
      (link.addr_info ?? []).flatMap((info) =>
        info.local ? [{ local: info.local, prefixlen: info.prefixlen ?? 128 }] : [],
      ),
  );
  // Routes the kernel makes by itself (a subnet's own, IPv6 multicast and link-local) come back with the link.
  const own = (route: RouteJson) => route.protocol !== "kernel" && route.type !== "multicast";
  const saved: [family: "-4" | "-6", RouteJson][] = [
    ...parseIpJsonArray<RouteJson>(routes4)
      .filter(own)
      .map((route): ["-4", RouteJson] => ["-4", route]),
    ...parseIpJsonArray<RouteJson>(routes6)
      .filter(own)
      .map((route): ["-6", RouteJson] => ["-6", route]),
  ];
  await host.shell.system(["ip", "link", "set", "dev", iface, "down"]);
  return async () => {
    await host.shell.system(["ip", "link", "set", "dev", iface, "up"]);
    await Promise.all(
      addresses.map((address) =>
        host.shell.system(
          ["ip", "-6", "addr", "replace", `${address.local}/${address.prefixlen}`, "dev", iface, "nodad"],
          {},
        ),
      ),
    );
    for (const [family, route] of saved) {
      await host.shell.system([
        "ip",
        family,
        "route",
        "replace",
        route.dst,
        ...(route.gateway ? ["via", route.gateway] : []),
        "dev",
        iface,
        ...(route.metric !== undefined ? ["metric", String(route.metric)] : []),
        ...(route.prefsrc ? ["src", route.prefsrc] : []),
        ...(route.protocol ? ["proto", route.protocol] : []),
      ]);
    }
  };
}
