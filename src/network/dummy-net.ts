/**
 * DummyNet: a network of namespaces, veth pairs, bridges and VLANs on one
 * machine, and the undo log that removes it again. One DummyNet stands for one
 * namespace (the host's, or one made by `netnsAdd`); every command goes through
 * its Shell, so the same code works on the host, inside a namespace and
 * through sudo.
 */
import { existsSync, readdirSync, readlinkSync, statSync } from "node:fs";
import { CGroup, listCgroups, removeCgroupDirectoriesSync } from "../cgroups/cgroup.js";
import { DummyNetError, InvalidArgumentError } from "../errors.js";
import type { Logger } from "../log.js";
import { defaultLogger } from "../log.js";
import { CGroupScoped, InterfaceScoped, NamespaceScoped, Scoped, parseScoped } from "../names/scoped.js";
import type { ProcessMonitor } from "../process/process-monitor.js";
import { type RunInfo, formatCommand } from "../process/run-info.js";
import { HostShell } from "../shell/host-shell.js";
import { NamespaceShell } from "../shell/namespace-shell.js";
import type { RunAsyncOptions, RunOptions, Shell } from "../shell/shell.js";
import type { AppliedQdisc, NetemOptions, TcHandles } from "../tc/netem.js";
import {
  checkAddressWithPrefix,
  checkIpAddress,
  checkPid,
  checkSysctlName,
  checkSysctlValue,
  checkVlanId,
} from "../validation/arguments.js";
import { type ExitCleanable, runSyncQuietly, trackForExit, untrackForExit } from "../lifecycle/exit-cleanup.js";
import { claimDefaultUid, claimUid, describeHolder, releaseUid } from "../lifecycle/owners.js";
import { reapDeadOwners } from "../lifecycle/reaper.js";
import { parseIpJsonArray } from "../system/ip-json.js";
import { type CleanupItem, type LinkPlace, isAlreadyGone } from "./cleaners.js";
import { killProcess, namespaceProcesses, processesByNamespace } from "./namespace-processes.js";
import { type ProbeHost, type ProbeOptions, type ProbeReport, probe } from "../probe/probe.js";

/** An interface as the API accepts it: a plain name (scoped with the network's uid) or an `InterfaceScoped`. */
export type InterfaceLike = InterfaceScoped | string;
/** A namespace as the API accepts it: a plain name, a `NamespaceScoped`, or the DummyNet of that namespace. */
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
   * wait for that (what test helpers use). @default false
   */
  reapDeadOwners?: boolean | "once";
}

/** Options of `linkVethAdd()`. */
export interface VethOptions {
  /**
   * Make the first end directly in this namespace instead of this one. Much
   * cheaper than linkSet afterwards: moving a link between namespaces makes
   * the kernel wait for RCU grace periods, creating it in place does not.
   */
  p1Namespace?: NamespaceLike;
  /** Make the second end directly in this namespace. */
  p2Namespace?: NamespaceLike;
}

/** Options of `routeAdd()`. */
export interface RouteOptions {
  /** Destination (CIDR) of the route; default: the default route. */
  to?: string;
}

/** Limits of a cgroup made by `addCgroup()`; omitted limits are not set. */
export interface CgroupOptions {
  /** CPUs the group may use, like `docker --cpus` (0.5 = half of one CPU). */
  cpuLimit?: number;
  /** Bytes of memory; the kernel kills (OOM) processes of the group above it. */
  memoryLimit?: number;
}

/** State shared by a DummyNet and every namespaced DummyNet made from it. */
interface Network {
  readonly uid: number;
  readonly cleaners: CleanupItem[];
  readonly cgroups: Map<string, CGroup>;
  /** Administrative state of interfaces this network made, keyed by "<netns>/<ifname>", so `up` need not ask. */
  readonly linkState: Map<string, "up" | "down">;
  /** Interfaces this network made, keyed by "<netns>/<ifname>"; such links die with a namespace of ours. */
  readonly ownLinks: Map<string, OwnLink>;
  /** netem handles of this network's links; made on first use. */
  tcHandles: TcHandles | undefined;
  /** The shell of the host namespace (the root DummyNet's). */
  readonly hostShell: Shell;
  /** Changes in progress; cleanup waits for them, so that nothing made meanwhile is missed. */
  readonly inFlight: Set<Promise<unknown>>;
  /** Set while cleanup runs: new changes and new processes are refused. */
  closing: boolean;
  /** Undos taken off the log and not finished yet: the synchronous exit path must still see them. */
  readonly undoing: Set<CleanupItem>;
  /** What cleanup is doing now, for the message when exit cleanup times out. */
  cleanupStep: string;
  /** The cleanup in progress, which later calls join. */
  cleaning: Promise<void> | undefined;
  /** Resolves once the owner is recorded (and dead owners reaped, if asked): before the first change. */
  started: Promise<void> | undefined;
  /** Whether this network holds its uid (claimed by the constructor, given back by cleanup, claimed again by a later change). */
  claimed: boolean;
  /** What exit cleanup holds while this network has something to undo. */
  exitHandle: ExitCleanable | undefined;
  readonly options: DummyNetOptions;
}

/** An interface this network made, and the namespace it lives in now (linkSet moves it). */
type OwnLink = LinkPlace;

const ROOT_NAMESPACE = "1";
/** Undos whose object is gone once its link is deleted (iptables rules name links, and outlive them). */
const LINK_BOUND_UNDOS = new Set(["linkVethAdd", "linkVlanAdd", "bridgeAdd", "linkSet", "addrAdd", "addrDel", "up", "down", "bridgeSet", "tc"]);
const PARENT = Symbol("parent");
interface InternalOptions extends DummyNetOptions {
  [PARENT]?: { network: Network; namespace: NamespaceScoped; shell: Shell };
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
 * (await a.run(["ping", "-c", "1", "10.0.0.2"])).match({ stdout: "*1 received*" });
 * ```
 */
export class DummyNet implements AsyncDisposable {
  /** Where this object's commands run: the host shell, or a namespace shell for a namespaced DummyNet. */
  readonly shell: Shell;
  /** The namespace this object's commands run in (`1`: the host's). */
  readonly namespace: NamespaceScoped;
  /** Namespaces made through this object, by scoped name. */
  readonly namespaces = new Map<string, DummyNet>();
  readonly #network: Network;

  constructor(options: DummyNetOptions = {}) {
    const parent = (options as InternalOptions)[PARENT];
    if (parent) {
      this.#network = parent.network;
      this.namespace = parent.namespace;
      this.shell = new NamespaceShell(parent.namespace.scoped, parent.shell);
      return;
    }
    // A bad explicit uid is refused (by NamespaceScoped) before it is claimed.
    if (options.uid !== undefined) new NamespaceScoped(ROOT_NAMESPACE, options.uid);
    const uid = options.uid === undefined ? claimDefaultUid() : claimExplicitUid(options.uid);
    this.namespace = new NamespaceScoped(ROOT_NAMESPACE, uid);
    this.shell = options.shell ?? new HostShell(options.log ? { log: options.log } : {});
    this.#network = { uid, claimed: true, cleaners: [], cgroups: new Map(), linkState: new Map(), ownLinks: new Map(), tcHandles: undefined, started: undefined, exitHandle: undefined, options, inFlight: new Set(), closing: false, undoing: new Set(), cleanupStep: "", cleaning: undefined, hostShell: this.shell };
  }

  /** Runs one change; cleanup waits for changes in flight and refuses new ones while it runs. */
  #op<T>(change: () => Promise<T>): Promise<T> {
    if (this.#network.closing) return this.#refusedWhileClosing("changes");
    // Every change arms exit cleanup and records the owner first.
    return this.#inFlight(this.#start().then(change));
  }

  /** Cleanup waits for `running` to settle before it starts undoing. */
  #inFlight<T>(running: Promise<T>): Promise<T> {
    const network = this.#network;
    network.inFlight.add(running);
    const forget = () => network.inFlight.delete(running);
    running.then(forget, forget);
    return running;
  }

  #refusedWhileClosing(what: string): Promise<never> {
    return Promise.reject(new DummyNetError(`This network is being cleaned up: no more ${what} are accepted until cleanup() has finished`));
  }

  /** Before the first change: record the owner (so a crash can be told from a live run), reap if asked, arm exit cleanup. */
  #start(): Promise<void> {
    const network = this.#network;
    network.started ??= (async () => {
      if (!network.claimed) {
        // Used again after cleanup() gave the uid back: take it again, unless another owner has it now.
        const claim = claimUid(network.uid, { share: network.options.uid !== undefined });
        if (!claim.claimed) {
          throw new DummyNetError(`uid ${network.uid} was given back by cleanup() and is now held by ${describeHolder(claim.holder)}; make a new DummyNet instead of reusing this one`);
        }
        network.claimed = true;
      }
      if (network.options.reapDeadOwners === "once") await reapDeadOwnersOnce(this.log);
      else if (network.options.reapDeadOwners) await reapDeadOwners({ log: this.log });
      if (network.options.exitCleanup !== false) {
        network.exitHandle = {
          cleanup: () => this.cleanup(),
          cleanupSync: () => this.#cleanupSync(),
          describe: () => `network of uid ${network.uid}: ${network.cleanupStep || "cleanup not started"}`,
        };
        trackForExit(network.exitHandle);
      }
    })();
    return network.started;
  }

  /**
   * The process is exiting and cannot await: remove namespaces (with their
   * processes) and what we made in the host namespace, synchronously.
   */
  #cleanupSync(): void {
    // Processes first: each leads its own process group and would outlive us.
    this.processMonitor.killAllSync();
    // Undos an interrupted async cleanup had begun go again (newest last, as they were in the log); a repeat is harmless.
    const cleaners = this.#network.cleaners;
    cleaners.push(...[...this.#network.undoing].reverse());
    this.#network.undoing.clear();
    const doomed = new Set(cleaners.filter((c) => c.reason === "netnsAdd").map((c) => c.namespace.scoped));
    while (cleaners.length > 0) {
      const item = cleaners.pop()!;
      if (!item.obsoleteWhen(doomed)) item.cleanSync?.();
      else item.discard?.();
      if (item.reason === "netnsAdd") doomed.delete(item.namespace.scoped);
    }
  }

  /** The synchronous undo of an object made in the host namespace: none for objects inside namespaces. */
  #syncUndo(argv: string[]): (() => void) | undefined {
    if (!this.namespace.isRoot) return undefined;
    return () => runSyncQuietly(this.shell.sudo ? ["sudo", "-n", "--", ...argv] : argv);
  }

  /** A DummyNet for a namespace of this network (sharing its cleaners). */
  #inNamespace(namespace: NamespaceScoped): DummyNet {
    // Network namespaces are flat: every namespaced instance runs through the host's shell.
    const internal: InternalOptions = { [PARENT]: { network: this.#network, namespace, shell: this.#network.hostShell } };
    return new DummyNet(internal);
  }

  /** The owner id in every name this network makes (`d-<uid>-...`). */
  get uid(): number {
    return this.#network.uid;
  }

  /** The logger this network writes to. */
  get log(): Logger {
    return this.#network.options.log ?? this.shell.log ?? defaultLogger;
  }

  /** The process monitor that runs and watches this network's programs (shared by its namespaces). */
  get processMonitor(): ProcessMonitor {
    return this.shell.processMonitor;
  }

  /** The undo log, newest last. Read-only: `length` tells how many undos are pending. */
  get cleaners(): readonly CleanupItem[] {
    return Object.freeze([...this.#network.cleaners]);
  }

  /** cgroups made by this network, by scoped name. */
  get cgroups(): ReadonlyMap<string, CGroup> {
    return this.#network.cgroups;
  }

  // ---------------------------------------------------------------- names

  #iface(value: unknown, argument = "interface"): InterfaceScoped {
    if (value instanceof InterfaceScoped) return value;
    if (typeof value !== "string") {
      throw new InvalidArgumentError(argument, value, "must be an interface name (string) or an InterfaceScoped");
    }
    return InterfaceScoped.fromAny(value, this.uid);
  }

  #ns(value: unknown): NamespaceScoped {
    if (value instanceof DummyNet) return value.namespace;
    if (value instanceof NamespaceScoped) return value;
    if (typeof value !== "string") {
      throw new InvalidArgumentError("namespace", value, "must be a namespace name (string), a NamespaceScoped or a namespaced DummyNet");
    }
    return NamespaceScoped.fromAny(value, this.uid);
  }

  #linkKey(iface: InterfaceScoped, namespace: NamespaceScoped = this.namespace): string {
    return `${namespace.scoped}/${iface.scoped}`;
  }

  #register(
    item: Omit<CleanupItem, "namespace" | "obsoleteWhen" | "links"> & {
      namespace?: NamespaceScoped;
      obsoleteWhen?: CleanupItem["obsoleteWhen"];
      links?: LinkPlace[];
    },
  ): void {
    const namespace = item.namespace ?? this.namespace;
    // The links it concerns: our own links are tracked as they move; others stay where they were.
    const links =
      item.links ??
      item.targets
        .filter((target): target is InterfaceScoped => target instanceof InterfaceScoped && !target.isUnscoped)
        .map((link) => this.#network.ownLinks.get(this.#linkKey(link, namespace)) ?? { name: link.scoped, namespace: namespace.scoped });
    this.#network.cleaners.push({ ...item, namespace, links, obsoleteWhen: item.obsoleteWhen ?? (() => false) });
  }


  /** Undo is moot once this (non-root) namespace is deleted. */
  #diesWithThisNamespace(): CleanupItem["obsoleteWhen"] {
    const here = this.namespace;
    return (doomed) => !here.isRoot && doomed.has(here.scoped);
  }

  /** Undo is moot once any of these links (if made by us) is destroyed with its namespace. Links are in this namespace unless given as [link, namespace]. */
  #diesWithLinks(...links: (InterfaceScoped | [InterfaceScoped, NamespaceScoped])[]): CleanupItem["obsoleteWhen"] {
    const own = links.map((entry) => (Array.isArray(entry) ? this.#network.ownLinks.get(this.#linkKey(...entry)) : this.#network.ownLinks.get(this.#linkKey(entry))));
    return (doomed) => own.some((record) => record !== undefined && doomed.has(record.namespace));
  }

  async #ip(args: readonly string[]): Promise<string> {
    return (await this.shell.system(["ip", ...args])).stdout;
  }

  /** Runs `ip` in any namespace of the network ("1": the host's), whichever namespace this object stands for. */
  async #ipIn(scopedNamespace: string, args: readonly string[]): Promise<string> {
    if (scopedNamespace === this.namespace.scoped) return this.#ip(args);
    // `ip -n` takes only names under /run/netns; the host namespace is reached through the host's shell.
    const hostShell = this.#network.hostShell;
    const argv = scopedNamespace === ROOT_NAMESPACE ? ["ip", ...args] : ["ip", "-n", scopedNamespace, ...args];
    return (await hostShell.system(argv)).stdout;
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
    return this.#op(async () => {
      const namespace = new NamespaceScoped(name, this.uid);
      if (namespace.isRoot) throw new InvalidArgumentError("namespace name", name, "is the root namespace; choose another name");
      // Namespaces are named in the host's /run/netns, whatever namespace this object stands for.
      await this.#ipIn(ROOT_NAMESPACE, ["netns", "add", namespace.scoped]);
      const child = this.#inNamespace(namespace);
      this.namespaces.set(namespace.scoped, child);
      this.#register({
        namespace,
        targets: [namespace],
        reason: "netnsAdd",
        // cleanup() kills the namespace's processes first, for all namespaces at once.
        clean: async () => {
          await this.#ipIn(ROOT_NAMESPACE, ["netns", "delete", namespace.scoped]);
          this.namespaces.delete(namespace.scoped);
        },
        cleanSync: () => {
          const sudo = this.shell.sudo ? ["sudo", "-n", "--"] : [];
          for (const pid of namespacePidsSync(namespace.scoped)) killSyncQuietly(pid, sudo);
          runSyncQuietly([...sudo, "ip", "netns", "delete", namespace.scoped]);
        },
      });
      await child.#ip(["link", "set", "dev", "lo", "up"]);
      return child;
    });
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
    const namespace = NamespaceScoped.fromAny(name, this.uid);
    if (!existsSync(`/run/netns/${namespace.scoped}`)) {
      const known = (await this.netnsList()).map((ns) => ns.name);
      throw new InvalidArgumentError(
        "namespace",
        name,
        `does not exist (looked for /run/netns/${namespace.scoped}); namespaces of uid ${this.uid}: ${known.length ? known.join(", ") : "none"}. Create it with netnsAdd() first`,
      );
    }
    return this.#inNamespace(namespace);
  }

  /**
   * Namespaces of this uid on the machine, sorted.
   *
   * @example
   * ```ts
   * const names = (await net.netnsList()).map(String);
   * ```
   */
  async netnsList(): Promise<NamespaceScoped[]> {
    const output = await this.#ip(["-j", "netns", "list"]);
    const entries = parseIpJsonArray<{ name: string }>(output);
    return entries
      .map((entry) => parseScoped(entry.name))
      .filter((parsed): parsed is { uid: number; name: string } => parsed?.uid === this.uid)
      .flatMap((parsed) => {
        try {
          return [new NamespaceScoped(parsed.name, parsed.uid)];
        } catch {
          return [];
        }
      })
      .sort(Scoped.compare);
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
    return this.#op(async () => {
      const ns = this.#ns(namespace);
      await this.#ipIn(ROOT_NAMESPACE, ["netns", "delete", ns.scoped]);
      this.#forget((item) => item.namespace.equals(ns) || (item.links.length > 0 && item.links.every((place) => place.namespace === ns.scoped)));
      this.namespaces.delete(ns.scoped);
      for (const map of [this.#network.linkState, this.#network.ownLinks]) {
        for (const key of [...map.keys()]) if (key.startsWith(`${ns.scoped}/`)) map.delete(key);
      }
    });
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
    const ns = this.#ns(namespace);
    this.#requireNamespace(ns);
    return namespaceProcesses(this.shell, ns.scoped);
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
    const ns = this.#ns(namespace);
    checkPid("pid", pid);
    const members = await this.netnsProcessList(ns);
    if (!members.includes(pid)) {
      throw new InvalidArgumentError("pid", pid, `is not a process of namespace ${ns.scoped}; its processes are: ${members.join(", ") || "none"}`);
    }
    await killProcess(this.shell, pid);
  }

  async #killNamespaceProcesses(scopedNamespaces: string[]): Promise<void> {
    const byNamespace = await processesByNamespace(this.shell, scopedNamespaces);
    await Promise.all([...byNamespace.values()].flat().map((pid) => killProcess(this.shell, pid).catch(() => undefined)));
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
    const ns = this.#ns(namespace);
    if (!existsSync(`/run/netns/${ns.scoped}`)) return;
    for (const pid of await namespaceProcesses(this.shell, ns.scoped)) {
      try {
        await killProcess(this.shell, pid);
      } catch (error) {
        this.log.debug(`could not kill ${pid} in ${ns.scoped}: ${(error as Error).message}`);
      }
    }
  }

  #requireNamespace(ns: NamespaceScoped): void {
    if (ns.isRoot) return;
    if (!existsSync(`/run/netns/${ns.scoped}`)) {
      throw new InvalidArgumentError("namespace", ns.name, `does not exist (no /run/netns/${ns.scoped}); create it with netnsAdd() first`);
    }
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
    return this.#op(async () => {
      const a = new InterfaceScoped(p1, this.uid);
      const b = new InterfaceScoped(p2, this.uid);
      const homes = [options.p1Namespace, options.p2Namespace].map((ns) => (ns === undefined ? this.namespace : this.#ns(ns)));
      const [homeA, homeB] = homes as [NamespaceScoped, NamespaceScoped];
      if (a.equals(b) && homeA.equals(homeB)) {
        throw new InvalidArgumentError("p2", p2, "must differ from p1: the two ends of a veth pair in one namespace need two names");
      }
      for (const home of homes) this.#requireNamespace(home);
      const where = (home: NamespaceScoped) => (home.equals(this.namespace) ? [] : ["netns", home.isRoot ? String(process.pid) : home.scoped]);
      await this.#ip(["link", "add", a.scoped, ...where(homeA), "type", "veth", "peer", "name", b.scoped, ...where(homeB)]);
      this.#created(a, homeA);
      this.#created(b, homeB);
      const ends = [this.#network.ownLinks.get(this.#linkKey(a, homeA))!, this.#network.ownLinks.get(this.#linkKey(b, homeB))!];
      // Deleting one end deletes the pair: do it through an end that is here, else one whose namespace still exists.
      const liveEnd = () =>
        ends.find((end) => end.namespace === this.namespace.scoped) ??
        ends.find((end) => end.namespace === ROOT_NAMESPACE || existsSync(`/run/netns/${end.namespace}`)) ??
        ends[0]!;
      this.#register({
        namespace: homeA,
        targets: [a, b],
        links: ends,
        reason: "linkVethAdd",
        // Moot only when both ends die with namespaces of ours: the kernel destroys a deleted
        // namespace's links asynchronously (seconds later on a busy machine), so an end left
        // outside (moved there by linkSet, or made there) would linger until then.
        obsoleteWhen: (doomed) => ends.every((end) => doomed.has(end.namespace)),
        cleanSync: this.namespace.isRoot
          ? () => {
              const end = liveEnd();
              if (end.namespace === this.namespace.scoped) this.#syncUndo(["ip", "link", "delete", end.name])?.();
            }
          : undefined,
        clean: () => {
          const end = liveEnd();
          return this.#ipIn(end.namespace, ["link", "delete", end.name]).then(() => undefined);
        },
      });
      return [a, b];
    });
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
    return this.#op(async () => {
      const parentIface = this.#iface(parent, "parent interface");
      checkVlanId("vlanId", vlanId);
      const iface = new InterfaceScoped(`${parentIface.name}.${vlanId}`, this.uid);
      await this.#ip(["link", "add", "link", parentIface.scoped, "name", iface.scoped, "type", "vlan", "id", String(vlanId)]);
      this.#madeLink(iface, "linkVlanAdd");
      return iface;
    });
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
    return this.#op(async () => {
      const ns = this.#ns(namespace);
      const link = this.#iface(iface);
      this.#requireNamespace(ns);
      // "netns <pid>" names the namespace of that process: ours is the host side.
      const target = ns.isRoot ? String(process.pid) : ns.scoped;
      await this.#ip(["link", "set", "dev", link.scoped, "netns", target]);
      const oldKey = this.#linkKey(link);
      const newKey = this.#linkKey(link, ns);
      const record = this.#network.ownLinks.get(oldKey);
      if (record) {
        this.#network.ownLinks.delete(oldKey);
        record.namespace = ns.scoped;
        this.#network.ownLinks.set(newKey, record);
      }
      this.#network.linkState.delete(oldKey);
      // The kernel sets a link down when it moves to another namespace.
      this.#network.linkState.set(newKey, "down");
      const home = this.namespace.isRoot ? String(process.pid) : this.namespace.scoped;
      this.#register({
        namespace: ns,
        targets: [link],
        reason: "linkSet",
        // A link of ours is destroyed with the namespace; a user's own link must be brought back.
        obsoleteWhen: (doomed) => record !== undefined && doomed.has(record.namespace),
        clean: async () => {
          await this.#ipIn(ns.scoped, ["link", "set", "dev", link.scoped, "netns", home]);
          if (record) record.namespace = this.namespace.scoped;
        },
      });
    });
  }

  /**
   * Interfaces of this uid in this namespace, sorted; `linkType` filters ("veth", "bridge", "vlan", ...).
   *
   * @example
   * ```ts
   * const veths = await host.linkList("veth");
   * ```
   */
  async linkList(linkType?: string): Promise<InterfaceScoped[]> {
    if (linkType !== undefined && !/^[a-z0-9_]{1,16}$/.test(linkType)) {
      throw new InvalidArgumentError("linkType", linkType, "must be an ip link type such as veth, bridge, vlan or ifb");
    }
    const output = await this.#ip(["-j", "link", "show", ...(linkType ? ["type", linkType] : [])]);
    const links = parseIpJsonArray<{ ifname: string }>(output);
    const found: InterfaceScoped[] = [];
    for (const { ifname } of links) {
      const parsed = parseScoped(ifname);
      if (parsed?.uid !== this.uid) continue;
      try {
        found.push(new InterfaceScoped(parsed.name, parsed.uid));
      } catch {
        // Not one of ours after all (a name our rules would not make).
      }
    }
    return found.sort(Scoped.compare);
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
    return this.#op(async () => {
      const link = this.#iface(iface);
      const here = `${this.namespace.scoped}/${link.scoped}`;
      const gone = new Set<string>([here]);
      const placeKey = (place: LinkPlace) => `${place.namespace}/${place.name}`;
      for (const item of this.#network.cleaners) {
        if (item.reason === "linkVethAdd" && item.links.some((place) => placeKey(place) === here)) {
          for (const place of item.links) gone.add(placeKey(place));
        }
      }
      const dies = (item: CleanupItem) => LINK_BOUND_UNDOS.has(item.reason) && item.links.some((place) => gone.has(placeKey(place)));
      for (const item of this.#network.cleaners.filter((c) => c.reason === "tc" && dies(c))) {
        await item.clean().catch((error: unknown) => this.log.warn(`linkDelete: restoring the qdiscs of ${link.scoped}: ${(error as Error).message}`));
      }
      await this.#ip(["link", "delete", "dev", link.scoped]);
      this.#forget(dies);
      for (const map of [this.#network.linkState, this.#network.ownLinks]) {
        for (const key of [...map.keys()]) if (gone.has(key)) map.delete(key);
      }
    });
  }


  /** Records a link just made in this namespace and registers its deletion as the undo. */
  #madeLink(link: InterfaceScoped, reason: string): void {
    this.#created(link);
    this.#register({
      targets: [link],
      reason,
      obsoleteWhen: this.#diesWithLinks(link),
      cleanSync: this.#syncUndo(["ip", "link", "delete", "dev", link.scoped]),
      clean: () => this.#ip(["link", "delete", "dev", link.scoped]).then(() => undefined),
    });
  }

  #created(iface: InterfaceScoped, home: NamespaceScoped = this.namespace): void {
    const key = this.#linkKey(iface, home);
    this.#network.ownLinks.set(key, { name: iface.scoped, namespace: home.scoped });
    this.#network.linkState.set(key, "down");
  }

  #forget(predicate: (item: CleanupItem) => boolean): void {
    const cleaners = this.#network.cleaners;
    for (let i = cleaners.length - 1; i >= 0; i--) {
      if (predicate(cleaners[i]!)) cleaners.splice(i, 1)[0]!.discard?.();
    }
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
    return this.#op(async () => {
      const { family, address } = checkAddressWithPrefix("ip", ip);
      // The kernel answers "ip addr add 0.0.0.0/N" with success and adds nothing.
      if (address === "0.0.0.0") throw new InvalidArgumentError("ip", ip, "is the unspecified address, which the kernel silently ignores on an interface; give the interface's own address, e.g. \"10.0.0.1/24\"");
      const link = this.#iface(iface);
      await this.#ip(["addr", "add", ip, "dev", link.scoped, ...(family === 6 ? ["nodad"] : [])]);
      this.#register({
        targets: [link],
        reason: "addrAdd",
        obsoleteWhen: this.#diesWithLinks(link),
        clean: () => this.#ip(["addr", "del", ip, "dev", link.scoped]).then(() => undefined),
      });
    });
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
    return this.#op(async () => {
      const { family } = checkAddressWithPrefix("ip", ip);
      const link = this.#iface(iface);
      await this.#ip(["addr", "del", ip, "dev", link.scoped]);
      this.#register({
        targets: [link],
        reason: "addrDel",
        obsoleteWhen: this.#diesWithLinks(link),
        clean: () => this.#ip(["addr", "add", ip, "dev", link.scoped, ...(family === 6 ? ["nodad"] : [])]).then(() => undefined),
      });
    });
  }

  async #adminState(link: InterfaceScoped): Promise<"up" | "down"> {
    const known = this.#network.linkState.get(this.#linkKey(link));
    if (known) return known;
    const output = await this.#ip(["-j", "link", "show", "dev", link.scoped]);
    const [device] = parseIpJsonArray<{ flags: string[] }>(output);
    return device?.flags.includes("UP") ? "up" : "down";
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
    return this.#setState(iface, "up");
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
    return this.#setState(iface, "down");
  }

  #setState(iface: InterfaceLike, state: "up" | "down"): Promise<void> {
    return this.#op(async () => {
      const link = this.#iface(iface);
      const before = await this.#adminState(link);
      await this.#ip(["link", "set", "dev", link.scoped, state]);
      const key = this.#linkKey(link);
      this.#network.linkState.set(key, state);
      this.#register({
        targets: [link],
        reason: state,
        obsoleteWhen: link.isUnscoped ? this.#diesWithThisNamespace() : this.#diesWithLinks(link),
        clean: async () => {
          await this.#ip(["link", "set", "dev", link.scoped, before]);
          this.#network.linkState.set(key, before);
        },
      });
    });
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
    return this.#op(async () => {
      checkIpAddress("gateway", gateway);
      const to = options.to ?? "default";
      if (options.to !== undefined) checkAddressWithPrefix("route destination", options.to);
      await this.#ip(["route", "add", to, "via", gateway]);
      this.#register({
        targets: [],
        reason: "route",
        obsoleteWhen: this.#diesWithThisNamespace(),
        clean: () => this.#ip(["route", "del", to, "via", gateway]).then(() => undefined),
      });
    });
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
    return this.#op(async () => {
      const key = checkSysctlName("sysctl name", name);
      const text = checkSysctlValue("sysctl value", value);
      // `sysctl -w` on a group of settings (net.ipv4.conf.all) exits 0 and sets nothing; groups are the same in every namespace.
      if (isDirectory(`/proc/sys/${key.replaceAll(".", "/")}`)) {
        throw new InvalidArgumentError("sysctl name", name, "names a group of settings (a directory), not one setting: add the setting, e.g. \"net.ipv4.conf.all.forwarding\"");
      }
      const before = (await this.shell.system(["sysctl", "-n", key])).stdout.trim();
      await this.shell.system(["sysctl", "-q", "-w", `${key}=${text}`]);
      this.#register({
        targets: [],
        reason: "sysctl",
        obsoleteWhen: this.#diesWithThisNamespace(),
        clean: () => this.shell.system(["sysctl", "-q", "-w", `${key}=${before}`]).then(() => undefined),
      });
    });
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
    return this.#op(async () => {
      const bridge = new InterfaceScoped(name, this.uid);
      await this.#ip(["link", "add", "name", bridge.scoped, "type", "bridge"]);
      this.#madeLink(bridge, "bridgeAdd");
      return bridge;
    });
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
    return this.#op(async () => {
      const br = this.#iface(bridge, "bridge");
      const link = this.#iface(iface);
      await this.#ip(["link", "set", "dev", link.scoped, "master", br.scoped]);
      this.#register({
        targets: [link, br],
        reason: "bridgeSet",
        obsoleteWhen: this.#diesWithLinks(link, br),
        clean: () => this.#ip(["link", "set", "dev", link.scoped, "nomaster"]).then(() => undefined),
      });
    });
  }

  /**
   * The bridges in this object's namespace.
   *
   * @example
   * ```ts
   * const bridges = await sw.bridgeList();
   * ```
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
    return this.#op(async () => {
      const link = this.#iface(iface);
      // Loaded on first use: most networks never impair a link.
      const { applyNetem, TcHandles, validateNetemOptions } = await import("../tc/netem.js");
      const checked = validateNetemOptions(options);
      const handles = (this.#network.tcHandles ??= new TcHandles());
      const handle = await applyNetem(this.shell, link.scoped, checked, { uid: this.uid, handles });
      // One undo per interface: later calls change the same handle, whose restore puts back what was there first.
      if (handle.applyCount === 1) {
        this.#register({
          targets: [link],
          reason: "tc",
          obsoleteWhen: this.#diesWithLinks(link),
          clean: () => handle.restore(),
          // Its qdiscs and IFB went with the link's namespace: a later network must not inherit the handle.
          discard: () => handles.discard(this.shell, link.scoped),
        });
      }
    });
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
    const link = this.#iface(iface);
    const { readNetem } = await import("../tc/netem.js");
    return readNetem(this.shell, link.scoped);
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
    const link = this.#iface(iface);
    return this.shell.run(["tc", "qdisc", "show", "dev", link.scoped]);
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
    return this.#op(async () => {
      const inbound = this.#iface(from, "from interface");
      const outbound = this.#iface(to, "to interface");
      const rule = ["FORWARD", "-i", inbound.scoped, "-o", outbound.scoped, ...this.#ruleComment(), "-j", "ACCEPT"];
      await this.shell.system(["iptables", "-w", "-A", ...rule]);
      this.#register({
        targets: [inbound, outbound],
        reason: "forward",
        obsoleteWhen: this.#diesWithThisNamespace(),
        cleanSync: this.#syncUndo(["iptables", "-w", "-D", ...rule]),
        clean: () => this.shell.system(["iptables", "-w", "-D", ...rule]).then(() => undefined),
      });
    });
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
    return this.#op(async () => {
      checkAddressWithPrefix("source", source);
      const link = this.#iface(iface);
      const rule = ["POSTROUTING", "-s", source, "-o", link.scoped, ...this.#ruleComment(), "-j", "MASQUERADE"];
      await this.shell.system(["iptables", "-w", "-t", "nat", "-A", ...rule]);
      this.#register({
        targets: [link],
        reason: "nat",
        obsoleteWhen: this.#diesWithThisNamespace(),
        cleanSync: this.#syncUndo(["iptables", "-w", "-t", "nat", "-D", ...rule]),
        clean: () => this.shell.system(["iptables", "-w", "-t", "nat", "-D", ...rule]).then(() => undefined),
      });
    });
  }

  /** Rules carry the owner's prefix, so a dead owner's rules can be found and removed. */
  #ruleComment(): string[] {
    return ["-m", "comment", "--comment", new NamespaceScoped("dummynet", this.uid).scoped];
  }

  // ---------------------------------------------------------------- processes

  /**
   * Runs a command in this namespace to completion. A string runs through /bin/sh -c, an array without a shell.
   *
   * @throws InvalidArgumentError for a bad argument, before anything changes.
   * @example
   * ```ts
   * const info = await host.run(["ping", "-c", "3", "10.0.0.2"], { timeout: 10000 });
   * info.match({ stdout: "*3 received*" });
   * ```
   */
  run(cmd: string | readonly string[], options?: RunOptions): Promise<RunInfo> {
    // Refused during cleanup: a process started after cleanup stopped the others would outlive the network.
    if (this.#network.closing) return this.#refusedWhileClosing("processes");
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
    if (this.#network.closing) return this.#refusedWhileClosing("processes");
    // Cleanup waits until it has started, so that it stops it with the rest.
    return this.#inFlight(this.shell.runAsync(cmd, options));
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
  probe(from: ProbeHost, to: ProbeHost, options?: ProbeOptions): Promise<ProbeReport> {
    return probe(this, from, to, options);
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
  addCgroup(name: string, options: CgroupOptions = {}): Promise<CGroup> {
    return this.#op(async () => {
      const scoped = new CGroupScoped(name, this.uid);
      const cgroup = await CGroup.create({ name: scoped.scoped, log: this.log, ...options });
      this.#network.cgroups.set(scoped.scoped, cgroup);
      this.#register({
        targets: [scoped],
        reason: "addCgroup",
        clean: async () => {
          await cgroup.hardClean();
          this.#network.cgroups.delete(scoped.scoped);
        },
        cleanSync: () => removeCgroupDirectoriesSync(cgroup.paths),
      });
      return cgroup;
    });
  }

  /**
   * cgroups of this uid on the machine.
   *
   * @example
   * ```ts
   * const groups = await net.cgroupList();
   * ```
   */
  cgroupList(): Promise<CGroupScoped[]> {
    return listCgroups(this.uid);
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
   */
  cleanup(): Promise<void> {
    // One cleanup at a time: a second call (exit cleanup on Ctrl-C during `await using`, say) joins the first.
    const network = this.#network;
    network.cleaning ??= this.#cleanupOnce().finally(() => (network.cleaning = undefined));
    return network.cleaning;
  }

  async #cleanupOnce(): Promise<void> {
    const errors: unknown[] = [];
    const network = this.#network;
    network.closing = true;
    try {
      // Changes already on their way finish (and register their undo) first.
      while (network.inFlight.size > 0) {
        network.cleanupStep = `waiting for ${network.inFlight.size} change(s) or process start(s) in flight`;
        await Promise.allSettled([...network.inFlight]);
      }
      await this.#cleanupAll(errors);
    } finally {
      network.closing = false;
      network.cleanupStep = "";
    }
    if (errors.length > 0) throw new AggregateError(errors, `cleanup finished with ${errors.length} error(s): ${errors.map((e) => (e as Error).message).join("; ")}`);
  }


  async #cleanupAll(errors: unknown[]): Promise<void> {
    const network = this.#network;
    const running = this.processMonitor.processes;
    network.cleanupStep = `stopping ${running.length} process(es)${running.map((info) => `; pid ${info.pid}: ${formatCommand(info.cmd)}`).join("")}`;
    try {
      await this.processMonitor.stop();
    } catch (error) {
      errors.push(...(error instanceof AggregateError ? error.errors : [error]));
      await this.processMonitor.stop({ validateState: false }).catch((e: unknown) => errors.push(e));
    }
    const cleaners = this.#network.cleaners;
    // Namespaces of ours still to be deleted: what lives only inside them goes with them.
    const doomed = new Set(cleaners.filter((c) => c.reason === "netnsAdd").map((c) => c.namespace.scoped));
    const undo = async (item: CleanupItem): Promise<void> => {
      network.undoing.add(item);
      network.cleanupStep = `undoing ${item.reason} of ${item.targets.join(", ") || "-"} in namespace ${item.namespace.scoped}`;
      try {
        await item.clean();
        network.undoing.delete(item);
      } catch (error) {
        network.undoing.delete(item);
        if (isAlreadyGone(error)) {
          this.log.warn(`cleanup: ${item.reason} of ${item.targets.join(", ")} in ${item.namespace.scoped}: already gone (${(error as Error).message.split("\n")[0]})`);
        } else {
          errors.push(new DummyNetError(`cleanup: undoing ${item.reason} of ${item.targets.join(", ") || "-"} in namespace ${item.namespace.scoped} failed: ${(error as Error).message}`, { cause: error }));
        }
      }
    };
    while (cleaners.length > 0) {
      const item = cleaners.pop()!;
      if (item.obsoleteWhen(doomed)) {
        item.discard?.();
        continue;
      }
      if (item.reason !== "netnsAdd") {
        await undo(item);
        continue;
      }
      // Namespace deletions next to each other in the log are independent: do them together.
      const batch = [item];
      while (cleaners.length > 0) {
        const next = cleaners.at(-1)!;
        if (next.reason === "netnsAdd") batch.push(cleaners.pop()!);
        else if (next.obsoleteWhen(doomed)) cleaners.pop()!.discard?.();
        else break;
      }
      for (const b of batch) network.undoing.add(b);
      network.cleanupStep = `killing the processes of namespaces ${batch.map((b) => b.namespace.scoped).join(", ")}`;
      await this.#killNamespaceProcesses(batch.map((b) => b.namespace.scoped));
      await Promise.all(batch.map(undo));
      for (const b of batch) doomed.delete(b.namespace.scoped);
    }
    this.#network.linkState.clear();
    this.#network.ownLinks.clear();
    if (this.#network.started) {
      network.cleanupStep = "forgetting the owner record";
      await this.#network.started.catch(() => undefined);
      if (this.#network.exitHandle) untrackForExit(this.#network.exitHandle);
      this.#network.exitHandle = undefined;
      this.#network.started = undefined;
    }
    if (this.#network.claimed) {
      this.#network.claimed = false;
      releaseUid(this.uid);
    }
  }

  /** `await using net = new DummyNet()` calls `cleanup()` when the block ends. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.cleanup();
  }
}


let reapedOnce: Promise<unknown> | undefined;

/** One reaping per module instance for every network that asks for it "once"; a failed one is tried again. */
function reapDeadOwnersOnce(log: Logger): Promise<unknown> {
  reapedOnce ??= reapDeadOwners({ log }).catch((error: unknown) => {
    reapedOnce = undefined;
    throw error;
  });
  return reapedOnce;
}

/** Claims an explicit uid; refused while a live owner (another process, thread or module instance) holds it. */
function claimExplicitUid(uid: number): number {
  const claim = claimUid(uid, { share: true });
  if (!claim.claimed) {
    throw new InvalidArgumentError("uid", uid, `is held by a live owner: ${describeHolder(claim.holder)}. Omit uid to get a free one, or pick another`);
  }
  return uid;
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** SIGKILL for the exit path: directly when root (no `kill` program needed), else through sudo. */
function killSyncQuietly(pid: string, sudo: readonly string[]): void {
  if (sudo.length > 0) {
    runSyncQuietly([...sudo, "kill", "-KILL", pid]);
    return;
  }
  try {
    process.kill(Number(pid), "SIGKILL");
  } catch {
    // Gone already.
  }
}

/** Pids in a namespace, read synchronously (for the exit path). */
function namespacePidsSync(scopedNamespace: string): string[] {
  try {
    const wanted = `net:[${statSync(`/run/netns/${scopedNamespace}`).ino}]`;
    return readdirSync("/proc").filter((entry) => {
      if (!/^\d+$/.test(entry)) return false;
      try {
        return readlinkSync(`/proc/${entry}/ns/net`) === wanted;
      } catch {
        return false;
      }
    });
  } catch {
    return [];
  }
}
