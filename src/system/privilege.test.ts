// The one way into the system: the sudo policy (scripted sudo), the argv of
// each privilege, and a third privilege plugged in at one place reaching every
// runner (as rootless mode will): its prefix really runs, for the library's
// commands, the ip batch workers, the user's commands and the exit path.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DummyNetError } from "../errors.js";
import { InterfaceScoped } from "../names/scoped.js";
import { commandArgv } from "../process/process-monitor.js";
import { HostShell } from "../shell/host-shell.js";
import { assertNothingLeft } from "../testing/leftovers.js";
import { IpBatchRunner } from "./ip-batch-runner.js";
import {
  type Privilege,
  type SudoCommandRunner,
  ROOT,
  SUDO,
  decideAfterCheck,
  ensureSudo,
  needsPassword,
} from "./privilege.js";
import { runQuietlySync } from "./quiet.js";
import { SpawnRunner } from "./spawn-runner.js";

const PASSWORD_NEEDED = "sudo: a password is required\n";

/** A scripted sudo: answers each call from `answers` in turn and records the calls. */
function scriptedSudo(...answers: Awaited<ReturnType<SudoCommandRunner>>[]) {
  const calls: { argv: readonly string[]; interactive: boolean }[] = [];
  const runSudo: SudoCommandRunner = (argv, interactive) => {
    calls.push({ argv, interactive });
    const answer = answers.shift();
    assert.ok(answer, `unexpected sudo call ${argv.join(" ")}`);
    return Promise.resolve(answer);
  };
  return { runSudo, calls };
}

describe("sudo decision logic", { timeout: 60_000 }, () => {
  test("decideAfterCheck: ready, prompt only with a terminal, fail otherwise", () => {
    assert.equal(decideAfterCheck({ exitCode: 0, stderr: "" }, false), "ready");
    assert.equal(decideAfterCheck({ exitCode: 1, stderr: PASSWORD_NEEDED }, true), "prompt");
    assert.equal(decideAfterCheck({ exitCode: 1, stderr: PASSWORD_NEEDED }, false), "fail");
    assert.equal(decideAfterCheck({ exitCode: 1, stderr: "alice is not in the sudoers file.\n" }, true), "fail");
    assert.equal(decideAfterCheck({ exitCode: null, stderr: "spawn sudo ENOENT", missing: true }, true), "fail");
    assert.equal(needsPassword("sudo: a terminal is required to read the password"), true);
  });

  test("passwordless sudo: one non-interactive check, nothing else", async () => {
    const sudo = scriptedSudo({ exitCode: 0, stderr: "" });
    await ensureSudo({ runSudo: sudo.runSudo, isTTY: false });
    assert.deepEqual(sudo.calls, [{ argv: ["sudo", "-n", "true"], interactive: false }]);
  });

  test("password needed with a terminal: sudo -v prompts itself, once, on the terminal", async () => {
    const sudo = scriptedSudo({ exitCode: 1, stderr: PASSWORD_NEEDED }, { exitCode: 0, stderr: "" });
    await ensureSudo({ runSudo: sudo.runSudo, isTTY: true });
    assert.deepEqual(sudo.calls, [
      { argv: ["sudo", "-n", "true"], interactive: false },
      { argv: ["sudo", "-v"], interactive: true },
    ]);
    // The library never hands sudo a password: no -S/--stdin anywhere.
    assert.ok(sudo.calls.every((call) => !call.argv.some((arg) => arg === "-S" || arg === "--stdin")));
  });

  test("a failed prompt and a missing terminal fail with how to run", async () => {
    const wrong = scriptedSudo({ exitCode: 1, stderr: PASSWORD_NEEDED }, { exitCode: 1, stderr: "" });
    await assert.rejects(ensureSudo({ runSudo: wrong.runSudo, isTTY: true }), (error: unknown) => {
      assert.ok(error instanceof DummyNetError);
      assert.match(error.message, /sudo -v failed/u);
      return true;
    });
    const noTty = scriptedSudo({ exitCode: 1, stderr: PASSWORD_NEEDED });
    await assert.rejects(ensureSudo({ runSudo: noTty.runSudo, isTTY: false }), (error: unknown) => {
      assert.ok(error instanceof DummyNetError);
      assert.match(error.message, /sudo needs a password and there is no terminal/u);
      assert.match(error.message, /Run as root/u);
      assert.match(error.message, /NOPASSWD:SETENV: .*ip.*tc.*iptables.*nsenter/u);
      return true;
    });
    assert.equal(noTty.calls.length, 1, "no prompt without a terminal");
    const missing = scriptedSudo({ exitCode: null, stderr: "spawn sudo ENOENT", missing: true });
    await assert.rejects(ensureSudo({ runSudo: missing.runSudo, isTTY: true }), /sudo is not installed/u);
  });

  test("commands through sudo keep their argv intact and the environment", () => {
    assert.deepEqual(commandArgv(["ping", "-c", "1", "$(x)"], SUDO), [
      "sudo",
      "-n",
      "--preserve-env",
      "--",
      "ping",
      "-c",
      "1",
      "$(x)",
    ]);
    assert.deepEqual(commandArgv("echo $HOME", SUDO), [
      "sudo",
      "-n",
      "--preserve-env",
      "--",
      "/bin/sh",
      "-c",
      "echo $HOME",
    ]);
    assert.deepEqual(commandArgv("echo $HOME", ROOT), ["/bin/sh", "-c", "echo $HOME"]);
    assert.deepEqual(SUDO.wrap(["ip", "link", "del", "$(x)"]), ["sudo", "-n", "--", "ip", "link", "del", "$(x)"]);
    assert.deepEqual(ROOT.wrap(["ip", "link"]), ["ip", "link"]);
  });
});

/**
 * A third way in, as rootless mode will add one: every command runs under
 * `env DUMMYNET_WRAPPED=<mark>`, so the command itself shows whether the
 * prefix was applied. Records each argv it wrapped.
 */
function markingPrivilege(mark: string): Privilege & { wrapped: string[][] } {
  const wrapped: string[][] = [];
  const wrap = (argv: readonly string[]) => {
    wrapped.push([...argv]);
    return ["env", `DUMMYNET_WRAPPED=${mark}`, ...argv];
  };
  return { mode: "root", direct: true, wrap, wrapUserCommand: wrap, ready: () => Promise.resolve(), wrapped };
}

const SHOW_MARK = ["/bin/sh", "-c", 'printf %s "$DUMMYNET_WRAPPED"'];

describe("a privilege given in one place reaches every runner", { timeout: 120_000 }, () => {
  test("the library's commands, a HostShell's user and system commands, and the exit path run with its prefix", async () => {
    const privilege = markingPrivilege("yes");
    assert.equal((await new SpawnRunner({ privilege }).run(SHOW_MARK)).stdout, "yes");
    const shell = new HostShell({ privilege });
    assert.equal(shell.sudo, false);
    assert.equal((await shell.run(SHOW_MARK, { timeout: 30_000 })).stdout, "yes");
    const background = await shell.runAsync(SHOW_MARK);
    await background.finished;
    assert.equal(background.stdout, "yes");
    assert.equal((await shell.system(SHOW_MARK)).stdout, "yes");
    const dir = mkdtempSync(join(tmpdir(), "dummynet-privilege-"));
    try {
      const file = join(dir, "mark");
      // The sh script's own words are constant; the file is a positional argument.
      runQuietlySync(privilege, ["/bin/sh", "-c", 'printf %s "$DUMMYNET_WRAPPED" > "$1"', "sh", file]);
      assert.equal(readFileSync(file, "utf8"), "yes");
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await shell.processMonitor.stop();
    }
  });

  test("the ip -batch workers start with its prefix and their commands take effect", async () => {
    const privilege = markingPrivilege("batch");
    const runner = new IpBatchRunner({ privilege });
    const link = new InterfaceScoped("pv0", process.pid).scoped;
    const peer = new InterfaceScoped("pv1", process.pid).scoped;
    try {
      await runner.run(["ip", "link", "add", link, "type", "veth", "peer", "name", peer]);
      assert.ok(
        privilege.wrapped.some((argv) => argv.join(" ") === "ip -j -d -force -batch -"),
        `the worker was started through the privilege: ${JSON.stringify(privilege.wrapped)}`,
      );
      const shown = await new SpawnRunner().run(["ip", "-o", "link", "show", "dev", link]);
      assert.match(shown.stdout, new RegExp(link));
      await runner.run(["ip", "link", "delete", link]);
    } finally {
      await runner.close();
    }
    assertNothingLeft(process.pid);
  });
});
