/**
 * A topology document, as a file holds it once it has passed the schema, made
 * into the Topology the rest of the library reads: hosts, links with their
 * ends and impairments, bridges, VLANs, programs and faults, each with its
 * path in the document for the semantic checks' messages.
 */
import { basename, extname } from "node:path";
import type { NetemOptions } from "../tc/netem-model.js";
import { normalizeFaults, type RawFaultGenerator, type RawFaultStep } from "./fault-steps.js";
import {
  DEFAULT_READY_TIMEOUT,
  type BridgeSpec,
  type HostSpec,
  type LinkEndSpec,
  type LinkSpec,
  type NodePath,
  type ProgramSpec,
  type Topology,
  type VlanSpec,
} from "./model.js";

/** The document form of a topology, for `loadTopology({ hosts: ..., links: ... })`. */
export type TopologyDocument = RawTopology;

interface RawHost {
  cpu?: number;
  memory?: number | string;
  image?: string;
  forwarding?: boolean;
  sysctls?: Record<string, string | number | boolean>;
  gateway?: string;
  routes?: { to: string; via: string }[];
  nat?: { source: string; out: string }[];
  forward?: { from: string; to: string }[];
}
type RawEnd = string | { at: string; address?: string | string[]; impair?: NetemOptions };
/** A topology document as a YAML or JSON file holds it (schema/topology.schema.json). */
export interface RawTopology {
  $schema?: string;
  name?: string;
  description?: string;
  hosts: Record<string, RawHost | null>;
  links?: { ends: [RawEnd, RawEnd]; impair?: NetemOptions }[];
  bridges?: { name: string; host: string; interfaces?: string[]; address?: string | string[] }[];
  vlans?: { on: string; id: number; address?: string | string[] }[];
  programs?: {
    name?: string;
    host: string;
    command: string | string[];
    daemon?: boolean;
    user?: string | number;
    timeout?: number;
    ready?: { port?: number; line?: string; timeout?: number };
  }[];
  faults?: RawFaultStep[] | RawFaultGenerator;
}

export function normalize(raw: RawTopology, file: string, defaultName?: string): Topology {
  const hosts: HostSpec[] = Object.entries(raw.hosts).map(([name, host]) => normalizeHost(name, host ?? {}));
  const links: LinkSpec[] = (raw.links ?? []).map((link, i) => ({
    ends: [0, 1].map((e) =>
      normalizeEnd(link.ends[e], link.impair, ["links", i, "ends", e], ["links", i, "impair"]),
    ) as [LinkEndSpec, LinkEndSpec],
    path: ["links", i],
    ...(link.impair?.ingress !== undefined ? { linkIngressPath: ["links", i, "impair", "ingress"] } : {}),
  }));
  const bridges: BridgeSpec[] = (raw.bridges ?? []).map((bridge, i) => ({
    name: bridge.name,
    host: bridge.host,
    interfaces: bridge.interfaces ?? [],
    addresses: asList(bridge.address),
    path: ["bridges", i],
  }));
  const vlans: VlanSpec[] = (raw.vlans ?? []).map((vlan, i) => {
    const [host, parent] = splitEndpoint(vlan.on);
    return {
      host,
      parent,
      id: vlan.id,
      iface: `${parent}.${vlan.id}`,
      addresses: asList(vlan.address),
      path: ["vlans", i],
    };
  });
  const programs: ProgramSpec[] = (raw.programs ?? []).map((program, i) => ({
    name: program.name ?? (typeof program.command === "string" ? program.command : program.command.join(" ")),
    host: program.host,
    command: program.command,
    daemon: program.daemon ?? false,
    ...(program.user !== undefined ? { user: program.user } : {}),
    ...(program.timeout !== undefined ? { timeout: program.timeout } : {}),
    ...(program.ready ? { ready: { ...program.ready, timeout: program.ready.timeout ?? DEFAULT_READY_TIMEOUT } } : {}),
    path: ["programs", i],
  }));
  const name = raw.name ?? defaultName ?? (basename(file, extname(file)).replace(/[^A-Za-z0-9_.-]/g, "_") || "network");
  return {
    name,
    file,
    ...(raw.description ? { description: raw.description } : {}),
    hosts,
    links,
    bridges,
    vlans,
    programs,
    ...(raw.faults !== undefined ? { faults: normalizeFaults(raw.faults) } : {}),
  };
}

function normalizeHost(name: string, raw: RawHost): HostSpec {
  const path = ["hosts", name];
  const routes = (raw.routes ?? []).map((route, i) => ({ ...route, path: [...path, "routes", i] }));
  if (raw.gateway !== undefined) routes.unshift({ to: "default", via: raw.gateway, path: [...path, "gateway"] });
  return {
    name,
    ...(raw.cpu !== undefined ? { cpu: raw.cpu } : {}),
    ...(raw.memory !== undefined ? { memory: parseSize(raw.memory) } : {}),
    ...(raw.image !== undefined ? { image: raw.image } : {}),
    forwarding: raw.forwarding ?? false,
    sysctls: Object.fromEntries(Object.entries(raw.sysctls ?? {}).map(([key, value]) => [key, sysctlValue(value)])),
    routes,
    nat: (raw.nat ?? []).map((rule, i) => ({ ...rule, path: [...path, "nat", i] })),
    forward: (raw.forward ?? []).map((rule, i) => ({ ...rule, path: [...path, "forward", i] })),
    path,
  };
}

function sysctlValue(value: string | number | boolean): string {
  if (typeof value === "boolean") return value ? "1" : "0";
  return String(value);
}

function normalizeEnd(
  raw: RawEnd,
  linkImpair: NetemOptions | undefined,
  path: NodePath,
  linkImpairPath: NodePath,
): LinkEndSpec {
  const end = typeof raw === "string" ? { at: raw } : raw;
  const [host, iface] = splitEndpoint(end.at);
  const own = typeof raw === "string" ? undefined : raw.impair;
  const impair = linkImpair || own ? { ...linkImpair, ...own } : undefined;
  const impairPath = own ? [...path, "impair"] : linkImpairPath;
  return {
    host,
    iface,
    addresses: asList(typeof raw === "string" ? undefined : raw.address),
    ...(impair ? { impair, impairPath } : {}),
    path,
  };
}

function splitEndpoint(endpoint: string): [string, string] {
  const colon = endpoint.indexOf(":");
  return [endpoint.slice(0, colon), endpoint.slice(colon + 1)];
}

function asList(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

const SIZE_UNITS: Record<string, number> = { "": 1, B: 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };

/** Bytes of "64MiB", "512M", "1.5G", or a number (K, M, G, T are powers of 1024, as in `docker -m`). */
function parseSize(value: number | string): number {
  if (typeof value === "number") return value;
  const match = /^([0-9]+(?:\.[0-9]+)?)\s*([KMGT]?)/.exec(value);
  if (!match) throw new Error(`internal error: ${value} is not a checked size`);
  return Math.round(Number(match[1]) * SIZE_UNITS[match[2]]);
}
