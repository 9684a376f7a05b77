import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { constants as osConstants } from "node:os";
import { signalExitStatus, signalOfExitStatus } from "./exit-status.js";

/** Signals whose default action ends a process (SIGSTOP, SIGCHLD, SIGWINCH... would not), the common and the forgotten ones. */
const ENDING = [
  "SIGHUP",
  "SIGINT",
  "SIGQUIT",
  "SIGILL",
  "SIGABRT",
  "SIGBUS",
  "SIGFPE",
  "SIGKILL",
  "SIGUSR1",
  "SIGSEGV",
  "SIGUSR2",
  "SIGPIPE",
  "SIGALRM",
  "SIGTERM",
  "SIGXCPU",
] as const;

describe("exit status of a signal", { timeout: 60_000 }, () => {
  test("is what a shell reports for a child killed by it, for every signal that ends a process", () => {
    for (const signal of ENDING) {
      // The inner shell kills itself (no core file: ulimit -c 0); the outer one prints the status it saw.
      const name = signal.slice(3);
      const shell = spawnSync("sh", ["-c", `ulimit -c 0; sh -c 'kill -s ${name} $$'; echo $?`], {
        encoding: "utf8",
        timeout: 10_000,
      });
      assert.equal(shell.status, 0, shell.stderr);
      assert.equal(signalExitStatus(signal), Number(shell.stdout.trim()), signal);
      // Node reports the same signal for a child it started, and the status maps back to it.
      const child = spawnSync("sh", ["-c", `ulimit -c 0; kill -s ${name} $$`], { timeout: 10_000 });
      assert.equal(child.signal, signal);
      assert.equal(signalOfExitStatus(signalExitStatus(signal)), signal);
    }
  });

  test("is 128 + the number for every signal of the platform; other statuses name no signal", () => {
    for (const [name, number] of Object.entries(osConstants.signals)) {
      assert.equal(signalExitStatus(name as NodeJS.Signals), 128 + number, name);
      assert.equal(osConstants.signals[signalOfExitStatus(128 + number)!], number, name);
    }
    assert.deepEqual(
      [signalExitStatus("SIGSEGV"), signalExitStatus("SIGABRT"), signalExitStatus("SIGPIPE")],
      [139, 134, 141],
    );
    for (const status of [0, 1, 2, 127, 128, 255]) assert.equal(signalOfExitStatus(status), undefined, String(status));
    assert.throws(() => signalExitStatus("SIGNOPE" as NodeJS.Signals), /SIGNOPE is not a signal of this platform/);
  });
});
