/**
 * snapshot(): the state of a network as plain JSON, for a failed test's
 * evidence and `dummynet inspect --json`. Hosts are read at once, each with
 * two listings (links with addresses; the routes of every table, IPv4 and
 * IPv6), which go to the host's `ip -batch` worker when the shell has one
 * (no process per read), and, only where a link has a queueing qdisc (netem, tbf,
 * ...), one `tc -j -s qdisc show` for the counters; processes come from the
 * process monitor's memory.
 */
import { formatCommand, type RunInfo } from "../process/run-info.js";
import { NamespaceShell } from "../shell/namespace-shell.js";
import type { Shell } from "../shell/shell.js";
import { parseIpJsonArray } from "../system/ip-json.js";

/** How many lines of each program's stdout and stderr a snapshot keeps. */
const SNAPSHOT_OUTPUT_LINES = 20;

/** One interface of a host. */
interface SnapshotLink {
  /** The name on the system (scoped, e.g. d-5x-eth0; `lo` as it is). */
  name: string;
  /** The kernel's interface index in its namespace. */
  index: number;
  /** The other end of a veth ("host:name" when it is in another host), the parent of a VLAN, or null. */
  peer: string | null;
  /** The kernel's operational state: up, down, lowerlayerdown, unknown. */
  state: string;
  /** Whether it was set up (the UP flag). */
  adminUp: boolean;
  /** Its MTU in bytes. */
  mtu: number;
  /** Its kind: veth, bridge, vlan, loopback, ... */
  kind: string;
  /** The bridge it is a port of, if any. */
  master: string | null;
  /** Its MAC address (null for kinds without one). */
  mac: string | null;
  /** Addresses with their prefix, link-local ones included. */
  addresses: string[];
}

/** One route of a host (every table but the kernel's `local` one). */
interface SnapshotRoute {
  /** The destination: a prefix, an address, or "default". */
  dst: string;
  /** The next hop, or null for a route on the link. */
  gateway: string | null;
  /** The interface it leaves by. */
  dev: string | null;
  /** The routing table ("main" for most). */
  table: string;
  /** IPv4 or IPv6. */
  family: "inet" | "inet6";
}

/** One queueing discipline with its counters since it was installed. */
interface SnapshotQdisc {
  /** The interface it shapes. */
  dev: string;
  /** Its kind: netem, tbf, pfifo, noqueue, ingress, ... */
  kind: string;
  /** Its handle, as tc writes it ("8001:"). */
  handle: string;
  /** Its parent, or null for the root qdisc. */
  parent: string | null;
  /** The qdisc's settings as tc reports them (netem: delay, loss, rate, ...). */
  options: Record<string, unknown>;
  /** What it sent since it was installed. */
  sent: {
    /** Bytes sent. */
    bytes: number;
    /** Packets sent. */
    packets: number;
  };
  /** Packets it dropped (a full queue, netem's loss). */
  dropped: number;
  /** Times a packet had to wait because of a rate limit. */
  overlimits: number;
  /** What waits in its queue now. */
  backlog: {
    /** Bytes waiting. */
    bytes: number;
    /** Packets waiting. */
    packets: number;
  };
}

/** One program started with runAsync (or by a topology), as the process monitor knows it. */
export interface SnapshotProcess {
  /** The host it runs in, or null for the machine's own namespace. */
  host: string | null;
  /** Its command line (without the way into its namespace). */
  command: string;
  /** Its process id, or null if it did not start. */
  pid: number | null;
  /** Whether it still runs. */
  state: "running" | "exited";
  /** Whether it was started as a daemon (expected to run until stopped). */
  daemon: boolean;
  /** Its exit status, once it has exited by itself. */
  exitCode: number | null;
  /** The signal that ended it, if one did. */
  signal: string | null;
  /** The last SNAPSHOT_OUTPUT_LINES lines of its stdout. */
  stdout: string[];
  /** The last SNAPSHOT_OUTPUT_LINES lines of its stderr. */
  stderr: string[];
}

/** One host: a namespace of the network. */
export interface SnapshotHost {
  /** The host's name (the topology's, or the namespace's name without the owner prefix). */
  name: string;
  /** The namespace on the system. */
  namespace: string;
  /** Its interfaces, loopback included. */
  links: SnapshotLink[];
  /** Its routes. */
  routes: SnapshotRoute[];
  /** Its queueing disciplines with their counters. */
  qdiscs: SnapshotQdisc[];
  /** What could not be read, if anything. */
  error?: string;
}

/** The state of a network at one moment, plain JSON. */
export interface Snapshot {
  /** When it was taken (ISO 8601). */
  takenAt: string;
  /** Milliseconds it took. */
  tookMs: number;
  /** The network's owner uid. */
  uid: number;
  /** Every namespace of the network. */
  hosts: SnapshotHost[];
  /** Faults in force (partition, block, isolate, ...). */
  faults: {
    /** What the fault does. */
    kind: string;
    /** The hosts it concerns. */
    hosts: string[];
  }[];
  /** The programs the process monitor runs or ran. */
  processes: SnapshotProcess[];
}

/** What a snapshot reads: the network's hosts and where its commands run. */
export interface SnapshotSource {
  uid: number;
  /** The shell of the network's host namespace (its privilege reaches every namespace). */
  hostShell: Shell;
  /** Host name -> scoped namespace name. */
  hosts: ReadonlyMap<string, string>;
  processes: readonly RunInfo[];
  faults?: readonly { kind: string; hosts: readonly string[] }[];
}

interface IpLink {
  ifindex: number;
  ifname: string;
  link?: string;
  link_index?: number;
  link_netnsid?: number;
  flags?: string[];
  qdisc?: string;
  mtu?: number;
  operstate?: string;
  master?: string;
  address?: string;
  link_type?: string;
  linkinfo?: { info_kind?: string };
  addr_info?: { local: string; prefixlen: number }[];
}

interface IpRoute {
  dst: string;
  table?: string;
  gateway?: string;
  dev?: string;
}

interface TcQdisc {
  kind: string;
  handle: string;
  dev: string;
  parent?: string;
  root?: boolean;
  options?: Record<string, unknown>;
  bytes?: number;
  packets?: number;
  drops?: number;
  overlimits?: number;
  backlog?: number;
  qlen?: number;
}

/** Root qdiscs that never queue, so never count anything: `tc` is not run for a host that has only these. */
const NON_QUEUEING = new Set(["noqueue"]);

async function readHost(shell: Shell, name: string, namespace: string): Promise<SnapshotHost & { raw: IpLink[] }> {
  const host = { name, namespace, links: [], routes: [], qdiscs: [], raw: [] as IpLink[] };
  // A namespace shell's system commands are `ip -n` and `tc -n`: no nsenter.
  const inNamespace = new NamespaceShell(namespace, shell);
  const errors: string[] = [];
  try {
    const [links, routes] = await Promise.all([
      inNamespace.system(["ip", "-j", "-d", "addr", "show"]).then((result) => parseIpJsonArray<IpLink>(result.stdout)),
      inNamespace
        .system(["ip", "-j", "route", "show", "table", "all"])
        .then((result) => parseIpJsonArray<IpRoute>(result.stdout)),
    ]);
    host.raw = links;
    // The kernel's own local and broadcast routes (table local) say nothing the addresses do not.
    const routing = routes.filter((route) => route.table !== "local");
    Object.assign(host, {
      routes: routing.map((route) => ({
        dst: route.dst,
        gateway: route.gateway ?? null,
        dev: route.dev ?? null,
        table: route.table ?? "main",
        family: (route.gateway ?? route.dst).includes(":") ? "inet6" : "inet",
      })),
    });
  } catch (error) {
    errors.push((error as Error).message);
  }
  // Most hosts have only veths' noqueue: their counters are zero by nature, and one command per host is saved.
  const queueing = host.raw.length === 0 || host.raw.some((link) => !NON_QUEUEING.has(link.qdisc ?? "noqueue"));
  if (queueing) {
    try {
      const { stdout } = await inNamespace.system(["tc", "-j", "-s", "qdisc", "show"]);
      Object.assign(host, { qdiscs: (JSON.parse(stdout || "[]") as TcQdisc[]).map(toQdisc) });
    } catch (error) {
      errors.push((error as Error).message);
    }
  } else {
    Object.assign(host, {
      qdiscs: host.raw.map((link) =>
        toQdisc({ kind: link.qdisc ?? "noqueue", handle: "0:", dev: link.ifname, root: true }),
      ),
    });
  }
  return errors.length > 0 ? { ...host, error: errors.join("; ") } : host;
}

function toQdisc(qdisc: TcQdisc): SnapshotQdisc {
  return {
    dev: qdisc.dev,
    kind: qdisc.kind,
    handle: qdisc.handle,
    parent: qdisc.root ? null : (qdisc.parent ?? null),
    options: qdisc.options ?? {},
    sent: { bytes: qdisc.bytes ?? 0, packets: qdisc.packets ?? 0 },
    dropped: qdisc.drops ?? 0,
    overlimits: qdisc.overlimits ?? 0,
    backlog: { bytes: qdisc.backlog ?? 0, packets: qdisc.qlen ?? 0 },
  };
}

/** Links with their peers resolved: a veth's other end in another namespace is found by the pair of indexes. */
function toLinks(
  host: SnapshotHost & { raw: IpLink[] },
  all: readonly (SnapshotHost & { raw: IpLink[] })[],
): SnapshotLink[] {
  return host.raw.map((link) => {
    let peer: string | null = link.link ?? null;
    if (peer === null && link.link_index !== undefined && link.link_netnsid !== undefined) {
      const other = all
        .filter((candidate) => candidate !== host)
        .flatMap((candidate) => candidate.raw.map((l) => ({ candidate, l })))
        .find(({ l }) => l.ifindex === link.link_index && l.link_index === link.ifindex);
      peer = other ? `${other.candidate.name}:${other.l.ifname}` : `ifindex ${link.link_index} in another namespace`;
    }
    return {
      name: link.ifname,
      index: link.ifindex,
      peer,
      state: (link.operstate ?? "unknown").toLowerCase(),
      adminUp: link.flags?.includes("UP") ?? false,
      mtu: link.mtu ?? 0,
      kind: link.linkinfo?.info_kind ?? link.link_type ?? "unknown",
      master: link.master ?? null,
      mac: link.address ?? null,
      addresses: (link.addr_info ?? []).map((address) => `${address.local}/${address.prefixlen}`),
    };
  });
}

/** Splits `ip netns exec <ns> <command...>` (how a host's programs are started) into the namespace and the command. */
function whereAndWhat(cmd: RunInfo["cmd"]): { namespace: string | null; command: string } {
  if (typeof cmd !== "string" && cmd[0] === "ip" && cmd[1] === "netns" && cmd[2] === "exec" && cmd.length > 4) {
    const rest = cmd.slice(4);
    const command = rest[0] === "/bin/sh" && rest[1] === "-c" && rest.length === 3 ? rest[2] : formatCommand(rest);
    return { namespace: cmd[3], command };
  }
  return { namespace: null, command: formatCommand(cmd) };
}

function lastLines(text: string): string[] {
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  return lines.slice(-SNAPSHOT_OUTPUT_LINES);
}

/** The program list of a snapshot, from the process monitor's RunInfos. */
export function snapshotProcesses(
  processes: readonly RunInfo[],
  hostOfNamespace: ReadonlyMap<string, string>,
): SnapshotProcess[] {
  return processes.map((info) => {
    const { namespace, command } = whereAndWhat(info.cmd);
    return {
      host: namespace === null ? null : (hostOfNamespace.get(namespace) ?? namespace),
      command,
      pid: info.pid ?? null,
      state: info.hasExited ? "exited" : "running",
      daemon: info.isDaemon,
      exitCode: info.exitCode,
      signal: info.signal,
      stdout: lastLines(info.stdout),
      stderr: lastLines(info.stderr),
    };
  });
}

/** Reads the network's hosts (all at once) and assembles the snapshot. */
export async function takeSnapshot(source: SnapshotSource): Promise<Snapshot> {
  const started = performance.now();
  const takenAt = new Date().toISOString();
  const read = await Promise.all(
    [...source.hosts].map(([name, namespace]) => readHost(source.hostShell, name, namespace)),
  );
  const hosts: SnapshotHost[] = read.map((host) => {
    const { raw, ...rest } = host;
    return { ...rest, links: raw.length > 0 ? toLinks(host, read) : [] };
  });
  const hostOfNamespace = new Map([...source.hosts].map(([name, namespace]) => [namespace, name]));
  return {
    takenAt,
    tookMs: Math.round((performance.now() - started) * 10) / 10,
    uid: source.uid,
    hosts,
    faults: (source.faults ?? []).map((fault) => ({ kind: fault.kind, hosts: [...fault.hosts] })),
    processes: snapshotProcesses(source.processes, hostOfNamespace),
  };
}

/** What snapshotOf() needs of a DummyNet (the owning one). */
export interface SnapshotNetwork {
  readonly uid: number;
  readonly shell: Shell;
  readonly processMonitor: { readonly processes: readonly RunInfo[] };
  netnsList(): Promise<readonly { name: string; scoped: string }[]>;
}

/**
 * The snapshot of every namespace of `net`'s uid; `names` (scoped namespace -> host name, a Lab's)
 * names the hosts, else a namespace's own name does.
 */
export async function snapshotOf(
  net: SnapshotNetwork,
  names: ReadonlyMap<string, string> = new Map(),
  faults?: SnapshotSource["faults"],
): Promise<Snapshot> {
  const namespaces = await net.netnsList();
  return takeSnapshot({
    uid: net.uid,
    hostShell: net.shell,
    hosts: new Map(namespaces.map((namespace) => [names.get(namespace.scoped) ?? namespace.name, namespace.scoped])),
    processes: net.processMonitor.processes,
    ...(faults ? { faults } : {}),
  });
}
