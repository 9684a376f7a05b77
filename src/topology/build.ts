/**
 * Builds a loaded topology with DummyNet calls. Independent steps run
 * concurrently (hosts, then links, ...), each phase waiting until every one
 * of its calls has settled, so a failure never leaves a call in flight when
 * the caller runs `net.cleanup()`.
 */
import type { CGroup } from "../cgroups/cgroup.js";
import type { DummyNet } from "../network/dummy-net.js";
import { type HostSpec, known, type Topology } from "./model.js";

/** Progress of `buildTopology()`, as `onProgress` receives it. */
export interface BuildProgress {
  /** Steps finished so far. */
  done: number;
  /** Steps in all. */
  total: number;
  /** What was just finished, e.g. "host client" or "link client:eth0 - router:eth0". */
  step: string;
}

export interface BuildOptions {
  /** Called after every step. */
  onProgress?: (progress: BuildProgress) => void;
  /** Most DummyNet calls in flight at once. @default 32 */
  concurrency?: number;
  /** Aborting stops starting new steps; the build rejects once the steps in flight have settled. */
  signal?: AbortSignal;
}

/** The network as built: a namespaced DummyNet and optional cgroup per host. */
export interface BuiltNetwork {
  topology: Topology;
  hosts: ReadonlyMap<string, DummyNet>;
  cgroups: ReadonlyMap<string, CGroup>;
}

/** Builds `topology` with `net` (a root DummyNet). On failure, rejects; the caller cleans up with `net.cleanup()`. */
export async function buildNetwork(
  topology: Topology,
  net: DummyNet,
  options: BuildOptions = {},
): Promise<BuiltNetwork> {
  const limits = { concurrency: options.concurrency ?? 32, ...(options.signal ? { signal: options.signal } : {}) };
  const total = countSteps(topology);
  let done = 0;
  const step = (label: string) => options.onProgress?.({ done: ++done, total, step: label });
  const hosts = new Map<string, DummyNet>();
  const cgroups = new Map<string, CGroup>();
  const hostNet = (name: string): DummyNet => known(hosts, name);

  await inPhases(limits, topology.hosts, async (host) => {
    hosts.set(host.name, await net.netnsAdd(host.name));
    step(`host ${host.name}`);
  });

  await inPhases(limits, topology.links, async (link) => {
    const [a, b] = link.ends;
    // Both ends are born in their hosts: moving links between namespaces is what costs the kernel time.
    await net.linkVethAdd(a.iface, b.iface, { p1Namespace: hostNet(a.host), p2Namespace: hostNet(b.host) });
    await Promise.all(link.ends.map((end) => configureInterface(hostNet(end.host), end.iface, end.addresses)));
    step(`link ${a.host}:${a.iface} - ${b.host}:${b.iface}`);
  });

  await inPhases(limits, topology.vlans, async (vlan) => {
    const host = hostNet(vlan.host);
    await host.linkVlanAdd(vlan.parent, vlan.id);
    await configureInterface(host, vlan.iface, vlan.addresses);
    step(`vlan ${vlan.host}:${vlan.iface}`);
  });

  await inPhases(limits, topology.bridges, async (bridge) => {
    const host = hostNet(bridge.host);
    await host.bridgeAdd(bridge.name);
    await Promise.all(bridge.interfaces.map((member) => host.bridgeSet(bridge.name, member)));
    await configureInterface(host, bridge.name, bridge.addresses);
    step(`bridge ${bridge.host}:${bridge.name}`);
  });

  await inPhases(limits, topology.hosts, async (host) => {
    const cgroup = await configureHost(net, hostNet(host.name), host);
    if (cgroup) cgroups.set(host.name, cgroup);
    step(`settings of ${host.name}`);
  });

  const impaired = topology.links.flatMap((link) =>
    link.ends.flatMap((end) => (end.impair ? [{ ...end, impair: end.impair }] : [])),
  );
  await inPhases(limits, impaired, async (end) => {
    await hostNet(end.host).tc(end.iface, end.impair);
    step(`impairment of ${end.host}:${end.iface}`);
  });

  return { topology, hosts, cgroups };
}

function countSteps(topology: Topology): number {
  const impaired = topology.links.reduce((n, link) => n + link.ends.filter((end) => end.impair).length, 0);
  return topology.hosts.length * 2 + topology.links.length + topology.vlans.length + topology.bridges.length + impaired;
}

async function configureInterface(host: DummyNet, iface: string, addresses: readonly string[]): Promise<void> {
  await Promise.all(addresses.map((address) => host.addrAdd(address, iface)));
  await host.up(iface);
}

async function configureHost(net: DummyNet, host: DummyNet, spec: HostSpec): Promise<CGroup | undefined> {
  const sysctls: [string, string][] = Object.entries(spec.sysctls);
  if (spec.forwarding) sysctls.push(["net.ipv4.ip_forward", "1"], ["net.ipv6.conf.all.forwarding", "1"]);
  for (const [name, value] of sysctls) await host.sysctl(name, value);
  for (const route of spec.routes) {
    await host.route(route.via, route.to === "default" ? {} : { to: route.to });
  }
  for (const rule of spec.forward) await host.forward(rule.from, rule.to);
  for (const rule of spec.nat) await host.nat(rule.source, rule.out);
  if (spec.cpu === undefined && spec.memory === undefined) return undefined;
  return net.addCgroup(spec.name, {
    ...(spec.cpu !== undefined ? { cpuLimit: spec.cpu } : {}),
    ...(spec.memory !== undefined ? { memoryLimit: spec.memory } : {}),
  });
}

/**
 * Runs `work` over `items` with at most `concurrency` in flight; waits for
 * all to settle, then rejects with the first error (or an AggregateError of several).
 */
async function inPhases<T>(
  limits: { concurrency: number; signal?: AbortSignal },
  items: readonly T[],
  work: (item: T) => Promise<void>,
): Promise<void> {
  const { concurrency, signal } = limits;
  signal?.throwIfAborted();
  const errors: unknown[] = [];
  let next = 0;
  const worker = async () => {
    while (next < items.length && !signal?.aborted) {
      const item = items[next++];
      try {
        await work(item);
      } catch (error) {
        errors.push(error);
        next = items.length; // start nothing new once a step failed
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  signal?.throwIfAborted();
  if (errors.length === 1) throw errors[0];
  if (errors.length > 1)
    throw new AggregateError(
      errors,
      `${errors.length} build steps failed: ${errors.map((e) => (e as Error).message).join("; ")}`,
    );
}
