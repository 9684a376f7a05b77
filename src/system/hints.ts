/**
 * Turns the system's terse refusals into advice: which package provides a
 * missing program, which kernel module provides a missing qdisc or link type.
 */
import { ROOT_ADVICE, isRoot } from "./privilege.js";

/** Debian/Ubuntu package that provides each program the library runs. */
export const PACKAGE_OF_PROGRAM: Readonly<Record<string, string>> = {
  ip: "iproute2",
  tc: "iproute2",
  bridge: "iproute2",
  iptables: "iptables",
  "iptables-legacy": "iptables",
  ping: "iputils-ping",
  nsenter: "util-linux",
  sudo: "sudo",
  modprobe: "kmod",
  ps: "procps",
  kill: "procps",
  sysctl: "procps",
  "linux.uml": "user-mode-linux",
  tcpdump: "tcpdump",
};

/** Kernel module that provides each queueing discipline (tc qdisc kind). */
export const MODULE_OF_QDISC: Readonly<Record<string, string>> = {
  netem: "sch_netem",
  htb: "sch_htb",
  tbf: "sch_tbf",
  ingress: "sch_ingress",
  clsact: "sch_ingress",
  prio: "sch_prio",
  fq_codel: "sch_fq_codel",
};

/** Kernel module that provides each link type (`ip link add ... type X`). */
export const MODULE_OF_LINK_TYPE: Readonly<Record<string, string>> = {
  vlan: "8021q",
  veth: "veth",
  bridge: "bridge",
  ifb: "ifb",
  macvlan: "macvlan",
  vxlan: "vxlan",
  dummy: "dummy",
};

/** Fedora package names, keyed by the Debian package name, where they differ. */
const FEDORA_NAME_OF_DEBIAN_PACKAGE: Readonly<Record<string, string>> = {
  iproute2: "iproute",
  "iputils-ping": "iputils",
  iptables: "iptables-nft",
  procps: "procps-ng",
};

/** Where a kernel module comes from when `modprobe` cannot find it. */
export const EXTRA_MODULES =
  "On Ubuntu the module is in linux-modules-extra-$(uname -r); on Fedora in kernel-modules-extra; " +
  "containers and user-mode kernels need it on the host or built in.";

/** Advice for a kernel module that is not loaded: how to load it and where it comes from. */
export function kernelModuleAdvice(module: string): string {
  return (
    `Load it with \`modprobe ${module}\`. ${EXTRA_MODULES} A kernel built without it cannot load it: ` +
    "there, dummynet's `npm test` runs the tests that need it in the kernel lab, a QEMU guest (apt-get install qemu-system-x86)."
  );
}

export function missingProgramHint(program: string): string {
  const pkg = PACKAGE_OF_PROGRAM[program];
  return pkg
    ? `The program "${program}" was not found. Install it: apt-get install ${pkg} (Debian/Ubuntu) or dnf install ${FEDORA_NAME_OF_DEBIAN_PACKAGE[pkg] ?? pkg} (Fedora).`
    : `The program "${program}" was not found on PATH (${process.env["PATH"] ?? ""}).`;
}

/** Advice for a failed command, from its argv and stderr; undefined if nothing is known. */
export function failureHint(argv: readonly string[], stderr: string): string | undefined {
  if (/Specified qdisc kind is unknown|Unknown qdisc/i.test(stderr)) {
    const kind = wordAfter(argv, ["root", "ingress", "clsact"]) ?? wordAfter(argv, ["parent"], 2) ?? "netem";
    const module = MODULE_OF_QDISC[kind] ?? `sch_${kind}`;
    return `This kernel has no "${kind}" qdisc: load it with \`modprobe ${module}\`. ${EXTRA_MODULES} \`dummynet doctor\` lists what this kernel can do.`;
  }
  if (/Unknown device type|Error: Unknown link type/i.test(stderr)) {
    const type = wordAfter(argv, ["type"]) ?? "?";
    const module = MODULE_OF_LINK_TYPE[type] ?? type;
    return `This kernel cannot make links of type "${type}": load it with \`modprobe ${module}\`. ${EXTRA_MODULES}`;
  }
  if (/Operation not permitted|Permission denied/i.test(stderr) && !isRoot()) {
    return `dummynet needs root. ${ROOT_ADVICE}`;
  }
  if (/can't initialize iptables table|Table does not exist/i.test(stderr)) {
    return "This kernel lacks the iptables table: `modprobe ip_tables iptable_nat` (or iptable_filter), or install the iptables-nft backend.";
  }
  return undefined;
}

function wordAfter(argv: readonly string[], keys: string[], skip = 1): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    if (keys.includes(argv[i])) {
      const word = argv.at(i + skip);
      if (word !== undefined) return word;
    }
  }
  return undefined;
}
