/**
 * What this kernel and machine can do for dummynet: privileges, network
 * namespaces, link types, qdiscs, cgroups, iptables and the programs the
 * library runs. Where it is cheap and safe the answer comes from a real probe
 * (a throwaway namespace `d-<uid>-probe` in which links and qdiscs are tried,
 * then deleted with everything in it); otherwise from hints (/proc/modules,
 * /sys/module, modules.builtin, the module files). Every missing capability
 * carries advice on how to get it.
 *
 * Size (~670 lines): one probe per feature of the Capabilities report, each short, sharing one throwaway namespace.
 */
import { accessSync, constants, existsSync, readFileSync, readdirSync } from "node:fs";
import { release } from "node:os";
import { delimiter, join } from "node:path";
import { spawnSync } from "node:child_process";
import type { CommandRunner } from "../system/command-runner.js";
import { ROOT_ADVICE, isRoot, sudoWorksWithoutPassword } from "../system/privilege.js";
import { parseMountinfo } from "../system/proc.js";
import { SpawnRunner } from "../system/spawn-runner.js";
import {
  EXTRA_MODULES,
  MODULE_OF_LINK_TYPE,
  PACKAGE_OF_PROGRAM,
  MODULE_OF_QDISC,
  kernelModuleAdvice,
  missingProgramHint,
} from "../system/hints.js";
import { InterfaceScoped, NamespaceScoped } from "../names/scoped.js";

/** Kernel features a test file can require (`// requires: netem, vlan`). */
export const KERNEL_FEATURES = [
  "netns",
  "veth",
  "bridge",
  "vlan",
  "netem",
  "ifb",
  "htb",
  "tbf",
  "ingress",
  "cgroup2",
  "iptables",
] as const;
/** One of `KERNEL_FEATURES`. */
export type KernelFeature = (typeof KERNEL_FEATURES)[number];

/** Programs the library runs. */
const PROGRAMS = ["ip", "tc", "iptables", "ping", "nsenter", "modprobe"] as const;
/** One of `PROGRAMS`. */
type ProgramName = (typeof PROGRAMS)[number];

/** Whether one kernel feature works here, on what evidence, and how to get it. */
export interface FeatureStatus {
  /** The feature works here. */
  available: boolean;
  /** True when a real attempt decided it; false when read off hints (no privileges, or probing disabled). */
  probed: boolean;
  /** What the answer rests on: the probe's command and the kernel's reply, or the hint that was found. */
  evidence: string;
  /** How to get the feature; set when it is not available. */
  howToGet?: string;
}

/** Whether a program the library runs is installed, and how to get it. */
type ProgramStatus =
  | {
      /** The program is on PATH (or in /usr/sbin, /sbin). */
      available: true;
      /** Absolute path found on PATH (or in /usr/sbin, /sbin). */
      path: string;
      howToGet?: undefined;
    }
  | {
      available: false;
      path?: undefined;
      /** How to install it (the Debian package). */
      howToGet: string;
    };

/** Whether dummynet can change the system: root, or passwordless sudo. */
interface PrivilegeStatus {
  /** The process runs as uid 0. */
  root: boolean;
  /** `not-needed` as root; otherwise whether `sudo -n` works without a password. */
  sudo: "not-needed" | "passwordless" | "needs-password" | "missing";
  /** Root, or passwordless sudo: dummynet can change the system. */
  available: boolean;
  /** How to get the privileges; set when they are missing. */
  howToGet?: string;
}

/** A cgroup v1 hierarchy: where it is mounted and its controllers. */
interface CGroupV1Hierarchy {
  /** Where it is mounted, e.g. /sys/fs/cgroup/cpu. */
  mountPoint: string;
  /** Controllers mounted there, e.g. `cpu`, `cpuacct`. */
  controllers: string[];
}

/** The machine's cgroup layout and the controllers usable for limits. */
interface CGroupStatus {
  /** 2 when the unified hierarchy is the cgroup root; 1 for legacy and hybrid layouts; undefined without cgroups. */
  version: 1 | 2 | undefined;
  /** `unified`: v2 only; `hybrid`: v1 controllers plus a v2 mount; `legacy`: v1 only. */
  layout: "unified" | "hybrid" | "legacy" | "none";
  /** Where the cgroup v2 hierarchy is mounted, if anywhere (hybrid: usually /sys/fs/cgroup/unified). */
  v2MountPoint?: string;
  /** Controllers the v2 root offers (its cgroup.controllers); empty in hybrid layouts. */
  v2Controllers: string[];
  /** Controllers the v2 root enables for its children (cgroup.subtree_control). */
  v2SubtreeControl: string[];
  /** The v1 hierarchies and the controllers mounted on each. */
  v1Hierarchies: CGroupV1Hierarchy[];
  /** Every controller usable for limits, in either version. */
  controllers: string[];
}

/** Which iptables is installed, if any. */
interface IptablesStatus {
  /** Backend of the `iptables` program on PATH. */
  flavour: "nft" | "legacy" | "missing";
  /** `iptables --version` output. */
  version?: string;
}

/**
 * What this kernel and machine can do for dummynet, as `detectCapabilities()` finds it: one `FeatureStatus`
 * per kernel feature (`netns`, `veth`, `bridge`, `vlan`, `netem`, `ifb`, `htb`, `tbf`, `ingress`, `cgroup2`, `iptables`),
 * plus privileges, cgroups, iptables and programs.
 */
export interface Capabilities extends Record<KernelFeature, FeatureStatus> {
  /** `uname -r` */
  kernelRelease: string;
  /** Root or passwordless sudo. */
  privileges: PrivilegeStatus;
  /** The cgroup layout and controllers. */
  cgroup: CGroupStatus;
  /** The iptables backend on PATH. */
  iptablesFlavour: IptablesStatus;
  /** Each program the library runs, installed or not. */
  programs: Record<ProgramName, ProgramStatus>;
  /** How long detection took, in ms. */
  detectionMs: number;
}

/** Options of `detectCapabilities()`. */
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
  const cgroup = detectCgroups();
  const iptablesFlavour = detectIptablesFlavour(programs.iptables);
  const hints = moduleHints();

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
  const sbin = isRoot() ? [] : ["/usr/local/sbin", "/usr/sbin", "/sbin"];
  const dirs = [...(process.env["PATH"] ?? "").split(delimiter), ...sbin];
  for (const dir of dirs) {
    if (dir === "") continue;
    const candidate = join(dir, program);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

function detectPrivileges(): PrivilegeStatus {
  if (isRoot()) return { root: true, sudo: "not-needed", available: true };
  if (!findProgram("sudo"))
    return { root: false, sudo: "missing", available: false, howToGet: `${ROOT_ADVICE} ${missingProgramHint("sudo")}` };
  if (sudoWorksWithoutPassword()) return { root: false, sudo: "passwordless", available: true };
  return { root: false, sudo: "needs-password", available: false, howToGet: ROOT_ADVICE };
}

// ---------------------------------------------------------------------------
// Hints: what the module files say, without changing anything

interface ModuleHints {
  /** Modules currently loaded (/proc/modules). */
  loaded: Set<string>;
  /** Modules compiled into the kernel (modules.builtin, /sys/module without initstate). */
  builtin: Set<string>;
  /** Modules that could be loaded (files listed in modules.dep). */
  loadable: Set<string>;
  /** Whether the kernel loads modules at all (/proc/modules exists). */
  modular: boolean;
  /** modules.builtin was readable, so a module absent from all three sets is really missing. */
  complete: boolean;
  modulesDir: string;
  /** The modprobe program is installed: modules can be loaded by hand. */
  modprobe: boolean;
}

function moduleHints(): ModuleHints {
  const modulesDir = `/lib/modules/${release()}`;
  const names = (text: string): string[] =>
    text
      .split("\n")
      .filter((line) => line.trim() !== "")
      .map(
        (line) => (line.split(/[:\s]/)[0] ?? "").split("/").pop() ?? "".replace(/\.ko(\.\w+)?$/, "").replace(/-/g, "_"),
      );
  const loaded = new Set(names(readText("/proc/modules") ?? ""));
  const builtin = new Set(names(readText(`${modulesDir}/modules.builtin`) ?? ""));
  // Built-in modules with parameters show up in /sys/module without an initstate file.
  for (const entry of safeReaddir("/sys/module")) {
    if (!existsSync(`/sys/module/${entry}/initstate`)) builtin.add(entry);
    else loaded.add(entry);
  }
  const loadable = new Set(names(readText(`${modulesDir}/modules.dep`) ?? ""));
  const complete = existsSync(`${modulesDir}/modules.builtin`);
  return {
    loaded,
    builtin,
    loadable,
    modular: existsSync("/proc/modules"),
    complete,
    modulesDir,
    modprobe: findProgram("modprobe") !== undefined,
  };
}

const MODULE_OF_FEATURE: Partial<Record<KernelFeature, string>> = {
  veth: MODULE_OF_LINK_TYPE["veth"],
  bridge: MODULE_OF_LINK_TYPE["bridge"],
  vlan: MODULE_OF_LINK_TYPE["vlan"],
  ifb: MODULE_OF_LINK_TYPE["ifb"],
  netem: MODULE_OF_QDISC["netem"],
  htb: MODULE_OF_QDISC["htb"],
  tbf: MODULE_OF_QDISC["tbf"],
  ingress: MODULE_OF_QDISC["ingress"],
  iptables: "ip_tables",
};

/** Where the module stands according to the hints, in words. */
function moduleState(module: string, hints: ModuleHints): { present: boolean; words: string } {
  if (hints.loaded.has(module)) return { present: true, words: `module ${module} is loaded` };
  if (hints.builtin.has(module)) return { present: true, words: `module ${module} is built into the kernel` };
  if (hints.loadable.has(module))
    return { present: true, words: `module ${module} can be loaded (listed in ${hints.modulesDir}/modules.dep)` };
  if (!hints.complete) {
    return {
      present: false,
      words: `module ${module}: cannot tell without probing (not loaded, and no ${hints.modulesDir}/modules.builtin to say whether it is built in)`,
    };
  }
  const where = hints.modular
    ? existsSync(hints.modulesDir)
      ? `not loaded, not built in, and not in ${hints.modulesDir}`
      : `not loaded, not built in, and there is no ${hints.modulesDir}`
    : "this kernel cannot load modules and does not list it as built in";
  return { present: false, words: `module ${module}: ${where}` };
}

function adviceFor(feature: KernelFeature, hints: ModuleHints): string {
  if (feature === "netns") {
    return "This kernel or container does not allow network namespaces (CONFIG_NET_NS, or a seccomp/user-namespace restriction); run dummynet as root on the host.";
  }
  const module = MODULE_OF_FEATURE[feature];
  if (module === undefined) return "";
  const state = moduleState(module, hints);
  if (state.present && !hints.modprobe)
    return `${state.words}, yet the attempt failed; ${NO_MODPROBE}, which would show why.`;
  if (state.present) return `${state.words}, yet the attempt failed: \`modprobe ${module}\` shows why.`;
  if (!hints.modular) {
    return (
      `This kernel cannot load modules (no /proc/modules), so ${module} would have to be built in: use a kernel that has it ` +
      "(distribution kernels do); in dummynet's repository, `npm test` runs the tests that need it in the kernel lab, a QEMU guest (apt-get install qemu-system-x86)."
    );
  }
  if (!hints.modprobe)
    return `This kernel lacks ${module} (${state.words}); ${NO_MODPROBE}, then \`modprobe ${module}\`. ${EXTRA_MODULES}`;
  return `This kernel lacks ${module} (${state.words}). ${kernelModuleAdvice(module)}`;
}

const NO_MODPROBE = `cannot load modules: modprobe is missing (package ${PACKAGE_OF_PROGRAM["modprobe"]}; apt-get install ${PACKAGE_OF_PROGRAM["modprobe"]})`;

function hintStatus(feature: KernelFeature, hints: ModuleHints): FeatureStatus {
  if (feature === "netns") {
    const available = existsSync("/proc/self/ns/net");
    return available
      ? { available, probed: false, evidence: "the kernel has network namespaces (/proc/self/ns/net)" }
      : { available, probed: false, evidence: "no /proc/self/ns/net", howToGet: adviceFor("netns", hints) };
  }
  const module = MODULE_OF_FEATURE[feature];
  if (module === undefined) throw new Error(`no kernel module is known for ${feature}`);
  const state = moduleState(module, hints);
  if (!state.present && !hints.complete) {
    return {
      available: false,
      probed: false,
      evidence: state.words,
      howToGet: `Probing the kernel for it needs root. ${ROOT_ADVICE}`,
    };
  }
  return state.present
    ? { available: true, probed: false, evidence: `${state.words} (not probed)` }
    : { available: false, probed: false, evidence: state.words, howToGet: adviceFor(feature, hints) };
}

// ---------------------------------------------------------------------------
// cgroups

function detectCgroups(): CGroupStatus {
  const mounts = parseMountinfo(readText("/proc/self/mountinfo") ?? "");
  const known = new Set(
    (readText("/proc/cgroups") ?? "")
      .split("\n")
      .filter((line) => line !== "" && !line.startsWith("#"))
      .map((line) => line.split(/\s+/))
      .filter((fields) => fields[3] === "1")
      .map((fields) => fields[0]),
  );
  const v1Hierarchies: CGroupV1Hierarchy[] = mounts
    .filter((m) => m.fsType === "cgroup")
    .map((m) => ({ mountPoint: m.mountPoint, controllers: m.superOptions.split(",").filter((o) => known.has(o)) }))
    .filter((h) => h.controllers.length > 0);
  const v2Mounts = mounts.filter((m) => m.fsType === "cgroup2").map((m) => m.mountPoint);
  const v2MountPoint = v2Mounts.includes("/sys/fs/cgroup") ? "/sys/fs/cgroup" : v2Mounts[0];
  const v2Controllers = v2MountPoint ? words(readText(`${v2MountPoint}/cgroup.controllers`)) : [];
  const v2SubtreeControl = v2MountPoint ? words(readText(`${v2MountPoint}/cgroup.subtree_control`)) : [];
  let layout: CGroupStatus["layout"];
  if (v1Hierarchies.length > 0) layout = v2MountPoint ? "hybrid" : "legacy";
  else layout = v2MountPoint ? "unified" : "none";
  const controllers =
    layout === "unified" ? v2Controllers : [...new Set(v1Hierarchies.flatMap((h) => h.controllers))].sort();
  const status: CGroupStatus = {
    version: layout === "unified" ? 2 : layout === "none" ? undefined : 1,
    layout,
    v2Controllers,
    v2SubtreeControl,
    v1Hierarchies,
    controllers,
  };
  if (v2MountPoint) status.v2MountPoint = v2MountPoint;
  return status;
}

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
// The probe: try each feature in a throwaway namespace, then delete it

async function probeKernel(
  runner: CommandRunner,
  uid: number,
  programs: Record<ProgramName, ProgramStatus>,
  hints: ModuleHints,
  iptablesFlavour: IptablesStatus,
): Promise<Partial<Record<KernelFeature, FeatureStatus>>> {
  const namespace = new NamespaceScoped("probe", uid).scoped;
  const link = (name: string): string => new InterfaceScoped(name, uid).scoped;
  const result: Partial<Record<KernelFeature, FeatureStatus>> = {};

  const status = (feature: KernelFeature, command: string, failure: string | undefined): FeatureStatus => {
    if (failure === undefined) return { available: true, probed: true, evidence: `\`${command}\` succeeded` };
    const advice = adviceFor(feature, hints);
    return {
      available: false,
      probed: true,
      evidence: `\`${command}\` failed: ${firstLine(failure) || "(no message)"}`,
      ...(advice ? { howToGet: advice } : {}),
    };
  };

  // A namespace of the same name is a leftover of an earlier probe by a process with this pid.
  await runner.run(["ip", "netns", "delete", namespace], { allowFailure: true }).catch(() => undefined);
  const added = await runCommand(runner, ["ip", "netns", "add", namespace]);
  result.netns = status("netns", `ip netns add ${namespace}`, added);
  if (!result.netns.available) return result;

  try {
    // One `ip -batch` and one `tc -batch` (with -force: go on after a failure) instead of a
    // process per attempt: spawning is what costs, most of all in the emulated (QEMU) kernel lab.
    const linkAttempts: [KernelFeature, string][] = [
      ["veth", `link add ${link("pa")} type veth peer name ${link("pb")}`],
      // On the veth just made: a VLAN needs a parent link.
      ["vlan", `link add link ${link("pa")} name ${link("pv")} type vlan id 2`],
      ["bridge", `link add ${link("pbr")} type bridge`],
      ["ifb", `link add ${link("pi")} type ifb`],
    ];
    const qdiscAttempts: [KernelFeature, string][] = [
      // One root qdisc at a time on lo: replace switches the kind.
      ["netem", "qdisc add dev lo root netem delay 1ms"],
      ["htb", "qdisc replace dev lo root handle 1: htb"],
      ["tbf", "qdisc replace dev lo root tbf rate 1mbit burst 32kbit latency 50ms"],
      ["ingress", "qdisc add dev lo ingress"],
    ];
    const [linkFailures, qdiscFailures, iptablesFailure] = await Promise.all([
      runBatch(
        runner,
        "ip",
        namespace,
        linkAttempts.map(([, line]) => line),
      ),
      programs.tc.available
        ? runBatch(
            runner,
            "tc",
            namespace,
            qdiscAttempts.map(([, line]) => line),
          )
        : undefined,
      iptablesFlavour.flavour !== "missing" && programs.iptables.available
        ? runCommand(
            runner,
            // nsenter is the cheaper way in (no mount namespace); `ip netns exec` works without util-linux.
            programs.nsenter.available
              ? ["nsenter", `--net=/run/netns/${namespace}`, "--", programs.iptables.path, "-t", "nat", "-S"]
              : ["ip", "netns", "exec", namespace, programs.iptables.path, "-t", "nat", "-S"],
          )
        : undefined,
    ]);
    linkAttempts.forEach(([feature, line], index) => {
      result[feature] = status(feature, `ip ${line}`, linkFailures[index]);
    });
    if (!result.veth?.available) {
      const hint = hintStatus("vlan", hints);
      result.vlan = { ...hint, evidence: `${hint.evidence}; not probed: no veth link to put a VLAN on` };
    }
    qdiscAttempts.forEach(([feature, line], index) => {
      result[feature] = qdiscFailures ? status(feature, `tc ${line}`, qdiscFailures[index]) : missingTc(programs);
    });
    if (iptablesFlavour.flavour !== "missing") {
      result.iptables = status("iptables", "iptables -t nat -S", iptablesFailure);
      if (!result.iptables.available) {
        result.iptables.howToGet =
          "iptables cannot use the nat table: `modprobe ip_tables iptable_nat iptable_filter` (legacy) or `modprobe nf_tables nft_chain_nat` (nft).";
      }
    }
  } finally {
    // Deleting the namespace removes every link and qdisc made in it.
    await runner.run(["ip", "netns", "delete", namespace], { allowFailure: true });
  }
  return result;
}

/** Runs one command; undefined on success, else the error text. */
async function runCommand(runner: CommandRunner, argv: string[]): Promise<string | undefined> {
  try {
    const reply = await runner.run(argv, { allowFailure: true });
    return reply.exitCode === 0 ? undefined : (reply.stderr || reply.stdout).trim() || `exit status ${reply.exitCode}`;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/**
 * Runs `lines` through `program -force -batch -` in `namespace`; for each line,
 * undefined when it succeeded, else its error. iproute2 reports a failed line
 * as its error message(s) followed by "Command failed -:<line number>".
 */
async function runBatch(
  runner: CommandRunner,
  program: "ip" | "tc",
  namespace: string,
  lines: string[],
): Promise<(string | undefined)[]> {
  const failures: (string | undefined)[] = lines.map(() => undefined);
  let reply;
  try {
    reply = await runner.run([program, "-force", "-batch", "-"], {
      namespace,
      input: lines.join("\n") + "\n",
      allowFailure: true,
    });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return lines.map(() => message);
  }
  let pending: string[] = [];
  for (const text of reply.stderr.split("\n")) {
    const failed = /^Command failed .*:(\d+)$/.exec(text.trim());
    if (failed) {
      const index = Number(failed[1]) - 1;
      if (index >= 0 && index < lines.length) failures[index] = pending.join(" ").trim() || "failed";
      pending = [];
    } else if (text.trim() !== "") {
      pending.push(text.trim());
    }
  }
  if (reply.exitCode !== 0 && failures.every((f) => f === undefined)) {
    // Failed without saying which line: count every line as unproven.
    return lines.map(() => reply.stderr.trim() || `${program} -batch exit status ${reply.exitCode}`);
  }
  return failures;
}

function missingTc(programs: Record<ProgramName, ProgramStatus>): FeatureStatus {
  return {
    available: false,
    probed: false,
    evidence: "no tc program",
    howToGet: programs.tc.howToGet ?? missingProgramHint("tc"),
  };
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

// ---------------------------------------------------------------------------

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function words(text: string | undefined): string[] {
  return (text ?? "").split(/\s+/).filter((w) => w !== "");
}

function firstLine(text: string): string {
  return text.split("\n")[0] ?? "";
}
