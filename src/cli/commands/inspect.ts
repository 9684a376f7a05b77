/** `dummynet inspect [NETWORK]`: what a running network looks like now, read from the kernel (and its faults, from the process holding it). */
import { processStartTime } from "../../system/proc.js";
import type { NetemSettings } from "../../tc/netem-model.js";
import { describeImpairment } from "../../topology/describe.js";
import type { Impairment } from "../../topology/model.js";
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

interface HostView {
  name: string;
  namespace: string;
  interfaces: InterfaceView[];
}

/** `ip -j addr show` of one interface, the parts inspect shows. */
interface IpAddrJson {
  ifname: string;
  operstate?: string;
  flags?: string[];
  address?: string;
  mtu?: number;
  addr_info?: { local: string; prefixlen: number; family: string; scope?: string }[];
}

/** What the kernel says about a network `up` holds: hosts, interfaces, impairments, programs. */
export async function inspect(selector: string | undefined, options: { json?: boolean }): Promise<number> {
  const state = await findNetwork(selector, { liveOnly: true });
  const [{ HostShell }, { NamespaceShell }, { readNetem }] = await Promise.all([
    import("../../shell/host-shell.js"),
    import("../../shell/namespace-shell.js"),
    import("../../tc/netem-read.js"),
  ]);
  const hostShell = new HostShell({ log: await logger(), privilege: privilegeOf(state) });
  const nameOf = new Map(
    Object.entries(state.network.interfaces).map(([key, scoped]) => [scoped, key.slice(key.indexOf(":") + 1)]),
  );
  const hosts: HostView[] = [];
  try {
    for (const [host, namespace] of Object.entries(state.network.hosts)) {
      const shell = new NamespaceShell(namespace, hostShell);
      const links = JSON.parse((await shell.system(["ip", "-j", "addr", "show"])).stdout || "[]") as IpAddrJson[];
      const interfaces: InterfaceView[] = [];
      for (const link of links) {
        if (link.ifname === "lo") continue;
        const applied = await readNetem(shell, link.ifname);
        const name = nameOf.get(link.ifname) ?? link.ifname;
        interfaces.push({
          name,
          scoped: link.ifname,
          // What the user set (the UP flag); the kernel's operstate follows a moment later (linkwatch) and
          // says UNKNOWN or LOWERLAYERDOWN for some kinds, so it is shown beside, not instead.
          state: link.flags?.includes("UP") ? "up" : "down",
          operstate: (link.operstate ?? "unknown").toLowerCase(),
          mac: link.address ?? null,
          mtu: link.mtu ?? null,
          addresses: (link.addr_info ?? [])
            .filter((address) => address.scope !== "link")
            .map((address) => `${address.local}/${address.prefixlen}`),
          peer: state.network.peers?.[`${host}:${name}`] ?? null,
          qdisc: applied ? applied.kind : null,
          impairment: applied?.netem ?? null,
          ingressImpairment: applied?.ingress?.netem ?? null,
        });
      }
      hosts.push({ name: host, namespace, interfaces });
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
    hosts,
    programs,
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
        iface.impairment ? describeImpairment(iface.impairment as Impairment) : "",
        iface.ingressImpairment ? `received: ${describeImpairment(iface.ingressImpairment as Impairment)}` : "",
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
