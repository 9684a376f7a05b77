/**
 * What the kernel's module files say about a feature, without changing
 * anything (/proc/modules, /sys/module, modules.builtin, modules.dep), and the
 * advice on how to get a missing one.
 */
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { release } from "node:os";
import { ROOT_ADVICE } from "../system/privilege.js";
import {
  EXTRA_MODULES,
  MODULE_OF_LINK_TYPE,
  PACKAGE_OF_PROGRAM,
  MODULE_OF_QDISC,
  kernelModuleAdvice,
} from "../system/hints.js";
import type { FeatureStatus, KernelFeature } from "./report.js";

export interface ModuleHints {
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

export function moduleHints(modprobe: boolean): ModuleHints {
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
    modprobe,
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

export function adviceFor(feature: KernelFeature, hints: ModuleHints): string {
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

export function hintStatus(feature: KernelFeature, hints: ModuleHints): FeatureStatus {
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
