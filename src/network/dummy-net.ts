/**
 * DummyNet: the facade of a network of namespaces, veth pairs, bridges and
 * VLANs on one machine. One DummyNet stands for one namespace (the host's, or
 * one made by `netnsAdd`); every command goes through its Shell, so the same
 * code works on the host, inside a namespace and through sudo. The work is
 * elsewhere: the shared state and its life in network-state.ts, the undo log
 * in undo-log.ts, the link bookkeeping in link-registry.ts, and the operations,
 * by kind, in ops/. Each public method here is one line that delegates.
 *
 * Over 450 lines on purpose: each of the 30-odd public methods carries its
 * JSDoc with an example (the API's reference documentation).
 *
 * Size (~660 lines): it is the whole public facade (one documented method per reference call, with examples); the work is in ops/.
 */
import type { CGroup, CGroupInitialLimits } from "../cgroups/cgroup.js";
import type { Logger } from "../log.js";
import { type CGroupScoped, type InterfaceScoped, NamespaceScoped } from "../names/scoped.js";
import type { ProcessMonitor } from "../process/process-monitor.js";
import type { RunInfo } from "../process/run-info.js";
import { InvalidArgumentError } from "../errors.js";
import { HostShell } from "../shell/host-shell.js";
import { NamespaceShell } from "../shell/namespace-shell.js";
import type { RunAsyncOptions, RunOptions, Shell } from "../shell/shell.js";
import type { AppliedQdisc, NetemOptions } from "../tc/netem.js";
import { claimDefaultUid } from "../lifecycle/owners.js";
import { defaultLogger } from "../log.js";
import { type RootlessOption, useRootless } from "../rootless/mode.js";
import { ownRootlessPrivilege } from "../rootless/privilege.js";
import { type ProbeOptions, type ProbeReport, checkProbeOptions, probeEndpoints } from "../probe/probe.js";
import { NetworkState, ROOT_NAMESPACE, claimExplicitUid } from "./network-state.js";
import { AddressesAndRoutes } from "./ops/addresses.js";
import { Cgroups } from "./ops/cgroups.js";
import { Firewall } from "./ops/firewall.js";
import { NamespaceHandle } from "./ops/handle.js";
import { Links } from "./ops/links.js";
import { Namespaces } from "./ops/namespaces.js";
import { TrafficControl } from "./ops/traffic-control.js";
import type { CleanupItem } from "./undo-log.js";
import type { Capture, CaptureOptions } from "../evidence/capture.js";
import { captureOn } from "../evidence/network-capture.js";
import { type Snapshot, snapshotOf } from "../evidence/snapshot.js";
import { FaultOps } from "../faults/fault-ops.js";
import type { Fault, FaultEvent, FaultOptions } from "../faults/types.js";
import type { GeneratedPlan, ScheduleOptions, ScheduleStep } from "../faults/plan.js";
import type { Schedule } from "../faults/schedule.js";

/**
 * An interface as the API accepts it: a plain name (scoped with the network's uid) or an `InterfaceScoped`.
 * @inline
 */
export type InterfaceLike = InterfaceScoped | string;
/**
 * A namespace as the API accepts it: a plain name, a `NamespaceScoped`, or the DummyNet of that namespace.
 * @inline
 */
export type NamespaceLike = NamespaceScoped | DummyNet | string;

/** Options of `new DummyNet()`. */
export interface DummyNetOptions {
  /** Where commands run. @default a HostShell (sudo when not root) with its own ProcessMonitor */
  shell?: Shell;
  /**
   * Owner id carried in every name (d-<uid>-...). Refused while a live owner
   * (another process, worker thread or module instance) holds it; instances
   * of one module instance may share one on purpose.
   * @default process.pid for the first instance of the process, then a free uid from RESERVED_UID_RANGE
   */
  uid?: number;
  /** @default the shell's logger, or a logger silent unless DUMMYNET_LOG is set */
  log?: Logger;
  /**
   * Clean up this network when the process ends by SIGINT, SIGTERM, SIGHUP,
   * an uncaught exception or process.exit(). Turn off if you handle it.
   * @default true
   */
  exitCleanup?: boolean;
  /**
   * Before making anything, remove the leftovers of owners that are gone
   * (crashed runs); live runs are never touched. `"once"`: only the first
   * network of the process (or worker thread) that asks does it, the others
   * wait for that (what test helpers use). Host iptables rules are listed
   * only when a gone owner marked that it made some (or left no record);
   * `reapDeadOwners()` and `dummynet cleanup` always list them. @default false
   */
  reapDeadOwners?: boolean | "once";
  /**
   * Build the network inside a user namespace of this (unprivileged) user,
   * with no root and no sudo (docs/rootless.md). `"auto"`: when this process
   * is not root and sudo needs a password. Ignored when `shell` is given.
   * @default DUMMYNET_ROOTLESS (1 or 0) when set, else "auto"
   */
  rootless?: RootlessOption;
}

/**
 * Options of `linkVethAdd()`.
 * @inline
 */
export interface VethOptions {
  /**
   * Make the first end directly in this namespace instead of this one. Much
   * cheaper than linkSet afterwards: moving a link between namespaces makes
   * the kernel wait for RCU grace periods, creating it in place does not.
   * @default this network's namespace
   */
  p1Namespace?: NamespaceLike;
  /** Make the second end directly in this namespace. @default this network's namespace */
  p2Namespace?: NamespaceLike;
}

/**
 * Options of `routeAdd()`.
 * @inline
 */
export interface RouteOptions {
  /** Destination (CIDR) of the route. @default the default route */
  to?: string;
}

/** The host shell of a new network: rootless (through this process's holder) or as root / through sudo. */
function hostShellFor(options: DummyNetOptions): HostShell {
  const log = options.log ?? defaultLogger;
  if (useRootless(options.rootless, log)) return new HostShell({ log, privilege: ownRootlessPrivilege(log) });
  return new HostShell(options.log ? { log: options.log } : {});
}

const PARENT = Symbol("parent");

/** @internal The shared state behind a DummyNet, for the test fixtures (keeping a failed test's network). */
export let networkStateOf: (net: DummyNet) => NetworkState;
interface InternalOptions extends DummyNetOptions {
  [PARENT]?: { network: NetworkState; namespace: NamespaceScoped; shell: Shell };
}

/**
 * A throwaway network on this machine: namespaces, links, bridges, addresses, routes,
 * netem and cgroups, each named `d-<uid>-<name>` and each undone by `cleanup()`
 * (also on SIGINT/SIGTERM and process exit, and by the next run's reaper if this one crashed).
 * A namespaced DummyNet (from `netnsAdd`) runs its commands in that namespace and shares
 * the parent's cleanup.
 *
 * @example
 * ```ts
 * await using net = new DummyNet();
 * const [a, b] = await Promise.all([net.netnsAdd("a"), net.netnsAdd("b")]);
 * await net.linkVethAdd("eth0", "eth0", { p1Namespace: a, p2Namespace: b });
 * await a.addrAdd("10.0.0.1/24", "eth0");
 * await b.addrAdd("10.0.0.2/24", "eth0");
 * await Promise.all([a.up("eth0"), b.up("eth0")]);
 * await a.tc("eth0", { delay: 20, loss: 1 });
 * const report = await net.probe(a, b, { count: 50 });
 * console.log(`${report.lossPercent} % lost, ${report.rttMs.p50} ms median round trip`);
 * ```
 */
export class DummyNet implements AsyncDisposable {
  /** Where this object's commands run: the host shell, or a namespace shell for a namespaced DummyNet. */
  readonly shell: Shell;
  /** The namespace this object's commands run in (`1`: the host's). */
  readonly namespace: NamespaceScoped;
  /** Namespaces made through this object, by scoped name. */
  readonly namespaces = new Map<string, DummyNet>();
  readonly #network: NetworkState;
  readonly #at: NamespaceHandle;
  readonly #namespaces: Namespaces<DummyNet>;
  readonly #links: Links;
  readonly #addresses: AddressesAndRoutes;
  readonly #firewall: Firewall;
  readonly #trafficControl: TrafficControl;
  readonly #cgroupOps: Cgroups;
  readonly #faultOps: FaultOps;

  static {
    networkStateOf = (net) => net.#network;
  }

  /**
   * A network of its own owner uid, with the host's shell (or `options.shell`).
   * Changes nothing on the system until its first method call.
   *
   * @throws InvalidArgumentError for a `uid` out of range, or one a live owner holds.
   */
  constructor(options: DummyNetOptions = {}) {
    const parent = (options as InternalOptions)[PARENT];
    if (parent) {
      this.#network = parent.network;
      this.namespace = parent.namespace;
      this.shell = new NamespaceShell(parent.namespace.scoped, parent.shell);
    } else {
      // A bad explicit uid is refused (by NamespaceScoped) before it is claimed.
      if (options.uid !== undefined) new NamespaceScoped(ROOT_NAMESPACE, options.uid);
      const uid = options.uid === undefined ? claimDefaultUid() : claimExplicitUid(options.uid);
      this.namespace = new NamespaceScoped(ROOT_NAMESPACE, uid);
      this.shell = options.shell ?? hostShellFor(options);
      this.#network = new NetworkState({
        uid,
        explicitUid: options.uid !== undefined,
        hostShell: this.shell,
        log: options.log,
        exitCleanup: options.exitCleanup !== false,
        reapDeadOwners: options.reapDeadOwners ?? false,
      });
    }
    const at = new NamespaceHandle(this.#network, this.namespace, this.shell, (value) =>
      value instanceof DummyNet ? value.namespace : undefined,
    );
    this.#at = at;
    this.#namespaces = new Namespaces(at, { made: this.namespaces, open: (namespace) => this.#inNamespace(namespace) });
    this.#links = new Links(at);
    this.#addresses = new AddressesAndRoutes(at);
    this.#firewall = new Firewall(at);
    this.#trafficControl = new TrafficControl(at);
    this.#cgroupOps = new Cgroups(at);
    this.#faultOps = new FaultOps(at, (scoped) => this.#inNamespace(NamespaceScoped.fromAny(scoped)));
  }

  /** A DummyNet for a namespace of this network (sharing its cleaners). */
  #inNamespace(namespace: NamespaceScoped): DummyNet {
    // Network namespaces are flat: every namespaced instance runs through the host's shell.
    const internal: InternalOptions = {
      [PARENT]: { network: this.#network, namespace, shell: this.#network.hostShell },
    };
    return new DummyNet(internal);
  }

  /** The owner id in every name this network makes (`d-<uid>-...`). */
  get uid(): number {
    return this.#network.uid;
  }

  /** The logger this network writes to. */
  get log(): Logger {
    return this.#network.log;
  }

  /** The process monitor that runs and watches this network's programs (shared by its namespaces). */
  get processMonitor(): ProcessMonitor {
    return this.shell.processMonitor;
  }

  /** The undo log, newest last. Read-only: `length` tells how many undos are pending. */
  get cleaners(): readonly CleanupItem[] {
    return this.#network.undo.entries;
  }

  /** cgroups made by this network, by scoped name. */
  get cgroups(): ReadonlyMap<string, CGroup> {
    return this.#network.cgroups;
  }

  // ---------------------------------------------------------------- namespaces

  /**
   * Makes a network namespace and returns a DummyNet whose commands run in
   * it. Its loopback is brought up, as hosts expect.
   *
   * @throws InvalidArgumentError for a bad argument, before anything changes.
   * @example
   * ```ts
   * const server = await net.netnsAdd("server"); // d-<uid>-server
   * await server.run(["ip", "-brief", "link"]);
   * ```
   */
  netnsAdd(name: string): Promise<DummyNet> {
    return this.#network.change(() => this.#namespaces.add(name));
  }

  /**
   * A DummyNet for an existing namespace of this uid (made by another instance or process).
   *
   * @throws InvalidArgumentError for a bad argument, before anything changes.
   * @example
   * ```ts
   * const server = await net.netnsUse("server"); // an existing namespace; cleanup leaves it
   * ```
   */
  async netnsUse(name: string): Promise<DummyNet> {
    return this.#namespaces.use(name);
  }

  /**
   * Namespaces of this uid on the machine, sorted.
   *
   * @example
   * ```ts
   * const names = (await net.netnsList()).map(String);
   * ```
   *
   * @throws SystemCommandError when `ip netns list` fails (MissingProgramError without iproute2).
   */
  async netnsList(): Promise<NamespaceScoped[]> {
    return this.#namespaces.list();
  }

  /**
   * Deletes a namespace (and forgets the undos of objects inside it). Kill its processes first.
   *
   * @throws InvalidArgumentError for a bad argument, before anything changes.
   * @example
   * ```ts
   * await net.netnsDelete("server");
   * ```
   */
  netnsDelete(namespace: NamespaceLike): Promise<void> {
    return this.#network.change(() => this.#namespaces.delete(namespace));
  }

  /**
   * The pids of the processes in a namespace of this network.
   *
   * @throws InvalidArgumentError when the namespace is not one of this network's.
   * @example
   * ```ts
   * const pids = await net.netnsProcessList("server");
   * ```
   */
  async netnsProcessList(namespace: NamespaceLike): Promise<number[]> {
    return this.#namespaces.processList(namespace);
  }

  /**
   * Kills (SIGKILL) one process of a namespace of this network.
   *
   * @throws InvalidArgumentError when `pid` is not a process of that namespace.
   * @example
   * ```ts
   * const [pid] = await net.netnsProcessList("server");
   * await net.netnsKillProcess("server", pid!);
   * ```
   */
  async netnsKillProcess(namespace: NamespaceLike, pid: number): Promise<void> {
    return this.#namespaces.killProcess(namespace, pid);
  }

  /**
   * Kills every process in the namespace (SIGKILL).
   *
   * @throws InvalidArgumentError for a bad argument, before anything changes.
   * @example
   * ```ts
   * await net.netnsKillAll("server");
   * ```
   */
  async netnsKillAll(namespace: NamespaceLike): Promise<void> {
    return this.#namespaces.killAll(namespace);
  }

  // ---------------------------------------------------------------- links

  /**
   * Makes a veth pair in this namespace; both ends start down.
   *
   * @throws InvalidArgumentError for a bad argument, before anything changes.
   * @example
   * ```ts
   * const [a, b] = await Promise.all([net.netnsAdd("a"), net.netnsAdd("b")]);
   * await net.linkVethAdd("eth0", "eth0", { p1Namespace: a, p2Namespace: b });
   * ```
   */
  linkVethAdd(p1: string, p2: string, options: VethOptions = {}): Promise<[InterfaceScoped, InterfaceScoped]> {
    return this.#network.change(() => this.#links.vethAdd(p1, p2, options));
  }

  /**
   * Adds VLAN `vlanId` on `parent` as interface `<parent>.<vlanId>` (needs the 8021q module).
   *
   * @throws InvalidArgumentError for a bad argument, before anything changes.
   * @example
   * ```ts
   * const vlan = await host.linkVlanAdd("eth0", 10); // eth0.10
   * ```
   */
  linkVlanAdd(parent: InterfaceLike, vlanId: number): Promise<InterfaceScoped> {
    return this.#network.change(() => this.#links.vlanAdd(parent, vlanId));
  }

  /**
   * Moves an interface of this namespace into `namespace`; cleanup moves it back.
   *
   * @throws InvalidArgumentError for a bad argument, before anything changes.
   * @example
   * ```ts
   * await net.linkVethAdd("a0", "b0");
   * await net.linkSet("server", "b0");
   * ```
   */
  linkSet(namespace: NamespaceLike, iface: InterfaceLike): Promise<void> {
    return this.#network.change(() => this.#links.move(namespace, iface));
  }

  /**
   * Interfaces of this uid in this namespace, sorted; `linkType` filters ("veth", "bridge", "vlan", ...).
   *
   * @example
   * ```ts
   * const veths = await host.linkList("veth");
   * ```
   *
   * @throws SystemCommandError when `ip link show` fails (MissingProgramError without iproute2).
   */
  async linkList(linkType?: string): Promise<InterfaceScoped[]> {
    return this.#links.list(linkType);
  }

  /**
   * Deletes an interface and forgets the undos that went with it (both ends
   * of a veth, their addresses, states, moves and bridge ports). Impairments
   * are undone first, so an ingress IFB device does not outlive the link;
   * iptables rules naming the link stay registered (they outlive it).
   *
   * @throws InvalidArgumentError for a bad argument, before anything changes.
   * @example
   * ```ts
   * await host.linkDelete("eth0");
   * ```
   */
  linkDelete(iface: InterfaceLike): Promise<void> {
    return this.#network.change(() => this.#links.delete(iface));
  }

  // ---------------------------------------------------------------- addresses, state, routes

  /**
   * Adds an address (`10.0.0.1/24`, `fd00::1/64`) to an interface. IPv6 addresses skip duplicate detection, so they work at once.
   *
   * @throws InvalidArgumentError for a bad argument, before anything changes.
   * @example
   * ```ts
   * await host.addrAdd("10.0.0.1/24", "eth0");
   * ```
   */
  addrAdd(ip: string, iface: InterfaceLike): Promise<void> {
    return this.#network.change(() => this.#addresses.addrAdd(ip, iface));
  }

  /**
   * Removes an address from an interface; cleanup adds it back.
   *
   * @throws InvalidArgumentError for a bad argument, before anything changes.
   * @example
   * ```ts
   * await host.addrDel("10.0.0.1/24", "eth0");
   * ```
   */
  addrDel(ip: string, iface: InterfaceLike): Promise<void> {
    return this.#network.change(() => this.#addresses.addrDel(ip, iface));
  }

  /**
   * Sets an interface up; cleanup restores the state it had before.
   *
   * @throws InvalidArgumentError for a bad argument, before anything changes.
   * @example
   * ```ts
   * await host.up("eth0");
   * ```
   */
  up(iface: InterfaceLike): Promise<void> {
    return this.#network.change(() => this.#links.setState(iface, "up"));
  }

  /**
   * Sets an interface down; cleanup restores the state it had before.
   *
   * @throws InvalidArgumentError for a bad argument, before anything changes.
   * @example
   * ```ts
   * await host.down("eth0");
   * ```
   */
  down(iface: InterfaceLike): Promise<void> {
    return this.#network.change(() => this.#links.setState(iface, "down"));
  }

  /**
   * Adds a default route via `gateway` in this namespace (or a route to `options.to`).
   *
   * @throws InvalidArgumentError for a bad argument, before anything changes.
   * @example
   * ```ts
   * await client.route("10.0.0.254"); // default route
   * await client.route("10.0.1.1", { to: "10.0.2.0/24" });
   * ```
   */
  route(gateway: string, options: RouteOptions = {}): Promise<void> {
    return this.#network.change(() => this.#addresses.route(gateway, options));
  }

  /**
   * Sets a network sysctl of this namespace (e.g. "net.ipv4.ip_forward", 1); cleanup restores the old value.
   *
   * @throws InvalidArgumentError for a bad argument, before anything changes.
   * @example
   * ```ts
   * await router.sysctl("net.ipv4.ip_forward", 1);
   * ```
   */
  sysctl(name: string, value: string | number): Promise<void> {
    return this.#network.change(() => this.#addresses.sysctl(name, value));
  }

  // ---------------------------------------------------------------- bridges

  /**
   * Makes a bridge in this namespace (down, like any new link).
   *
   * @throws InvalidArgumentError for a bad argument, before anything changes.
   * @example
   * ```ts
   * const br = await sw.bridgeAdd("br0");
   * await sw.bridgeSet(br, "eth0");
   * await sw.up(br);
   * ```
   */
  bridgeAdd(name: string): Promise<InterfaceScoped> {
    return this.#network.change(() => this.#links.bridgeAdd(name));
  }

  /**
   * Makes `iface` a port of `bridge`.
   *
   * @throws InvalidArgumentError for a bad argument, before anything changes.
   * @example
   * ```ts
   * await sw.bridgeSet("br0", "eth1");
   * ```
   */
  bridgeSet(bridge: InterfaceLike, iface: InterfaceLike): Promise<void> {
    return this.#network.change(() => this.#links.bridgeSet(bridge, iface));
  }

  /**
   * The bridges in this object's namespace.
   *
   * @example
   * ```ts
   * const bridges = await sw.bridgeList();
   * ```
   *
   * @throws SystemCommandError as linkList() does.
   */
  bridgeList(): Promise<InterfaceScoped[]> {
    return this.linkList("bridge");
  }

  // ---------------------------------------------------------------- traffic control

  /**
   * Impairs the egress of `iface` with netem (and its ingress too with the
   * `ingress` option). A second call changes the link and keeps the values
   * it does not mention. Cleanup restores the qdisc that was there before.
   *
   * @throws InvalidArgumentError for a bad argument, before anything changes.
   * @example
   * ```ts
   * await host.tc("eth0", { delay: 50, jitter: 5, loss: 1, rate: 10 });
   * await host.tc("eth0", { loss: null }); // keeps delay, jitter and rate
   * ```
   */
  tc(iface: InterfaceLike, options: NetemOptions): Promise<void> {
    return this.#network.change(() => this.#trafficControl.tc(iface, options));
  }

  /**
   * What shapes `iface` now, parsed from `tc -j qdisc show`: the root qdisc,
   * its netem settings in the options' units, and the ingress (IFB) netem.
   *
   * @throws InvalidArgumentError for a bad argument, before anything changes.
   * @example
   * ```ts
   * const applied = await host.tcRead("eth0");
   * console.log(applied?.netem?.delay);
   * ```
   */
  async tcRead(iface: InterfaceLike): Promise<AppliedQdisc | undefined> {
    return this.#trafficControl.read(iface);
  }

  /**
   * The output of `tc qdisc show dev <iface>`.
   *
   * @throws InvalidArgumentError for a bad argument, before anything changes.
   * @example
   * ```ts
   * console.log((await host.tcShow("eth0")).stdout);
   * ```
   */
  async tcShow(iface: InterfaceLike): Promise<RunInfo> {
    return this.#trafficControl.show(iface);
  }

  // ---------------------------------------------------------------- forwarding and NAT

  /**
   * Accepts forwarded traffic entering on `from` and leaving on `to` (iptables FORWARD).
   *
   * @throws InvalidArgumentError for a bad argument, before anything changes.
   * @example
   * ```ts
   * await router.forward("lan0", "wan0");
   * ```
   */
  forward(from: InterfaceLike, to: InterfaceLike): Promise<void> {
    return this.#network.change(() => this.#firewall.forward(from, to));
  }

  /**
   * Masquerades traffic from `source` (address or CIDR) leaving through `iface`.
   *
   * @throws InvalidArgumentError for a bad argument, before anything changes.
   * @example
   * ```ts
   * await router.nat("10.0.0.0/24", "wan0");
   * ```
   */
  nat(source: string, iface: InterfaceLike): Promise<void> {
    return this.#network.change(() => this.#firewall.nat(source, iface));
  }

  // ---------------------------------------------------------------- processes

  /**
   * Runs a command in this namespace to completion. A string runs through /bin/sh -c, an array without a shell.
   *
   * @throws InvalidArgumentError for a bad argument, before anything changes.
   * @example
   * ```ts
   * const info = await host.run(["node", "-e", "console.log('hello')"], { timeout: 10000 });
   * info.match({ stdout: "hello" });
   * ```
   */
  run(cmd: string | readonly string[], options?: RunOptions): Promise<RunInfo> {
    // Refused during cleanup: a process started after cleanup stopped the others would outlive the network.
    if (this.#network.undo.closing) return this.#network.refused("processes");
    return this.shell.run(cmd, options);
  }

  /**
   * Starts a command in this namespace in the background, watched by the process monitor.
   *
   * @throws InvalidArgumentError for a bad argument, before anything changes.
   * @example
   * ```ts
   * const server = await host.runAsync(["python3", "-m", "http.server", "8000"], { daemon: true });
   * ```
   */
  runAsync(cmd: string | readonly string[], options?: RunAsyncOptions): Promise<RunInfo> {
    if (this.#network.undo.closing) return this.#network.refused("processes");
    // Cleanup waits until it has started, so that it stops it with the rest.
    return this.#network.undo.track(this.shell.runAsync(cmd, options));
  }

  /**
   * Measures the path from host `from` to host `to` with Node.js alone (UDP echoes; TCP goodput with `tcp`): see src/probe.
   *
   * @throws InvalidArgumentError for a bad argument, before anything changes.
   * @example
   * ```ts
   * const report = await net.probe("client", "server", { count: 100 });
   * console.log(report.lossPercent, report.rttMs.p50);
   * ```
   */
  async probe(from: NamespaceLike, to: NamespaceLike, options: ProbeOptions = {}): Promise<ProbeReport> {
    const plan = checkProbeOptions(options);
    const [source, target] = [await this.#probeHost(from, "from"), await this.#probeHost(to, "to")];
    return probeEndpoints(
      { name: source.namespace.name, shell: source.shell },
      { name: target.namespace.name, shell: target.shell },
      plan,
    );
  }

  /** A host of this network given as a DummyNet, a NamespaceScoped or a name, as the DummyNet standing for it. */
  async #probeHost(value: unknown, argument: "from" | "to"): Promise<DummyNet> {
    if (value instanceof DummyNet) return value;
    if (value instanceof NamespaceScoped || typeof value === "string") {
      const name = value instanceof NamespaceScoped ? value.scoped : value;
      try {
        return await this.netnsUse(name);
      } catch (error) {
        if (error instanceof InvalidArgumentError) {
          throw new InvalidArgumentError(argument, value, `is not a host of this network: ${error.rule}`);
        }
        throw error;
      }
    }
    throw new InvalidArgumentError(
      argument,
      value,
      "must be a host: a namespaced DummyNet (from netnsAdd or a topology), a NamespaceScoped, or a host name",
    );
  }

  // ---------------------------------------------------------------- evidence

  /**
   * Records what `iface` of `host` sends and receives into a pcap file (tcpdump
   * and Wireshark read it), from the moment the promise resolves until
   * `stop()` or cleanup. Needs tcpdump (Debian package tcpdump). See docs/evidence.md.
   *
   * @throws InvalidArgumentError for an unknown host or interface, or a file that cannot be written, before anything starts.
   * @throws MissingProgramError when tcpdump is not installed.
   * @example
   * ```ts
   * const capture = await net.capture(a, "eth0", { file: "a-eth0.pcap" });
   * await a.run(["ping", "-c", "3", "10.0.0.2"]);
   * const { packets } = await capture.stop(); // then: tcpdump -r a-eth0.pcap
   * ```
   */
  capture(host: NamespaceLike, iface: InterfaceLike, options: CaptureOptions = {}): Promise<Capture> {
    return this.#network.change(() => captureOn(this.#at, host, iface, options));
  }

  /**
   * The network now, as plain JSON: every namespace of its uid with links,
   * routes and qdiscs (with counters), and the programs with their last lines of output.
   *
   * @throws SystemCommandError when the namespaces cannot be listed.
   * @example
   * ```ts
   * const snapshot = await net.snapshot();
   * console.log(JSON.stringify(snapshot.hosts.map((host) => host.links), null, 2));
   * ```
   */
  snapshot(): Promise<Snapshot> {
    return snapshotOf(this, new Map(), this.faults);
  }

  // ---------------------------------------------------------------- faults (src/faults, docs/faults.md)

  /**
   * Cuts between groups of hosts: packets between hosts of different groups are dropped silently, both ways
   * (the sender times out); hosts in no group are untouched. Works without netem, iptables or nft, and rootless.
   *
   * @throws InvalidArgumentError for unknown hosts, overlapping groups, a single group, the network itself, a bad `for`.
   * @example
   * ```ts
   * const cut = await net.partition([["a"], ["b", "c"]], { for: 2000 });
   * await cut.heal(); // or let `for` heal it
   * ```
   */
  partition(groups: readonly (readonly NamespaceLike[])[], options?: FaultOptions): Promise<Fault> {
    return this.#faultOps.partition(groups, options);
  }

  /**
   * Drops packets from `from` to `to`, one way: `to` still reaches `from` (but gets no answer back).
   *
   * @throws InvalidArgumentError for an unknown host, the network itself, the same host twice, a bad `for`.
   * @example
   * ```ts
   * await using grudge = await net.block("a", "b");
   * ```
   */
  block(from: NamespaceLike, to: NamespaceLike, options?: FaultOptions): Promise<Fault> {
    return this.#faultOps.block(from, to, options);
  }

  /**
   * Cuts `host` from every other host of the network, both ways.
   *
   * @throws InvalidArgumentError for an unknown host, the network itself, a bad `for`.
   * @example
   * ```ts
   * await net.isolate("leader", { for: 1000 });
   * ```
   */
  isolate(host: NamespaceLike, options?: FaultOptions): Promise<Fault> {
    return this.#faultOps.isolate(host, options);
  }

  /**
   * Heals every fault in force (and stops the schedules running). cleanup() does it first.
   *
   * @throws AggregateError of what could not be healed, after trying everything.
   * @example
   * ```ts
   * await net.heal();
   * ```
   */
  heal(): Promise<void> {
    return this.#faultOps.heal();
  }

  /**
   * Runs faults on a schedule: steps at given times (`{ at, partition | block | isolate | heal | impair | down |
   * up | pause | resume | kill | restart, for? }`), or a generator drawing a fault every `every` ms from `seed`.
   * The whole plan is checked first. A failing step is recorded with its error; `done` resolves with the history.
   *
   * @throws InvalidArgumentError for a bad step (no action or two, an unknown host, a bad time, a missing interface,
   * a program that ended), before anything runs.
   * @example
   * ```ts
   * const schedule = net.schedule([
   *   { at: 0, partition: [["a"], ["b", "c"]], for: 500 },
   *   { at: 1000, impair: { host: "a", iface: "eth0", loss: 20 }, for: 2000 },
   * ]);
   * for (const event of await schedule.done) console.log(event.action, event.lateMs);
   * ```
   */
  schedule(plan: readonly ScheduleStep[] | GeneratedPlan, options?: ScheduleOptions): Schedule {
    return this.#faultOps.schedule(plan, options);
  }

  /** The faults in force on this network, oldest first. */
  get faults(): readonly Fault[] {
    return this.#faultOps.faults;
  }

  /** Every fault applied and healed on this network (schedules' steps included), in order; times since its first fault. */
  get faultHistory(): readonly FaultEvent[] {
    return this.#faultOps.history;
  }

  // ---------------------------------------------------------------- cgroups

  /**
   * Makes a cgroup with optional CPU (in CPUs) and memory (bytes) limits; cleanup removes it.
   *
   * @throws InvalidArgumentError for a bad argument, before anything changes.
   * @example
   * ```ts
   * const group = await net.addCgroup("web", { cpuLimit: 0.5, memoryLimit: 64 * 2 ** 20 });
   * await host.runAsync(["my-server"], { cgroup: group });
   * ```
   */
  addCgroup(name: string, options: CGroupInitialLimits = {}): Promise<CGroup> {
    return this.#network.change(() => this.#cgroupOps.add(name, options));
  }

  /**
   * cgroups of this uid on the machine.
   *
   * @example
   * ```ts
   * const groups = await net.cgroupList();
   * ```
   *
   * @throws DummyNetError when a cgroup hierarchy cannot be read.
   */
  cgroupList(): Promise<CGroupScoped[]> {
    return this.#cgroupOps.list();
  }

  // ---------------------------------------------------------------- cleanup

  /**
   * Stops the processes, then runs every cleaner newest first. Always
   * finishes; undos whose object is already gone are warnings. Rejects with an
   * AggregateError of process failures and real undo errors, if any.
   *
   * @example
   * ```ts
   * const net = new DummyNet();
   * try {
   *   // ...
   * } finally {
   *   await net.cleanup();
   * }
   * ```
   *
   * @throws AggregateError of the processes' failures (RunInfoError, DaemonExitError) and the undo
   * errors (SystemCommandError, DummyNetError), after every cleaner has run.
   */
  cleanup(): Promise<void> {
    return this.#network.cleanup();
  }

  /**
   * `await using net = new DummyNet()` calls `cleanup()` when the block ends.
   *
   * @throws AggregateError as cleanup() does.
   *
   * @example
   * ```ts
   * {
   *   await using net = new DummyNet();
   *   await net.netnsAdd("a");
   * } // cleaned up here
   * ```
   */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.cleanup();
  }
}
