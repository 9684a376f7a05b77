/**
 * Programs run as the person who runs the tests (issue 22): through sudo, or
 * as root started by sudo, a program in a host runs with the caller's uid,
 * groups, HOME and PATH; plain root stays root; `user` chooses otherwise, and
 * a bad one is refused before anything starts. The sudo cases run as a real
 * user made for the test (useradd, a sudoers file), removed after it.
 */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { InvalidArgumentError } from "../errors.js";
import { DummyNet } from "../network/dummy-net.js";
import { assertNothingLeft } from "../testing/leftovers.js";
import { runsRootless } from "../test-support/rootless.js";
import { type SudoUser, argvAsSudoUser, canMakeSudoUsers, sudoUser } from "../test-support/sudo-user.js";
import { repoRoot } from "../rootless/unprivileged.test-helpers.js";

const fixture = fileURLToPath(new URL("./fixtures/run-as-user.ts", import.meta.url));
const notAsRoot = runsRootless() ? "the rootless phase runs as uid 65534, which cannot make users" : false;

let nextUid = (process.pid % 100000) * 10 + 1400000;
after(() => {
  for (let uid = (process.pid % 100000) * 10 + 1400000; uid < nextUid; uid++) assertNothingLeft(uid);
});

/** Runs the fixture through `argv` prefix as `user`; resolves with its JSON. */
async function runFixture(user: SudoUser, prefix: readonly string[]): Promise<Record<string, unknown>> {
  const scratch = mkdtempSync(join(tmpdir(), "dummynet-run-as-"));
  chmodSync(scratch, 0o1777);
  const pathOnly = join(user.home, "only-on-path");
  mkdirSync(pathOnly);
  // A `node` found only on the user's PATH (as nvm's): it says so, then runs the real one.
  writeFileSync(join(pathOnly, "node"), `#!/bin/sh\necho via-path-only >&2\nexec ${process.execPath} "$@"\n`, {
    mode: 0o755,
  });
  chownSync(pathOnly, user.uid, user.gid);
  try {
    const argv = argvAsSudoUser(user, [...prefix, process.execPath, "--import", "tsx", fixture, scratch, pathOnly]);
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(argv[0] ?? "", argv.slice(1), { cwd: repoRoot, timeout: 90_000 }, (error, out, err) => {
        if (error) reject(new Error(`${error.message}\nstdout: ${out}\nstderr: ${err}`));
        else resolve(out);
      });
    });
    return JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}") as Record<string, unknown>;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

describe("programs run as the user who runs the tests", { timeout: 240_000 }, () => {
  test(
    "a user with passwordless sudo: the program runs as that user (file owner, groups, HOME, PATH), control works",
    { skip: notAsRoot },
    async () => {
      assert.ok(canMakeSudoUsers(), "this test needs root, useradd and sudo (scripts/test.mjs installs sudo)");
      const user = sudoUser();
      try {
        const result = await runFixture(user, []);
        assert.equal(result["caller"], user.uid);
        assert.equal(result["privilege"], "sudo", "the network was built through sudo");
        assert.equal(result["fileOwner"], user.uid, "the file the program wrote belongs to the user, not root");
        assert.equal(result["homeUser"], `${user.home} ${user.name}`);
        const [uid, groups] = result["ids"] as string[];
        assert.equal(uid, String(user.uid));
        assert.ok(groups.split(" ").includes(String(user.gid)), `the user's groups: ${groups}`);
        assert.equal(result["asRoot"], "0", 'user: "root" still runs as root');
        assert.equal(result["pathNode"], "via-path-only", "a node found only on the user's PATH is found");
        assert.equal(result["programUid"], String(user.uid));
        assert.equal(result["silentWhilePaused"], true, "pause works across the uid change");
        assert.equal(result["resumed"], true);
        assert.equal(result["killedBy"], "SIGKILL");
        assert.equal(result["cleanup"], "clean");
      } finally {
        user.remove();
      }
    },
  );

  test("root started with sudo (SUDO_UID): programs run as the user who ran sudo", { skip: notAsRoot }, async () => {
    assert.ok(canMakeSudoUsers(), "this test needs root, useradd and sudo (scripts/test.mjs installs sudo)");
    const user = sudoUser();
    try {
      const result = await runFixture(user, ["sudo", "-n", "--preserve-env", "--"]);
      assert.equal(result["caller"], 0);
      assert.equal(result["privilege"], "root");
      assert.equal(result["fileOwner"], user.uid);
      assert.equal(result["homeUser"], `${user.home} ${user.name}`);
      assert.equal(result["programUid"], String(user.uid));
      assert.equal(result["pathNode"], "via-path-only");
      assert.equal(result["silentWhilePaused"], true);
      assert.equal(result["cleanup"], "clean");
    } finally {
      user.remove();
    }
  });

  test("plain root stays root; `user` picks another user; bad `user` is refused before anything starts", async () => {
    const net = new DummyNet({ uid: nextUid++ });
    try {
      const a = await net.netnsAdd("a");
      const refused = (pattern: RegExp) => (error: unknown) => {
        assert.ok(error instanceof InvalidArgumentError, String(error));
        assert.match(error.message, pattern);
        return true;
      };
      // In rootless mode any `user` is refused, an unknown one too; elsewhere an unknown one is named as such.
      const unknownUser = runsRootless() ? /cannot apply in rootless mode/u : /is no user of this system/u;
      await assert.rejects(a.runAsync(["true"], { user: "no-such-user-dn" }), refused(unknownUser));
      await assert.rejects(a.runAsync(["true"], { user: -1 }), refused(/must be a uid from 0/u));
      await assert.rejects(a.runAsync(["true"], { user: 2 ** 32 }), refused(/must be a uid from 0/u));
      await assert.rejects(a.run(["true"], { user: "a:b" }), refused(/must be "root", a user name/u));
      if (runsRootless()) {
        await assert.rejects(a.runAsync(["true"], { user: "root" }), refused(/cannot apply in rootless mode/u));
        assert.equal((await a.run(["id", "-u"])).stdout.trim(), "0", "root of the holder's user namespace");
      } else {
        assert.equal((await a.run(["id", "-u"])).stdout.trim(), "0", "plain root: programs run as root");
        const nobody = await a.run(["sh", "-c", 'id -u; echo "$HOME"'], { user: "nobody" });
        assert.equal(nobody.stdout.trim().split("\n")[0], "65534");
        assert.equal((await a.run(["id", "-u"], { user: 65534 })).stdout.trim(), "65534");
      }
      assert.deepEqual(net.processMonitor.processes, [], "nothing was started by the refused calls");
    } finally {
      await net.cleanup();
    }
  });
});
