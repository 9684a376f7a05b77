/**
 * Program faults when the library runs as a user with passwordless sudo (a
 * developer's laptop): the program runs as root through `sudo -n`, so this
 * process may not signal it; pause, resume, restart and kill go through sudo
 * and must still reach the program and its child. A real user made for the
 * test (useradd, a sudoers file), removed after it.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { argvAsSudoUser, canMakeSudoUsers, sudoUser } from "../test-support/sudo-user.js";
import { repoRoot } from "../rootless/unprivileged.test-helpers.js";
import { runsRootless } from "../test-support/rootless.js";

const fixture = fileURLToPath(new URL("./fixtures/faults-through-sudo.ts", import.meta.url));

test(
  "through sudo: pause stops the root program and its child, resume, restart (same cwd, env) and kill work, nothing reported",
  { timeout: 120_000, skip: runsRootless() ? "the rootless phase runs as uid 65534, which cannot make users" : false },
  async () => {
    assert.ok(canMakeSudoUsers(), "this test needs root, useradd and sudo (scripts/test.mjs installs sudo)");
    const user = sudoUser();
    try {
      const argv = argvAsSudoUser(user, [process.execPath, "--import", "tsx", fixture]);
      const stdout = await new Promise<string>((resolve, reject) => {
        execFile(argv[0], argv.slice(1), { cwd: repoRoot, timeout: 90_000 }, (error, out, err) => {
          if (error) reject(new Error(`${error.message}\nstdout: ${out}\nstderr: ${err}`));
          else resolve(out);
        });
      });
      const result = JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}") as Record<string, unknown>;
      assert.equal(result["caller"], user.uid, "the library ran as the sudo user");
      assert.equal(result["programUid"], "0", "the program ran as root, through sudo");
      assert.deepEqual(result["pausedStates"], ["T", "T", "T"], "sudo, the program and its child are stopped");
      assert.equal(result["silentWhilePaused"], true);
      assert.equal(result["resumed"], true);
      assert.deepEqual(result["restart"], { newPid: true, cwd: user.home, tag: "via-sudo", oldAlive: false });
      assert.equal(result["killedBy"], "SIGKILL");
      assert.deepEqual(result["aliveAfterKill"], [], "the program and its child are gone");
      assert.equal(result["stop"], "nothing reported");
    } finally {
      user.remove();
    }
  },
);
