// The kernel lab, host side: boots Debian's stock kernel in QEMU with the
// host's / as its root file system (virtio-9p, mounted by a small initramfs,
// initramfs.mjs), has it run the given test files (guest-init.sh, then
// guest-run.mjs), and reads their results from a per-run directory. Why QEMU
// and what it costs: docs/lab.md.
//
// As a command, for developers:  node scripts/lab/lab.mjs src/x/y.lab.test.ts ...
// (files without a `// requires:` line are run as they are).
//
// The parts: availability.mjs (can it run here, which guest), build.mjs (the
// compiled mirror of the checkout), guest.mjs (one boot), tap.mjs (results).
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseCommandLine } from "../args.mjs";
import {
  chooseAccelerator,
  chooseLab,
  ensureUmlModulesLink,
  labAvailability,
  umlAvailability,
} from "./availability.mjs";
import { buildForLab } from "./build.mjs";
import { bootGuest, qemuArguments, umlArguments } from "./guest.mjs";
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

/**
 * @typedef {{ passed: number, failed: number, skipped: number, problems: string[], failures: string[],
 *   skips: string[], timings: Record<string, number | undefined>, guest?: string }} LabOutcome
 * @typedef {{ repoRoot: string, runDir: string, files: { path: string, requires: string[] }[],
 *   output: NodeJS.WritableStream, appendWords: string[], initScript: string, remaining: () => number,
 *   why: string[] }} LabRun  what one run's boots share; `why` collects the reasons for the lab that ran
 * @typedef {{ guest: Awaited<ReturnType<typeof bootGuest>>, used: { name: string, release: string },
 *   consolePath: string, bootStarted: number }} Booted
 */

/**
 * Boots the guest and runs `files` in it.
 * @param {{ repoRoot: string, runDir: string, files: { path: string, requires: string[] }[],
 *   testArgs?: string[], timeoutMs?: number, output?: NodeJS.WritableStream }} options
 * @returns {Promise<LabOutcome>}
 */
export async function runInLab(options) {
  const { repoRoot, runDir, files } = options;
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
  // The kernel passes unknown key=value words on to init as environment.
  const appendWords = [`DUMMYNET_LAB_RUN=${runDir}`, `DUMMYNET_LAB_REPO=${repoRoot}`];
  // The guest's environment comes from the kernel command line.
  if (/^[1-9]$/.test(process.env.DUMMYNET_LAB_CONCURRENCY ?? ""))
    appendWords.push(`DUMMYNET_LAB_CONCURRENCY=${process.env.DUMMYNET_LAB_CONCURRENCY}`);
  /** @type {LabRun} */
  const run = {
    repoRoot,
    runDir,
    files,
    output: options.output ?? process.stdout,
    appendWords,
    initScript: join(repoRoot, "scripts/lab/guest-init.sh"),
    remaining: () => timeoutMs - (Date.now() - started),
    why: [choice.why],
  };

  const uml = choice.first === "uml" ? await bootUml(run) : { qemuConsole: join(runDir, "console.log") };
  let booted = uml.booted;
  if (!booted) {
    if (!lab.available)
      return failedRun(
        `the kernel lab cannot run: ${run.why.join("; ")}; and QEMU: ${lab.reason}. Install: ${lab.howToGet}`,
      );
    const qemu = await bootQemu(run, lab, accelerator, uml.qemuConsole);
    if (typeof qemu === "string") return failedRun(qemu);
    booted = qemu;
  }
  return collectOutcome(run, booted, { buildMs, totalMs: Date.now() - started, timeoutMs });
}

/**
 * The user-mode Linux boot, where it comes up; else the reason joins `run.why` and QEMU goes next, its console
 * in `qemuConsole`.
 * @param {LabRun} run
 * @returns {Promise<{ booted?: Booted, qemuConsole: string }>}
 */
async function bootUml(run) {
  const { repoRoot, runDir, files, output, why } = run;
  const consolePath = join(runDir, "console.log");
  const uml = umlAvailability();
  const linkProblem = ensureUmlModulesLink(uml.release);
  if (linkProblem) {
    why.push(`user-mode Linux not used: ${linkProblem}`);
    return { qemuConsole: consolePath };
  }
  mkdirSync(join(runDir, "uml"), { recursive: true });
  output.write(
    `[lab] booting user-mode Linux ${uml.release} for ${files.length} file(s); console log: ${relative(repoRoot, consolePath)}\n`,
  );
  const bootStarted = Date.now();
  const guest = await bootGuest({
    program: uml.kernel,
    args: umlArguments(run),
    consolePath,
    output,
    timeoutMs: run.remaining(),
    upWithinMs: UML_PROBE_MS,
  });
  if (guest.cameUp || guest.timedOut) {
    return {
      booted: { guest, used: { name: "user-mode Linux", release: uml.release }, consolePath, bootStarted },
      qemuConsole: consolePath,
    };
  }
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
  return { qemuConsole: join(runDir, "console-qemu.log") };
}

/**
 * The QEMU boot: with KVM when chosen (software emulation again if that guest does not come up), and once more
 * after a guest kernel stall.
 * @param {LabRun} run
 * @returns {Promise<Booted | string>} the boot, or why it could not start
 */
async function bootQemu(run, lab, accelerator, firstConsole) {
  const { repoRoot, runDir, files, output, why } = run;
  const initramfs = join(runDir, "initramfs.gz");
  try {
    writeFileSync(
      initramfs,
      buildInitramfs({ busybox: lab.busybox, moduleTree: lab.moduleTree, guestInit: run.initScript }),
    );
  } catch (error) {
    return `the kernel lab cannot build its initramfs: ${error.message}`;
  }
  let consolePath = firstConsole;
  let bootStarted;
  const boot = (accel, upWithinMs) => {
    output.write(
      `[lab] booting Linux ${lab.release} in QEMU (${accel === "kvm" ? "KVM" : "TCG software emulation"}) for ${files.length} file(s); ` +
        `console log: ${relative(repoRoot, consolePath)}\n`,
    );
    bootStarted = Date.now();
    const args = qemuArguments({ lab, accel, initramfs, appendWords: run.appendWords });
    return bootGuest({ program: lab.qemu, args, consolePath, output, timeoutMs: run.remaining(), upWithinMs });
  };
  let { accel, why: accelWhy } = accelerator;
  let guest = await boot(accel, accel === "kvm" ? KVM_PROBE_MS : undefined);
  if (accel === "kvm" && !guest.cameUp && !guest.timedOut) {
    const failure = guest.gaveUp
      ? `did not reach init within ${KVM_PROBE_MS / 1000} s`
      : `ended before init (exit ${guest.exit.code ?? guest.exit.signal})`;
    output.write(
      `[lab] the KVM guest ${failure}; starting over with software emulation (console: ${relative(repoRoot, consolePath)})\n`,
    );
    accel = "tcg";
    accelWhy = `a KVM guest ${failure}`;
    consolePath = join(runDir, "console-tcg.log");
    guest = await boot("tcg");
  }
  if (guest.stalled !== undefined && run.remaining() > 60_000) {
    // Seen once in many runs under TCG: a vCPU stuck in the guest kernel. A fresh boot runs the whole request again.
    output.write(
      `[lab] starting the guest over once after its kernel stalled (console: ${relative(repoRoot, consolePath)})\n`,
    );
    why.push(`a first guest stalled (${guest.stalled}) and was started over`);
    for (const name of ["result.json", "lab.tap", "runner-exit", "guest-timings"])
      rmSync(join(runDir, name), { force: true });
    consolePath = join(runDir, "console-retry.log");
    guest = await boot(accel);
  }
  const name = accel === "kvm" ? "KVM" : "TCG";
  why.push(`${name}: ${accelWhy}`);
  return { guest, used: { name: `QEMU with ${name}`, release: lab.release }, consolePath, bootStarted };
}

/**
 * What the guest left in the run directory (its timings, result.json, the TAP file), checked against how the boot
 * ended.
 * @param {LabRun} run
 * @param {Booted} booted
 * @returns {LabOutcome}
 */
function collectOutcome(run, { guest, used, consolePath, bootStarted }, { buildMs, totalMs, timeoutMs }) {
  const { runDir, files, why } = run;
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
  const { positionals } = parseCommandLine(
    "usage: node scripts/lab/lab.mjs <test files>   (DUMMYNET_LAB=uml|qemu, DUMMYNET_LAB_TIMEOUT_S=...: see scripts/lab/README.md)",
    {},
    { allowPositionals: true },
  );
  const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
  const files = positionals.map((path) => ({ path: resolve(path), requires: readRequires(path) ?? [] }));
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
