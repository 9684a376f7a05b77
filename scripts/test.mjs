// `npm test`: the whole suite, or a part of it (`npm test -- <files or path fragments>`).
//
// 1. Makes sure the Debian packages the tests use are installed (installs the
//    missing ones when root on an apt system, saying so; otherwise stops with
//    the exact command).
// 2. Typechecks (tsc --noEmit), then lints: eslint, prettier --check, knip
//    (unused files, exports and dependencies).
// 3. Runs the host tests: every src/**/*.test.ts except *.lab.test.ts.
// 4. Runs the rootless phase (issue 13): the network, process and topology
//    host tests (src/{network,process,topology}/**) again as uid 65534 with
//    DUMMYNET_ROOTLESS=1, a scratch HOME/XDG_RUNTIME_DIR/TMPDIR of that user,
//    the checkout read in place (checked readable first). What rootless mode
//    refuses on purpose is excluded by the one list in
//    src/test-support/rootless.ts, printed with each reason; an entry that
//    matches no skipped test fails the run (stale).
// 5. Runs the kernel-feature tests (*.lab.test.ts, each declaring
//    `// requires: netem, vlan, ...` in its first lines) on the host when the
//    host kernel has what they need, otherwise in the kernel lab, a QEMU
//    guest with Debian's stock kernel (scripts/lab). If neither can, they fail
//    with what to install: nothing is skipped silently.
// 6. Ends with "N passed, N failed" and a non-zero exit status on any failure.
//
// Options: --rootless runs only the rootless phase (of the selected files);
// --no-rootless leaves it out; --no-typecheck (developers only) leaves out the
// typecheck and the lint, --no-lint only the lint;
// --test-name-pattern=... and other --test-* options are passed to node --test
// (host, rootless and lab).
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { formatLabTimings, labAvailability, readRequires, runInLab } from "./lab/lab.mjs";
import { summarizeTapFile } from "./lab/tap.mjs";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");
process.chdir(repoRoot);
const started = Date.now();

/** Debian packages the tests need, and a program each provides (for systems without dpkg). */
const PACKAGES = [
  { name: "iproute2", program: "ip" },
  { name: "iputils-ping", program: "ping" },
  { name: "iptables", program: "iptables" },
  { name: "procps", program: "ps" },
  { name: "kmod", program: "modprobe" },
  { name: "util-linux", program: "nsenter" },
  // Tests of a user who runs the library through sudo (src/test-support/sudo-user.ts).
  { name: "sudo", program: "sudo" },
  // Packet captures (src/evidence: capture(), the fixtures' evidence of a failed test).
  { name: "tcpdump", program: "tcpdump" },
  // The kernel lab (scripts/lab, docs/lab.md): QEMU with Debian's stock kernel and its modules,
  // and a static busybox for the initramfs.
  { name: "qemu-system-x86", program: "qemu-system-x86_64", labOnly: true },
  { name: "linux-image-amd64", program: "/boot/vmlinuz-<release>", labOnly: true },
  { name: "busybox-static", program: "busybox", labOnly: true },
];

/**
 * A default bound per test (files set tighter ones), host and lab. Not
 * --test-force-exit: it ends the run before the TAP file is written out.
 */
const BOUNDS = ["--test-timeout=600000"];
/** The host tests as a whole (DUMMYNET_HOST_TIMEOUT_S); CI must never sit until its own limit. 40 min: they took 1056 s under load 15 (46 files, rootless and README tests added). */
const HOST_TIMEOUT_MS = Number(process.env.DUMMYNET_HOST_TIMEOUT_S || 40 * 60) * 1000;

/** The rootless phase: which host test files it runs again, as whom, and its bound (DUMMYNET_ROOTLESS_TIMEOUT_S). */
const ROOTLESS_SCOPE = ["src/network/", "src/process/", "src/topology/", "src/faults/", "src/evidence/"];
const ROOTLESS_UID = 65534;
/** 15 min: the phase took 50 s (10 files, 110 tests) under load 7; the bound names the tests still running when it ends them. */
const ROOTLESS_TIMEOUT_MS = Number(process.env.DUMMYNET_ROOTLESS_TIMEOUT_S || 15 * 60) * 1000;

const OPTIONS = ["--no-typecheck", "--no-lint", "--rootless", "--no-rootless"];
const argv = process.argv.slice(2);
const typecheck = !argv.includes("--no-typecheck");
const lint = typecheck && !argv.includes("--no-lint");
const onlyRootless = argv.includes("--rootless");
const rootlessPhase = !argv.includes("--no-rootless");
const testArgs = argv.filter((arg) => arg.startsWith("--test-"));
const filters = argv.filter((arg) => !arg.startsWith("--"));
const unknownOptions = argv.filter(
  (arg) => arg.startsWith("--") && !OPTIONS.includes(arg) && !arg.startsWith("--test-"),
);
if (unknownOptions.length > 0)
  stop(`unknown option(s): ${unknownOptions.join(" ")} (known: ${OPTIONS.join(", ")}, --test-*)`);
if (onlyRootless && !rootlessPhase) stop("--rootless and --no-rootless contradict each other");

const runDir = join(repoRoot, "test-results", `run-${new Date().toISOString().replace(/[:.]/g, "-")}-${process.pid}`);
mkdirSync(runDir, { recursive: true });
// Failing tests' evidence folders (src/evidence), the suite's own included (child runs that fail on purpose),
// go with this run's outputs instead of the checkout's dummynet-evidence/.
process.env.DUMMYNET_EVIDENCE_DIR ??= join(runDir, "evidence");

const totals = { passed: 0, failed: 0, skipped: 0 };
/** Everything that failed, named, for the closing list. */
const failures = [];
const skips = [];
const timings = [];
/** Which kernel the lab ran, and why that lab: for the summary. */
let labGuest;
/** The features the host lacks, which sent files to the lab. */
const labReasons = new Set();

ensurePackages();

if (typecheck) {
  heading("typecheck (tsc --noEmit)");
  const t0 = Date.now();
  const tsc = spawnSync(process.execPath, [join(repoRoot, "node_modules/typescript/bin/tsc"), "--noEmit", "-p", "."], {
    stdio: "inherit",
  });
  timings.push(`typecheck ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  if (tsc.status !== 0) {
    // Counted as one failure; the tests still run so that one run shows everything.
    totals.failed += 1;
    failures.push("typecheck: tsc --noEmit reported errors (above)");
  } else {
    console.log("typecheck: no errors");
  }
} else {
  console.log("typecheck: SKIPPED (--no-typecheck)");
}

/** The linters, each a failure of its own when it reports anything; how to fix is in the message. */
const LINTERS = [
  {
    name: "eslint",
    argv: ["node_modules/eslint/bin/eslint.js", "."],
    fix: "fix the findings above (npx eslint . --fix does the safe ones)",
  },
  {
    name: "prettier",
    argv: ["node_modules/prettier/bin/prettier.cjs", "--check", "."],
    fix: "npx prettier --write <the files above>",
  },
  {
    name: "knip",
    argv: ["node_modules/knip/bin/knip.js"],
    fix: "delete what is unused, or add its entry point to knip.json",
  },
];
if (lint) {
  for (const linter of LINTERS) {
    heading(`lint (${linter.name})`);
    const t0 = Date.now();
    const result = spawnSync(
      process.execPath,
      linter.argv.map((arg, i) => (i === 0 ? join(repoRoot, arg) : arg)),
      {
        stdio: "inherit",
      },
    );
    timings.push(`${linter.name} ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    if (result.status !== 0) {
      totals.failed += 1;
      failures.push(`lint: ${linter.name} reported problems (above): ${linter.fix}`);
    } else {
      console.log(`${linter.name}: clean`);
    }
  }
} else {
  console.log(`lint: SKIPPED (${typecheck ? "--no-lint" : "--no-typecheck"})`);
}

const allFiles = findTestFiles(join(repoRoot, "src"));
const selected =
  filters.length === 0 ? allFiles : allFiles.filter((file) => filters.some((filter) => matches(file, filter)));
if (selected.length === 0) {
  totals.failed += 1;
  failures.push(`no test files match ${filters.join(" ")}`);
}

const hostFiles = onlyRootless ? [] : selected.filter((file) => !isLabFile(file));
const rootlessFiles = rootlessPhase
  ? selected.filter(
      (file) => !isLabFile(file) && ROOTLESS_SCOPE.some((dir) => relative(repoRoot, file).startsWith(dir)),
    )
  : [];
if (onlyRootless && rootlessFiles.length === 0) {
  totals.failed += 1;
  failures.push(`--rootless: no selected test file is in ${ROOTLESS_SCOPE.join(", ")}`);
}
const labCandidates = onlyRootless ? [] : selected.filter(isLabFile);
const labFiles = [];
if (labCandidates.length > 0) await placeLabFiles(labCandidates);

if (hostFiles.length > 0) {
  heading(`host tests: ${hostFiles.length} file(s)`);
  const t0 = Date.now();
  const tapPath = join(runDir, "host.tap");
  const code = await runNodeTest(hostFiles, tapPath);
  timings.push(`host tests ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  addTap("host", tapPath, code);
}

if (rootlessFiles.length > 0) await runRootlessPhase(rootlessFiles);

if (labFiles.length > 0) {
  heading(`kernel lab: ${labFiles.length} file(s) the host kernel cannot run`);
  const outcome = await runInLab({ repoRoot, runDir: join(runDir, "lab"), files: labFiles, testArgs });
  labGuest = outcome.guest ?? "did not boot";
  totals.passed += outcome.passed;
  totals.failed += outcome.failed;
  totals.skipped += outcome.skipped;
  failures.push(
    ...outcome.failures.map((name) => `lab: ${name}`),
    ...outcome.problems.map((problem) => `lab: ${problem}`),
  );
  skips.push(...outcome.skips.map((name) => `lab: ${name}`));
  timings.push(formatLabTimings(outcome.timings));
}

heading("summary");
timings.push(`whole run ${((Date.now() - started) / 1000).toFixed(1)} s`);
console.log(`timings: ${timings.join("; ")}`);
if (labGuest) console.log(`kernel lab: the host lacks ${[...labReasons].join(", ")}; guest ${labGuest}`);
if (skips.length > 0) {
  console.log(`${skips.length} test(s) SKIPPED or TODO (not counted as passed):`);
  for (const skip of skips) console.log(`  - ${skip}`);
}
if (failures.length > 0) {
  console.log("failed:");
  for (const failure of failures) console.log(`  - ${failure.replace(/\n/g, "\n    ")}`);
  console.log(`outputs kept in ${relative(repoRoot, runDir)}`);
} else {
  rmSync(runDir, { recursive: true, force: true });
}
console.log(`${totals.passed} passed, ${totals.failed} failed`);
process.exitCode = totals.failed > 0 || failures.length > 0 ? 1 : 0;

// ---------------------------------------------------------------------------

function heading(text) {
  console.log(`\n== ${text} ==`);
}

function stop(message) {
  console.error(`npm test: ${message}`);
  process.exit(1);
}

function isLabFile(file) {
  return file.endsWith(".lab.test.ts");
}

function matches(file, filter) {
  const absolute = resolve(repoRoot, filter);
  if (file === absolute) return true;
  if (existsSync(absolute) && file.startsWith(absolute + sep)) return true;
  return relative(repoRoot, file).includes(filter);
}

/** Every *.test.ts under `dir`, sorted (node 20's --test does not expand globs). */
function findTestFiles(dir) {
  const found = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== "node_modules") found.push(...findTestFiles(path));
    } else if (entry.name.endsWith(".test.ts")) {
      found.push(path);
    }
  }
  return found.sort();
}

function ensurePackages() {
  const t0 = Date.now();
  const hasDpkg = spawnSync("sh", ["-c", "command -v dpkg-query"], { stdio: "ignore" }).status === 0;
  let missing;
  if (hasDpkg) {
    const query = spawnSync(
      "dpkg-query",
      ["-W", "-f=${Package} ${db:Status-Abbrev}\n", ...PACKAGES.map((p) => p.name)],
      {
        encoding: "utf8",
      },
    );
    const installed = new Set(
      query.stdout
        .split("\n")
        .filter((line) => / ii\s*$/.test(line))
        .map((line) => line.split(" ")[0].split(":")[0]),
    );
    missing = PACKAGES.filter((p) => !installed.has(p.name));
  } else {
    missing = PACKAGES.filter(
      (p) => !p.labOnly && spawnSync("sh", ["-c", `command -v ${p.program}`], { stdio: "ignore" }).status !== 0,
    );
  }
  if (missing.length > 0) {
    const names = missing.map((p) => p.name).join(" ");
    const hasApt = spawnSync("sh", ["-c", "command -v apt-get"], { stdio: "ignore" }).status === 0;
    if (!hasApt) {
      stop(
        `these programs are missing: ${missing.map((p) => p.program).join(", ")}. Install their packages ` +
          `(Debian names: ${names}; on Fedora: dnf install iproute iputils iptables-nft procps-ng kmod util-linux)`,
      );
    }
    const command = `apt-get update && apt-get install -y --no-install-recommends ${names}`;
    if (process.getuid?.() !== 0) stop(`missing Debian packages: ${names}. Install them with: sudo sh -c '${command}'`);
    console.log(`installing missing Debian packages: ${names}`);
    const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
    // Bounded like everything else: a stuck mirror must fail the run, not hold it.
    const APT_TIMEOUT_MS = 15 * 60 * 1000;
    const update = spawnSync("apt-get", ["update"], {
      stdio: ["ignore", "inherit", "inherit"],
      env,
      timeout: APT_TIMEOUT_MS,
    });
    if (update.status !== 0)
      stop(
        `apt-get update failed${update.error ? ` (${update.error.message})` : ""}; install the packages yourself: ${command}`,
      );
    const install = spawnSync("apt-get", ["install", "-y", "--no-install-recommends", ...missing.map((p) => p.name)], {
      stdio: ["ignore", "inherit", "inherit"],
      env,
      timeout: APT_TIMEOUT_MS,
    });
    if (install.status !== 0)
      stop(
        `apt-get install failed${install.error ? ` (${install.error.message})` : ""}; install the packages yourself: ${command}`,
      );
    timings.push(`package install ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
}

/** Decides for each lab file: host (the host kernel has what it requires) or lab; fails those neither can run. */
async function placeLabFiles(files) {
  const { tsImport } = await import("tsx/esm/api");
  const capabilities = await tsImport("../src/capabilities/index.ts", import.meta.url);
  const report = await capabilities.detectCapabilities();
  const lab = labAvailability();
  for (const file of files) {
    const name = relative(repoRoot, file);
    const requires = readRequires(file);
    if (requires === undefined) {
      totals.failed += 1;
      failures.push(
        `${name}: a lab test file must declare what it needs on a first-lines comment, e.g. // requires: netem, vlan`,
      );
      continue;
    }
    const unknown = requires.filter((feature) => !capabilities.isKernelFeature(feature));
    if (unknown.length > 0) {
      totals.failed += 1;
      failures.push(
        `${name}: unknown feature(s) in // requires: ${unknown.join(", ")} (known: ${capabilities.KERNEL_FEATURES.join(", ")})`,
      );
      continue;
    }
    const missing = capabilities.missingFeatures(report, requires);
    if (missing.length === 0) {
      console.log(`${name}: the host kernel has ${requires.join(", ") || "what it needs"}: running it on the host`);
      hostFiles.push(file);
    } else if (lab.available) {
      console.log(`${name}: the host lacks ${missing.join(", ")}: running it in the kernel lab`);
      labFiles.push({ path: file, requires });
      for (const feature of missing) labReasons.add(feature);
    } else {
      totals.failed += 1;
      failures.push(
        `${name} needs ${missing.join(", ")}, which this host lacks, and the kernel lab cannot run (${lab.reason}). ` +
          `Install the lab: ${lab.howToGet}. Or give the host the features:\n` +
          missing.map((feature) => `${feature}: ${report[feature].howToGet ?? report[feature].evidence}`).join("\n"),
      );
    }
  }
  hostFiles.sort();
}

/**
 * The rootless phase: `files` run as uid 65534 (root drops to it with
 * setpriv; a caller that is not root runs them as itself) with
 * DUMMYNET_ROOTLESS=1, minus the exclusions of src/test-support/rootless.ts.
 */
async function runRootlessPhase(files) {
  const { tsImport } = await import("tsx/esm/api");
  const { ROOTLESS_EXCLUSIONS } = await tsImport("../src/test-support/rootless.ts", import.meta.url);
  const names = new Set(files.map((file) => relative(repoRoot, file)));
  const listed = ROOTLESS_EXCLUSIONS.filter((exclusion) => names.has(exclusion.file));
  const wholeFiles = new Set(
    listed.filter((exclusion) => exclusion.test === undefined).map((exclusion) => exclusion.file),
  );
  const run = files.filter((file) => !wholeFiles.has(relative(repoRoot, file)));
  for (const exclusion of ROOTLESS_EXCLUSIONS) {
    if (!existsSync(join(repoRoot, exclusion.file))) {
      totals.failed += 1;
      failures.push(
        `rootless: the exclusion list (src/test-support/rootless.ts) names ${exclusion.file}, which does not exist`,
      );
    }
  }
  const asRoot = process.getuid?.() === 0;
  const who = asRoot ? `uid ${ROOTLESS_UID}` : `uid ${process.getuid?.()} (this user; not root, so no drop)`;
  heading(`rootless: ${run.length} file(s) as ${who}, DUMMYNET_ROOTLESS=1`);
  if (listed.length > 0) {
    console.log(`excluded in rootless mode (src/test-support/rootless.ts), ${listed.length}:`);
    for (const exclusion of listed)
      console.log(
        `  - ${exclusion.file}${exclusion.test ? ` > ${exclusion.test}` : " (whole file)"}: ${exclusion.why}`,
      );
  }
  if (run.length === 0) return;
  const t0 = Date.now();
  // A scratch home of that user: HOME, XDG_RUNTIME_DIR (the holders' records) and TMPDIR (tsx's cache, the tests' temporary files).
  const home = mkdtempSync(join(tmpdir(), "dummynet-rootless-suite-"));
  const uid = asRoot ? ROOTLESS_UID : process.getuid();
  const gid = asRoot ? ROOTLESS_UID : process.getgid();
  try {
    if (asRoot) chownSync(home, uid, gid);
    chmodSync(home, 0o700);
    const wrap = asRoot ? ["setpriv", `--reuid=${uid}`, `--regid=${gid}`, "--clear-groups", "--"] : [];
    const env = {
      PATH: process.env.PATH,
      HOME: home,
      XDG_RUNTIME_DIR: home,
      TMPDIR: home,
      DUMMYNET_ROOTLESS: "1",
      ...(process.env.CI === undefined ? {} : { CI: process.env.CI }),
    };
    const unreadable = unreadableBy(wrap, env, run);
    if (unreadable) {
      totals.failed += 1;
      failures.push(`rootless: ${unreadable}`);
      return;
    }
    const tapPath = join(home, "rootless.tap");
    const code = await runNodeTest(run, tapPath, { label: "rootless", wrap, env, timeoutMs: ROOTLESS_TIMEOUT_MS });
    const summary = summarizeTapFile(tapPath);
    // Each listed test must show up as skipped with its reason: else the list is stale (or the file forgot to ask it).
    const skips = summary?.skips ?? [];
    const expected = listed.filter((exclusion) => exclusion.test !== undefined);
    const accounted = new Set();
    for (const exclusion of expected) {
      const found = skips.find((skip) => skip.includes(`${exclusion.test} (SKIP excluded in rootless mode:`));
      if (found) {
        accounted.add(found);
      } else if (summary?.complete) {
        totals.failed += 1;
        failures.push(
          `rootless: ${exclusion.file} > ${exclusion.test} is on the exclusion list but was not skipped (a stale entry, or the test does not ask rootlessExcluded())`,
        );
      }
    }
    if (summary) {
      summary.skips = skips.filter((skip) => !accounted.has(skip));
      summary.skipped -= accounted.size;
    }
    addTapSummary("rootless", summary, code);
    if (summary && accounted.size > 0) console.log(`rootless: ${accounted.size} listed test(s) excluded as listed`);
  } finally {
    timings.push(`rootless tests ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    rmSync(home, { recursive: true, force: true });
  }
}

/** Why the rootless user cannot read the checkout, node_modules or `files` (undefined: it can). */
function unreadableBy(wrap, env, files) {
  const paths = [join(repoRoot, "package.json"), join(repoRoot, "node_modules/tsx/package.json"), ...files];
  const check = `for (const p of ${JSON.stringify(paths)}) { try { require("fs").readFileSync(p); } catch (e) { console.log(p + ": " + e.code); process.exit(1); } }`;
  const argv = [...wrap, process.execPath, "-e", check];
  const result = spawnSync(argv[0], argv.slice(1), { cwd: repoRoot, env, encoding: "utf8", timeout: 60_000 });
  if (result.status === 0) return undefined;
  return (
    `the tests cannot run as the rootless user: it cannot read ${result.stdout.trim() || result.stderr.trim() || `(exit ${result.status ?? result.signal})`}. ` +
    `Make the checkout readable to others (chmod -R o+rX ${repoRoot}, and o+x on its parent directories), or check it out under a readable path`
  );
}

/** The tests that opened in a TAP file and never reported: what was running when a bound ended a run. */
function unfinishedTests(tapPath) {
  if (!existsSync(tapPath)) return [];
  const open = [];
  for (const line of readFileSync(tapPath, "utf8").split("\n")) {
    const subtest = /^(\s*)# Subtest: (.*)$/.exec(line);
    if (subtest) {
      open.push({ depth: subtest[1].length / 4, name: subtest[2] });
      continue;
    }
    const result = /^(\s*)(?:not )?ok \d+ - (.*?)(\s+# (TODO|SKIP).*)?$/.exec(line);
    if (result) {
      const depth = result[1].length / 4;
      const at = open.findLastIndex((test) => test.depth === depth && test.name === result[2]);
      if (at >= 0) open.splice(at, 1);
    }
  }
  return open.map((test) => test.name);
}

function runNodeTest(
  files,
  tapPath,
  { label = "host", wrap = [], env = process.env, timeoutMs = HOST_TIMEOUT_MS } = {},
) {
  const args = [
    "--import",
    "tsx",
    "--test",
    "--test-reporter=spec",
    "--test-reporter-destination=stdout",
    "--test-reporter=tap",
    `--test-reporter-destination=${tapPath}`,
    ...BOUNDS,
    ...testArgs,
    ...files.map((file) => relative(repoRoot, file)),
  ];
  // Own process group, so that a run over its bound is ended with every test file's process.
  const argv = [...wrap, process.execPath, ...args];
  const child = spawn(argv[0], argv.slice(1), { stdio: ["ignore", "inherit", "inherit"], detached: true, env });
  const endGroup = (signal) => {
    try {
      process.kill(-child.pid, signal);
    } catch {
      // already gone
    }
  };
  const timer = setTimeout(() => {
    const running = unfinishedTests(tapPath);
    const what =
      running.length > 0 ? `; still running: ${running.join("; ")}` : "; the spec output above shows what was running";
    console.log(
      `\nnpm test: the ${label} tests ran longer than ${timeoutMs / 60_000} min: ending them (SIGTERM, then SIGKILL)${what}`,
    );
    failures.push(`${label}: the tests ran longer than ${timeoutMs / 60_000} min and were ended${what}`);
    totals.failed += 1;
    endGroup("SIGTERM");
    setTimeout(() => endGroup("SIGKILL"), 30_000).unref();
  }, timeoutMs);
  // Ctrl-C reaches only this process now: pass it on, so the tests clean up as they would.
  const forward = (signal) => endGroup(signal);
  process.on("SIGINT", forward);
  process.on("SIGTERM", forward);
  return new Promise((resolveCode) =>
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      process.off("SIGINT", forward);
      process.off("SIGTERM", forward);
      resolveCode(code ?? `signal ${signal}`);
    }),
  );
}

function addTap(where, tapPath, exitCode) {
  addTapSummary(where, summarizeTapFile(tapPath), exitCode);
}

function addTapSummary(where, summary, exitCode) {
  if (!summary || !summary.complete) {
    totals.failed += 1;
    failures.push(`${where}: node --test ended (exit ${exitCode}) without a complete report`);
  }
  if (summary) {
    totals.passed += summary.passed;
    totals.failed += summary.failed;
    totals.skipped += summary.skipped;
    failures.push(...summary.failures.map((name) => `${where}: ${name}`));
    skips.push(...summary.skips.map((name) => `${where}: ${name}`));
    if (summary.complete && exitCode !== 0 && summary.failed === 0) {
      totals.failed += 1;
      failures.push(`${where}: node --test exited with ${exitCode} although no test failed`);
    }
  }
}
