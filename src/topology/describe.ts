/**
 * Text views of a topology: the table `dummynet up` prints, the impairment
 * summary, and the interface list per host that the table and graphs share.
 */
import type { NetemOptions } from "../tc/netem-model.js";
import { known, type Topology } from "./model.js";

/** "delay 20ms ±5ms, loss 1%": every option the impairment sets, in tc's order, ingress last. */
export function describeImpairment(impair: NetemOptions | undefined): string {
  if (!impair) return "";
  const parts: string[] = [];
  const corr = (correlation: number | null | undefined) => (correlation ? ` (corr ${correlation}%)` : "");
  const pct = (value: number | null | undefined, name: string, correlation?: number | null) => {
    if (value != null) parts.push(`${name} ${value}%${corr(correlation)}`);
  };
  /** The fields of a loss model or slot that are set, as "p13 1% p31 30%". */
  const fields = (values: object, unit: string) =>
    Object.entries(values)
      .filter(([, value]) => value != null)
      .map(([name, value]) => `${name} ${value}${unit}`)
      .join(" ");
  if (impair.delay != null) {
    let text = `delay ${impair.delay}ms`;
    if (impair.jitter != null) text += ` ±${impair.jitter}ms`;
    if (impair.distribution) text += ` ${impair.distribution}`;
    parts.push(text + corr(impair.delayCorrelation));
  }
  if (typeof impair.loss === "number") pct(impair.loss, "loss", impair.lossCorrelation);
  else if (impair.loss && "random" in impair.loss) pct(impair.loss.random, "loss", impair.loss.correlation);
  else if (impair.loss && "state" in impair.loss) parts.push(`loss state ${fields(impair.loss.state, "%")}`);
  else if (impair.loss && "gemodel" in impair.loss) parts.push(`loss gemodel ${fields(impair.loss.gemodel, "%")}`);
  if (impair.ecn) parts.push("ecn");
  pct(impair.duplicate, "duplicate", impair.duplicateCorrelation);
  pct(impair.corrupt, "corrupt", impair.corruptCorrelation);
  pct(impair.reorder, "reorder", impair.reorderCorrelation);
  if (impair.gap != null) parts.push(`gap ${impair.gap}`);
  if (impair.rate) {
    let text = `rate ${impair.rate}Mbit/s`;
    if (impair.packetOverhead) text += ` packet overhead ${impair.packetOverhead}B`;
    if (impair.cellSize) text += ` cell ${impair.cellSize}B`;
    if (impair.cellOverhead) text += ` cell overhead ${impair.cellOverhead}B`;
    parts.push(text);
  }
  if (impair.limit != null) parts.push(`limit ${impair.limit}`);
  if (impair.slot) {
    const slot = impair.slot;
    let text =
      "min" in slot
        ? `slot ${slot.min}${slot.max != null && slot.max !== slot.min ? `-${slot.max}` : ""}ms`
        : `slot ${[slot.distribution, `${slot.delay}ms ±${slot.jitter}ms`].filter(Boolean).join(" ")}`;
    if (slot.packets) text += ` ${slot.packets} packets`;
    if (slot.bytes) text += ` ${slot.bytes} bytes`;
    parts.push(text);
  }
  if (impair.seed != null) parts.push(`seed ${impair.seed}`);
  if (impair.ingress === true) parts.push("(also received)");
  else if (impair.ingress) parts.push(`(received: ${describeImpairment({ ...impair.ingress, ingress: null })})`);
  return parts.join(", ");
}

export interface InterfaceRow {
  host: string;
  iface: string;
  kind: "veth" | "vlan" | "bridge";
  addresses: string[];
  /** The other end of a veth (`host:iface`), the parent of a VLAN, or the members of a bridge. */
  peer: string;
  impair: string;
  /** Bridge this interface joins. */
  bridge?: string;
}

/** Every interface of the topology, grouped by host in file order. */
export function interfaceRows(topology: Topology): InterfaceRow[] {
  const rows: InterfaceRow[] = [];
  const bridgeOf = new Map<string, string>();
  for (const bridge of topology.bridges) for (const member of bridge.interfaces) bridgeOf.set(member, bridge.name);
  for (const link of topology.links) {
    link.ends.forEach((end, i) => {
      const other = link.ends[1 - i];
      const bridge = bridgeOf.get(end.iface);
      rows.push({
        host: end.host,
        iface: end.iface,
        kind: "veth",
        addresses: end.addresses,
        peer: `${other.host}:${other.iface}`,
        impair: describeImpairment(end.impair),
        ...(bridge ? { bridge } : {}),
      });
    });
  }
  for (const vlan of topology.vlans) {
    const bridge = bridgeOf.get(vlan.iface);
    rows.push({
      host: vlan.host,
      iface: vlan.iface,
      kind: "vlan",
      addresses: vlan.addresses,
      peer: `vlan ${vlan.id} on ${vlan.parent}`,
      impair: "",
      ...(bridge ? { bridge } : {}),
    });
  }
  for (const bridge of topology.bridges) {
    rows.push({
      host: bridge.host,
      iface: bridge.name,
      kind: "bridge",
      addresses: bridge.addresses,
      peer: `bridge of ${bridge.interfaces.join(", ") || "no ports"}`,
      impair: "",
    });
  }
  const order = new Map(topology.hosts.map((host, i) => [host.name, i]));
  return rows.sort((a, b) => known(order, a.host) - known(order, b.host));
}

/** A plain-text table: hosts, interfaces, addresses, peers and impairments (egress unless marked). */
export function formatTable(topology: Topology, namespaces?: ReadonlyMap<string, string>): string {
  const header = ["HOST", "INTERFACE", "ADDRESSES", "PEER", "IMPAIRMENT (sent)"];
  const rows: string[][] = [];
  const rowsByHost = new Map<string, InterfaceRow[]>();
  for (const row of interfaceRows(topology)) rowsByHost.set(row.host, [...(rowsByHost.get(row.host) ?? []), row]);
  for (const host of topology.hosts) {
    const hostLabel = namespaces?.get(host.name) ? `${host.name} (${namespaces.get(host.name)})` : host.name;
    const list = rowsByHost.get(host.name) ?? [];
    if (list.length === 0) rows.push([hostLabel, "-", "", "", ""]);
    list.forEach((row, i) => {
      rows.push([
        i === 0 ? hostLabel : "",
        row.bridge ? `${row.iface} [${row.bridge}]` : row.iface,
        row.addresses.join(" "),
        row.peer,
        row.impair,
      ]);
    });
  }
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column].length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => cell.padEnd(widths[i]))
      .join("  ")
      .trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}
