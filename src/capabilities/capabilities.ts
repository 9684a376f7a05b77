/**
 * What this kernel and machine can do for dummynet: privileges, network
 * namespaces, link types, qdiscs, cgroups, iptables and the programs the
 * library runs. Where it is cheap and safe the answer comes from a real probe
 * (kernel-probe.ts); otherwise from hints (module-hints.ts). Every missing
 * capability carries advice on how to get it.
 */
import { release } from "node:os";
import { spawnSync } from "node:child_process";
import { surveyCgroups, type CGroupStatus } from "../cgroups/layout.js";
import type { CommandRunner } from "../system/command-runner.js";
import { ROOT_ADVICE, isRoot, sudoWorksWithoutPassword } from "../system/privilege.js";
import { SpawnRunner } from "../system/spawn-runner.js";
import { findExecutable, pathDirectories } from "../system/executables.js";
import { missingProgramHint } from "../system/hints.js";
import { probeKernel } from "./kernel-probe.js";
import { hintStatus, moduleHints } from "./module-hints.js";
import {
  KERNEL_FEATURES,
  PROGRAMS,
  type Capabilities,
  type FeatureStatus,
  type IptablesStatus,
  type KernelFeature,
  type PrivilegeStatus,
  type ProgramName,
  type ProgramStatus,
} from "./report.js";

/**
 * Options of `detectCapabilities()`.
 * @inline
 */
export interface DetectCapabilitiesOptions {
  /**
   * Probe for real in a throwaway namespace when privileged. Without probing
   * the answers come from hints only.
   * @default true
   */
  probe?: boolean;
  /**
   * Owner uid of the probe's namespace and links (`d-<uid>-probe`).
   * @default process.pid
   */
  uid?: number;
  /**
   * Ignore the per-process cache and detect again.
   * @default false
   */
  refresh?: boolean;
  /**
   * Runs the probe commands; a given runner disables the cache.
   * @default a SpawnRunner (with `sudo -n` when not root and sudo works without a password)
   */
  runner?: CommandRunner;
}

const cache = new Map<string, Promise<Capabilities>>();

/**
 * Reports what this machine can do; cached per process (per `probe`/`uid`) unless `refresh` or a `runner` is given.
 *
 * @example
 * ```ts
 * const capabilities = await detectCapabilities();
 * console.log(formatCapabilities(capabilities));
 * ```
 */
export function detectCapabilities(options: DetectCapabilitiesOptions = {}): Promise<Capabilities> {
  const probe = options.probe ?? true;
  const uid = options.uid ?? process.pid;
  if (options.runner !== undefined) return detect(probe, uid, options.runner);
  const key = `${probe}:${uid}`;
  let pending = options.refresh ? undefined : cache.get(key);
  if (pending === undefined) {
    pending = detect(probe, uid, undefined);
    cache.set(key, pending);
    // A failed detection must not stick.
    pending.catch(() => cache.delete(key));
  }
  return pending;
}

/**
 * The features among `required` that `capabilities` lacks.
 *
 * @example
 * ```ts
 * const missing = missingFeatures(await detectCapabilities(), ["netem", "vlan"]);
 * ```
 */
export function missingFeatures(capabilities: Capabilities, required: readonly KernelFeature[]): KernelFeature[] {
  return required.filter((feature) => !capabilities[feature].available);
}

/**
 * True when `name` is one of `KERNEL_FEATURES`.
 *
 * @example
 * ```ts
 * const wanted = process.argv.slice(2).filter(isKernelFeature); // KernelFeature[]
 * ```
 */
export function isKernelFeature(name: string): name is KernelFeature {
  return (KERNEL_FEATURES as readonly string[]).includes(name);
}

async function detect(probe: boolean, uid: number, givenRunner: CommandRunner | undefined): Promise<Capabilities> {
  const started = performance.now();
  const programs = detectPrograms();
  const privileges = detectPrivileges();
  const cgroup = surveyCgroups();
  const iptablesFlavour = detectIptablesFlavour(programs.iptables);
  const hints = moduleHints(programs.modprobe.available);

  const hinted = (feature: KernelFeature): FeatureStatus => hintStatus(feature, hints);
  const features: Record<KernelFeature, FeatureStatus> = {
    netns: hinted("netns"),
    veth: hinted("veth"),
    bridge: hinted("bridge"),
    vlan: hinted("vlan"),
    netem: hinted("netem"),
    ifb: hinted("ifb"),
    htb: hinted("htb"),
    tbf: hinted("tbf"),
    ingress: hinted("ingress"),
    cgroup2: cgroup2Status(cgroup),
    iptables: iptablesHint(programs.iptables, iptablesFlavour),
  };

  if (probe && privileges.available && programs.ip.available) {
    const runner = givenRunner ?? new SpawnRunner({ sudo: !privileges.root });
    Object.assign(features, await probeKernel(runner, uid, programs, hints, iptablesFlavour));
  }

  return {
    kernelRelease: release(),
    privileges,
    cgroup,
    iptablesFlavour,
    programs,
    ...features,
    detectionMs: Math.round(performance.now() - started),
  };
}

// ---------------------------------------------------------------------------
// Programs and privileges

function detectPrograms(): Record<ProgramName, ProgramStatus> {
  const result = {} as Record<ProgramName, ProgramStatus>;
  for (const program of PROGRAMS) {
    const path = findProgram(program);
    result[program] = path ? { available: true, path } : { available: false, howToGet: missingProgramHint(program) };
  }
  return result;
}

/**
 * The program's path where dummynet will run it from: on PATH as root; on
 * PATH or in the sbin directories a non-root PATH often lacks when not root
 * (commands then run through sudo, whose secure_path has them).
 */
function findProgram(program: string): string | undefined {
  return findExecutable(program, [
    ...pathDirectories(),
    ...(isRoot() ? [] : ["/usr/local/sbin", "/usr/sbin", "/sbin"]),
  ]);
}

function detectPrivileges(): PrivilegeStatus {
  if (isRoot()) return { root: true, sudo: "not-needed", available: true };
  if (!findProgram("sudo"))
    return { root: false, sudo: "missing", available: false, howToGet: `${ROOT_ADVICE} ${missingProgramHint("sudo")}` };
  if (sudoWorksWithoutPassword()) return { root: false, sudo: "passwordless", available: true };
  return { root: false, sudo: "needs-password", available: false, howToGet: ROOT_ADVICE };
}

// ---------------------------------------------------------------------------
// cgroups

function cgroup2Status(cgroup: CGroupStatus): FeatureStatus {
  const needed = ["cpu", "memory"];
  const lacking = needed.filter((c) => !cgroup.v2Controllers.includes(c));
  if (cgroup.layout === "unified" && lacking.length === 0) {
    return {
      available: true,
      probed: false,
      evidence: `cgroup v2 at ${cgroup.v2MountPoint} offers ${cgroup.v2Controllers.join(" ")}`,
    };
  }
  const evidence =
    cgroup.layout === "unified"
      ? `cgroup v2 at ${cgroup.v2MountPoint} lacks the ${lacking.join(" and ")} controller(s)`
      : cgroup.layout === "hybrid"
        ? `hybrid layout: v1 controllers, and a v2 hierarchy at ${cgroup.v2MountPoint} with ${cgroup.v2Controllers.length ? cgroup.v2Controllers.join(" ") : "no controllers"}`
        : cgroup.layout === "legacy"
          ? "cgroup v1 only"
          : "no cgroup file system is mounted";
  return {
    available: false,
    probed: false,
    evidence,
    howToGet:
      "Boot with the unified cgroup hierarchy (kernel parameter systemd.unified_cgroup_hierarchy=1, the default on current " +
      "Debian, Ubuntu and Fedora). dummynet's cgroups also work on v1; in its repository, `npm test` runs the cgroup v2 " +
      "tests in a QEMU guest (the kernel lab) when qemu-system-x86 is installed.",
  };
}

// ---------------------------------------------------------------------------
// iptables

function detectIptablesFlavour(program: ProgramStatus): IptablesStatus {
  if (!program.available) return { flavour: "missing" };
  const result = spawnSync(program.path, ["--version"], { encoding: "utf8", timeout: 10_000 });
  // stdout and stderr are null when the program could not be started.
  const version = `${(result.stdout as string | null) ?? ""}${(result.stderr as string | null) ?? ""}`.trim();
  if (result.status !== 0) return { flavour: "missing", version };
  // Old versions print no backend: those are legacy.
  return { flavour: /nf_tables/.test(version) ? "nft" : "legacy", version };
}

function iptablesHint(program: ProgramStatus, flavour: IptablesStatus): FeatureStatus {
  if (!program.available) {
    return { available: false, probed: false, evidence: "no iptables program", howToGet: program.howToGet };
  }
  return { available: true, probed: false, evidence: `${flavour.version ?? "iptables"} (not probed)` };
}

// ---------------------------------------------------------------------------
// The human report

/**
 * A report for people (`dummynet doctor`): one line per capability, with advice under each missing one.
 *
 * @example
 * ```ts
 * console.log(formatCapabilities(await detectCapabilities()));
 * ```
 */
export function formatCapabilities(c: Capabilities): string {
  const lines: string[] = [];
  const mark = (ok: boolean): string => (ok ? "ok     " : "MISSING");
  const advice = (text: string | undefined): void => {
    if (text) lines.push(`          -> ${text}`);
  };
  lines.push(`kernel    ${c.kernelRelease}`);
  const p = c.privileges;
  lines.push(
    `${mark(p.available)} privileges: ${p.root ? "root" : p.sudo === "passwordless" ? "passwordless sudo" : p.sudo === "needs-password" ? "sudo needs a password" : "not root, no sudo"}`,
  );
  advice(p.howToGet);
  for (const feature of KERNEL_FEATURES) {
    const status = c[feature];
    lines.push(`${mark(status.available)} ${feature.padEnd(9)} ${status.evidence}`);
    if (!status.available) advice(status.howToGet);
  }
  const g = c.cgroup;
  const cgroupLine =
    g.layout === "unified"
      ? `cgroup v2 (unified) at ${g.v2MountPoint}; controllers: ${g.v2Controllers.join(" ") || "none"}; enabled for children: ${g.v2SubtreeControl.join(" ") || "none"}`
      : g.layout === "none"
        ? "no cgroups mounted"
        : `cgroup v1 (${g.layout}); hierarchies: ${g.v1Hierarchies.map((h) => `${h.mountPoint} [${h.controllers.join(",")}]`).join(", ")}` +
          (g.v2MountPoint ? `; v2 at ${g.v2MountPoint} with ${g.v2Controllers.join(" ") || "no controllers"}` : "");
  lines.push(`info    cgroups   ${cgroupLine}`);
  lines.push(
    `info    iptables  flavour ${c.iptablesFlavour.flavour}${c.iptablesFlavour.version ? ` (${c.iptablesFlavour.version})` : ""}`,
  );
  for (const program of PROGRAMS) {
    const status = c.programs[program];
    lines.push(`${mark(status.available)} program   ${program}${status.path ? ` (${status.path})` : ""}`);
    if (!status.available) advice(status.howToGet);
  }
  return lines.join("\n");
}
