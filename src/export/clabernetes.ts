/**
 * The clabernetes Topology resource (clabernetes.containerlab.dev/v1alpha1):
 * `spec.definition.containerlab` holds the containerlab file as a string;
 * clabernetes runs each node in a launcher pod of its own and carries the
 * links between pods in VXLAN tunnels. Its name prefixes the Deployments and
 * Services it makes, so it is a DNS-1035 label (lowercase letters, digits and
 * `-`, starting with a letter). Nodes are not exposed through LoadBalancer
 * Services (`expose.disableExpose`): a dummynet host is not reachable from
 * outside its machine either, and a Service per node can cost money.
 */
import type { ExportReport } from "./report.js";

export const CLABERNETES_API_VERSION = "clabernetes.containerlab.dev/v1alpha1";
export const DNS_1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

/** The Topology resource (only the fields the export writes). */
export interface ClabernetesTopology {
  apiVersion: typeof CLABERNETES_API_VERSION;
  kind: "Topology";
  metadata: { name: string };
  spec: {
    naming: "global";
    expose: { disableExpose: true };
    definition: { containerlab: string };
  };
}

/** The resource's name: the network's, as a DNS-1035 label of at most 63 characters. */
export function resourceName(network: string, report: ExportReport): string {
  let name = network.toLowerCase().replace(/[^a-z0-9-]/g, "-");
  if (!/^[a-z]/.test(name)) name = `n${name}`;
  name = name.slice(0, 63).replace(/-+$/, "");
  if (name !== network) {
    report.notice(["name"], `network ${network} is Topology ${name}: a Kubernetes name (lowercase letters, digits, -)`);
  }
  return name;
}

export function clabernetesTopology(name: string, containerlab: string): ClabernetesTopology {
  return {
    apiVersion: CLABERNETES_API_VERSION,
    kind: "Topology",
    metadata: { name },
    spec: { naming: "global", expose: { disableExpose: true }, definition: { containerlab } },
  };
}
