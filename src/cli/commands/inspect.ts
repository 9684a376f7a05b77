/** `dummynet inspect [NETWORK]`: what a running (or kept) network looks like now, read from the kernel (snapshot()), and its faults in force (from the process holding it). */
import type { Snapshot, SnapshotHost } from "../../evidence/snapshot.js";
import { processStartTime } from "../../system/proc.js";
import type { NetemOptions, NetemSettings } from "../../tc/netem-model.js";
import { describeImpairment } from "../../topology/describe.js";
import { logger, print, printJson } from "../command-io.js";
import { bold, dim, EXIT, green, red, table } from "../output.js";
import { findNetwork, privilegeOf, type HeldNetwork } from "../networks.js";
import type { FaultView } from "../fault-control.js";

interface InterfaceView {
  name: string;
  scoped: string;
  /** "up" or "down", as the user set it. */
  state: string;
  /** The kernel's operational state (up, down, lowerlayerdown, unknown). */
  operstate: string;
  mac: string | null;
  mtu: number | null;
  addresses: string[];
  peer: string | null;
  qdisc: string | null;
  impairment: NetemSettings | null;
  ingressImpairment: NetemSettings | null;
}

/** A host of the snapshot, with the interfaces as inspect shows them. */
type HostView = SnapshotHost & { interfaces: InterfaceView[] };

/** What the kernel says about a network that `up` holds or a test kept: its snapshot(), with each interface's impairment. */
export async function inspect(selector: string | undefined, options: { json?: boolean }): Promise<number> {
  const state = await findNetwork(selector, { liveOnly: true });
  const [{ HostShell }, { NamespaceShell }, { readNetem }, { takeSnapshot }] = await Promise.all([
    import("../../shell/host-shell.js"),
    import("../../shell/namespace-shell.js"),
    import("../../tc/netem-read.js"),
    import("../../evidence/snapshot.js"),
  ]);
  const hostShell = new HostShell({ log: await logger(), privilege: privilegeOf(state) });
  const nameOf = new Map(
    Object.entries(state.network.interfaces).map(([key, scoped]) => [scoped, key.slice(key.indexOf(":") + 1)]),
  );
  const hosts: HostView[] = [];
  let snapshot: Snapshot;
  try {
    // One snapshot (an `ip -batch` per host, `tc` only where a link has a queueing qdisc), then netem read back only where one is.
    snapshot = await takeSnapshot({
      uid: state.uid,
      hostShell,
      hosts: new Map(Object.entries(state.network.hosts)),
      processes: [],
    });
    for (const host of snapshot.hosts) {
      const shell = new NamespaceShell(host.namespace, hostShell);
      const interfaces: InterfaceView[] = [];
      for (const link of host.links) {
        if (link.name === "lo") continue;
        const shaped = host.qdiscs.some((qdisc) => qdisc.dev === link.name && qdisc.kind !== "noqueue");
        const applied = shaped ? await readNetem(shell, link.name) : undefined;
        const name = nameOf.get(link.name) ?? link.name;
        interfaces.push({
          name,
          scoped: link.name,
          // What the user set (the UP flag); the kernel's operstate follows a moment later (linkwatch) and
          // says UNKNOWN or LOWERLAYERDOWN for some kinds, so it is shown beside, not instead.
          state: link.adminUp ? "up" : "down",
          operstate: link.state,
          mac: link.mac,
          mtu: link.mtu,
          addresses: link.addresses.filter((address) => !address.toLowerCase().startsWith("fe80:")),
          peer: state.network.peers?.[`${host.name}:${name}`] ?? null,
          qdisc:
            applied?.kind ??
            host.qdiscs.find((qdisc) => qdisc.dev === link.name && qdisc.parent === null)?.kind ??
            null,
          impairment: applied?.netem ?? null,
          ingressImpairment: applied?.ingress?.netem ?? null,
        });
      }
      hosts.push({ ...host, interfaces });
    }
  } finally {
    await hostShell.processMonitor.stop({ validateState: false });
  }
  const programs = (state.network.programs ?? []).map((program) => ({
    ...program,
    state: program.pid !== null && processStartTime(program.pid) === program.startTime ? "running" : "exited",
  }));
  const faults = await faultsInForce(state);
  const view = {
    name: state.network.name,
    uid: state.uid,
    pid: state.pid,
    file: state.network.file,
    createdAt: state.createdAt,
    log: state.network.log ?? null,
    kept: state.kept ?? null,
    takenAt: snapshot.takenAt,
    hosts,
    programs,
    // From the process holding the network: this process's own snapshot cannot see faults it did not make.
    faults,
  };
  if (options.json) {
    printJson(view);
    return EXIT.ok;
  }
  print(
    `${bold(`network ${state.network.name}`)} ${dim(`(uid ${state.uid}, pid ${state.pid}, ${state.network.file}${state.network.log ? `, log ${state.network.log}` : ""})`)}`,
  );
  const rows = hosts.flatMap((host) =>
    host.interfaces.map((iface, i) => [
      i === 0 ? `${host.name} (${host.namespace})` : "",
      iface.name,
      iface.state === "up" && iface.operstate !== "up" ? `up (${iface.operstate})` : iface.state,
      iface.addresses.join(" ") || "-",
      iface.peer ?? "-",
      // Read-back settings have the file's names; only a slot's distribution may be absent, which describeImpairment does not show.
      [
        iface.impairment ? describeImpairment(iface.impairment as NetemOptions) : "",
        iface.ingressImpairment ? `received: ${describeImpairment(iface.ingressImpairment as NetemOptions)}` : "",
      ]
        .filter(Boolean)
        .join("; ") ||
        (iface.qdisc ?? "-"),
    ]),
  );
  print(table(["HOST", "INTERFACE", "STATE", "ADDRESSES", "PEER", "QDISC / IMPAIRMENT"], rows));
  if (faults && faults.length > 0) {
    print("");
    print(
      table(
        ["FAULT", "HOSTS", "SINCE", "HEALS AT"],
        faults.map((fault) => [
          red(fault.kind),
          fault.kind === "block" ? fault.hosts.join(" → ") : fault.hosts.join(", "),
          fault.since ?? "-",
          fault.until ?? "until healed",
        ]),
      ),
    );
  }
  if (programs.length > 0) {
    print("");
    print(
      table(
        ["PROGRAM", "HOST", "PID", "STATE"],
        programs.map((program) => [
          program.name,
          program.host,
          String(program.pid ?? "-"),
          program.state === "running" ? green("running") : red("exited"),
        ]),
      ),
    );
  }
  return EXIT.ok;
}

/** The faults in force, as the process holding the network knows them; null when it cannot say (a network from an older `up`). */
async function faultsInForce(state: HeldNetwork): Promise<FaultView[] | null> {
  if (!state.network.control) return null;
  const { askHolder } = await import("../fault-control.js");
  const answer = await askHolder(state.network.control, { op: "list" });
  if (!answer.ok)
    throw new Error(`the process holding ${state.network.name} could not list its faults: ${answer.error.message}`);
  return answer.faults;
}
