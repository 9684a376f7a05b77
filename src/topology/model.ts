/**
 * A topology after loading: the file's declarations, normalized (every
 * optional list present, addresses as lists, ends as objects) and checked.
 * Each declaration keeps the path of the node it came from, so errors found
 * later still point at a line and column.
 */
import type { StepAction } from "../faults/plan.js";
import { STEP_ACTION_NAMES } from "../faults/types.js";
import type { NetemOptions } from "../tc/netem-model.js";

/** Path of a node in the file, e.g. ["links", 0, "ends", 1]. */
export type NodePath = readonly (string | number)[];

/** A static route of a host: `to` via a gateway address. */
interface RouteSpec {
  /** "default" or a CIDR. */
  to: string;
  /** The gateway's address. */
  via: string;
  /** Where the declaration is in the file, for messages that point at a line and column. */
  path: NodePath;
}

/** A host: one network namespace, with its limits, forwarding, sysctls, routes, NAT and port forwards. */
export interface HostSpec {
  /** The host's name (the key under `hosts`). */
  name: string;
  /** CPUs, like `docker --cpus`. */
  cpu?: number;
  /** Bytes. */
  memory?: number;
  /** Container image of the host when exported (`dummynet export`); not used on this machine. */
  image?: string;
  /** Whether the host routes between its interfaces (IPv4 and IPv6 forwarding). */
  forwarding: boolean;
  /** Namespaced kernel settings (`net.*`) set in the host, by name. */
  sysctls: Record<string, string>;
  /** Default gateway and static routes, the gateway first as a "default" route. */
  routes: RouteSpec[];
  /** Source NAT rules: traffic from `source` leaving through `out` is masqueraded. */
  nat: {
    /** The CIDR whose traffic is masqueraded. */
    source: string;
    /** The interface it leaves through. */
    out: string;
    /** Where the declaration is in the file, for messages that point at a line and column. */
    path: NodePath;
  }[];
  /** Port forwards (DNAT) into this host. */
  forward: {
    /** The port (or `address:port`) the host receives on. */
    from: string;
    /** Where it goes, `address:port`. */
    to: string;
    /** Where the declaration is in the file, for messages that point at a line and column. */
    path: NodePath;
  }[];
  /** Where the declaration is in the file, for messages that point at a line and column. */
  path: NodePath;
}

/** One end of a link: an interface of a host, its addresses and the impairment of what it sends. */
export interface LinkEndSpec {
  /** The host this end is in. */
  host: string;
  /** The interface's name in that host. */
  iface: string;
  /** Addresses with prefix length (`10.0.0.1/24`), possibly none. */
  addresses: string[];
  /** Impairment of the packets this end sends (link-wide options merged under the end's own). */
  impair?: NetemOptions;
  /** Where the impairment is declared: the end's own `impair`, else the link's. */
  impairPath?: NodePath;
  /** Where the declaration is in the file, for messages that point at a line and column. */
  path: NodePath;
}

/** A link: a veth pair between two ends. */
export interface LinkSpec {
  /** The two ends, in the order the file gives them. */
  ends: [LinkEndSpec, LinkEndSpec];
  /** Where the declaration is in the file, for messages that point at a line and column. */
  path: NodePath;
  /** Where a link-wide `ingress` was declared (refused: it would impair each direction twice). */
  linkIngressPath?: NodePath;
}

/** A Linux bridge (a switch) in a host, joining some of its interfaces. */
export interface BridgeSpec {
  /** The bridge's interface name. */
  name: string;
  /** The host the bridge lives in. */
  host: string;
  /** Interfaces of that host that join the bridge. */
  interfaces: string[];
  /** Addresses of the bridge itself, possibly none. */
  addresses: string[];
  /** Where the declaration is in the file, for messages that point at a line and column. */
  path: NodePath;
}

/** An 802.1Q VLAN interface on an interface of a host. */
export interface VlanSpec {
  /** The host of the parent interface. */
  host: string;
  /** The parent interface's name. */
  parent: string;
  /** The VLAN id, 1 to 4094. */
  id: number;
  /** `<parent>.<id>`, the interface's name. */
  iface: string;
  /** Addresses of the VLAN interface, possibly none. */
  addresses: string[];
  /** Where the declaration is in the file, for messages that point at a line and column. */
  path: NodePath;
}

/** A program started in a host by `Lab.start()` / `dummynet run`. */
export interface ProgramSpec {
  /** Name used in messages (the file's `name`, else the command). */
  name: string;
  /** The host it runs in. */
  host: string;
  /** An argument array (run without a shell), or a string run by `/bin/sh -c`. */
  command: string | string[];
  /** A daemon keeps running until the run ends (its exit fails the run); a job runs to its end. */
  daemon: boolean;
  /** Whom it runs as (`"root"`, a user name or a uid); absent: the default of run-as (process/run-as.ts). */
  user?: string | number;
  /** A job's time limit in milliseconds; absent: none. */
  timeout?: number;
  /** How to know a daemon is ready: a TCP `port` accepting connections, or a `line` in its output. */
  ready?: {
    /** A TCP port that accepts connections once ready. */
    port?: number;
    /** A line (substring) the daemon prints once ready. */
    line?: string;
    /** How long to wait, in milliseconds. @default 10000 */
    timeout: number;
  };
  /** Where the declaration is in the file, for messages that point at a line and column. */
  path: NodePath;
}

/** An interface of a host, as a fault step names it. */
export interface FaultInterfaceSpec {
  /** The host, by the file's name. */
  host: string;
  /** The interface, by the file's name. */
  iface: string;
}

/** The actions a step of `faults:` may take, one per step: schedule()'s, from faults/types.ts (which loads nothing of the fault engine). */
export const FAULT_ACTIONS = STEP_ACTION_NAMES satisfies readonly StepAction[];

/** One action of a fault step. */
export type FaultAction = (typeof FAULT_ACTIONS)[number];

/**
 * A step of the file's `faults:` list, times in milliseconds, hosts and
 * programs by their names in the file. Exactly one action is set (the loader
 * refuses a step with none or two); `Lab.start()` turns the names into hosts
 * and started programs and hands the steps to `schedule()`.
 */
export interface FaultStepSpec {
  /** When, in ms from the start of the schedule. */
  at: number;
  /** How long the fault lasts before it heals by itself, in ms. */
  for?: number;
  /** Two or more disjoint groups of host names. */
  partition?: string[][];
  /** `[from, to]`: packets from `from` to `to` are dropped. */
  block?: [string, string];
  /** A host cut off from all others. */
  isolate?: string;
  /** Take back every fault in force. */
  heal?: true;
  /** An impairment of an interface (with `for`: restored afterwards). */
  impair?: FaultInterfaceSpec & NetemOptions;
  /** Take an interface down. */
  down?: FaultInterfaceSpec;
  /** Bring an interface up. */
  up?: FaultInterfaceSpec;
  /** A program to pause (SIGSTOP, with what it forked), by its `name`. */
  pause?: string;
  /** A paused program to continue, by its `name`. */
  resume?: string;
  /** A program to end on purpose, by its `name` (with `for`: started again after it). */
  kill?: string;
  /** A program to start again (same host, command, cgroup), by its `name`. */
  restart?: string;
  /** The signal of a `kill` step, e.g. "SIGKILL". @default "SIGTERM" */
  signal?: string;
  /** Where the declaration is in the file, for messages that point at a line and column. */
  path: NodePath;
}

/** The file's `faults:` as a generator: a seeded draw of faults every so often. */
export interface FaultGeneratorSpec {
  /** Time between two faults, in ms. */
  every: number;
  /** How long the generator runs, in ms. */
  for: number;
  /** The kinds of fault to draw from. */
  faults: string[];
  /** The hosts faults may touch, by name (absent: every host). */
  hosts?: string[];
  /** Seed of the draw. */
  seed?: number;
  /** Where the declaration is in the file, for messages that point at a line and column. */
  path: NodePath;
}

/** A loaded, normalized and checked topology, as `loadTopology()` returns it and `buildTopology()` takes it. */
export interface Topology {
  /** The network's name (the file's `name`, or its base name). */
  name: string;
  /** The file it was loaded from, as given. */
  file: string;
  /** Free text from the file. */
  description?: string;
  /** The hosts, in file order. */
  hosts: HostSpec[];
  /** The links, in file order. */
  links: LinkSpec[];
  /** The bridges, in file order. */
  bridges: BridgeSpec[];
  /** The VLAN interfaces, in file order. */
  vlans: VlanSpec[];
  /** The programs, in file order. */
  programs: ProgramSpec[];
  /** The file's `faults:`, started by `Lab.start()` once the programs are ready; absent when the file has none. */
  faults?: FaultStepSpec[] | FaultGeneratorSpec;
}

/** Default readiness timeout of a program, in milliseconds. */
export const DEFAULT_READY_TIMEOUT = 10_000;

/** The entry of a name the loader has already checked; a miss is a bug, not bad input. */
export function known<T>(entries: ReadonlyMap<string, T>, name: string): T {
  const entry = entries.get(name);
  if (entry === undefined) throw new Error(`internal error: ${name} is not in the checked topology`);
  return entry;
}
