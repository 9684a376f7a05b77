// The kernel lab, host side: boots a user-mode Linux guest whose root is the
// host's file system, has it run the given test files (guest-init.sh, then
// guest-run.mjs), and reads their results from a per-run directory.
//
// As a command, for developers:  node scripts/lab/lab.mjs src/x/y.lab.test.ts ...
// (files without a `// requires:` line are run as they are).
import { spawn } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  createWriteStream,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { summarizeTapFile } from "./tap.mjs";

// DUMMYNET_LAB_KERNEL / DUMMYNET_LAB_MODULES: a user-mode Linux kernel and its modules elsewhere.
const UML_KERNEL = process.env.DUMMYNET_LAB_KERNEL || "/usr/bin/linux.uml";
const UML_MODULES = process.env.DUMMYNET_LAB_MODULES || "/usr/lib/uml/modules";
/** Kill the guest after this long (DUMMYNET_LAB_TIMEOUT_S): a hung guest must not hang CI. */
export const LAB_TIMEOUT_MS = Number(process.env.DUMMYNET_LAB_TIMEOUT_S || 8 * 60) * 1000;

/**
 * Whether the lab can run here, and if not, what to install.
 * @returns {{ available: true, kernel: string, version: string } | { available: false, reason: string, howToGet: string }}
 */
export function labAvailability() {
  const install = "apt-get install -y --no-install-recommends user-mode-linux kmod (Debian/Ubuntu; user-mode Linux is not packaged on Fedora)";
  if (process.platform !== "linux") return { available: false, reason: "the lab needs Linux", howToGet: "run the tests on Linux" };
  if (!existsSync(UML_KERNEL)) return { available: false, reason: `no user-mode Linux kernel (${UML_KERNEL})`, howToGet: install };
  const versions = existsSync(UML_MODULES) ? readdirSync(UML_MODULES) : [];
  if (versions.length === 0) return { available: false, reason: `no user-mode Linux modules in ${UML_MODULES}`, howToGet: install };
  return { available: true, kernel: UML_KERNEL, version: versions.sort().at(-1) };
}

/** modprobe in the guest looks in /lib/modules/<guest version>: point it at the package's modules. */
function ensureModulesLink(version) {
  const link = `/lib/modules/${version}`;
  const target = `${UML_MODULES}/${version}`;
  if (existsSync(`${link}/modules.dep`)) return undefined;
  if (process.getuid?.() !== 0) {
    return `the lab needs ${link} -> ${target}; create it with: sudo mkdir -p /lib/modules && sudo ln -sfn ${target} ${link}`;
  }
  mkdirSync("/lib/modules", { recursive: true });
  try {
    if (lstatSync(link).isSymbolicLink()) return `${link} points to ${readlinkSync(link)}, which has no modules.dep; fix or remove it`;
    return `${link} exists but has no modules.dep; the lab cannot load modules from it`;
  } catch {
    console.log(`[lab] linking ${link} -> ${target} (the guest's modprobe looks there)`);
    symlinkSync(target, link);
    return undefined;
  }
}

/**
 * Boots the guest and runs `files` in it.
 * @param {{ repoRoot: string, runDir: string, files: { path: string, requires: string[] }[],
 *   testArgs?: string[], timeoutMs?: number, memory?: string, output?: NodeJS.WritableStream }} options
 * @returns {Promise<{ passed: number, failed: number, skipped: number, problems: string[],
 *   failures: string[], skips: string[], timings: Record<string, number | undefined> }>}
 */
export async function runInLab(options) {
  const { repoRoot, runDir, files } = options;
  const output = options.output ?? process.stdout;
  const timeoutMs = options.timeoutMs ?? LAB_TIMEOUT_MS;
  const started = Date.now();
  const failedRun = (problem) => ({ passed: 0, failed: Math.max(1, files.length), skipped: 0, problems: [problem], failures: [], skips: [], timings: {} });

  const lab = labAvailability();
  if (!lab.available) return failedRun(`the kernel lab cannot run: ${lab.reason}. Install: ${lab.howToGet}`);
  const linkProblem = ensureModulesLink(lab.version);
  if (linkProblem) return failedRun(linkProblem);
  // The kernel command line is split at white space.
  for (const path of [repoRoot, runDir]) {
    if (/\s/.test(path)) return failedRun(`the kernel lab cannot use a path with white space: ${JSON.stringify(path)}`);
  }

  mkdirSync(runDir, { recursive: true });
  // TypeScript compiled on the host: transforming it in the guest (tsx) costs
  // tens of seconds per process there.
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
  const args = [
    `mem=${options.memory ?? "1536M"}`,
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
    `DUMMYNET_LAB_RUN=${runDir}`,
    `DUMMYNET_LAB_REPO=${repoRoot}`,
  ];
  mkdirSync(join(runDir, "uml"), { recursive: true });
  const consolePath = join(runDir, "console.log");
  const consoleLog = createWriteStream(consolePath);
  output.write(`[lab] booting user-mode Linux ${lab.version} for ${files.length} file(s); console log: ${relative(repoRoot, consolePath)}\n`);

  // Own process group, so the guest and its helper processes can be killed together.
  const guest = spawn(lab.kernel, args, { stdio: ["ignore", "pipe", "pipe"], detached: true });
  // Kernel boot messages go to console.log only; the console is shown from init's first line on.
  const marker = "[lab] guest kernel up";
  let shown = false;
  let held = "";
  const forward = (chunk) => {
    consoleLog.write(chunk);
    if (shown) {
      output.write(chunk);
      return;
    }
    held += chunk.toString("utf8");
    const at = held.indexOf(marker);
    if (at >= 0) {
      shown = true;
      output.write(held.slice(at));
      held = "";
    } else if (held.length > 1 << 20) {
      held = held.slice(-(1 << 16));
    }
  };
  guest.stdout.on("data", forward);
  guest.stderr.on("data", forward);

  let timedOut = false;
  const killGuest = () => {
    try {
      process.kill(-guest.pid, "SIGKILL");
    } catch {
      // already gone
    }
  };
  const timer = setTimeout(() => {
    timedOut = true;
    output.write(`\n[lab] the guest ran longer than ${timeoutMs / 1000} s: killing it\n`);
    killGuest();
  }, timeoutMs);
  // Interrupting the test command must not leave a guest running.
  const onSignal = (signal) => {
    killGuest();
    process.kill(process.pid, signal);
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);

  const exit = await new Promise((resolveExit) => guest.on("close", (code, signal) => resolveExit({ code, signal })));
  clearTimeout(timer);
  process.off("SIGINT", onSignal);
  process.off("SIGTERM", onSignal);
  await new Promise((resolveEnd) => consoleLog.end(resolveEnd));
  const totalMs = Date.now() - started;

  const readOptional = (name) => (existsSync(join(runDir, name)) ? readFileSync(join(runDir, name), "utf8") : undefined);
  const guestTimings = Object.fromEntries(
    (readOptional("guest-timings") ?? "")
      .split("\n")
      .filter((line) => line.includes("="))
      .map((line) => line.split("=")),
  );
  const result = JSON.parse(readOptional("result.json") ?? "{}");
  const runnerExit = readOptional("runner-exit")?.trim();
  const tap = summarizeTapFile(join(runDir, "lab.tap"));
  const timings = {
    buildMs,
    bootS: guestTimings.kernel_boot_s === undefined ? undefined : Number(guestTimings.kernel_boot_s),
    setupMs: guestTimings.setup_ms === undefined ? undefined : Number(guestTimings.setup_ms),
    nodeStartMs: result.nodeStartMs,
    capabilitiesMs: result.capabilitiesMs,
    testsMs: result.testsMs,
    totalMs,
  };

  const problems = [];
  const consoleTail = () => {
    const text = readFileSync(consolePath, "utf8").split("\n").slice(-40).join("\n");
    return `last lines of the guest console (${consolePath}):\n${text}`;
  };
  if (timedOut) problems.push(`the lab guest timed out after ${timeoutMs / 1000} s and was killed; ${consoleTail()}`);
  else if (runnerExit === undefined) {
    problems.push(
      `the lab guest stopped before the tests finished (linux.uml exit ${exit.code ?? exit.signal}); ${consoleTail()}`,
    );
  }
  for (const unmet of result.unmet ?? []) {
    problems.push(`${unmet.file} needs ${unmet.missing.join(", ")}, which neither this host nor the lab guest has:\n  ${unmet.advice.join("\n  ")}`);
  }
  const ranTests = (result.unmet?.length ?? 0) < files.length;
  if (ranTests && !timedOut && runnerExit !== undefined && !tap?.complete) {
    problems.push(`the lab test run ended without a complete TAP report (node --test exit ${result.exitCode}); ${consoleTail()}`);
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
  };
}

/**
 * A mirror of the checkout in which src/ is compiled to JavaScript (esbuild,
 * inline source maps, the .ts files and every other file copied beside) and
 * every other top-level entry is a symbolic link to the checkout's, so that
 * package.json, node_modules and paths relative to src/ work as they do there.
 */
export async function buildForLab(repoRoot, buildDir) {
  // esbuild comes with tsx; resolve it the way tsx does.
  const requireFromTsx = createRequire(createRequire(import.meta.url).resolve("tsx/package.json"));
  const esbuild = requireFromTsx("esbuild");
  const tsconfig = JSON.parse(readFileSync(join(repoRoot, "tsconfig.json"), "utf8"));
  mkdirSync(buildDir, { recursive: true });
  for (const entry of readdirSync(repoRoot)) {
    if (entry === "src" || entry === "test-results" || entry === ".git") continue;
    symlinkSync(join(repoRoot, entry), join(buildDir, entry));
  }
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
  copyTree(join(repoRoot, "src"), join(buildDir, "src"));
  await Promise.all(jobs);
}

/** One line with the lab's costs. */
export function formatLabTimings(t) {
  const part = (label, value, unit) => (value === undefined ? undefined : `${label} ${value}${unit}`);
  return [
    part("host compile", t.buildMs, " ms"),
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
  console.log(`[lab] ${formatLabTimings(outcome.timings)}`);
  if (outcome.failed > 0) console.log(`[lab] outputs kept in ${relative(repoRoot, runDir)}`);
  else rmSync(runDir, { recursive: true, force: true });
  console.log(`${outcome.passed} passed, ${outcome.failed} failed`);
  process.exit(outcome.failed > 0 ? 1 : 0);
}
