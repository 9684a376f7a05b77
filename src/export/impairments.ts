/**
 * A link's impairments as `tc qdisc replace dev IFACE root netem ...` in each
 * end's exec, per direction, with the arguments `tc()` itself uses (the same
 * validation, merging and derived queue limit: src/tc/netem-options.ts).
 *
 * containerlab has no netem field, and a container has no IFB device unless
 * its node's kernel has the module: an end's `ingress` (what it receives)
 * becomes netem on the peer's egress, which is the same direction of the same
 * link, when the peer impairs nothing of its own; otherwise the two would
 * stack, which one netem cannot express, and the ingress part is reported lost.
 */
import { netemArguments } from "../tc/netem-options.js";
import type { NetemOptions } from "../tc/netem-model.js";
import type { LinkEndSpec, NodePath, Topology } from "../topology/model.js";
import type { ExportReport } from "./report.js";

/** netem on what one interface sends. */
export interface EgressNetem {
  /** The host whose interface sends. */
  host: string;
  /** The interface (the topology's name). */
  iface: string;
  /** The arguments after `netem`. */
  args: string[];
  /** Where the impairment is declared. */
  path: NodePath;
}

function egressOptions(impair: NetemOptions | undefined): Omit<NetemOptions, "ingress"> | undefined {
  if (!impair) return undefined;
  const egress: NetemOptions = { ...impair };
  delete egress.ingress;
  return Object.keys(egress).length > 0 ? egress : undefined;
}

function ingressOptions(impair: NetemOptions | undefined): Omit<NetemOptions, "ingress"> | undefined {
  const ingress = impair?.ingress;
  if (ingress === true) return egressOptions(impair);
  if (ingress === false || ingress === null || ingress === undefined) return undefined;
  return ingress;
}

/** The netem of every interface that sends impaired, in link order. */
export function planImpairments(topology: Topology, report: ExportReport): EgressNetem[] {
  const planned: EgressNetem[] = [];
  const add = (end: LinkEndSpec, options: Omit<NetemOptions, "ingress">, path: NodePath) => {
    if (options.seed !== undefined && options.seed !== null) {
      report.warn(
        path,
        `netem's seed needs iproute2 6.6 or later in the image and Linux 6.4 or later on every node that runs ${end.host}; elsewhere tc refuses the whole netem command and ${end.host}:${end.iface} sends unimpaired`,
      );
    }
    planned.push({ host: end.host, iface: end.iface, args: netemArguments(options), path });
  };
  for (const link of topology.links) {
    const own = link.ends.map((end) => egressOptions(end.impair));
    link.ends.forEach((end, i) => {
      const options = own[i];
      if (options) add(end, options, end.impairPath ?? end.path);
    });
    link.ends.forEach((end, i) => {
      const incoming = ingressOptions(end.impair);
      if (!incoming) return;
      const peer = link.ends[1 - i];
      const path = [...(end.impairPath ?? end.path), "ingress"];
      if (own[1 - i]) {
        report.warn(
          path,
          `not exported: what ${end.host}:${end.iface} receives would be impaired twice (by ${peer.host}:${peer.iface}'s own netem and by this ingress), which one netem cannot express, and a container has no IFB device; merge the two into ${peer.host}:${peer.iface}'s impair`,
        );
        return;
      }
      add(peer, incoming, path);
      report.notice(
        path,
        `${end.host}:${end.iface}'s ingress is netem on ${peer.host}:${peer.iface}'s egress: the same direction of the same link (a container has no IFB device)`,
      );
    });
  }
  return planned;
}
