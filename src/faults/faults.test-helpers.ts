/** Test support for faults: a program that tells whether a host reaches another, and the rules of a host. */
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { DummyNet } from "../network/dummy-net.js";
import type { RunInfo } from "../process/run-info.js";

export const REACH = fileURLToPath(new URL("../test-support/fixtures/reach.mjs", import.meta.url));
export const PORT = "7000";

/** "connected"/"reply", "timeout" (no answer within `ms`) or "error <code>" (an immediate failure). */
export async function reach(from: DummyNet, mode: "tcp" | "udp", address: string, ms = 800): Promise<string> {
  const info = await from.run(["node", REACH, mode, address, PORT, String(ms)], { timeout: 30_000 });
  return info.stdout.trim();
}

/** Starts the echo server of `host` (TCP and UDP on PORT), ready when this resolves. */
export async function startServer(host: DummyNet): Promise<RunInfo> {
  const info = await host.runAsync(["node", REACH, "server", PORT], { daemon: true });
  await waitForOutput(info, /^ready$/m);
  return info;
}

/** Waits until `info`'s stdout matches `pattern` (at most `ms`). */
export async function waitForOutput(info: RunInfo, pattern: RegExp, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!pattern.test(info.stdout)) {
    if (Date.now() > deadline) throw new Error(`no ${String(pattern)} in the output within ${ms} ms: ${info.stdout}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The policy rules of a host, both families, as `ip rule` prints them (read where the network's commands run). */
export function rulesOf(net: DummyNet, host: DummyNet): string {
  const read = (family: string) => {
    const [program, ...args] = net.shell.privilege.wrap(["ip", family, "-n", host.namespace.scoped, "rule", "show"]);
    return execFileSync(program, args, { encoding: "utf8", timeout: 30_000 });
  };
  return `${read("-4")}${read("-6")}`;
}

export const LAN_V4 = { a: "10.0.0.1", b: "10.0.0.2", c: "10.0.0.3", r: "10.0.0.254", d: "10.0.1.2" };
export const LAN_V6 = { a: "fd00::1", b: "fd00::2", c: "fd00::3" };
export type LanHost = "a" | "b" | "c" | "d" | "r" | "sw";

/** a, b, c and router r on bridge br0 in sw (IPv4; IPv6 but r), d behind r (10.0.1.0/24), every host serving PORT. */
export async function buildLan(net: DummyNet): Promise<{ hosts: Record<LanHost, DummyNet>; servers: RunInfo[] }> {
  const names = ["a", "b", "c", "d", "r", "sw"] as const;
  const made = await Promise.all(names.map((name) => net.netnsAdd(name)));
  const hosts = Object.fromEntries(names.map((name, i) => [name, made[i]])) as Record<LanHost, DummyNet>;
  const br = await hosts.sw.bridgeAdd("br0");
  for (const name of ["a", "b", "c", "r"] as const) {
    const [, port] = await net.linkVethAdd(`${name}0`, `sw-${name}`, {
      p1Namespace: hosts[name],
      p2Namespace: hosts.sw,
    });
    await hosts.sw.bridgeSet(br, port);
    await hosts.sw.up(port);
    await hosts[name].addrAdd(`${LAN_V4[name]}/24`, `${name}0`);
    if (name !== "r") await hosts[name].addrAdd(`${LAN_V6[name]}/64`, `${name}0`);
    await hosts[name].up(`${name}0`);
    if (name !== "r") await hosts[name].route(LAN_V4.r, { to: "10.0.1.0/24" });
  }
  await hosts.sw.up(br);
  await net.linkVethAdd("r1", "d0", { p1Namespace: hosts.r, p2Namespace: hosts.d });
  await hosts.r.addrAdd("10.0.1.1/24", "r1");
  await hosts.d.addrAdd(`${LAN_V4.d}/24`, "d0");
  await Promise.all([hosts.r.up("r1"), hosts.d.up("d0")]);
  await hosts.d.route("10.0.1.1");
  await hosts.r.sysctl("net.ipv4.ip_forward", 1);
  const servers = await Promise.all((["a", "b", "c", "d", "r"] as const).map((name) => startServer(hosts[name])));
  return { hosts, servers };
}
