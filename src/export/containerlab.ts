/**
 * A topology as a containerlab topology document (the data; text.ts writes
 * it): each host a `kind: linux` node whose `exec` builds the host's network
 * and starts its programs, each link a brief-form link with dummynet's MTU.
 * For containerlab, nodes with jobs wait (`stages.configure.wait-for`) for
 * the nodes whose daemons have readiness checks to turn healthy; clabernetes
 * reads no `stages` (each node runs in its own pod), so there it is a warning.
 */
import { overlaps, parseCidr } from "../topology/addresses.js";
import type { NodePath, Topology } from "../topology/model.js";
import { DEFAULT_EXPORT_IMAGE } from "./default-image.js";
import { planImpairments } from "./impairments.js";
import { chooseNames, CONTAINERLAB_NODE_NAME } from "./naming.js";
import { networkCommands } from "./network-commands.js";
import { programCommands, type Healthcheck } from "./programs.js";
import type { ExportReport, ExportTarget } from "./report.js";
import { joinWords } from "./shlex.js";

/** A node of the exported file (only the fields the export writes). */
interface ContainerlabNode {
  kind: "linux";
  image: string;
  cpu?: number;
  memory?: string;
  healthcheck?: Healthcheck;
  stages?: { configure: { "wait-for": { node: string; stage: "healthy" }[] } };
  exec?: string[];
}

/** A link in the brief form (the only one clabernetes reads). */
interface ContainerlabLink {
  endpoints: [string, string];
  mtu: number;
}

/** The exported containerlab topology document. */
export interface ContainerlabDocument {
  name: string;
  topology: { nodes: Record<string, ContainerlabNode>; links?: ContainerlabLink[] };
}

/** dummynet's veth MTU (the kernel's default); containerlab's own default would be 9500. */
const LINK_MTU = 1500;
/** containerlab's default management subnets, which each node's eth0 is in. */
const MANAGEMENT_SUBNETS = ["172.20.20.0/24", "3fff:172:20:20::/64"].flatMap((text) => {
  const cidr = parseCidr(text);
  return cidr ? [{ text, cidr }] : [];
});

const KNOWN_TOPOLOGY_FIELDS = new Set([
  "name",
  "file",
  "description",
  "hosts",
  "links",
  "bridges",
  "vlans",
  "programs",
]);
const KNOWN_HOST_FIELDS = new Set([
  "name",
  "cpu",
  "memory",
  "image",
  "forwarding",
  "sysctls",
  "routes",
  "nat",
  "forward",
  "path",
]);

/** Bytes as containerlab's memory (go-humanize: KiB, MiB, GiB are powers of 1024). */
function formatMemory(bytes: number): string {
  for (const [unit, size] of [
    ["GiB", 2 ** 30],
    ["MiB", 2 ** 20],
    ["KiB", 2 ** 10],
  ] as const) {
    if (bytes % size === 0) return `${bytes / size}${unit}`;
  }
  return `${bytes}B`;
}

/** Fields of the loaded topology this export does not know (a newer loader's, such as `faults`): a warning each. */
function reportUnknownFields(topology: Topology, report: ExportReport): void {
  const given = (value: unknown) =>
    value !== undefined && value !== null && !(Array.isArray(value) && value.length === 0);
  for (const [key, value] of Object.entries(topology)) {
    if (KNOWN_TOPOLOGY_FIELDS.has(key) || !given(value)) continue;
    if (key === "faults") {
      const steps = Array.isArray(value) ? `${value.length} step(s)` : "a schedule";
      report.warn(
        ["faults"],
        `not exported: ${steps}; containerlab and clabernetes have no fault schedule, so run the faults against the deployed lab (tc, ip link set ... down, kill in the nodes)`,
      );
    } else report.warn([key], `not exported: this export does not know the field ${key}`);
  }
  for (const host of topology.hosts) {
    for (const [key, value] of Object.entries(host)) {
      if (!KNOWN_HOST_FIELDS.has(key) && given(value))
        report.warn([...host.path, key], `not exported: this export does not know the host field ${key}`);
    }
  }
}

function reportManagementClashes(topology: Topology, report: ExportReport): void {
  const declared: [string, NodePath][] = [
    ...topology.links.flatMap((link) =>
      link.ends.flatMap((end) => end.addresses.map((a): [string, NodePath] => [a, end.path])),
    ),
    ...topology.vlans.flatMap((vlan) => vlan.addresses.map((a): [string, NodePath] => [a, vlan.path])),
    ...topology.bridges.flatMap((bridge) => bridge.addresses.map((a): [string, NodePath] => [a, bridge.path])),
  ];
  for (const [address, path] of declared) {
    const cidr = parseCidr(address);
    const subnet = MANAGEMENT_SUBNETS.find((management) => cidr && overlaps(cidr, management.cidr))?.text;
    if (subnet) {
      report.warn(
        path,
        `${address} overlaps containerlab's management network ${subnet} (every node's eth0); change the address, or the lab's mgmt subnet in the exported file`,
      );
    }
  }
}

/** The containerlab document of `topology` for `target`. */
export function containerlabDocument(
  topology: Topology,
  target: ExportTarget,
  defaultImage: string | undefined,
  report: ExportReport,
): ContainerlabDocument {
  reportUnknownFields(topology, report);
  reportManagementClashes(topology, report);
  const names = chooseNames(topology, target, report);
  const netem = planImpairments(topology, report);
  const nodes: Record<string, ContainerlabNode> = {};
  const withJobs: string[] = [];
  const healthy: string[] = [];
  for (const host of topology.hosts) {
    const image = host.image ?? defaultImage ?? DEFAULT_EXPORT_IMAGE;
    const programs = programCommands(topology, host, image, report);
    const exec = [...networkCommands(topology, host, names, netem), ...programs.commands].map((words) =>
      joinWords(words),
    );
    for (const [from, to] of names.renamed(host.name)) {
      const mentions = topology.programs.filter(
        (program) =>
          program.host === host.name &&
          // The name as a word of its own: not inside a longer name (eth0 in eth01).
          new RegExp(`(^|[^A-Za-z0-9_.-])${from.replaceAll(".", "\\.")}($|[^A-Za-z0-9_-])`).test(
            JSON.stringify(program.command),
          ),
      );
      for (const program of mentions)
        report.warn(
          program.path,
          `program ${program.name} mentions ${from}, which the node has as ${to}; change the command`,
        );
    }
    const node = names.node(host.name);
    nodes[node] = {
      kind: "linux",
      image,
      ...(host.cpu !== undefined ? { cpu: host.cpu } : {}),
      ...(host.memory !== undefined ? { memory: formatMemory(host.memory) } : {}),
      ...(programs.healthcheck ? { healthcheck: programs.healthcheck } : {}),
      ...(exec.length > 0 ? { exec } : {}),
    };
    if (programs.hasJobs) withJobs.push(host.name);
    if (programs.healthcheck) healthy.push(host.name);
  }
  orderJobs(topology, target, withJobs, healthy, nodes, (host) => names.node(host), report);
  const links = topology.links.map((link): ContainerlabLink => ({
    endpoints: link.ends.map((end) => `${names.node(end.host)}:${names.iface(end.host, end.iface)}`) as [
      string,
      string,
    ],
    mtu: LINK_MTU,
  }));
  return {
    name: CONTAINERLAB_NODE_NAME.test(topology.name) ? topology.name : `n${topology.name}`,
    topology: { nodes, ...(links.length > 0 ? { links } : {}) },
  };
}

/** Jobs run once the other nodes' daemons are ready, as `Lab.start()` orders them, where the target can say so. */
function orderJobs(
  topology: Topology,
  target: ExportTarget,
  withJobs: readonly string[],
  healthy: readonly string[],
  nodes: Record<string, ContainerlabNode>,
  nodeOf: (host: string) => string,
  report: ExportReport,
): void {
  // A node with jobs waits for the others' health; two nodes with both would wait for each other.
  const both = withJobs.filter((host) => healthy.includes(host));
  for (const host of withJobs) {
    const others = healthy.filter((other) => other !== host);
    if (others.length === 0) continue;
    const spec = topology.hosts.find((h) => h.name === host);
    if (!spec) continue;
    if (target === "clabernetes" || (both.length > 1 && both.includes(host))) {
      report.warn(
        spec.path,
        target === "clabernetes"
          ? `the jobs of ${host} may start before the daemons of ${others.join(", ")} are ready: clabernetes runs each node in its own pod and cannot order them`
          : `the jobs of ${host} may start before the daemons of ${others.join(", ")} are ready: ${both.join(" and ")} have both jobs and daemons, and waiting would be circular`,
      );
      continue;
    }
    const { exec, ...rest } = nodes[nodeOf(host)];
    nodes[nodeOf(host)] = {
      ...rest,
      stages: {
        configure: { "wait-for": others.map((other) => ({ node: nodeOf(other), stage: "healthy" as const })) },
      },
      ...(exec ? { exec } : {}),
    };
  }
}
