/**
 * `exportTopology`: a loaded topology as a containerlab topology file or a
 * clabernetes Topology resource, for networks that outgrow one machine. The
 * text is checked against our rules (rules.ts) before it is returned.
 */
import { InvalidArgumentError } from "../errors.js";
import type { Topology } from "../topology/model.js";
import { clabernetesTopology, resourceName } from "./clabernetes.js";
import { containerlabDocument } from "./containerlab.js";
import { EXPORT_TARGETS, ExportError, ExportReport, type ExportTarget, type ExportWarning } from "./report.js";
import { clabernetesProblems, containerlabProblems, readContainerlabText } from "./rules.js";
import { containerlabText, resourceText } from "./text.js";

/**
 * Options of `exportTopology()`.
 * @inline
 */
export interface ExportTopologyOptions {
  /** `containerlab` (a topology file for `containerlab deploy -t`) or `clabernetes` (a Topology resource for `kubectl apply -f`). */
  to: ExportTarget;
  /** Image of the hosts that name none (`image:` in the topology file). @default "nicolaka/netshoot:v0.16" */
  image?: string;
  /** Refuse (throw ExportError) when anything does not carry over faithfully, instead of warning. @default false */
  strict?: boolean;
  /** Receives each warning and notice, in the order found, before the text is returned. */
  onWarning?: (warning: ExportWarning) => void;
}

const IMAGE = /^[A-Za-z0-9][A-Za-z0-9._/:@-]*$/;

/**
 * The topology as `options.to` reads it: a containerlab topology file, or a
 * clabernetes Topology resource whose `spec.definition.containerlab` is that
 * file. Hosts become `kind: linux` nodes whose `exec` commands build the
 * host's network (addresses, VLANs, bridges, routes, NAT, netem per
 * direction) and start its programs; see docs/beyond-one-machine.md for what
 * maps and what does not. What does not carry over faithfully is a warning,
 * given to `onWarning` (or, with `strict`, the reason for an ExportError);
 * renamed nodes and interfaces are notices. Changes nothing on the system.
 *
 * @throws InvalidArgumentError for an unknown target or an image that is not an image reference.
 * @throws ExportError with `strict`, when anything does not carry over faithfully.
 * @example
 * ```ts
 * const topology = await loadTopology("examples/star.yaml");
 * const text = exportTopology(topology, { to: "containerlab", onWarning: (w) => console.warn(`${w.path}: ${w.message}`) });
 * writeFileSync("star.clab.yml", text);
 * ```
 */
export function exportTopology(topology: Topology, options: ExportTopologyOptions): string {
  const target = options.to as unknown;
  if (!EXPORT_TARGETS.includes(target as ExportTarget))
    throw new InvalidArgumentError("to", target, `is not a target; expected one of ${EXPORT_TARGETS.join(", ")}`);
  if (options.image !== undefined && !(typeof options.image === "string" && IMAGE.test(options.image)))
    throw new InvalidArgumentError("image", options.image, "is not an image reference such as nicolaka/netshoot:v0.16");
  const to = target as ExportTarget;
  const report = new ExportReport();
  const document = containerlabDocument(topology, to, options.image, report);
  const name = to === "clabernetes" ? resourceName(topology.name, report) : undefined;
  if (options.strict && report.warnings.length > 0) throw new ExportError(report.items, to);
  for (const item of report.items) options.onWarning?.(item);

  const comment = ` containerlab topology of dummynet network ${topology.name}, exported by \`dummynet export --to ${to}\``;
  const clab = containerlabText(document, comment);
  const problems = containerlabProblems(readContainerlabText(clab), to);
  let text = clab;
  if (name !== undefined) {
    const resource = clabernetesTopology(name, clab);
    text = resourceText(resource, ["spec", "definition", "containerlab"]);
    problems.push(...clabernetesProblems(resource));
  }
  if (problems.length > 0)
    throw new Error(`dummynet export: internal error: the ${to} text breaks its rules: ${problems.join("; ")}`);
  return text;
}
