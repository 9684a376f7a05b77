// Runs inside the kernel lab guest (started by guest-init.sh, cwd = checkout).
// Reads the host's request (which test files, what each requires), checks the
// guest kernel really has those features, runs the files with node --test
// (spec to the console, TAP to the run directory) and writes result.json.
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const nodeStartMs = Date.now() - Number(process.env.DUMMYNET_LAB_T0 ?? Date.now());
const runDir = process.env.DUMMYNET_LAB_RUN;
if (!runDir) throw new Error("DUMMYNET_LAB_RUN is not set");

/** @type {{ buildDir: string, files: { path: string, requires: string[] }[], testArgs: string[], color: boolean }} */
const request = JSON.parse(readFileSync(join(runDir, "request.json"), "utf8"));
const result = {
  nodeStartMs,
  capabilitiesMs: 0,
  capabilitiesImportMs: 0,
  capabilitiesProbeMs: 0,
  testsMs: 0,
  exitCode: null,
  unmet: [],
};
const save = () => writeFileSync(join(runDir, "result.json"), JSON.stringify(result, null, 2));

// The host compiled src/ into buildDir: no TypeScript transform in the guest.
let started = Date.now();
const capabilities = await import(pathToFileURL(join(request.buildDir, "src/capabilities/index.js")).href);
result.capabilitiesImportMs = Date.now() - started;
const report = await capabilities.detectCapabilities();
result.capabilitiesProbeMs = report.detectionMs;
writeFileSync(join(runDir, "guest-capabilities.txt"), capabilities.formatCapabilities(report) + "\n");
result.capabilitiesMs = Date.now() - started;

const runnable = [];
for (const file of request.files) {
  const missing = capabilities.missingFeatures(report, file.requires);
  if (missing.length === 0) runnable.push(file.path.replace(/\.ts$/, ".js"));
  else {
    result.unmet.push({
      file: file.path,
      missing,
      advice: missing.map((feature) => `${feature}: ${report[feature].evidence}. ${report[feature].howToGet ?? ""}`),
    });
  }
}
for (const problem of result.unmet) {
  console.log(`[lab] ${problem.file} needs ${problem.missing.join(", ")}, which the lab guest lacks too:`);
  for (const line of problem.advice) console.log(`[lab]   ${line}`);
}
save();

if (runnable.length > 0) {
  console.log(
    `[lab] node started in ${nodeStartMs} ms; capabilities in ${result.capabilitiesMs} ms; running ${runnable.length} file(s)`,
  );
  started = Date.now();
  const child = spawn(
    process.execPath,
    [
      "--enable-source-maps",
      "--test",
      "--test-reporter=spec",
      "--test-reporter-destination=stdout",
      "--test-reporter=tap",
      `--test-reporter-destination=${join(runDir, "lab.tap")}`,
      // As on the host (scripts/test.mjs): a default bound per test.
      "--test-timeout=600000",
      // One file at a time unless asked (DUMMYNET_LAB_CONCURRENCY): two cut a run from 298 to 208 s here,
      // but one of four such runs stalled in the guest kernel (an RCU stall), which one at a time never did.
      `--test-concurrency=${process.env.DUMMYNET_LAB_CONCURRENCY || 1}`,
      ...request.testArgs,
      ...runnable,
    ],
    {
      cwd: request.buildDir,
      stdio: ["ignore", "inherit", "inherit"],
      // Colours only when the host's output is a terminal (the guest console always is one).
      env: request.color ? process.env : { ...process.env, NO_COLOR: "1" },
    },
  );
  result.exitCode = await new Promise((resolve) =>
    child.on("close", (code, signal) => resolve(code ?? `signal ${signal}`)),
  );
  result.testsMs = Date.now() - started;
} else {
  result.exitCode = 0;
}
save();
