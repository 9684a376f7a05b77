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
//
// The parts: suite/packages.mjs, suite/checks.mjs, suite/select.mjs,
// suite/node-test.mjs, suite/rootless.mjs, and the kernel lab (lab/lab.mjs);
// each returns its outcome (suite/outcome.mjs), added up here.
import { mkdirSync, rmSync } from "node:fs";
import { join, relative } from "node:path";
import { parseCommandLine } from "./args.mjs";
import { formatLabTimings, runInLab } from "./lab/lab.mjs";
import { lint, typecheck } from "./suite/checks.mjs";
import { runHostTests } from "./suite/node-test.mjs";
import { add, heading, outcome, repoRoot, timing } from "./suite/outcome.mjs";
import { ensurePackages } from "./suite/packages.mjs";
import { rootlessFiles, runRootlessPhase, unreadableByOthers } from "./suite/rootless.mjs";
import { isLabFile, placeLabFiles, selectTestFiles } from "./suite/select.mjs";

/** The host tests as a whole (DUMMYNET_HOST_TIMEOUT_S); CI must never sit until its own limit. 40 min: they took 1056 s under load 15 (46 files, rootless and README tests added). */
const HOST_TIMEOUT_MS = Number(process.env.DUMMYNET_HOST_TIMEOUT_S || 40 * 60) * 1000;
/** The rootless phase's bound (DUMMYNET_ROOTLESS_TIMEOUT_S). 15 min: the phase took 50 s (10 files, 110 tests) under load 7; the bound names the tests still running when it ends them. */
const ROOTLESS_TIMEOUT_MS = Number(process.env.DUMMYNET_ROOTLESS_TIMEOUT_S || 15 * 60) * 1000;

const USAGE =
  "usage: npm test -- [--no-typecheck] [--no-lint] [--rootless | --no-rootless] [--test-*=...] [files or path fragments]";

/**
 * The options of the command line; --test-* options go to node --test as they are.
 * @returns {{ typecheck: boolean, lint: boolean, onlyRootless: boolean, rootlessPhase: boolean,
 *   testArgs: string[], filters: string[] }}
 */
function parseOptions(argv) {
  const testArgs = argv.filter((arg) => arg.startsWith("--test-"));
  const { values, positionals } = parseCommandLine(
    USAGE,
    {
      "no-typecheck": { type: "boolean" },
      "no-lint": { type: "boolean" },
      rootless: { type: "boolean" },
      "no-rootless": { type: "boolean" },
    },
    { args: argv.filter((arg) => !arg.startsWith("--test-")), allowPositionals: true },
  );
  if (values.rootless && values["no-rootless"]) stop("--rootless and --no-rootless contradict each other");
  return {
    typecheck: !values["no-typecheck"],
    lint: !values["no-typecheck"] && !values["no-lint"],
    onlyRootless: Boolean(values.rootless),
    rootlessPhase: !values["no-rootless"],
    testArgs,
    filters: positionals,
  };
}

/**
 * The whole run, its outputs in `runDir`.
 * @returns {Promise<{ total: import("./suite/outcome.mjs").Outcome, lab?: { guest: string, reasons: Set<string> } }>}
 */
async function runSuite(options, runDir) {
  const { testArgs } = options;
  const total = outcome();

  if (options.typecheck) add(total, typecheck());
  else console.log("typecheck: SKIPPED (--no-typecheck)");
  if (options.lint) add(total, lint());
  else console.log(`lint: SKIPPED (${options.typecheck ? "--no-lint" : "--no-typecheck"})`);

  const selected = selectTestFiles(options.filters);
  add(total, selected.outcome);
  const hostTests = selected.files.filter((file) => !isLabFile(file));
  const rootless = rootlessFiles(options.rootlessPhase ? hostTests : [], { only: options.onlyRootless });
  add(total, rootless.outcome);
  const hostFiles = options.onlyRootless ? [] : hostTests;
  const labCandidates = options.onlyRootless ? [] : selected.files.filter(isLabFile);
  let labFiles = [];
  let labReasons = new Set();
  if (labCandidates.length > 0) {
    const placed = await placeLabFiles(labCandidates);
    add(total, placed.outcome);
    hostFiles.push(...placed.host);
    hostFiles.sort();
    labFiles = placed.lab;
    labReasons = placed.reasons;
  }

  if (hostFiles.length > 0) {
    heading(`host tests: ${hostFiles.length} file(s)`);
    const unreadable = unreadableByOthers();
    if (unreadable) console.log(`note: the tests that run programs as uid 65534 will fail here: ${unreadable}`);
    const t0 = Date.now();
    add(total, await runHostTests(hostFiles, join(runDir, "host.tap"), { testArgs, timeoutMs: HOST_TIMEOUT_MS }));
    total.timings.push(timing("host tests", t0));
  }

  if (rootless.files.length > 0)
    add(total, await runRootlessPhase(rootless.files, { testArgs, timeoutMs: ROOTLESS_TIMEOUT_MS }));

  if (labFiles.length === 0) return { total };
  heading(`kernel lab: ${labFiles.length} file(s) the host kernel cannot run`);
  const lab = await runInLab({ repoRoot, runDir: join(runDir, "lab"), files: labFiles, testArgs });
  add(total, {
    ...lab,
    failures: [...lab.failures.map((name) => `lab: ${name}`), ...lab.problems.map((problem) => `lab: ${problem}`)],
    skips: lab.skips.map((name) => `lab: ${name}`),
    timings: [formatLabTimings(lab.timings)],
  });
  return { total, lab: { guest: lab.guest ?? "did not boot", reasons: labReasons } };
}

function stop(message) {
  console.error(`npm test: ${message}`);
  process.exit(1);
}

const started = Date.now();
const options = parseOptions(process.argv.slice(2));
process.chdir(repoRoot);
let installed;
try {
  installed = ensurePackages();
} catch (error) {
  stop(error.message);
}
const runDir = join(repoRoot, "test-results", `run-${new Date().toISOString().replace(/[:.]/g, "-")}-${process.pid}`);
mkdirSync(runDir, { recursive: true });
// Failing tests' evidence folders (src/evidence), the suite's own included (child runs that fail on purpose),
// go with this run's outputs instead of the checkout's dummynet-evidence/.
process.env.DUMMYNET_EVIDENCE_DIR ??= join(runDir, "evidence");
const { total, lab } = await runSuite(options, runDir);
if (installed) total.timings.unshift(installed);

heading("summary");
total.timings.push(timing("whole run", started));
console.log(`timings: ${total.timings.join("; ")}`);
if (lab) console.log(`kernel lab: the host lacks ${[...lab.reasons].join(", ")}; guest ${lab.guest}`);
if (total.skips.length > 0) {
  console.log(`${total.skips.length} test(s) SKIPPED or TODO (not counted as passed):`);
  for (const skip of total.skips) console.log(`  - ${skip}`);
}
if (total.failures.length > 0) {
  console.log("failed:");
  for (const message of total.failures) console.log(`  - ${message.replace(/\n/g, "\n    ")}`);
  console.log(`outputs kept in ${relative(repoRoot, runDir)}`);
} else {
  rmSync(runDir, { recursive: true, force: true });
}
console.log(`${total.passed} passed, ${total.failed} failed`);
process.exitCode = total.failed > 0 || total.failures.length > 0 ? 1 : 0;
