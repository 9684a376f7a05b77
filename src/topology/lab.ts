/**
 * Topologies as an API: `buildTopology(source)` loads (unless given a loaded
 * topology), builds it with one owning DummyNet and returns a Lab: its hosts
 * by name, their addresses, its programs, and the cleanup that removes it
 * all. The `dummynet` command builds through the same function.
 */
import { DummyNetError, InvalidArgumentError } from "../errors.js";
import type { CGroup } from "../cgroups/cgroup.js";
import { DummyNet, type DummyNetOptions } from "../network/dummy-net.js";
import type { Capture, CaptureOptions } from "../evidence/capture.js";
import { type Snapshot, snapshotOf } from "../evidence/snapshot.js";
import type { RunInfo } from "../process/run-info.js";
import type { Fault, FaultEvent, FaultOptions } from "../faults/types.js";
import type { GeneratedPlan, ScheduleOptions, ScheduleStep } from "../faults/plan.js";
import type { Schedule } from "../faults/schedule.js";
import { buildNetwork, type BuildProgress, type BuiltNetwork } from "./build.js";
import { interfaceRows } from "./describe.js";
import { isLoadedTopology, loadTopology, type TopologySource } from "./load.js";
import type { ProgramSpec, Topology } from "./model.js";
import { startDaemons, startJobs, type OutputSink } from "./programs.js";
import { filePlan } from "./lab-faults.js";

/** Options of `buildTopology()`. */
export interface BuildTopologyOptions extends Pick<
  DummyNetOptions,
  "uid" | "log" | "exitCleanup" | "shell" | "reapDeadOwners" | "rootless"
> {
  /** Aborting stops the build; what was made is removed and the promise rejects. */
  signal?: AbortSignal;
  /** Called after every step. */
  onProgress?: (progress: BuildProgress) => void;
  /** Most DummyNet calls in flight at once. @default 32 */
  concurrency?: number;
}

/**
 * Options of `Lab.start()`.
 * @inline
 */
export interface LabStartOptions {
  /** Receives the programs' output line by line. */
  onOutput?: OutputSink;
  /** Aborting stops waiting for readiness. */
  signal?: AbortSignal;
}

/** A program of the topology, started. */
export interface StartedProgram {
  /** The program's name (the file's `name`, else its command). */
  name: string;
  /** The host it runs in. */
  host: string;
  /** Whether it is a daemon (kept running) or a job (runs to its end). */
  daemon: boolean;
  /** Its process: pid, output so far, `finished`. */
  info: RunInfo;
}

/**
 * Builds a topology (a path, text, plain object, or what loadTopology
 * returned). Rejects with what failed, after removing everything it made
 * (an AggregateError when the removal failed too).
 *
 * @throws TopologyError when the topology is invalid (nothing made).
 * @throws AggregateError when building failed and removing what was made failed too.
 * @example
 * ```ts
 * await using lab = await buildTopology("examples/nat-router.yaml", { onProgress: (p) => console.log(p.step) });
 * ```
 */
export async function buildTopology(
  source: TopologySource | Topology,
  options: BuildTopologyOptions = {},
): Promise<Lab> {
  const topology = isLoadedTopology(source) ? source : await loadTopology(source);
  options.signal?.throwIfAborted();
  const net = new DummyNet({
    ...(options.uid !== undefined ? { uid: options.uid } : {}),
    ...(options.log ? { log: options.log } : {}),
    ...(options.shell ? { shell: options.shell } : {}),
    ...(options.exitCleanup !== undefined ? { exitCleanup: options.exitCleanup } : {}),
    ...(options.reapDeadOwners !== undefined ? { reapDeadOwners: options.reapDeadOwners } : {}),
    ...(options.rootless !== undefined ? { rootless: options.rootless } : {}),
  });
  try {
    const built = await buildNetwork(topology, net, {
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      ...(options.concurrency !== undefined ? { concurrency: options.concurrency } : {}),
    });
    return new Lab(net, built);
  } catch (error) {
    try {
      await net.cleanup();
    } catch (cleanupError) {
      throw new AggregateError(
        [error, cleanupError],
        `building ${topology.name} failed: ${(error as Error).message}; removing what was made failed too: ${(cleanupError as Error).message}`,
      );
    }
    throw error;
  }
}

/**
 * A built topology. `await using lab = await buildTopology(...)` removes it at the end of the scope.
 *
 * @example
 * ```ts
 * await using lab = await buildTopology("examples/lossy-pair.yaml");
 * const report = await lab.net.probe(lab.host("a"), lab.host("b"), { count: 50 });
 * console.log(`${report.lossPercent} % lost`);
 * ```
 */
export class Lab implements BuiltNetwork, AsyncDisposable {
  /** The topology it was built from. */
  readonly topology: Topology;
  /** The owning DummyNet (of the host namespace): its uid is in every name. */
  readonly net: DummyNet;
  /** Each host's namespaced DummyNet, by the file's host name. */
  readonly hosts: ReadonlyMap<string, DummyNet>;
  /** The cgroup of each host that has CPU or memory limits. */
  readonly cgroups: ReadonlyMap<string, CGroup>;
  #started: StartedProgram[] | undefined;
  #faultSchedule: Schedule | undefined;

  /** @internal made by buildTopology */
  constructor(net: DummyNet, built: BuiltNetwork) {
    this.net = net;
    this.topology = built.topology;
    this.hosts = built.hosts;
    this.cgroups = built.cgroups;
  }

  /** The network's name (the topology's). */
  get name(): string {
    return this.topology.name;
  }

  /** The owner id in every name the lab made. */
  get uid(): number {
    return this.net.uid;
  }

  /**
   * The DummyNet of host `name`.
   *
   * @throws InvalidArgumentError naming the known hosts, when `name` is not one.
   * @example
   * ```ts
   * const result = await lab.host("a").run(["ip", "-brief", "addr"]);
   * ```
   */
  host(name: string): DummyNet {
    const host = this.hosts.get(name);
    if (!host)
      throw new InvalidArgumentError(
        "host",
        name,
        `is not a host of ${this.topology.name}; its hosts: ${[...this.hosts.keys()].sort().join(", ")}`,
      );
    return host;
  }

  /**
   * The first address of `host` (or of its interface `iface`), without its
   * prefix length: "10.0.0.2", ready for connect() or ping.
   *
   * @throws InvalidArgumentError when the host or interface is unknown or has no address.
   * @example
   * ```ts
   * const report = await lab.net.probe(lab.host("a"), lab.host("b"), { address: lab.address("b") });
   * ```
   */
  address(host: string, iface?: string): string {
    this.host(host);
    const rows = interfaceRows(this.topology).filter((row) => row.host === host);
    const chosen = iface === undefined ? rows : rows.filter((row) => row.iface === iface);
    if (iface !== undefined && chosen.length === 0) {
      throw new InvalidArgumentError(
        "interface",
        iface,
        `is not an interface of host ${host}; its interfaces: ${rows.map((row) => row.iface).join(", ") || "none"}`,
      );
    }
    const address = chosen.flatMap((row) => row.addresses).at(0);
    if (address === undefined) {
      throw new InvalidArgumentError(
        iface === undefined ? "host" : "interface",
        iface ?? host,
        `has no address in ${this.topology.name}; give it one in the file (address: 10.0.0.1/24)`,
      );
    }
    return address.replace(/\/\d+$/, "");
  }

  /**
   * Starts the file's programs: the daemons first, in file order, each
   * waiting for its readiness check (`ready: { port, line }`); then the jobs,
   * not waited for (`await program.info.finished`); then the file's `faults:`
   * schedule (see `faultSchedule`). Cleanup stops them all and heals.
   *
   * @throws DummyNetError when the programs were started already.
   * @throws TimeoutError when a daemon is not ready within its `ready.timeout`.
   * @example
   * ```ts
   * const programs = await lab.start({ onOutput: (program, stream, line) => console.log(program, stream, line) });
   * ```
   */
  async start(options: LabStartOptions = {}): Promise<StartedProgram[]> {
    if (this.#started) throw new DummyNetError(`the programs of ${this.topology.name} were started already`);
    const daemons = this.topology.programs.filter((program) => program.daemon);
    const jobs = this.topology.programs.filter((program) => !program.daemon);
    const started: StartedProgram[] = [];
    this.#started = started;
    const remember = (specs: ProgramSpec[], infos: RunInfo[]) => {
      infos.forEach((info, i) =>
        started.push({ name: specs[i].name, host: specs[i].host, daemon: specs[i].daemon, info }),
      );
    };
    remember(daemons, await startDaemons(this, options));
    remember(jobs, await startJobs(this, jobs, options));
    if (this.topology.faults) {
      const { plan, options: scheduleOptions } = filePlan(
        this.topology.faults,
        new Map(started.map((program) => [program.name, program.info])),
      );
      this.#faultSchedule = this.schedule(plan, scheduleOptions);
    }
    return started;
  }

  /**
   * The schedule of the file's `faults:`, which `start()` starts once the programs are ready (times count
   * from then); undefined before `start()` and for a file without faults. `done` resolves with its history.
   *
   * @example
   * ```ts
   * await lab.start();
   * for (const event of (await lab.faultSchedule?.done) ?? []) console.log(event.action, event.hosts, event.lateMs);
   * ```
   */
  get faultSchedule(): Schedule | undefined {
    return this.#faultSchedule;
  }

  /**
   * Records what interface `iface` of host `host` sends and receives into a pcap file, as DummyNet.capture() does.
   *
   * @throws InvalidArgumentError for an unknown host or interface, or a file that cannot be written.
   * @throws MissingProgramError when tcpdump is not installed.
   * @example
   * ```ts
   * const capture = await lab.capture("a", "eth0", { file: "a-eth0.pcap" });
   * await lab.host("a").run(["ping", "-c", "1", lab.address("b")]);
   * console.log(await capture.stop()); // { file, packets, bytes, dropped }
   * ```
   */
  async capture(host: string, iface: string, options: CaptureOptions = {}): Promise<Capture> {
    return this.net.capture(this.host(host), iface, options);
  }

  /**
   * The network now, as plain JSON, with the topology's host names (see DummyNet.snapshot()).
   *
   * @throws SystemCommandError when the namespaces cannot be listed.
   * @example
   * ```ts
   * const snapshot = await lab.snapshot();
   * console.log(snapshot.hosts.find((host) => host.name === "a")?.routes);
   * ```
   */
  snapshot(): Promise<Snapshot> {
    const names = new Map([...this.hosts].map(([name, host]) => [host.namespace.scoped, name]));
    return snapshotOf(this.net, names, this.net.faults);
  }

  /** The programs started by `start()`, in the order they started. */
  get programs(): readonly StartedProgram[] {
    return this.#started ?? [];
  }

  /**
   * Cuts between groups of hosts (by name), both ways, silently: see DummyNet.partition().
   *
   * @throws InvalidArgumentError naming the known hosts, for an unknown one; as DummyNet.partition() otherwise.
   * @example
   * ```ts
   * await using cut = await lab.partition([["leader"], ["follower"]]);
   * ```
   */
  partition(groups: readonly (readonly string[])[], options?: FaultOptions): Promise<Fault> {
    // Names become DummyNets (refused with the lab's host list when unknown); anything else is the network's to refuse.
    const hosts: unknown = Array.isArray(groups)
      ? groups.map((group: unknown) =>
          Array.isArray(group) ? group.map((name: unknown) => this.#hostFor(name)) : group,
        )
      : groups;
    return this.net.partition(hosts as DummyNet[][], options);
  }

  /**
   * Drops packets from host `from` to host `to`, one way: see DummyNet.block().
   *
   * @throws InvalidArgumentError naming the known hosts, for an unknown one; as DummyNet.block() otherwise.
   * @example
   * ```ts
   * await lab.block("a", "b", { for: 500 });
   * ```
   */
  block(from: string, to: string, options?: FaultOptions): Promise<Fault> {
    return this.net.block(this.#hostFor(from), this.#hostFor(to), options);
  }

  /**
   * Cuts host `host` from all the others: see DummyNet.isolate().
   *
   * @throws InvalidArgumentError naming the known hosts, for an unknown one; as DummyNet.isolate() otherwise.
   * @example
   * ```ts
   * await lab.isolate("leader", { for: 1000 });
   * ```
   */
  isolate(host: string, options?: FaultOptions): Promise<Fault> {
    return this.net.isolate(this.#hostFor(host), options);
  }

  /**
   * Heals every fault in force: see DummyNet.heal().
   *
   * @throws AggregateError of what could not be healed.
   * @example
   * ```ts
   * await lab.heal();
   * ```
   */
  heal(): Promise<void> {
    return this.net.heal();
  }

  /**
   * Runs faults on a schedule, hosts by name: see DummyNet.schedule().
   *
   * @throws InvalidArgumentError for a bad step, before anything runs.
   * @example
   * ```ts
   * const schedule = lab.schedule({ every: 1000, for: 10_000, faults: ["partition"] }, { seed: 7 });
   * await schedule.done;
   * ```
   */
  schedule(plan: readonly ScheduleStep[] | GeneratedPlan, options?: ScheduleOptions): Schedule {
    return this.net.schedule(plan, options);
  }

  /** The faults in force, oldest first. */
  get faults(): readonly Fault[] {
    return this.net.faults;
  }

  /** Every fault applied and healed (schedules' steps included): see DummyNet.faultHistory. */
  get faultHistory(): readonly FaultEvent[] {
    return this.net.faultHistory;
  }

  /** A host argument: a name of this lab's (refused with the list of hosts otherwise), or passed on as it is. */
  #hostFor(name: unknown): DummyNet {
    return typeof name === "string" ? this.host(name) : (name as DummyNet);
  }

  /**
   * Stops the programs and removes everything the build made (the network's cleanup()).
   *
   * @throws AggregateError of the programs' failures and the undo errors, after everything ran, as DummyNet.cleanup() does.
   *
   * @example
   * ```ts
   * const lab = await buildTopology("examples/star.yaml");
   * try {
   *   // ...
   * } finally {
   *   await lab.cleanup();
   * }
   * ```
   */
  async cleanup(): Promise<void> {
    await this.net.cleanup();
  }

  /**
   * `await using lab = ...` calls `cleanup()` when the block ends.
   *
   * @throws AggregateError as cleanup() does.
   *
   * @example
   * ```ts
   * {
   *   await using lab = await buildTopology("examples/star.yaml");
   * } // removed here
   * ```
   */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.cleanup();
  }
}
