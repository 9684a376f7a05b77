// The kernel lab, host side: boots Debian's stock kernel in QEMU with the
// host's / as its root file system (virtio-9p, mounted by a small initramfs,
// initramfs.mjs), has it run the given test files (guest-init.sh, then
// guest-run.mjs), and reads their results from a per-run directory. Why QEMU
// and what it costs: docs/lab.md.
//
// As a command, for developers:  node scripts/lab/lab.mjs src/x/y.lab.test.ts ...
// (files without a `// requires:` line are run as they are).
import { spawn } from "node:child_process";
import {
  accessSync,
  chmodSync,
  constants,
  copyFileSync,
  createWriteStream,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { availableParallelism } from "node:os";
import { basename, dirname, join, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { buildInitramfs } from "./initramfs.mjs";
import { summarizeTapFile } from "./tap.mjs";

/** Kill the guest after this long (DUMMYNET_LAB_TIMEOUT_S): a hung guest must not hang CI. 25 min: the lab now runs about 50 tests, 5 to 10 min on a quiet 2-core machine, three times that under load. */
export const LAB_TIMEOUT_MS = Number(process.env.DUMMYNET_LAB_TIMEOUT_S || 25 * 60) * 1000;
/**
 * A KVM guest that works reaches its init within a few seconds; one that hangs
 * (seen: in the firmware, for minutes) is killed after this long and the run
 * starts over with software emulation.
 */
const KVM_PROBE_MS = 15_000;
/**
 * User-mode Linux reaches its init in about 2 s where it works; where it does
 * not (CPUs with a large XSAVE area) it panics at once. Either way the boot is
 * the probe: no init line within this long, and the run goes to QEMU.
 */
const UML_PROBE_MS = 30_000;
const INSTALL = "apt-get install -y --no-install-recommends qemu-system-x86 linux-image-amd64 busybox-static kmod";
// DUMMYNET_LAB_UML_KERNEL / DUMMYNET_LAB_UML_MODULES: a user-mode Linux kernel and its modules elsewhere.
const UML_KERNEL = process.env.DUMMYNET_LAB_UML_KERNEL || "/usr/bin/linux.uml";
const UML_MODULES = process.env.DUMMYNET_LAB_UML_MODULES || "/usr/lib/uml/modules";
/** Printed by guest-init.sh first: the kernel and the initramfs did their part. */
const GUEST_UP_MARKER = "[lab] guest kernel up";

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
function ensureUmlModulesLink(release) {
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

function umlArguments({ runDir, appendWords, initScript }) {
  return [
    "mem=1536M",
    "quiet",
    "root=/dev/root",
    "rootfstype=hostfs",
    "rootflags=/",
    "rw",
    `init=${initScript}`,
    // The guest's control socket directory: in the run directory, not in ~/.uml.
    `uml_dir=${join(runDir, "uml")}`,
    "con=null",
    "con0=fd:0,fd:1",
    ...appendWords,
  ];
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

/** The QEMU command line for one boot. */
function qemuArguments({ lab, accel, initramfs, appendWords }) {
  const cpus = Math.max(1, Math.min(4, availableParallelism()));
  return [
    "-nodefaults",
    "-no-user-config",
    "-display",
    "none",
    "-monitor",
    "none",
    "-serial",
    "stdio",
    "-no-reboot",
    ...(accel === "kvm" ? ["-accel", "kvm", "-cpu", "host"] : ["-accel", "tcg,thread=multi", "-cpu", "max"]),
    "-m",
    "2048",
    "-smp",
    String(cpus),
    "-kernel",
    lab.kernel,
    "-initrd",
    initramfs,
    // panic=-1 with -no-reboot: a kernel panic ends QEMU at once (the console tail says why).
    "-append",
    ["console=ttyS0", "panic=-1", "rdinit=/init", "quiet", ...appendWords].join(" "),
    // The host's / is the guest's root; multidevs=remap keeps inode numbers of different host file systems apart.
    "-fsdev",
    "local,id=root,path=/,security_model=passthrough,multidevs=remap",
    "-device",
    "virtio-9p-pci,fsdev=root,mount_tag=host",
  ];
}

/**
 * Boots the guest and runs `files` in it.
 * @param {{ repoRoot: string, runDir: string, files: { path: string, requires: string[] }[],
 *   testArgs?: string[], timeoutMs?: number, output?: NodeJS.WritableStream }} options
 * @returns {Promise<{ passed: number, failed: number, skipped: number, problems: string[],
 *   failures: string[], skips: string[], timings: Record<string, number | undefined>, guest?: string }>}
 */
export async function runInLab(options) {
  const { repoRoot, runDir, files } = options;
  const output = options.output ?? process.stdout;
  const timeoutMs = options.timeoutMs ?? LAB_TIMEOUT_MS;
  const started = Date.now();
  const failedRun = (problem) => ({
    passed: 0,
    failed: Math.max(1, files.length),
    skipped: 0,
    problems: [problem],
    failures: [],
    skips: [],
    timings: {},
  });

  let choice;
  let accelerator;
  try {
    choice = chooseLab();
    accelerator = chooseAccelerator();
  } catch (error) {
    return failedRun(error.message);
  }
  const lab = labAvailability();
  if (choice.first === "qemu" && !lab.available) {
    return failedRun(`the kernel lab cannot run: ${lab.reason}. Install: ${lab.howToGet}`);
  }
  // The kernel command line is split at white space.
  for (const path of [repoRoot, runDir]) {
    if (/\s/.test(path)) return failedRun(`the kernel lab cannot use a path with white space: ${JSON.stringify(path)}`);
  }

  mkdirSync(runDir, { recursive: true });
  // TypeScript compiled on the host: transforming it in the guest (tsx) costs
  // seconds per process there.
  const buildStarted = Date.now();
  const buildDir = join(runDir, "build");
  await buildForLab(repoRoot, buildDir);
  const buildMs = Date.now() - buildStarted;
  writeFileSync(
    join(runDir, "request.json"),
    JSON.stringify(
      {
        buildDir,
        files: files.map((f) => ({ path: relative(repoRoot, resolve(repoRoot, f.path)), requires: f.requires })),
        testArgs: options.testArgs ?? [],
        color: Boolean(process.stdout.isTTY),
      },
      null,
      2,
    ),
  );
  const initScript = join(repoRoot, "scripts/lab/guest-init.sh");
  // The kernel passes unknown key=value words on to init as environment.
  const appendWords = [`DUMMYNET_LAB_RUN=${runDir}`, `DUMMYNET_LAB_REPO=${repoRoot}`];
  // The guest's environment comes from the kernel command line.
  if (/^[1-9]$/.test(process.env.DUMMYNET_LAB_CONCURRENCY ?? ""))
    appendWords.push(`DUMMYNET_LAB_CONCURRENCY=${process.env.DUMMYNET_LAB_CONCURRENCY}`);
  const remaining = () => timeoutMs - (Date.now() - started);
  /** Why this lab, for the summary: the choice, and every attempt that failed on the way. */
  const why = [choice.why];
  let consolePath = join(runDir, "console.log");
  let guest;
  let bootStarted = Date.now();
  /** @type {{ name: string, release: string } | undefined} */
  let used;

  if (choice.first === "uml") {
    const uml = umlAvailability();
    const linkProblem = ensureUmlModulesLink(uml.release);
    if (linkProblem) why.push(`user-mode Linux not used: ${linkProblem}`);
    else {
      mkdirSync(join(runDir, "uml"), { recursive: true });
      output.write(
        `[lab] booting user-mode Linux ${uml.release} for ${files.length} file(s); console log: ${relative(repoRoot, consolePath)}\n`,
      );
      guest = await bootGuest({
        program: uml.kernel,
        args: umlArguments({ runDir, appendWords, initScript }),
        consolePath,
        output,
        timeoutMs: remaining(),
        upWithinMs: UML_PROBE_MS,
      });
      if (guest.cameUp || guest.timedOut) used = { name: "user-mode Linux", release: uml.release };
      else {
        const failure = guest.gaveUp
          ? `did not reach init within ${UML_PROBE_MS / 1000} s`
          : `ended before init (exit ${guest.exit.code ?? guest.exit.signal})`;
        const lastLines = readFileSync(consolePath, "utf8").trim().split("\n").slice(-3).join(" | ");
        why.push(
          `user-mode Linux ${uml.release} ${failure}${lastLines ? ` (console: ${lastLines})` : ""}, so QEMU, which runs on any x86-64 CPU`,
        );
        output.write(
          `[lab] user-mode Linux ${failure}; starting over in QEMU (console: ${relative(repoRoot, consolePath)})\n`,
        );
        consolePath = join(runDir, "console-qemu.log");
      }
    }
  }

  if (!used) {
    if (!lab.available)
      return failedRun(
        `the kernel lab cannot run: ${why.join("; ")}; and QEMU: ${lab.reason}. Install: ${lab.howToGet}`,
      );
    const initramfs = join(runDir, "initramfs.gz");
    try {
      writeFileSync(
        initramfs,
        buildInitramfs({ busybox: lab.busybox, moduleTree: lab.moduleTree, guestInit: initScript }),
      );
    } catch (error) {
      return failedRun(`the kernel lab cannot build its initramfs: ${error.message}`);
    }
    const bootQemu = (accel, upWithinMs) => {
      output.write(
        `[lab] booting Linux ${lab.release} in QEMU (${accel === "kvm" ? "KVM" : "TCG software emulation"}) for ${files.length} file(s); ` +
          `console log: ${relative(repoRoot, consolePath)}\n`,
      );
      bootStarted = Date.now();
      const args = qemuArguments({ lab, accel, initramfs, appendWords });
      return bootGuest({ program: lab.qemu, args, consolePath, output, timeoutMs: remaining(), upWithinMs });
    };
    let accel = accelerator.accel;
    guest = await bootQemu(accel, accel === "kvm" ? KVM_PROBE_MS : undefined);
    if (accel === "kvm" && !guest.cameUp && !guest.timedOut) {
      const failure = guest.gaveUp
        ? `did not reach init within ${KVM_PROBE_MS / 1000} s`
        : `ended before init (exit ${guest.exit.code ?? guest.exit.signal})`;
      output.write(
        `[lab] the KVM guest ${failure}; starting over with software emulation (console: ${relative(repoRoot, consolePath)})\n`,
      );
      accelerator = { accel: "tcg", why: `a KVM guest ${failure}` };
      accel = "tcg";
      consolePath = join(runDir, "console-tcg.log");
      guest = await bootQemu("tcg");
    }
    if (guest.stalled !== undefined && remaining() > 60_000) {
      // Seen once in many runs under TCG: a vCPU stuck in the guest kernel. A fresh boot runs the whole request again.
      output.write(
        `[lab] starting the guest over once after its kernel stalled (console: ${relative(repoRoot, consolePath)})\n`,
      );
      why.push(`a first guest stalled (${guest.stalled}) and was started over`);
      for (const name of ["result.json", "lab.tap", "runner-exit", "guest-timings"])
        rmSync(join(runDir, name), { force: true });
      consolePath = join(runDir, "console-retry.log");
      guest = await bootQemu(accel);
    }
    why.push(`${accel === "kvm" ? "KVM" : "TCG"}: ${accelerator.why}`);
    used = { name: `QEMU with ${accel === "kvm" ? "KVM" : "TCG"}`, release: lab.release };
  }
  const totalMs = Date.now() - started;

  const readOptional = (name) =>
    existsSync(join(runDir, name)) ? readFileSync(join(runDir, name), "utf8") : undefined;
  const guestFacts = Object.fromEntries(
    (readOptional("guest-timings") ?? "")
      .split("\n")
      .filter((line) => line.includes("="))
      .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]),
  );
  // A guest killed while writing leaves it empty or cut: then there is no result, which the checks below report.
  const result = parseOptionalJson(readOptional("result.json"));
  const runnerExit = readOptional("runner-exit")?.trim();
  const tap = summarizeTapFile(join(runDir, "lab.tap"));
  const timings = {
    buildMs,
    upS: guest.upMs === undefined ? undefined : Number(((guest.upMs - bootStarted) / 1000).toFixed(1)),
    bootS: guestFacts.kernel_boot_s === undefined ? undefined : Number(guestFacts.kernel_boot_s),
    setupMs: guestFacts.setup_ms === undefined ? undefined : Number(guestFacts.setup_ms),
    nodeStartMs: result.nodeStartMs,
    capabilitiesMs: result.capabilitiesMs,
    testsMs: result.testsMs,
    totalMs,
  };
  // What ran, as the guest itself reports it (uname -r, the distribution's version in /proc/version).
  const debianVersion = / Debian (\S+)/.exec(guestFacts.kernel_version ?? "")?.[1];
  const guestKernel = guestFacts.kernel_release
    ? `${guestFacts.kernel_release}${debianVersion ? ` (Debian ${debianVersion})` : ""}`
    : `${used.release} (not confirmed by the guest)`;
  const guestSummary = `Linux ${guestKernel} in ${used.name}, because: ${why.join("; ")}`;

  const problems = [];
  const consoleTail = () => {
    const text = readFileSync(consolePath, "utf8").replace(/\r/g, "").split("\n").slice(-40).join("\n");
    return `last lines of the guest console (${consolePath}):\n${text}`;
  };
  if (guestFacts.kernel_release && guestFacts.kernel_release !== used.release) {
    problems.push(
      `the guest runs Linux ${guestFacts.kernel_release}, not ${used.release} as booted; its modules would not match`,
    );
  }
  if (guest.timedOut)
    problems.push(`the lab guest timed out after ${timeoutMs / 1000} s and was killed; ${consoleTail()}`);
  else if (guest.stalled !== undefined)
    problems.push(`the lab guest's kernel stalled ("${guest.stalled}") and was killed; ${consoleTail()}`);
  else if (!guest.cameUp) {
    problems.push(
      `the lab guest never reached its init (${used.name} exit ${guest.exit.code ?? guest.exit.signal}); ${consoleTail()}`,
    );
  } else if (runnerExit === undefined) {
    problems.push(
      `the lab guest stopped before the tests finished (${used.name} exit ${guest.exit.code ?? guest.exit.signal}); ${consoleTail()}`,
    );
  }
  for (const unmet of result.unmet ?? []) {
    problems.push(
      `${unmet.file} needs ${unmet.missing.join(", ")}, which neither this host nor the lab guest has:\n  ${unmet.advice.join("\n  ")}`,
    );
  }
  const ranTests = (result.unmet?.length ?? 0) < files.length;
  if (ranTests && !guest.timedOut && runnerExit !== undefined && !tap?.complete) {
    problems.push(
      `the lab test run ended without a complete TAP report (node --test exit ${result.exitCode}); ${consoleTail()}`,
    );
  }
  if (tap?.complete && result.exitCode !== 0 && tap.failed === 0) {
    problems.push(`node --test exited with ${result.exitCode} in the lab although no test failed`);
  }
  return {
    passed: tap?.passed ?? 0,
    failed: (tap?.failed ?? 0) + problems.length,
    skipped: tap?.skipped ?? 0,
    problems,
    failures: tap?.failures ?? [],
    skips: tap?.skips ?? [],
    timings,
    guest: guestSummary,
  };
}

function parseOptionalJson(text) {
  try {
    return JSON.parse(text ?? "{}");
  } catch {
    return {};
  }
}

/** What a guest kernel prints when a CPU stopped making progress: the run cannot finish, so it ends at once. */
const KERNEL_STALL = /rcu: INFO: rcu_\w+ (self-)?detected stalls?|watchdog: BUG: soft lockup/;

/**
 * Runs one guest to its end, the console to `consolePath` (and, from the
 * guest init's first line on, to `output`). Killed after `timeoutMs`, or after
 * `upWithinMs` if the guest init has not spoken by then.
 * @returns {Promise<{ exit: { code: number | null, signal: string | null }, timedOut: boolean,
 *   cameUp: boolean, gaveUp: boolean, stalled?: string, upMs?: number }>}
 */
async function bootGuest({ program, args, consolePath, output, timeoutMs, upWithinMs }) {
  const consoleLog = createWriteStream(consolePath);
  // Own process group, so QEMU and anything it starts can be killed together.
  const guest = spawn(program, args, { stdio: ["ignore", "pipe", "pipe"], detached: true });
  const state = { timedOut: false, cameUp: false, gaveUp: false, stalled: undefined, upMs: undefined };
  // Kernel boot messages go to the console log only; the console is shown from init's first line on.
  let held = "";
  const forward = (chunk) => {
    consoleLog.write(chunk);
    // The serial console ends lines with \r\n.
    const text = chunk.toString("utf8").replace(/\r/g, "");
    const stall = state.stalled === undefined ? KERNEL_STALL.exec(text) : null;
    if (stall) {
      state.stalled = stall[0];
      output.write(`\n[lab] the guest kernel reports "${stall[0]}": it will not finish, killing it\n`);
      setImmediate(killGuest);
    }
    if (state.cameUp) {
      output.write(text);
      return;
    }
    held += text;
    const at = held.indexOf(GUEST_UP_MARKER);
    if (at >= 0) {
      state.cameUp = true;
      state.upMs = Date.now();
      output.write(held.slice(at));
      held = "";
    } else if (held.length > 1 << 20) {
      held = held.slice(-(1 << 16));
    }
  };
  guest.stdout.on("data", forward);
  guest.stderr.on("data", forward);

  const killGuest = () => {
    try {
      process.kill(-guest.pid, "SIGKILL");
    } catch {
      // already gone
    }
  };
  const timer = setTimeout(
    () => {
      state.timedOut = true;
      output.write(`\n[lab] the guest ran longer than ${Math.round(timeoutMs / 1000)} s: killing it\n`);
      killGuest();
    },
    Math.max(0, timeoutMs),
  );
  const probe =
    upWithinMs === undefined
      ? undefined
      : setTimeout(() => {
          if (state.cameUp) return;
          state.gaveUp = true;
          killGuest();
        }, upWithinMs);
  // Interrupting the test command must not leave a guest running.
  const onSignal = (signal) => {
    killGuest();
    process.kill(process.pid, signal);
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);

  const exit = await new Promise((resolveExit) =>
    guest
      .on("close", (code, signal) => resolveExit({ code, signal }))
      .on("error", (error) => resolveExit({ code: null, signal: error.message })),
  );
  clearTimeout(timer);
  clearTimeout(probe);
  process.off("SIGINT", onSignal);
  process.off("SIGTERM", onSignal);
  await new Promise((resolveEnd) => consoleLog.end(resolveEnd));
  return { exit, ...state };
}

/** Top-level folders whose TypeScript the lab's tests run (examples/testing holds the README's test examples). */
const COMPILED_TREES = ["src", "examples"];

/**
 * A mirror of the checkout in which src/ and examples/ are compiled to
 * JavaScript (esbuild, inline source maps, the .ts files and every other file
 * copied beside) and every other top-level entry is a symbolic link to the
 * checkout's, so that package.json, node_modules and paths relative to src/
 * work as they do there.
 */
export async function buildForLab(repoRoot, buildDir) {
  // esbuild comes with tsx; resolve it the way tsx does.
  const requireFromTsx = createRequire(createRequire(import.meta.url).resolve("tsx/package.json"));
  const esbuild = requireFromTsx("esbuild");
  const tsconfig = JSON.parse(readFileSync(join(repoRoot, "tsconfig.json"), "utf8"));
  mkdirSync(buildDir, { recursive: true });
  for (const entry of readdirSync(repoRoot)) {
    if (COMPILED_TREES.includes(entry) || entry === "test-results" || entry === ".git" || entry === "node_modules")
      continue;
    symlinkSync(join(repoRoot, entry), join(buildDir, entry));
  }
  // node_modules: the checkout's packages, but tsx is a stand-in (tests start
  // processes with `node --import tsx x.ts`; tsx costs seconds per process in
  // the guest). Every .ts file has its compiled .js beside it, so the
  // stand-in only points x.ts at x.js.
  mkdirSync(join(buildDir, "node_modules"));
  for (const entry of readdirSync(join(repoRoot, "node_modules"))) {
    if (entry !== "tsx") symlinkSync(join(repoRoot, "node_modules", entry), join(buildDir, "node_modules", entry));
  }
  const standIn = join(buildDir, "node_modules", "tsx");
  mkdirSync(standIn);
  writeFileSync(
    join(standIn, "package.json"),
    JSON.stringify({ name: "tsx", private: true, type: "module", exports: { ".": "./register.mjs" } }),
  );
  writeFileSync(
    join(standIn, "register.mjs"),
    'import { register } from "node:module";\nregister("./compiled-instead.mjs", import.meta.url);\n',
  );
  writeFileSync(
    join(standIn, "compiled-instead.mjs"),
    [
      "// The kernel lab's stand-in for tsx: src/ and examples/ were compiled on the host, x.js lies beside x.ts.",
      'import { existsSync } from "node:fs";',
      'import { fileURLToPath } from "node:url";',
      "export async function resolve(specifier, context, nextResolve) {",
      "  const resolved = await nextResolve(specifier, context);",
      '  if (!resolved.url.startsWith("file:") || !/\\.[cm]?ts$/.test(resolved.url) || resolved.url.endsWith(".d.ts")) return resolved;',
      '  const compiled = resolved.url.replace(/ts$/, "js");',
      "  if (!existsSync(fileURLToPath(compiled))) throw new Error(`${resolved.url}: no compiled ${compiled} in the lab build`);",
      '  return { url: compiled, format: "module", shortCircuit: true };',
      "}",
      "",
    ].join("\n"),
  );
  const jobs = [];
  const copyTree = (from, to) => {
    mkdirSync(to, { recursive: true });
    for (const entry of readdirSync(from, { withFileTypes: true })) {
      const source = join(from, entry.name);
      const target = join(to, entry.name);
      if (entry.isDirectory()) {
        copyTree(source, target);
        continue;
      }
      copyFileSync(source, target);
      chmodSync(target, statSync(source).mode & 0o7777);
      if (entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts")) {
        jobs.push(
          esbuild
            .transform(readFileSync(source, "utf8"), {
              loader: "ts",
              format: "esm",
              platform: "node",
              target: "node20",
              sourcemap: "inline",
              sourcefile: source,
              tsconfigRaw: { compilerOptions: tsconfig.compilerOptions ?? {} },
            })
            .then((out) => writeFileSync(target.replace(/\.ts$/, ".js"), out.code)),
        );
      }
    }
  };
  for (const tree of COMPILED_TREES)
    if (existsSync(join(repoRoot, tree))) copyTree(join(repoRoot, tree), join(buildDir, tree));
  await Promise.all(jobs);
  await precompileSchemaValidator(repoRoot, buildDir);
  await bundleEntryPoints(esbuild, buildDir);
}

/**
 * The processes the lab's tests start (each test file, the `dummynet`
 * command, the README's test examples) as one bundled file each, in place of
 * their compiled module: in the emulated guest, loading a module graph of a
 * few hundred files over 9p costs 15-25 s per process, one file 2-5 s.
 * Bundled code sees its entry's import.meta.url, so the files that modules
 * find beside themselves (the probe agent, the schema validator) are copied
 * beside each entry; paths that climb (../../schema) keep their depth.
 */
/** An esbuild plugin that resolves `dummynet`, `dummynet/testing` and `dummynet/vitest` to the build's source. */
function packageFromSource(buildDir) {
  const entries = {
    dummynet: "src/index.ts",
    "dummynet/testing": "src/testing/index.ts",
    "dummynet/vitest": "src/testing/vitest.ts",
  };
  return {
    name: "dummynet-from-source",
    setup(build) {
      build.onResolve({ filter: /^dummynet(\/[a-z]+)?$/ }, (args) =>
        entries[args.path] ? { path: join(buildDir, entries[args.path]) } : undefined,
      );
    },
  };
}

async function bundleEntryPoints(esbuild, buildDir) {
  const entries = [];
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (
        entry.name.endsWith(".lab.test.ts") ||
        (dir.endsWith(join("examples", "testing")) && entry.name.endsWith(".ts"))
      )
        entries.push(path);
    }
  };
  walk(join(buildDir, "src"));
  if (existsSync(join(buildDir, "examples"))) walk(join(buildDir, "examples"));
  entries.push(join(buildDir, "src/cli/main.ts"));
  const besides = [
    join(buildDir, "src/probe/agent.mjs"),
    join(buildDir, "src/topology/schema-validator.generated.cjs"),
  ];
  await Promise.all(
    entries.map(async (entry) => {
      await esbuild.build({
        entryPoints: [entry],
        outfile: entry.replace(/\.ts$/, ".js"),
        allowOverwrite: true,
        bundle: true,
        platform: "node",
        format: "esm",
        target: "node20",
        sourcemap: "inline",
        logLevel: "error",
        // vitest is an optional peer; the lab's tests do not run it.
        external: ["vitest", "tsx", "tsx/*"],
        // The README's examples import the package: give them its source, as every other lab test has
        // (dist/ need not exist: a fresh clone builds it only for the demo and for packing).
        plugins: [packageFromSource(buildDir)],
        // Bundled CommonJS packages (commander, ajv) call require for Node's own modules.
        banner: {
          js: 'import { createRequire as __labRequire } from "node:module"; const require = __labRequire(import.meta.url);',
        },
      });
      for (const file of besides) {
        const target = join(dirname(entry), basename(file));
        if (existsSync(file) && !existsSync(target)) copyFileSync(file, target);
      }
    }),
  );
}

/**
 * The topology schema's standalone validator, beside the compiled
 * topology/load.js, as `npm run build` puts one in dist/ (see
 * scripts/build-schema-validator.mjs): without it every CLI process compiles
 * the schema with ajv, which costs seconds in an emulated guest.
 */
async function precompileSchemaValidator(repoRoot, buildDir) {
  const requireFromRepo = createRequire(join(repoRoot, "package.json"));
  const { Ajv } = requireFromRepo("ajv");
  const standalone = requireFromRepo("ajv/dist/standalone/index.js");
  const { AJV_OPTIONS } = await import(pathToFileURL(join(buildDir, "src/topology/schema-options.js")).href);
  const schema = JSON.parse(readFileSync(join(repoRoot, "schema/topology.schema.json"), "utf8"));
  const ajv = new Ajv({ ...AJV_OPTIONS, code: { source: true } });
  const code = (standalone.default ?? standalone)(ajv, ajv.compile(schema));
  writeFileSync(
    join(buildDir, "src/topology/schema-validator.generated.cjs"),
    `// Generated by scripts/lab/lab.mjs from schema/topology.schema.json.\n${code}`,
  );
}

/** One line with the lab's costs. */
export function formatLabTimings(t) {
  const part = (label, value, unit) => (value === undefined ? undefined : `${label} ${value}${unit}`);
  return [
    part("host build", t.buildMs, " ms"),
    part("guest init reached", t.upS, " s"),
    part("kernel boot", t.bootS, " s"),
    part("guest setup", t.setupMs, " ms"),
    part("node start", t.nodeStartMs, " ms"),
    part("capability check", t.capabilitiesMs, " ms"),
    part("tests", t.testsMs === undefined ? undefined : (t.testsMs / 1000).toFixed(1), " s"),
    part("lab total", t.totalMs === undefined ? undefined : (t.totalMs / 1000).toFixed(1), " s"),
  ]
    .filter(Boolean)
    .join(", ");
}

/** Reads `// requires: a, b` from the first lines of a lab test file. */
export function readRequires(path) {
  const head = readFileSync(path, "utf8").split("\n").slice(0, 15);
  for (const line of head) {
    const match = /^\s*\/\/\s*requires:\s*(.*)$/.exec(line);
    if (match) return match[1].split(/[\s,]+/).filter((word) => word !== "");
  }
  return undefined;
}

// As a command: run the given files in the lab.
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
  const files = process.argv.slice(2).map((path) => ({ path: resolve(path), requires: readRequires(path) ?? [] }));
  if (files.length === 0) {
    console.error("usage: node scripts/lab/lab.mjs <test files>");
    process.exit(2);
  }
  const runDir = join(repoRoot, "test-results", `lab-${new Date().toISOString().replace(/[:.]/g, "-")}-${process.pid}`);
  const outcome = await runInLab({ repoRoot, runDir, files });
  for (const problem of outcome.problems) console.log(`[lab] PROBLEM: ${problem}`);
  if (outcome.guest) console.log(`[lab] guest: ${outcome.guest}`);
  if (Object.keys(outcome.timings).length > 0) console.log(`[lab] ${formatLabTimings(outcome.timings)}`);
  if (outcome.failed > 0) console.log(`[lab] outputs kept in ${relative(repoRoot, runDir)}`);
  else rmSync(runDir, { recursive: true, force: true });
  console.log(`${outcome.passed} passed, ${outcome.failed} failed`);
  process.exit(outcome.failed > 0 ? 1 : 0);
}
