/**
 * Our own checks of what the export writes, from containerlab's
 * schemas/clab.schema.json and docs/manual (nodes, kinds/linux, links) and
 * clabernetes' apis/v1alpha1 and its reading of a containerlab file
 * (util/containerlab/types.go, controllers/topology/definitioncontainerlab.go),
 * restricted to the fields the export uses. Each returns the problems found,
 * in words; none means the text is one both tools take. exportTopology runs
 * them on every result, so a file that breaks a rule is never handed out.
 */
import { yaml } from "../topology/yaml.js";
import { KUBERNETES_LABEL, MAX_IFACE } from "./naming.js";
import { CLABERNETES_API_VERSION, DNS_1035_LABEL } from "./clabernetes.js";
import type { ExportTarget } from "./report.js";
import { ShlexError, splitWords } from "./shlex.js";

const NODE_NAME = /^[a-zA-Z0-9][a-zA-Z0-9-._]*$/;
const NODE_FIELDS = new Set(["kind", "image", "cpu", "memory", "healthcheck", "stages", "exec"]);
const HEALTHCHECK_FIELDS = new Set(["test", "start-period", "interval", "timeout", "retries"]);
const STAGES = new Set(["create", "create-links", "configure", "healthy", "exit"]);
/** go-humanize's ParseBytes, which containerlab's docker runtime uses for `memory`. */
const MEMORY = /^[0-9]+(\.[0-9]+)?\s*(b|kb|kib|mb|mib|gb|gib|tb|tib)?$/i;

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json =>
  typeof value === "object" && value !== null && !Array.isArray(value);
const isInteger = (value: unknown) => Number.isInteger(value);

/**
 * The containerlab text as containerlab reads it: no `{{` (Go template),
 * `$$` becomes `$` and no other `$` may start a variable (envsubst), then a
 * strict YAML 1.1 parse (duplicate keys refused).
 *
 * @throws Error naming the rule the text breaks.
 */
export function readContainerlabText(text: string): unknown {
  if (text.includes("{{"))
    throw new Error("the text holds {{, which containerlab's Go template would take as an action");
  const substituted = text.replace(/\$(\$|[A-Za-z0-9_{])?/g, (match, next: string | undefined) => {
    if (next === "$") return "$";
    if (next !== undefined)
      throw new Error(`the text holds ${match}..., which containerlab would substitute from its environment`);
    return match;
  });
  return yaml().parse(substituted, { version: "1.1", uniqueKeys: true, prettyErrors: false });
}

/** Problems of a containerlab document as the export writes it, for `target`. */
export function containerlabProblems(doc: unknown, target: ExportTarget): string[] {
  const problems: string[] = [];
  const problem = (text: string) => problems.push(text);
  if (!isObject(doc)) return ["the document is not a mapping"];
  for (const key of Object.keys(doc))
    if (key !== "name" && key !== "topology") problem(`unknown top-level field ${key}`);
  if (typeof doc["name"] !== "string" || !NODE_NAME.test(doc["name"]))
    problem(`name ${String(doc["name"])} does not match ${NODE_NAME}`);
  const topology = doc["topology"];
  if (!isObject(topology) || !isObject(topology["nodes"])) return [...problems, "topology.nodes is missing"];
  for (const key of Object.keys(topology))
    if (key !== "nodes" && key !== "links") problem(`unknown field topology.${key}`);
  const nodes = topology["nodes"];
  for (const [name, node] of Object.entries(nodes)) {
    const at = `node ${name}`;
    if (!NODE_NAME.test(name)) problem(`${at}: the name does not match ${NODE_NAME}`);
    if (target === "clabernetes" && !KUBERNETES_LABEL.test(name)) problem(`${at}: not a Kubernetes name`);
    if (!isObject(node)) {
      problem(`${at} is not a mapping`);
      continue;
    }
    for (const key of Object.keys(node)) if (!NODE_FIELDS.has(key)) problem(`${at}: unknown field ${key}`);
    if (node["kind"] !== "linux") problem(`${at}: kind is not linux`);
    if (typeof node["image"] !== "string" || node["image"] === "") problem(`${at}: no image`);
    if ("cpu" in node && !(typeof node["cpu"] === "number" && node["cpu"] >= 0))
      problem(`${at}: cpu is not a number >= 0`);
    if ("memory" in node && !(typeof node["memory"] === "string" && MEMORY.test(node["memory"])))
      problem(`${at}: memory ${String(node["memory"])} is not a size containerlab parses`);
    if ("exec" in node) {
      const exec = node["exec"];
      if (!Array.isArray(exec) || exec.length === 0 || !exec.every((line) => typeof line === "string"))
        problem(`${at}: exec is not a non-empty list of strings`);
      else
        for (const line of exec) {
          try {
            if (splitWords(line).length === 0) problem(`${at}: an exec command has no words`);
          } catch (error) {
            if (!(error instanceof ShlexError)) throw error;
            problem(`${at}: ${error.message}`);
          }
        }
    }
    if ("healthcheck" in node) {
      const check = node["healthcheck"];
      if (!isObject(check)) problem(`${at}: healthcheck is not a mapping`);
      else {
        for (const [key, value] of Object.entries(check)) {
          if (!HEALTHCHECK_FIELDS.has(key)) problem(`${at}: unknown healthcheck field ${key}`);
          else if (key !== "test" && !(isInteger(value) && (value as number) >= 0))
            problem(`${at}: healthcheck ${key} is not a whole number of seconds`);
        }
        const test = check["test"];
        if (!Array.isArray(test) || !["CMD", "CMD-SHELL"].includes(test[0] as string) || test.length < 2)
          problem(`${at}: healthcheck test is not [CMD|CMD-SHELL, ...]`);
      }
    }
    if ("stages" in node) {
      if (target === "clabernetes") problem(`${at}: clabernetes reads no stages`);
      const stages = node["stages"];
      for (const [stage, body] of Object.entries(isObject(stages) ? stages : {})) {
        if (!STAGES.has(stage)) problem(`${at}: unknown stage ${stage}`);
        const waits = isObject(body) ? body["wait-for"] : undefined;
        for (const wait of Array.isArray(waits) ? waits : []) {
          if (
            !isObject(wait) ||
            typeof wait["node"] !== "string" ||
            !(wait["node"] in nodes) ||
            !STAGES.has(wait["stage"] as string)
          )
            problem(`${at}: stage ${stage} waits for an unknown node or stage: ${JSON.stringify(wait)}`);
        }
      }
    }
  }
  if ("links" in topology) {
    const links = topology["links"];
    if (!Array.isArray(links) || links.length === 0)
      problem("links is present but empty (containerlab wants at least one)");
    const seen = new Set<string>();
    for (const link of Array.isArray(links) ? links : []) {
      const endpoints = isObject(link) ? link["endpoints"] : undefined;
      if (!isObject(link) || Object.keys(link).some((key) => key !== "endpoints" && key !== "mtu"))
        problem(`link ${JSON.stringify(link)}: fields other than endpoints and mtu`);
      if (
        isObject(link) &&
        "mtu" in link &&
        !(isInteger(link["mtu"]) && (link["mtu"] as number) >= 1 && (link["mtu"] as number) <= 65535)
      )
        problem(`link ${JSON.stringify(link)}: mtu is not 1 to 65535`);
      if (!Array.isArray(endpoints) || endpoints.length !== 2) {
        problem(`link ${JSON.stringify(link)}: not two endpoints`);
        continue;
      }
      for (const endpoint of endpoints as unknown[]) {
        const match = typeof endpoint === "string" ? /^([^\s:]+):([^\s:]+)$/.exec(endpoint) : null;
        if (typeof endpoint !== "string" || !match) {
          problem(`endpoint ${String(endpoint)} is not node:interface`);
          continue;
        }
        const [, node = "", iface = ""] = match;
        if (!(node in nodes)) problem(`endpoint ${endpoint}: no node ${node}`);
        if (iface === "eth0") problem(`endpoint ${endpoint}: eth0 is a linux node's management interface`);
        if (iface.length > MAX_IFACE || /[ /]/.test(iface)) problem(`endpoint ${endpoint}: not a Linux interface name`);
        if (target === "clabernetes" && node.length + 1 + iface.length > MAX_IFACE)
          problem(`endpoint ${endpoint}: clabernetes' veth ${node}-${iface} is over ${MAX_IFACE} characters`);
        if (seen.has(endpoint)) problem(`endpoint ${endpoint} is used twice`);
        seen.add(endpoint);
      }
    }
  }
  return problems;
}

/** Problems of a clabernetes Topology resource as the export writes it (its containerlab string included). */
export function clabernetesProblems(resource: unknown): string[] {
  if (!isObject(resource)) return ["the resource is not a mapping"];
  const problems: string[] = [];
  if (resource["apiVersion"] !== CLABERNETES_API_VERSION) problems.push(`apiVersion is not ${CLABERNETES_API_VERSION}`);
  if (resource["kind"] !== "Topology") problems.push("kind is not Topology");
  const metadata = resource["metadata"];
  const name = isObject(metadata) ? metadata["name"] : undefined;
  if (typeof name !== "string" || name.length > 63 || !DNS_1035_LABEL.test(name))
    problems.push(`metadata.name ${String(name)} is not a DNS-1035 label`);
  const spec = resource["spec"];
  if (!isObject(spec)) return [...problems, "spec is missing"];
  const known = new Set(["connectivity", "definition", "deployment", "expose", "imagePull", "naming", "statusProbes"]);
  for (const key of Object.keys(spec)) if (!known.has(key)) problems.push(`unknown field spec.${key}`);
  if (!["prefixed", "non-prefixed", "global"].includes(spec["naming"] as string))
    problems.push("spec.naming is not prefixed, non-prefixed or global");
  const expose = spec["expose"];
  if (expose !== undefined && (!isObject(expose) || Object.values(expose).some((value) => typeof value !== "boolean")))
    problems.push("spec.expose is not a mapping of booleans");
  const definition = spec["definition"];
  const text = isObject(definition) ? definition["containerlab"] : undefined;
  if (typeof text !== "string") return [...problems, "spec.definition.containerlab is not a string"];
  try {
    problems.push(
      ...containerlabProblems(readContainerlabText(text), "clabernetes").map(
        (p) => `spec.definition.containerlab: ${p}`,
      ),
    );
  } catch (error) {
    problems.push(`spec.definition.containerlab: ${(error as Error).message}`);
  }
  return problems;
}
