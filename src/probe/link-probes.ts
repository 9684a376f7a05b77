/**
 * `dummynet run FILE --probe`: every impaired link of a topology probed, and
 * what its impairments should do set beside what the probe measured.
 *
 * Which two hosts a link is probed between (impairedLinkTargets):
 * - an end with an address is its own host, at that address;
 * - an end that is a bridge port stands for the first other host on that
 *   bridge (file order) whose link to the bridge has an address at its far
 *   end; without one, the bridge's own address in the bridge's host;
 * - ends without addresses whose VLANs share an id with addresses on both
 *   sides are probed over the first such VLAN;
 * - otherwise the link is skipped, with the reason.
 * The probe runs from the first end's side to the second's, unless only the
 * way back has a rate (TCP goodput is measured from -> to). Its path may cross
 * a second link (through a bridge): the configured figures sum every link of
 * the path, each way.
 */
import { describeImpairment } from "../topology/describe.js";
import type { NetemOptions } from "../tc/netem-model.js";
import type { LinkEndSpec, Topology } from "../topology/model.js";
import type { DummyNet } from "../network/dummy-net.js";
import { gilbertElliott, goodputCeiling } from "../fidelity/model.js";
import { checkProbeOptions, type ProbeReport } from "./probe.js";

/** Datagrams per link when not told otherwise: 2 s at the probe's 10 ms interval. */
const LINK_PROBE_COUNT = 200;
/** Seconds of TCP transfer on a link with a rate, when not told otherwise. */
const LINK_PROBE_TCP_SECONDS = 2;

/** Packets crossing one link from `ends[from]` to the other end. */
interface Hop {
  link: number;
  from: 0 | 1;
}

/** What the impairments along one way of a path add up to. */
interface ConfiguredWay {
  /** The impairments of each link end on the way, described ("a:a-b sends: delay 20ms"). */
  impairments: string[];
  /** Sum of the delays, ms. */
  delayMs: number;
  /** Sum of the jitters, ms (uniform jitter of ±j moves a datagram by up to j). */
  jitterMs: number;
  /** Share lost, percent: random loss, Gilbert-Elliott's stationary loss and corruption (a flipped bit fails the checksum) combined; undefined with a 4-state loss model (not computed). */
  lossPercent: number | undefined;
  /** Copies per datagram beyond the first, percent. */
  duplicatePercent: number;
  /** Share netem sends out of order, percent (reorder). */
  reorderPercent: number;
  /** The lowest rate on the way, Mbit/s. */
  rateMbps: number | undefined;
  /** Some end on the way delivers in slots (its delays are not in delayMs). */
  slot: boolean;
}

/** What a probe across a link should see: each way, and the round trip. */
interface ConfiguredPath {
  there: ConfiguredWay;
  back: ConfiguredWay;
  /** Both ways' delays, ms. */
  rttMs: number;
  /** Both ways' jitter, ms. */
  jitterMs: number;
  /** Share of datagrams whose echo does not come back, percent. */
  lossPercent: number | undefined;
  /** Duplicate replies per datagram, percent: each copy is echoed, and each echo may be copied. */
  duplicatePercent: number;
  /** TCP goodput the rate allows (payload of full-size frames), Mbit/s: there's rate x goodputCeiling(). */
  goodputCeilingMbps: number | undefined;
}

/** A link that is probed: between which hosts, at which address, and what its impairments should do. */
export interface LinkProbeTarget {
  /** "a:a-b <-> b:b-a": the link's two ends. */
  link: string;
  from: string;
  to: string;
  address: string;
  /** Why these hosts, when they are not the link's own ends (a bridge's other host, a VLAN). */
  via?: string;
  configured: ConfiguredPath;
}

/** A link that is not probed, and why. */
export interface LinkProbeSkip {
  link: string;
  skipped: string;
}

/** An end of the path: a host and the address it is reached at, and the hops from it to the probed link. */
interface Side {
  host: string;
  address: string;
  /** Hops from this side's host to the link's end (empty: the end is the host's own). */
  hops: Hop[];
  via?: string;
}

const bare = (cidr: string) => cidr.replace(/\/\d+$/, "");
/** An IPv4 address if there is one (the probe's default family), else the first. */
const pick = (addresses: readonly string[]) => addresses.find((a) => !a.includes(":")) ?? addresses[0];
const endName = (end: LinkEndSpec) => `${end.host}:${end.iface}`;

/** Each impaired link of `topology` (an end with `impair`), with the hosts to probe it between or why it is skipped. */
export function impairedLinkTargets(topology: Topology): (LinkProbeTarget | LinkProbeSkip)[] {
  const results: (LinkProbeTarget | LinkProbeSkip)[] = [];
  topology.links.forEach((link, index) => {
    if (link.ends.every((end) => end.impair === undefined)) return;
    const name = `${endName(link.ends[0])} <-> ${endName(link.ends[1])}`;
    let sides = [sideOf(topology, index, 0), sideOf(topology, index, 1)];
    if (!sides[0] || !sides[1]) {
      const vlan = vlanSides(topology, index);
      if (!vlan) {
        const missing = link.ends.filter((_, i) => !sides[i]).map(endName);
        results.push({
          link: name,
          skipped: `no address to probe: ${missing.join(" and ")} ${missing.length > 1 ? "have" : "has"} no address, no bridge with an addressed host behind it, and no VLAN with addresses on both ends`,
        });
        return;
      }
      sides = vlan;
    }
    let [first, second] = sides as [Side, Side];
    let hops: Hop[] = [...first.hops, { link: index, from: 0 }, ...reverse(second.hops)];
    // TCP goodput is measured from -> to: turn round when only the way back has a rate.
    if (
      configuredWay(topology, hops).rateMbps === undefined &&
      configuredWay(topology, reverse(hops)).rateMbps !== undefined
    ) {
      [first, second] = [second, first];
      hops = reverse(hops);
    }
    if (first.host === second.host) {
      results.push({ link: name, skipped: `both ends lead to host ${first.host}: nothing to probe between` });
      return;
    }
    const via = [first.via, second.via].filter(Boolean).join("; ");
    results.push({
      link: name,
      from: first.host,
      to: second.host,
      address: second.address,
      ...(via ? { via } : {}),
      configured: configuredPath(topology, hops),
    });
  });
  return results;
}

function reverse(hops: readonly Hop[]): Hop[] {
  return [...hops].reverse().map((hop) => ({ link: hop.link, from: (1 - hop.from) as 0 | 1 }));
}

/** The host that stands for end `which` of link `index`, and how it reaches that end. */
function sideOf(topology: Topology, index: number, which: 0 | 1): Side | undefined {
  const end = topology.links[index].ends[which];
  const own = pick(end.addresses);
  if (own) return { host: end.host, address: bare(own), hops: [] };
  const bridge = topology.bridges.find((b) => b.host === end.host && b.interfaces.includes(end.iface));
  if (!bridge) return undefined;
  for (const member of bridge.interfaces) {
    if (member === end.iface) continue;
    const otherIndex = topology.links.findIndex(
      (l, i) => i !== index && l.ends.some((e) => e.host === bridge.host && e.iface === member),
    );
    if (otherIndex < 0) continue;
    const other = topology.links[otherIndex];
    const near = other.ends[0].host === bridge.host && other.ends[0].iface === member ? 0 : 1;
    const far = other.ends[1 - near];
    const address = pick(far.addresses);
    if (address)
      return {
        host: far.host,
        address: bare(address),
        hops: [{ link: otherIndex, from: (1 - near) as 0 | 1 }],
        via: `${endName(end)} is a port of bridge ${bridge.name}: probed through it from ${far.host}, its first other host with an address`,
      };
  }
  const own2 = pick(bridge.addresses);
  if (own2)
    return {
      host: bridge.host,
      address: bare(own2),
      hops: [],
      via: `${endName(end)} is a port of bridge ${bridge.name}: probed at the bridge's own address`,
    };
  return undefined;
}

/** Both ends over the first VLAN id that has addresses on both. */
function vlanSides(topology: Topology, index: number): [Side, Side] | undefined {
  const [a, b] = topology.links[index].ends;
  for (const vlan of topology.vlans.filter(
    (v) => v.host === a.host && v.parent === a.iface && v.addresses.length > 0,
  )) {
    const peer = topology.vlans.find(
      (v) => v.host === b.host && v.parent === b.iface && v.id === vlan.id && v.addresses.length > 0,
    );
    if (peer) {
      const via = `over VLAN ${vlan.id} (${vlan.iface} and ${peer.iface}): the link's ends have no addresses of their own`;
      return [
        { host: a.host, address: bare(pick(vlan.addresses)), hops: [], via },
        { host: b.host, address: bare(pick(peer.addresses)), hops: [] },
      ];
    }
  }
  return undefined;
}

/** The impairments a packet crossing `hop` meets: the sender's outgoing, then the receiver's incoming (its `ingress`). */
function stagesOf(topology: Topology, hop: Hop): { where: string; impair: NetemOptions }[] {
  const link = topology.links[hop.link];
  const sender = link.ends[hop.from];
  const receiver = link.ends[1 - hop.from];
  const stages: { where: string; impair: NetemOptions }[] = [];
  if (sender.impair) {
    const { ingress: _ingress, ...outgoing } = sender.impair;
    stages.push({ where: `${endName(sender)} sends`, impair: outgoing });
  }
  const incoming = receiver.impair?.ingress;
  if (incoming === true) {
    const { ingress: _ingress, ...same } = receiver.impair ?? {};
    stages.push({ where: `${endName(receiver)} receives`, impair: same });
  } else if (incoming) stages.push({ where: `${endName(receiver)} receives`, impair: incoming });
  return stages;
}

function configuredWay(topology: Topology, hops: readonly Hop[]): ConfiguredWay {
  const way: ConfiguredWay = {
    impairments: [],
    delayMs: 0,
    jitterMs: 0,
    lossPercent: 0,
    duplicatePercent: 0,
    reorderPercent: 0,
    rateMbps: undefined,
    slot: false,
  };
  let delivered = 1;
  let copies = 1;
  let inOrder = 1;
  for (const hop of hops) {
    for (const { where, impair } of stagesOf(topology, hop)) {
      const text = describeImpairment(impair);
      way.impairments.push(`${where}: ${text || "netem without options"}`);
      way.delayMs += impair.delay ?? 0;
      way.jitterMs += impair.delay ? (impair.jitter ?? 0) : 0;
      const loss = lossShare(impair.loss);
      if (loss === undefined) delivered = NaN;
      else delivered *= 1 - loss;
      delivered *= 1 - (impair.corrupt ?? 0) / 100;
      copies *= 1 + (impair.duplicate ?? 0) / 100;
      inOrder *= 1 - (impair.delay ? (impair.reorder ?? 0) : 0) / 100;
      if (impair.rate) way.rateMbps = Math.min(way.rateMbps ?? Infinity, impair.rate);
      if (impair.slot) way.slot = true;
    }
  }
  way.lossPercent = Number.isNaN(delivered) ? undefined : round((1 - delivered) * 100);
  way.duplicatePercent = round((copies - 1) * 100);
  way.reorderPercent = round((1 - inOrder) * 100);
  return way;
}

/** Share of packets a loss setting drops, 0 to 1; undefined for the 4-state model (not computed here). */
function lossShare(loss: NetemOptions["loss"]): number | undefined {
  if (loss == null) return 0;
  if (typeof loss === "number") return loss / 100;
  if ("random" in loss) return loss.random / 100;
  if ("gemodel" in loss) return gilbertElliott(loss.gemodel).lossPercent / 100;
  return undefined;
}

function configuredPath(topology: Topology, hops: readonly Hop[]): ConfiguredPath {
  const there = configuredWay(topology, hops);
  const back = configuredWay(topology, reverse(hops));
  const lost =
    there.lossPercent === undefined || back.lossPercent === undefined
      ? undefined
      : round((1 - (1 - there.lossPercent / 100) * (1 - back.lossPercent / 100)) * 100);
  return {
    there,
    back,
    rttMs: round(there.delayMs + back.delayMs),
    jitterMs: round(there.jitterMs + back.jitterMs),
    lossPercent: lost,
    duplicatePercent: round(((1 + there.duplicatePercent / 100) * (1 + back.duplicatePercent / 100) - 1) * 100),
    goodputCeilingMbps: there.rateMbps === undefined ? undefined : round(there.rateMbps * goodputCeiling()),
  };
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}

/** Options of probeLinks(). */
export interface LinkProbeOptions {
  /** Datagrams per link. @default LINK_PROBE_COUNT */
  count?: number;
  /** Seconds of TCP transfer on a link whose way there has a rate; 0: none. @default LINK_PROBE_TCP_SECONDS */
  tcpSeconds?: number;
  /** Bound on each link's probe, ms. @default the probe's own (see ProbeOptions.timeout) */
  timeout?: number;
  signal?: AbortSignal;
  /** Called before each link's probe. */
  onProbe?: (target: LinkProbeTarget) => void;
}

/** One link's outcome: its target with what was measured, or the error that stopped its probe; or why it was skipped. */
export type LinkProbeResult = (LinkProbeTarget & ({ measured: ProbeReport } | { error: string })) | LinkProbeSkip;

/**
 * Checks the options of probeLinks() without starting anything.
 * @throws InvalidArgumentError naming the bad option.
 */
export function checkLinkProbeOptions(options: LinkProbeOptions): void {
  checkProbeOptions({
    count: options.count ?? LINK_PROBE_COUNT,
    ...(options.timeout !== undefined ? { timeout: options.timeout } : {}),
  });
  if (options.tcpSeconds !== undefined && options.tcpSeconds !== 0)
    checkProbeOptions({ tcp: { seconds: options.tcpSeconds } });
}

/**
 * Probes `targets` one after the other (at once they would share links and
 * measure each other), each between the hosts' DummyNets of `hosts`.
 * A probe that fails is reported with its error; an abort rejects.
 */
export async function probeLinks(
  net: DummyNet,
  hosts: ReadonlyMap<string, DummyNet>,
  targets: readonly (LinkProbeTarget | LinkProbeSkip)[],
  options: LinkProbeOptions = {},
): Promise<LinkProbeResult[]> {
  checkLinkProbeOptions(options);
  const results: LinkProbeResult[] = [];
  for (const target of targets) {
    if ("skipped" in target) {
      results.push(target);
      continue;
    }
    options.signal?.throwIfAborted();
    options.onProbe?.(target);
    const tcpSeconds = options.tcpSeconds ?? LINK_PROBE_TCP_SECONDS;
    try {
      const [from, to] = [hosts.get(target.from), hosts.get(target.to)];
      if (!from || !to) throw new Error(`the network has no host ${from ? target.to : target.from}`);
      const measured = await net.probe(from, to, {
        address: target.address,
        count: options.count ?? LINK_PROBE_COUNT,
        ...(target.configured.there.rateMbps !== undefined && tcpSeconds > 0 ? { tcp: { seconds: tcpSeconds } } : {}),
        ...(options.timeout !== undefined ? { timeout: options.timeout } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      });
      results.push({ ...target, measured });
    } catch (error) {
      if (options.signal?.aborted) throw error;
      results.push({ ...target, error: (error as Error).message });
    }
  }
  return results;
}

/** The results as text: per link, the impairments, then configured against measured, one figure a line. */
export function formatLinkProbes(results: readonly LinkProbeResult[]): string {
  if (results.length === 0) return "probe: no impaired links in this file (no link end has impair): nothing to probe";
  const blocks: string[] = [];
  for (const result of results) {
    if ("skipped" in result) {
      blocks.push(`probe ${result.link}: skipped: ${result.skipped}`);
      continue;
    }
    const { configured: c } = result;
    const lines = [
      `probe ${result.link}: ${result.from} -> ${result.to} (${result.address})${result.via ? `, ${result.via}` : ""}`,
    ];
    lines.push(`  there: ${c.there.impairments.join("; ") || "unimpaired"}`);
    lines.push(`  back:  ${c.back.impairments.join("; ") || "unimpaired"}`);
    if ("error" in result) {
      lines.push(`  failed: ${result.error}`);
      blocks.push(lines.join("\n"));
      continue;
    }
    const m = result.measured;
    const ms = (value: number) => (Number.isNaN(value) ? "-" : value < 10 ? value.toFixed(2) : value.toFixed(1));
    const slot = c.there.slot || c.back.slot ? " + slots" : "";
    const rows: [string, string, string][] = [
      [
        "round trip",
        `${ms(c.rttMs)} ms${slot}`,
        m.received > 0
          ? `p50 ${ms(m.rttMs.p50)} ms (min ${ms(m.rttMs.min)}, p99 ${ms(m.rttMs.p99)})`
          : "no reply came back",
      ],
      [
        "jitter",
        c.jitterMs > 0 ? `±${ms(c.jitterMs)} ms` : "none",
        m.received > 0 ? `p10-p90 ${ms(m.rttMs.p10)}-${ms(m.rttMs.p90)} ms, stdev ${ms(m.rttMs.stdev)}` : "-",
      ],
      [
        "loss",
        c.lossPercent === undefined ? "4-state model (not computed)" : `${c.lossPercent} % (both ways)`,
        `${m.lossPercent} % (${m.sent - m.received} of ${m.sent})`,
      ],
      [
        "duplicates",
        `${c.duplicatePercent} %`,
        `${m.duplicates} (${m.received > 0 ? round((m.duplicates / m.received) * 100) : 0} %)`,
      ],
      [
        "reordered",
        c.there.reorderPercent + c.back.reorderPercent > 0
          ? `reorder ${c.there.reorderPercent} % there, ${c.back.reorderPercent} % back`
          : c.jitterMs > 0
            ? "jitter may reorder"
            : "none",
        String(m.reordered),
      ],
    ];
    if (c.there.rateMbps !== undefined) {
      rows.push([
        "tcp goodput",
        `rate ${c.there.rateMbps} Mbit/s (payload at most ${c.goodputCeilingMbps})`,
        m.goodputMbps === undefined
          ? "not measured (--probe-tcp-seconds 0)"
          : m.tcp
            ? `${m.goodputMbps.toFixed(2)} Mbit/s (${m.tcp.bytes} bytes in ${m.tcp.seconds.toFixed(2)} s)`
            : `0 (${m.tcpError ?? "no transfer"})`,
      ]);
    }
    if (m.sendErrors > 0) rows.push(["send errors", "0", `${m.sendErrors}: ${m.sendError ?? "?"}`]);
    const widths = [0, 1].map((column) =>
      Math.max(...rows.map((row) => row[column].length), ["", "configured"][column].length),
    );
    const line = (cells: readonly string[]) =>
      `  ${cells[0].padEnd(widths[0])}  ${cells[1].padEnd(widths[1])}  ${cells[2]}`.trimEnd();
    lines.push(line(["", "configured", "measured"]), ...rows.map(line));
    blocks.push(lines.join("\n"));
  }
  return blocks.join("\n\n");
}
