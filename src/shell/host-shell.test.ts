import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InvalidArgumentError } from "../errors.js";
import { RunInfoError, TimeoutError } from "../process/errors.js";
import { ProcessMonitor } from "../process/process-monitor.js";
import { isAlive } from "../system/proc.js";
import { assertNothingLeft } from "../testing/leftovers.js";
import { HostShell } from "./host-shell.js";

const scratch = mkdtempSync(join(tmpdir(), "dummynet-shell-"));
after(() => {
  rmSync(scratch, { recursive: true, force: true });
  assertNothingLeft(process.pid);
});

/** A shell line that counts its own attempts in `file` and prints "attempt <n>"; it fails until the 3rd. */
const countingCommand = (file: string) =>
  `n=$(cat ${file} 2>/dev/null || echo 0); n=$((n + 1)); echo $n > ${file}; echo "attempt $n"; echo "err $n" >&2; [ $n -ge 3 ]`;

describe("HostShell", { timeout: 120_000 }, () => {
  test("defaults: sudo only when not root, no namespace, its own process monitor", () => {
    const shell = new HostShell();
    assert.equal(shell.sudo, process.getuid!() !== 0);
    assert.equal(shell.namespace, undefined);
    assert.ok(shell.processMonitor instanceof ProcessMonitor);
    const monitor = new ProcessMonitor();
    assert.equal(new HostShell({ processMonitor: monitor }).processMonitor, monitor);
  });

  test("run and runAsync go through the process monitor", async () => {
    const shell = new HostShell();
    const info = await shell.run("echo $((6 * 7))", { cwd: scratch, env: { ...process.env, GREETING: "hi" } });
    assert.equal(info.stdout, "42\n");
    assert.equal(info.cwd, scratch);
    assert.equal(
      (await shell.run("echo $GREETING", { env: { PATH: process.env.PATH, GREETING: "hi" } })).stdout,
      "hi\n",
    );
    assert.equal((await shell.run(["pwd"], { cwd: scratch })).stdout, `${scratch}\n`);
    await assert.rejects(
      shell.run("exit 5"),
      (error: unknown) => error instanceof RunInfoError && error.info.exitCode === 5,
    );

    const job = await shell.runAsync(["ping", "-i", "0.2", "-c", "2", "127.0.0.1"]);
    while (await shell.processMonitor.keepRunning()) {
      // waiting for the job
    }
    job.match({ stdout: "2 packets transmitted*" });
    await shell.processMonitor.stop();
  });

  test("pollUntil re-runs until stdout matches, counting failed attempts as attempts", async () => {
    const shell = new HostShell();
    const file = join(scratch, "stdout-counter");
    const info = await shell.pollUntil(countingCommand(file), { matchStdout: "attempt 3", interval: 10 });
    assert.equal(info.stdout, "attempt 3\n");
    assert.equal(info.exitCode, 0);
  });

  test("pollUntil passes every attempt's output to stdoutCallback and stderrCallback", async () => {
    const shell = new HostShell();
    const [out, err]: string[][] = [[], []];
    await shell.pollUntil(countingCommand(join(scratch, "callback-counter")), {
      matchStdout: "attempt 2",
      interval: 10,
      stdoutCallback: (data) => out.push(data),
      stderrCallback: (data) => err.push(data),
    });
    assert.equal(out.join(""), "attempt 1\nattempt 2\n");
    assert.equal(err.join(""), "err 1\nerr 2\n");
  });

  test("pollUntil with matchStderr and with matchFn (tried on stdout, then stderr)", async () => {
    const shell = new HostShell();
    const viaStderr = await shell.pollUntil(countingCommand(join(scratch, "stderr-counter")), {
      matchStderr: "err [2-9]",
      interval: 10,
    });
    assert.equal(viaStderr.stderr, "err 2\n");
    const viaFn = await shell.pollUntil(countingCommand(join(scratch, "fn-counter")), {
      matchFn: (output) => output.includes("err 3"),
      interval: 10,
    });
    assert.equal(viaFn.stderr, "err 3\n");
  });

  test("pollUntil times out with a message saying what was awaited and for how long", async () => {
    const shell = new HostShell();
    const start = performance.now();
    await assert.rejects(
      shell.pollUntil("echo nope", { matchStdout: "yes*", timeout: 2000, interval: 50 }),
      (error: unknown) => {
        assert.ok(error instanceof TimeoutError);
        assert.match(
          error.message,
          /pollUntil: `echo nope` did not produce stdout matching "yes\*" within 2000 ms \(\d+ attempts\)/u,
        );
        assert.match(error.message, /last attempt: .*nope/su);
        assert.equal(error.info?.stdout, "nope\n");
        return true;
      },
    );
    assert.ok(performance.now() - start < 5000);
  });

  test("pollUntil stops a hanging attempt when its time is up", async () => {
    const shell = new HostShell();
    const start = performance.now();
    await assert.rejects(
      shell.pollUntil("echo $$; exec sleep 30", { matchStdout: "never", timeout: 500 }),
      (error: unknown) => {
        assert.ok(error instanceof TimeoutError);
        assert.equal(isAlive(Number(error.info!.stdout.trim())), false);
        return true;
      },
    );
    assert.ok(performance.now() - start < 5000, "the attempt was cut at the deadline");
  });

  test("pollUntil needs something to match", async () => {
    const shell = new HostShell();
    await assert.rejects(shell.pollUntil("true", {}), InvalidArgumentError);
    await assert.rejects(shell.pollUntil("true", { matchStdout: "x", interval: -1 }), InvalidArgumentError);
  });

  test("system() runs the library's argv commands on the host", async () => {
    const shell = new HostShell();
    const result = await shell.system(["ip", "-j", "link", "show", "lo"]);
    const links = JSON.parse(result.stdout) as { ifname: string }[];
    assert.deepEqual(
      links.map((link) => link.ifname),
      ["lo"],
    );
  });
});
