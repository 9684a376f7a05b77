/**
 * What `doctor` (and the first rootless call) learns about rootless mode:
 * whether a holder starts here (or which blocker stops it, with the fix),
 * which network features work inside it, each tried for real in a throwaway
 * namespace, and whether cgroups are delegated to this user.
 */
import { spawnSync } from "node:child_process";
import { accessSync, constants, readFileSync } from "node:fs";
import { join } from "node:path";
import {
  type RootlessProblem,
  type UserNamespaceSysctls,
  readUserNamespaceSysctls,
  RootlessUnavailableError,
} from "./blockers.js";
import { type RootlessHolder, onPath, startRootlessHolder } from "./holder.js";

/** One feature tried inside a holder. */
interface RootlessFeature {
  name: string;
  works: boolean;
  /** Why not (the command's words), when it does not. */
  why?: string;
}

export interface RootlessReport {
  /** A holder started and was entered. */
  available: boolean;
  /** Why not, with the fix, when it is not available. */
  problem?: RootlessProblem | undefined;
  sysctls: UserNamespaceSysctls;
  /** Milliseconds the holder took to start. */
  holderStartMs?: number | undefined;
  /** The network features tried inside. */
  features: RootlessFeature[];
  cgroups: CgroupDelegation;
}

/** Starts a holder, tries the features inside, stops it; never throws for a known blocker (it is the report's `problem`). */
export async function checkRootless(): Promise<RootlessReport> {
  const sysctls = readUserNamespaceSysctls();
  const cgroups = cgroupDelegation();
  let holder: RootlessHolder;
  try {
    holder = await startRootlessHolder();
  } catch (error) {
    if (error instanceof RootlessUnavailableError)
      return {
        available: false,
        problem: { blocker: error.blocker, reason: error.reason, fix: error.fix },
        sysctls,
        features: [],
        cgroups,
      };
    throw error;
  }
  try {
    return {
      available: true,
      sysctls,
      holderStartMs: holder.startMs,
      features: probeRootlessFeatures(holder),
      cgroups,
    };
  } finally {
    await holder.stop();
  }
}

/** Features and the commands that show each works, in a namespace named `probe` (private to the holder). */
const FEATURES: ReadonlyArray<{ name: string; argv: string[]; needs?: string }> = [
  { name: "network namespaces", argv: ["ip", "netns", "add", "probe"] },
  { name: "veth", argv: ["ip", "-n", "probe", "link", "add", "probe0", "type", "veth", "peer", "name", "probe1"] },
  { name: "addresses and routes", argv: ["ip", "-n", "probe", "addr", "add", "10.9.0.1/24", "dev", "probe0"] },
  { name: "bridge", argv: ["ip", "-n", "probe", "link", "add", "probebr", "type", "bridge"] },
  {
    name: "vlan",
    argv: ["ip", "-n", "probe", "link", "add", "link", "probe0", "name", "probe0.5", "type", "vlan", "id", "5"],
  },
  {
    name: "tc tbf",
    argv: [
      "tc",
      "-n",
      "probe",
      "qdisc",
      "add",
      "dev",
      "probe0",
      "root",
      "tbf",
      "rate",
      "1mbit",
      "burst",
      "32kbit",
      "latency",
      "400ms",
    ],
  },
  { name: "tc netem", argv: ["tc", "-n", "probe", "qdisc", "add", "dev", "probe1", "root", "netem", "delay", "1ms"] },
  {
    name: "iptables",
    argv: [
      "nsenter",
      "--net=/run/netns/probe",
      "--",
      "iptables",
      "-w",
      "5",
      "-t",
      "nat",
      "-A",
      "POSTROUTING",
      "-o",
      "probe0",
      "-j",
      "MASQUERADE",
    ],
    needs: "iptables",
  },
  {
    name: "iptables-legacy",
    argv: ["nsenter", "--net=/run/netns/probe", "--", "iptables-legacy", "-w", "5", "-A", "INPUT", "-j", "ACCEPT"],
    needs: "iptables-legacy",
  },
  {
    name: "namespace sysctls",
    argv: ["nsenter", "--net=/run/netns/probe", "--", "sysctl", "-w", "net.ipv4.ip_forward=1"],
    needs: "sysctl",
  },
];

/** Tries each feature inside `holder` and removes what it made. */
function probeRootlessFeatures(holder: RootlessHolder): RootlessFeature[] {
  const run = (argv: readonly string[]) => {
    const full = holder.enter(argv);
    return spawnSync(full[0], full.slice(1), { encoding: "utf8", timeout: 10_000 });
  };
  const features: RootlessFeature[] = [];
  try {
    for (const feature of FEATURES) {
      if (feature.needs !== undefined && !onPath(feature.needs)) {
        features.push({ name: feature.name, works: false, why: `${feature.needs} is not installed` });
        continue;
      }
      const result = run(feature.argv);
      const works = result.status === 0;
      features.push(
        works
          ? { name: feature.name, works }
          : {
              name: feature.name,
              works,
              why: (result.stderr || result.error?.message || `exit status ${String(result.status)}`).trim(),
            },
      );
    }
  } finally {
    run(["ip", "netns", "delete", "probe"]);
  }
  return features;
}

/** Whether this user may make cgroups (cgroup limits in rootless mode need a delegated cgroup v2 subtree). */
export type CgroupDelegation = { delegated: true; path: string } | { delegated: false; reason: string; fix: string };

const DELEGATE_FIX =
  "run under a systemd user session with delegation, e.g. `systemd-run --user --scope -p Delegate=yes npm test` " +
  "(or Delegate=yes in the service's unit); on hosts with cgroup v1 controllers (hybrid or legacy) there is no delegation: use root or sudo for cgroup limits";

/** Reads /proc/self/cgroup and the cgroup2 mount: delegated when this process's v2 cgroup directory is writable by it. */
export function cgroupDelegation(procSelf = "/proc/self"): CgroupDelegation {
  let own: string | undefined;
  let mount: string | undefined;
  try {
    own = /^0::(\/.*)$/m.exec(readFileSync(join(procSelf, "cgroup"), "utf8"))?.[1];
    mount = readFileSync(join(procSelf, "mountinfo"), "utf8")
      .split("\n")
      .map((line) => line.split(" "))
      .find((fields) => fields[fields.indexOf("-") + 1] === "cgroup2")?.[4];
  } catch {
    // No /proc: reported below.
  }
  if (own === undefined || mount === undefined)
    return { delegated: false, reason: "this system has no cgroup v2 hierarchy for this process", fix: DELEGATE_FIX };
  const path = join(mount, own);
  try {
    accessSync(path, constants.W_OK);
    accessSync(join(path, "cgroup.procs"), constants.W_OK);
    return { delegated: true, path };
  } catch {
    return {
      delegated: false,
      reason: `this user cannot write its cgroup ${path}: it is not delegated`,
      fix: DELEGATE_FIX,
    };
  }
}

/** `dummynet doctor`'s rootless section: whether it works here, each feature with why not, cgroups, each problem with its fix. */
export function formatRootlessReport(report: RootlessReport): string {
  const lines = ["Rootless mode (no root, no sudo: a user namespace of this user):"];
  if (!report.available) {
    lines.push(
      `  not available: ${report.problem?.reason ?? "the holder did not start"}`,
      `    fix: ${report.problem?.fix ?? "see docs/rootless.md"}`,
    );
    return lines.join("\n");
  }
  lines.push(`  user namespaces: work (a holder started in ${(report.holderStartMs ?? 0).toFixed(0)} ms)`);
  for (const feature of report.features) {
    lines.push(
      `  ${feature.name}: ${feature.works ? "works" : `does not work: ${(feature.why ?? "").split("\n")[0]}${ROOTLESS_FEATURE_FIX[feature.name] ? `\n    fix: ${ROOTLESS_FEATURE_FIX[feature.name]}` : ""}`}`,
    );
  }
  const cgroups = report.cgroups;
  lines.push(
    cgroups.delegated
      ? `  cgroup limits: a delegated cgroup (${cgroups.path}) is there, but rootless mode does not use it yet: use root or sudo for limits`
      : `  cgroup limits: refused: ${cgroups.reason}\n    fix: ${cgroups.fix}`,
  );
  return lines.join("\n");
}

/** What to do when a feature does not work inside the holder (the kernel or a package lacks it). */
const ROOTLESS_FEATURE_FIX: Readonly<Record<string, string>> = {
  vlan: "the kernel needs the 8021q module (`sudo modprobe 8021q`; Ubuntu: linux-modules-extra-$(uname -r)); a user namespace cannot load modules",
  "tc netem":
    "the kernel needs the sch_netem module (`sudo modprobe sch_netem`; Ubuntu: linux-modules-extra-$(uname -r)); a user namespace cannot load modules",
  iptables: "install iptables (`sudo apt-get install iptables`) for forward() and nat()",
  "iptables-legacy": "install iptables (`sudo apt-get install iptables`), which brings iptables-legacy",
  "namespace sysctls": "install procps (`sudo apt-get install procps`) for sysctl()",
};
