/**
 * What rootless mode cannot do, refused before anything changes: the real
 * host's namespace (a rootless network's "host" namespace is the holder's own,
 * so a link, address, route, qdisc, rule or sysctl there would not reach this
 * machine's network, only look as if it did), and cgroups (limits need a
 * cgroup v2 subtree delegated to this user).
 */
import { DummyNetError } from "../errors.js";
import { cgroupDelegation } from "./doctor.js";

/**
 * A feature rootless mode cannot offer: `feature` names it, the message says
 * why and what to do. Thrown before anything changes.
 *
 * @example
 * ```ts
 * const rootless = new DummyNet({ rootless: true });
 * try {
 *   await rootless.addCgroup("limited", { cpuLimit: 0.5 });
 * } catch (error) {
 *   if (error instanceof RootlessRefusedError) console.error(error.feature, error.message); // "cgroups", and how to get delegation
 *   else throw error;
 * }
 * ```
 */
export class RootlessRefusedError extends DummyNetError {
  constructor(
    /** What was refused: the real host's namespace, or cgroups (which need a delegated cgroup v2 subtree). */
    readonly feature: "host-namespace" | "cgroups",
    message: string,
  ) {
    super(message);
  }
}

/** The refusal of `operation` on the host namespace of a rootless network. */
export function hostNamespaceRefused(operation: string): RootlessRefusedError {
  return new RootlessRefusedError(
    "host-namespace",
    `${operation} on the host namespace is refused in rootless mode: a rootless network's host namespace is a private one of this user, ` +
      "not this machine's, so it cannot reach or change the real host's network (links, addresses, routes, qdiscs, firewall rules, sysctls). " +
      "Do it in a namespace of the network instead (netnsAdd(), and p1Namespace/p2Namespace for veth pairs), " +
      "or run as root or with passwordless sudo (rootless: false) to change the real host",
  );
}

/** The refusal of cgroups in rootless mode, with the delegation this process has (or lacks). */
export function cgroupsRefused(): RootlessRefusedError {
  const delegation = cgroupDelegation();
  const why = delegation.delegated
    ? `this process's cgroup ${delegation.path} is delegated, but dummynet does not yet place its groups in a delegated subtree. Run as root or with passwordless sudo (rootless: false) for cgroup limits`
    : `cgroup limits need a cgroup v2 subtree delegated to this user, and ${delegation.reason}. Fix: ${delegation.fix}`;
  return new RootlessRefusedError("cgroups", `addCgroup is refused in rootless mode: ${why}`);
}
