// The rootless phase of `npm test` (issue 13): the network, process and topology host tests again as an
// unprivileged user with DUMMYNET_ROOTLESS=1, minus the exclusions of src/test-support/rootless.ts.
import { spawnSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { summarizeTapFile } from "../lab/tap.mjs";
import { add, failure, heading, outcome, repoRoot, timing } from "./outcome.mjs";
import { runNodeTest, tapOutcome } from "./node-test.mjs";

/** Which host test files the phase runs again, and as whom. */
const ROOTLESS_SCOPE = ["src/network/", "src/process/", "src/topology/", "src/faults/", "src/evidence/"];
const ROOTLESS_UID = 65534;

/** The selected host test files the phase runs again; with --rootless, none is a failure. */
export function rootlessFiles(files, { only }) {
  const inScope = files.filter((file) => ROOTLESS_SCOPE.some((dir) => relative(repoRoot, file).startsWith(dir)));
  const none = only && inScope.length === 0;
  return {
    files: inScope,
    outcome: none ? failure(`--rootless: no selected test file is in ${ROOTLESS_SCOPE.join(", ")}`) : outcome(),
  };
}

/**
 * The rootless phase: `files` run as uid 65534 (root drops to it with
 * setpriv; a caller that is not root runs them as itself) with
 * DUMMYNET_ROOTLESS=1, minus the exclusions of src/test-support/rootless.ts.
 * @returns {Promise<import("./outcome.mjs").Outcome>}
 */
export async function runRootlessPhase(files, { testArgs, timeoutMs }) {
  const { tsImport } = await import("tsx/esm/api");
  const { ROOTLESS_EXCLUSIONS } = await tsImport("../../src/test-support/rootless.ts", import.meta.url);
  const result = outcome();
  const names = new Set(files.map((file) => relative(repoRoot, file)));
  const listed = ROOTLESS_EXCLUSIONS.filter((exclusion) => names.has(exclusion.file));
  const wholeFiles = new Set(
    listed.filter((exclusion) => exclusion.test === undefined).map((exclusion) => exclusion.file),
  );
  const run = files.filter((file) => !wholeFiles.has(relative(repoRoot, file)));
  for (const exclusion of ROOTLESS_EXCLUSIONS) {
    if (!existsSync(join(repoRoot, exclusion.file)))
      add(
        result,
        failure(
          `rootless: the exclusion list (src/test-support/rootless.ts) names ${exclusion.file}, which does not exist`,
        ),
      );
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
  if (run.length === 0) return result;
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
    if (unreadable) return add(result, failure(`rootless: ${unreadable}`));
    const tapPath = join(home, "rootless.tap");
    const exit = await runNodeTest(run, tapPath, { label: "rootless", wrap, env, timeoutMs, testArgs });
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
        add(
          result,
          failure(
            `rootless: ${exclusion.file} > ${exclusion.test} is on the exclusion list but was not skipped (a stale entry, or the test does not ask rootlessExcluded())`,
          ),
        );
      }
    }
    if (summary) {
      summary.skips = skips.filter((skip) => !accounted.has(skip));
      summary.skipped -= accounted.size;
    }
    add(result, tapOutcome("rootless", summary, exit));
    if (summary && accounted.size > 0) console.log(`rootless: ${accounted.size} listed test(s) excluded as listed`);
    return result;
  } finally {
    result.timings.push(timing("rootless tests", t0));
    rmSync(home, { recursive: true, force: true });
  }
}

/**
 * As root: why uid 65534, which some host tests run programs as, cannot read the checkout (undefined: it can, or
 * this is not root). Those tests then fail with Node's "Cannot find package 'tsx'", which does not say this.
 */
export function unreadableByOthers() {
  if (process.getuid?.() !== 0) return undefined;
  const wrap = ["setpriv", `--reuid=${ROOTLESS_UID}`, `--regid=${ROOTLESS_UID}`, "--clear-groups", "--"];
  return unreadableBy(wrap, { PATH: process.env.PATH }, []);
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
