/**
 * A topology after loading: the file's declarations, normalized (every
 * optional list present, addresses as lists, ends as objects) and checked.
 * Each declaration keeps the path of the node it came from, so errors found
 * later still point at a line and column.
 */
import type { TcOptions } from "../tc/netem-options.js";

/** Path of a node in the file, e.g. ["links", 0, "ends", 1]. */
export type NodePath = readonly (string | number)[];

/** Netem options as the file declares them: the library's `tc()` options (src/tc/netem-options.ts). */
export type Impairment = TcOptions;

export interface RouteSpec {
  /** "default" or a CIDR. */
  to: string;
  via: string;
  path: NodePath;
}

export interface HostSpec {
  name: string;
  /** CPUs, like `docker --cpus`. */
  cpu?: number;
  /** Bytes. */
  memory?: number;
  forwarding: boolean;
  sysctls: Record<string, string>;
  /** Default gateway and static routes, the gateway first as a "default" route. */
  routes: RouteSpec[];
  nat: { source: string; out: string; path: NodePath }[];
  forward: { from: string; to: string; path: NodePath }[];
  path: NodePath;
}

export interface LinkEndSpec {
  host: string;
  iface: string;
  addresses: string[];
  /** Impairment of the packets this end sends (link-wide options merged under the end's own). */
  impair?: Impairment;
  /** Where the impairment is declared: the end's own `impair`, else the link's. */
  impairPath?: NodePath;
  path: NodePath;
}

export interface LinkSpec {
  ends: [LinkEndSpec, LinkEndSpec];
  path: NodePath;
  /** Where a link-wide `ingress` was declared (refused: it would impair each direction twice). */
  linkIngressPath?: NodePath;
}

export interface BridgeSpec {
  name: string;
  host: string;
  interfaces: string[];
  addresses: string[];
  path: NodePath;
}

export interface VlanSpec {
  host: string;
  parent: string;
  id: number;
  /** `<parent>.<id>`, the interface's name. */
  iface: string;
  addresses: string[];
  path: NodePath;
}

export interface ProgramSpec {
  name: string;
  host: string;
  command: string | string[];
  daemon: boolean;
  timeout?: number;
  ready?: { port?: number; line?: string; timeout: number };
  path: NodePath;
}

export interface Topology {
  /** The network's name (the file's `name`, or its base name). */
  name: string;
  /** The file it was loaded from, as given. */
  file: string;
  description?: string;
  hosts: HostSpec[];
  links: LinkSpec[];
  bridges: BridgeSpec[];
  vlans: VlanSpec[];
  programs: ProgramSpec[];
}

/** Default readiness timeout of a program, in milliseconds. */
export const DEFAULT_READY_TIMEOUT = 10_000;
