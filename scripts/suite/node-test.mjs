// One bounded node --test run (spec to the console, TAP to a file), and what its TAP report adds to the totals.
import { spawn } from "node:child_process";
import { relative } from "node:path";
import { summarizeTapFile, unfinishedTests } from "../lab/tap.mjs";
import { failure, outcome, repoRoot } from "./outcome.mjs";

/**
 * A default bound per test (files set tighter ones), host and lab. Not
 * --test-force-exit: it ends the run before the TAP file is written out.
 */
const BOUNDS = ["--test-timeout=600000"];

/**
 * Runs `files` with node --test in a process group of its own, ended (SIGTERM, then SIGKILL) after `timeoutMs`.
 * @returns {Promise<{ code: number | string, overrun?: string }>} the exit status, and the failure when the bound
 *   ended the run
 */
export function runNodeTest(files, tapPath, { label, wrap = [], env = process.env, timeoutMs, testArgs = [] }) {
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
  let overrun;
  const timer = setTimeout(() => {
    const running = unfinishedTests(tapPath);
    const what =
      running.length > 0 ? `; still running: ${running.join("; ")}` : "; the spec output above shows what was running";
    console.log(
      `\nnpm test: the ${label} tests ran longer than ${timeoutMs / 60_000} min: ending them (SIGTERM, then SIGKILL)${what}`,
    );
    overrun = `${label}: the tests ran longer than ${timeoutMs / 60_000} min and were ended${what}`;
    endGroup("SIGTERM");
    setTimeout(() => endGroup("SIGKILL"), 30_000).unref();
  }, timeoutMs);
  // Ctrl-C reaches only this process now: pass it on, so the tests clean up as they would.
  const forward = (signal) => endGroup(signal);
  process.on("SIGINT", forward);
  process.on("SIGTERM", forward);
  return new Promise((resolveRun) =>
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      process.off("SIGINT", forward);
      process.off("SIGTERM", forward);
      resolveRun({ code: code ?? `signal ${signal}`, overrun });
    }),
  );
}

/**
 * What a run's TAP summary (summarizeTapFile's) counts, its names prefixed with `where`; a missing or incomplete
 * report, or a failing exit status with no failed test, is a failure of its own.
 * @param {import("../lab/tap.mjs").TapSummary | undefined} summary
 */
export function tapOutcome(where, summary, { code, overrun }) {
  const result = overrun ? failure(overrun) : outcome();
  const problem = (message) => {
    result.failed += 1;
    result.failures.push(`${where}: ${message}`);
  };
  if (!summary?.complete) problem(`node --test ended (exit ${code}) without a complete report`);
  if (!summary) return result;
  result.passed += summary.passed;
  result.failed += summary.failed;
  result.skipped += summary.skipped;
  result.failures.push(...summary.failures.map((name) => `${where}: ${name}`));
  result.skips.push(...summary.skips.map((name) => `${where}: ${name}`));
  if (summary.complete && code !== 0 && summary.failed === 0)
    problem(`node --test exited with ${code} although no test failed`);
  return result;
}

/** The host tests: `files` as this user. */
export async function runHostTests(files, tapPath, { testArgs, timeoutMs }) {
  const run = await runNodeTest(files, tapPath, { label: "host", testArgs, timeoutMs });
  return tapOutcome("host", summarizeTapFile(tapPath), run);
}
