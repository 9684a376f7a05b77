/**
 * Graphs of a topology: Mermaid (renders in GitHub Markdown) and Graphviz
 * DOT (`dot -Tsvg` turns it into SVG). Hosts are nodes; links are edges
 * labelled with interfaces, addresses and impairments; bridges are nodes
 * inside their host's cluster; the `faults:` schedule is a note, one line per step.
 */
import { describeImpairment } from "./describe.js";
import { describeFaults } from "./fault-steps.js";
import type { LinkEndSpec, Topology } from "./model.js";

function endLabel(end: LinkEndSpec): string {
  return [end.iface, ...end.addresses].join(" ");
}

function linkLabel(a: LinkEndSpec, b: LinkEndSpec): string[] {
  const lines = [`${endLabel(a)} — ${endLabel(b)}`];
  const there = describeImpairment(a.impair);
  const back = describeImpairment(b.impair);
  if (there && there === back) lines.push(`both ways: ${there}`);
  else {
    if (there) lines.push(`${a.host}→${b.host}: ${there}`);
    if (back) lines.push(`${b.host}→${a.host}: ${back}`);
  }
  return lines;
}

function hostLabel(topology: Topology, name: string): string[] {
  const host = topology.hosts.find((h) => h.name === name);
  if (!host) throw new Error(`internal error: ${name} is not in the checked topology`);
  const lines = [name];
  const limits = [
    host.cpu !== undefined ? `cpu ${host.cpu}` : "",
    host.memory !== undefined ? `mem ${formatBytes(host.memory)}` : "",
  ].filter(Boolean);
  if (limits.length) lines.push(limits.join(", "));
  for (const vlan of topology.vlans.filter((v) => v.host === name))
    lines.push(`${vlan.iface} ${vlan.addresses.join(" ")}`.trim());
  if (host.forwarding) lines.push(host.nat.length ? "router, NAT" : "router");
  const gateway = host.routes.find((route) => route.to === "default");
  if (gateway) lines.push(`gw ${gateway.via}`);
  return lines;
}

function formatBytes(bytes: number): string {
  for (const [unit, size] of [
    ["GiB", 2 ** 30],
    ["MiB", 2 ** 20],
    ["KiB", 2 ** 10],
  ] as const) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size}${unit}`;
  }
  return `${bytes}B`;
}

const mermaidId = (kind: string, name: string) =>
  `${kind}_${name.replace(/[^A-Za-z0-9_]/g, (c) => `_${c.charCodeAt(0).toString(16)}`)}`;
const mermaidText = (lines: string[]) =>
  `"${lines.map((l) => l.replace(/"/g, "#quot;").replace(/[<>]/g, (c) => (c === "<" ? "#lt;" : "#gt;"))).join("<br/>")}"`;

/**
 * The topology as a Mermaid flowchart (hosts, links with addresses and impairments, bridges,
 * VLANs), for a README or a pull request.
 *
 * @example
 * ```ts
 * console.log(toMermaid(await loadTopology("examples/star.yaml")));
 * ```
 */
export function toMermaid(topology: Topology): string {
  const out = ["graph LR"];
  for (const host of topology.hosts)
    out.push(`  ${mermaidId("h", host.name)}[${mermaidText(hostLabel(topology, host.name))}]`);
  for (const bridge of topology.bridges) {
    const label = [
      `bridge ${bridge.name}`,
      ...bridge.addresses,
      bridge.interfaces.length ? `ports: ${bridge.interfaces.join(", ")}` : "",
    ].filter(Boolean);
    out.push(`  ${mermaidId("b", bridge.name)}{{${mermaidText(label)}}}`);
    out.push(`  ${mermaidId("h", bridge.host)} -.- ${mermaidId("b", bridge.name)}`);
  }
  for (const link of topology.links) {
    const [a, b] = link.ends;
    out.push(`  ${mermaidId("h", a.host)} ---|${mermaidText(linkLabel(a, b))}| ${mermaidId("h", b.host)}`);
  }
  const faults = describeFaults(topology.faults);
  // The schedule is a note beside the network: its steps name hosts, not one place in the graph.
  if (faults.length > 0) out.push(`  faults>${mermaidText(["faults", ...faults])}]`);
  return out.join("\n") + "\n";
}

const dotText = (lines: string[]) => `"${lines.map((l) => l.replace(/\\/g, "\\\\").replace(/"/g, '\\"')).join("\\n")}"`;

/**
 * The topology as a Graphviz DOT graph (`dot -Tsvg`).
 *
 * @example
 * ```ts
 * writeFileSync("net.dot", toDot(await loadTopology("examples/star.yaml")));
 * ```
 */
export function toDot(topology: Topology): string {
  const out = [
    `graph ${dotText([topology.name])} {`,
    "  rankdir=LR;",
    '  node [shape=box, fontname="Helvetica"];',
    '  edge [fontname="Helvetica", fontsize=10];',
  ];
  for (const host of topology.hosts)
    out.push(`  ${dotText([`h:${host.name}`])} [label=${dotText(hostLabel(topology, host.name))}];`);
  for (const bridge of topology.bridges) {
    const label = [`bridge ${bridge.name}`, ...bridge.addresses];
    out.push(`  ${dotText([`b:${bridge.name}`])} [shape=hexagon, label=${dotText(label)}];`);
    out.push(
      `  ${dotText([`h:${bridge.host}`])} -- ${dotText([`b:${bridge.name}`])} [style=dashed, label=${dotText([bridge.interfaces.join(", ")])}];`,
    );
  }
  for (const link of topology.links) {
    const [a, b] = link.ends;
    out.push(`  ${dotText([`h:${a.host}`])} -- ${dotText([`h:${b.host}`])} [label=${dotText(linkLabel(a, b))}];`);
  }
  const faults = describeFaults(topology.faults);
  if (faults.length > 0) out.push(`  "faults" [shape=note, label=${dotText(["faults", ...faults])}];`);
  out.push("}");
  return out.join("\n") + "\n";
}
