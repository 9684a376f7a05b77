// Whether the kernel lab can run here, and which guest and accelerator to use (scripts/lab/lab.mjs boots it).
import {
  accessSync,
  constants,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  symlinkSync,
} from "node:fs";
import { basename, join } from "node:path";

const INSTALL = "apt-get install -y --no-install-recommends qemu-system-x86 linux-image-amd64 busybox-static kmod";
// DUMMYNET_LAB_UML_KERNEL / DUMMYNET_LAB_UML_MODULES: a user-mode Linux kernel and its modules elsewhere.
const UML_KERNEL = process.env.DUMMYNET_LAB_UML_KERNEL || "/usr/bin/linux.uml";
const UML_MODULES = process.env.DUMMYNET_LAB_UML_MODULES || "/usr/lib/uml/modules";

/**
 * Whether the lab can run here, and if not, what to install. The guest kernel
 * is the newest /boot/vmlinuz-<release> whose modules are in
 * /lib/modules/<release> (the guest's modprobe reads them off the host's
 * disk), or DUMMYNET_LAB_KERNEL.
 * @returns {{ available: true, qemu: string, busybox: string, kernel: string, release: string, moduleTree: string }
 *   | { available: false, reason: string, howToGet: string }}
 */
export function labAvailability() {
  const missing = (reason) => ({ available: false, reason, howToGet: `${INSTALL} (Debian/Ubuntu)` });
  if (process.platform !== "linux" || process.arch !== "x64") {
    return {
      available: false,
      reason: "the lab needs an x86-64 Linux machine",
      howToGet: "run the tests on x86-64 Linux",
    };
  }
  const qemu = findProgram("qemu-system-x86_64");
  if (!qemu) return missing("no qemu-system-x86_64 on PATH");
  const busybox = ["/bin/busybox", "/usr/bin/busybox"].find((path) => existsSync(path));
  if (!busybox) return missing("no busybox (package busybox-static)");
  if (!isStaticExecutable(busybox))
    return missing(`${busybox} is linked dynamically; the initramfs needs the static one (package busybox-static)`);
  const kernel = process.env.DUMMYNET_LAB_KERNEL || newestKernel();
  if (!kernel)
    return missing("no /boot/vmlinuz-<release> with modules in /lib/modules/<release> (package linux-image-amd64)");
  if (!existsSync(kernel)) return missing(`no guest kernel at ${kernel} (DUMMYNET_LAB_KERNEL)`);
  const release = basename(kernel).replace(/^vmlinuz-/, "");
  const moduleTree = `/lib/modules/${release}`;
  if (!existsSync(join(moduleTree, "modules.dep")))
    return missing(`no modules for ${kernel} in ${moduleTree} (the file name must be vmlinuz-<release>)`);
  return { available: true, qemu, busybox, kernel, release, moduleTree };
}

/**
 * The fast lab, on request and where it boots: user-mode Linux (package
 * user-mode-linux), a kernel that runs as a host process, about twice as fast
 * as QEMU's software emulation on this project's tests (docs/lab.md).
 * @returns {{ available: true, kernel: string, release: string } | { available: false, reason: string }}
 */
export function umlAvailability() {
  if (process.platform !== "linux" || process.arch !== "x64") return { available: false, reason: "not x86-64 Linux" };
  if (!existsSync(UML_KERNEL))
    return { available: false, reason: `no user-mode Linux kernel (${UML_KERNEL}, package user-mode-linux)` };
  const releases = existsSync(UML_MODULES) ? readdirSync(UML_MODULES) : [];
  if (releases.length === 0) return { available: false, reason: `no user-mode Linux modules in ${UML_MODULES}` };
  return { available: true, kernel: UML_KERNEL, release: releases.sort().at(-1) };
}

/** modprobe in the user-mode Linux guest looks in /lib/modules/<guest release>: point it at the package's modules. */
export function ensureUmlModulesLink(release) {
  const link = `/lib/modules/${release}`;
  const target = `${UML_MODULES}/${release}`;
  if (existsSync(`${link}/modules.dep`)) return undefined;
  if (process.getuid?.() !== 0)
    return `${link} -> ${target} is missing; create it with: sudo mkdir -p /lib/modules && sudo ln -sfn ${target} ${link}`;
  try {
    lstatSync(link);
    return `${link} exists but has no modules.dep`;
  } catch {
    mkdirSync("/lib/modules", { recursive: true });
    symlinkSync(target, link);
    return undefined;
  }
}

/**
 * Which lab to try first (DUMMYNET_LAB: qemu, the default, or uml). QEMU by
 * default: it boots on every x86-64 CPU and its netem timing is right; user-mode
 * Linux is about twice as fast where it boots, but delayed some netem packets
 * by 250 ms instead of 20 (docs/lab.md), so it is for quick local runs only.
 * @returns {{ first: "uml" | "qemu", why: string }}
 */
export function chooseLab() {
  const wanted = process.env.DUMMYNET_LAB || "qemu";
  if (!["uml", "qemu"].includes(wanted))
    throw new Error(`DUMMYNET_LAB must be qemu or uml, not ${JSON.stringify(wanted)}`);
  if (wanted === "qemu") {
    return {
      first: "qemu",
      why: process.env.DUMMYNET_LAB
        ? "DUMMYNET_LAB=qemu"
        : "QEMU boots on any x86-64 CPU and keeps netem's timing (the default)",
    };
  }
  const uml = umlAvailability();
  return uml.available
    ? { first: "uml", why: "DUMMYNET_LAB=uml" }
    : { first: "qemu", why: `DUMMYNET_LAB=uml, but ${uml.reason}` };
}

function newestKernel() {
  const releases = existsSync("/boot")
    ? readdirSync("/boot")
        .filter((name) => name.startsWith("vmlinuz-"))
        .map((name) => name.slice("vmlinuz-".length))
        .filter((release) => existsSync(`/lib/modules/${release}/modules.dep`))
    : [];
  releases.sort((a, b) => a.localeCompare(b, "en", { numeric: true }));
  return releases.length ? `/boot/vmlinuz-${releases.at(-1)}` : undefined;
}

function findProgram(name) {
  for (const dir of (process.env.PATH ?? "").split(":").concat(["/usr/bin", "/usr/local/bin"])) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

/** An ELF executable without a PT_INTERP program header needs no dynamic loader (and no libc in the initramfs). */
function isStaticExecutable(path) {
  const elf = readFileSync(path);
  if (elf.readUInt32BE(0) !== 0x7f454c46 || elf[4] !== 2) return false;
  const programHeaders = Number(elf.readBigUInt64LE(0x20));
  const entrySize = elf.readUInt16LE(0x36);
  for (let i = 0; i < elf.readUInt16LE(0x38); i++) {
    if (elf.readUInt32LE(programHeaders + i * entrySize) === 3) return false;
  }
  return true;
}

/**
 * Software emulation (TCG) works on every x86-64 CPU. KVM is tried only when
 * DUMMYNET_LAB_ACCEL=kvm, or (auto, the default) when /dev/kvm is usable and
 * the CPU shows vmx or svm; the boot is then the probe (KVM_PROBE_MS).
 * @returns {{ accel: "kvm" | "tcg", why: string }}
 */
export function chooseAccelerator() {
  const wanted = process.env.DUMMYNET_LAB_ACCEL || "auto";
  if (!["auto", "kvm", "tcg"].includes(wanted))
    throw new Error(`DUMMYNET_LAB_ACCEL must be auto, kvm or tcg, not ${JSON.stringify(wanted)}`);
  if (wanted === "tcg") return { accel: "tcg", why: "DUMMYNET_LAB_ACCEL=tcg" };
  try {
    accessSync("/dev/kvm", constants.R_OK | constants.W_OK);
  } catch {
    return { accel: "tcg", why: "no usable /dev/kvm" };
  }
  if (wanted === "kvm") return { accel: "kvm", why: "DUMMYNET_LAB_ACCEL=kvm" };
  const flags = /^flags\s*:(.*)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1] ?? "";
  if (!/\b(vmx|svm)\b/.test(flags))
    return { accel: "tcg", why: "/dev/kvm is there but the CPU shows no vmx or svm flag" };
  return { accel: "kvm", why: "/dev/kvm and vmx/svm are there" };
}
