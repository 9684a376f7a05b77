/**
 * skipUnless(t, ["privileges"]) and ["rootless"] (issue 22): a test that
 * needs a network runs where root, passwordless sudo or rootless mode is
 * there, and is skipped, saying why, where none is (here: an unprivileged uid
 * whose PATH has neither sudo nor the programs rootless mode needs).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { chownSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runChild, runNodeTest } from "./child.test-helpers.js";
import { skipUnless } from "./capabilities.js";

const FIXTURE = fileURLToPath(new URL("./fixtures/privileges.fixture.ts", import.meta.url));
const REPO = fileURLToPath(new URL("../..", import.meta.url));
const NOBODY = 65534;

test(
  "as root: a test that needs privileges runs",
  { timeout: 120_000, skip: process.getuid?.() !== 0 ? "needs root" : false },
  async () => {
    const outcome = await runNodeTest([FIXTURE], { timeout: 100_000, cwd: REPO });
    assert.equal(outcome.code, 0, outcome.output);
    assert.match(outcome.stdout, /^ran with privileges$/mu);
  },
);

/** The fixture as uid 65534 (no root, no sudoers entry) with `path` as its PATH. */
async function asNobody(path: string): Promise<ReturnType<typeof runChild>> {
  const home = mkdtempSync(join(tmpdir(), "dummynet-no-privileges-"));
  chownSync(home, NOBODY, NOBODY);
  try {
    const argv = [
      "/usr/bin/setpriv",
      `--reuid=${NOBODY}`,
      `--regid=${NOBODY}`,
      "--clear-groups",
      "--",
      process.execPath,
      "--import",
      "tsx",
      "--test",
      "--test-reporter=spec",
      FIXTURE,
    ];
    return await runChild(argv, {
      timeout: 100_000,
      cwd: REPO,
      env: { PATH: path, HOME: home, TMPDIR: home, XDG_RUNTIME_DIR: home },
    });
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

const needsRoot = process.getuid?.() !== 0 ? "needs root to drop to another uid" : false;

test(
  "an unprivileged user where rootless mode works: both run (rootless)",
  { timeout: 120_000, skip: needsRoot },
  async () => {
    const outcome = await asNobody(process.env["PATH"] ?? "/usr/bin:/bin");
    assert.equal(outcome.code, 0, outcome.output);
    assert.match(outcome.stdout, /^ran with privileges$/mu);
    assert.match(outcome.stdout, /^ran rootless$/mu);
  },
);

test(
  "with no root, no sudo and no rootless mode: skipped, naming why",
  { timeout: 120_000, skip: needsRoot },
  async () => {
    // No sudo and none of the programs a rootless holder needs on this PATH.
    const outcome = await asNobody("/nonexistent");
    assert.equal(outcome.code, 0, outcome.output);
    assert.match(
      outcome.output,
      /needs privileges .*# this machine lacks no privileges: not root, no passwordless sudo, and rootless mode is unavailable \(/u,
    );
    assert.match(outcome.output, /needs rootless .*# this machine lacks rootless mode is unavailable \(/u);
    assert.doesNotMatch(outcome.stdout, /^ran /mu);
  },
);

test("an unknown feature is refused, naming the known ones", async (t) => {
  await assert.rejects(skipUnless(t, ["root-ish" as "rootless"]), /root-ish.*known: .*privileges, rootless/u);
});
