import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { DummyNetError } from "../errors.js";
import { commandArgv } from "../process/process-monitor.js";
import { type SudoCommandRunner, decideAfterCheck, ensureSudo, needsPassword } from "./sudo.js";

const PASSWORD_NEEDED = "sudo: a password is required\n";

/** A scripted sudo: answers each call from `answers` in turn and records the calls. */
function scriptedSudo(...answers: Awaited<ReturnType<SudoCommandRunner>>[]) {
  const calls: { argv: readonly string[]; interactive: boolean }[] = [];
  const runSudo: SudoCommandRunner = async (argv, interactive) => {
    calls.push({ argv, interactive });
    const answer = answers.shift();
    assert.ok(answer, `unexpected sudo call ${argv.join(" ")}`);
    return answer;
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
      assert.match(error.message, /NOPASSWD: .*ip.*tc.*iptables.*nsenter/u);
      return true;
    });
    assert.equal(noTty.calls.length, 1, "no prompt without a terminal");
    const missing = scriptedSudo({ exitCode: null, stderr: "spawn sudo ENOENT", missing: true });
    await assert.rejects(ensureSudo({ runSudo: missing.runSudo, isTTY: true }), /sudo is not installed/u);
  });

  test("commands through sudo keep their argv intact and the environment", () => {
    assert.deepEqual(commandArgv(["ping", "-c", "1", "$(x)"], true), ["sudo", "-n", "--preserve-env", "--", "ping", "-c", "1", "$(x)"]);
    assert.deepEqual(commandArgv("echo $HOME", true), ["sudo", "-n", "--preserve-env", "--", "/bin/sh", "-c", "echo $HOME"]);
    assert.deepEqual(commandArgv("echo $HOME", false), ["/bin/sh", "-c", "echo $HOME"]);
  });
});
