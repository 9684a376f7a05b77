/**
 * The process monitor against real processes and real signals, porting the
 * reference's process tests (timeouts, 40 KiB outputs, async jobs with a
 * daemon, daemon death, stop with SIGTERM vs SIGKILL, CPU statistics,
 * keep_running rules).
 */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InvalidArgumentError } from "../errors.js";
import { DaemonExitError, NoProcessesError, RunInfoError, TimeoutError } from "./errors.js";
import { assertNothingLeft } from "../testing/leftovers.js";
import { finalCpu } from "./proc-stats.js";
import { isAlive } from "../system/proc.js";
import { ProcessMonitor } from "./process-monitor.js";
import { RunInfo } from "./run-info.js";

const fixture = (name: string) => new URL(`../test-support/fixtures/${name}`, import.meta.url).pathname;
const node = (name: string, ...args: string[]) => [process.execPath, fixture(name), ...args];

/** Resolves with the output once `predicate` accepts what `info` printed so far (event-driven, no polling). */
function outputSeen(info: RunInfo, predicate: (stdout: string) => boolean): Promise<string> {
  return new Promise((resolve) => {
    let seen = info.stdout;
    if (predicate(seen)) resolve(seen);
    info.stdoutCallback = (data) => {
      seen += data;
      if (predicate(seen)) resolve(seen);
    };
  });
}

/** Drains keepRunning() until it returns false or throws; returns the number of calls. */
async function runUntilDone(monitor: ProcessMonitor, timeoutMs?: number): Promise<number> {
  let calls = 1;
  while (await monitor.keepRunning(timeoutMs)) calls++;
  return calls;
}

function aggregateOf(error: unknown): Error[] {
  assert.ok(error instanceof AggregateError, `expected an AggregateError, got ${String(error)}`);
  return error.errors as Error[];
}

const scratch = mkdtempSync(join(tmpdir(), "dummynet-process-"));
after(() => {
  rmSync(scratch, { recursive: true, force: true });
  assertNothingLeft(process.pid);
});

describe("ProcessMonitor.runProcess", { timeout: 300_000 }, () => {
  test("a successful run keeps stdout, stderr, pid and exit status", async () => {
    await using monitor = new ProcessMonitor();
    const info = await monitor.runProcess(node("exit-with.mjs", "0", "hello\n", "to stderr\n"));
    assert.equal(info.stdout, "hello\n");
    assert.equal(info.stderr, "to stderr\n");
    assert.equal(info.exitCode, 0);
    assert.equal(info.signal, null);
    assert.equal(typeof info.pid, "number");
    assert.equal(info.isAsync, false);
    assert.equal(isAlive(info.pid!), false);
  });

  test("a non-zero exit rejects with RunInfoError carrying the RunInfo", async () => {
    await using monitor = new ProcessMonitor();
    await assert.rejects(
      monitor.runProcess(node("exit-with.mjs", "3", "partial\n", "it broke\n")),
      (error: unknown) => {
        assert.ok(error instanceof RunInfoError);
        assert.equal(error.info.exitCode, 3);
        assert.equal(error.info.stdout, "partial\n");
        assert.equal(error.info.stderr, "it broke\n");
        assert.match(error.message, /exited with status 3/u);
        assert.match(error.message, /it broke/u);
        return true;
      },
    );
  });

  test("a missing command is explained (shell: exit 127; array: could not be started)", async () => {
    await using monitor = new ProcessMonitor();
    await assert.rejects(monitor.runProcess("no-such-command-dummynet"), (error: unknown) => {
      assert.ok(error instanceof RunInfoError);
      assert.equal(error.info.exitCode, 127);
      assert.match(error.message, /command not found/u);
      return true;
    });
    await assert.rejects(monitor.runProcess(["/no/such/program"]), (error: unknown) => {
      assert.ok(error instanceof RunInfoError);
      assert.ok(error.info.startError);
      assert.equal(error.info.pid, undefined);
      assert.match(error.message, /could not be started: spawn \/no\/such\/program ENOENT/u);
      return true;
    });
  });

  test("a timeout stops the command's process group and rejects with TimeoutError", async () => {
    await using monitor = new ProcessMonitor();
    const start = performance.now();
    await assert.rejects(monitor.runProcess("sleep 30", { timeout: 300 }), (error: unknown) => {
      assert.ok(error instanceof TimeoutError);
      assert.ok(error.info);
      assert.equal(error.info.timedOut, true);
      assert.equal(error.info.signal, "SIGTERM");
      assert.equal(isAlive(error.info.pid!), false, "the timed-out process is gone");
      assert.match(error.message, /after its timeout of 300 ms/u);
      return true;
    });
    const elapsed = performance.now() - start;
    assert.ok(elapsed >= 300 && elapsed < 10_000, `took ${elapsed} ms`);
    // Like the reference: a command within its timeout is fine.
    const quick = await monitor.runProcess("sleep 0.1", { timeout: 5000 });
    assert.equal(quick.exitCode, 0);
  });

  test("a timed-out command that ignores SIGTERM is killed with SIGKILL", async () => {
    await using monitor = new ProcessMonitor();
    // A shell starts in milliseconds even on a loaded machine, so the trap is set long before the timeout.
    await assert.rejects(monitor.runProcess("trap '' TERM; sleep 30", { timeout: 1500 }), (error: unknown) => {
      assert.ok(error instanceof TimeoutError);
      assert.equal(error.info?.signal, "SIGKILL");
      assert.match(error.message, /was killed by SIGKILL after its timeout of 1500 ms/u);
      assert.equal(isAlive(error.info.pid!), false);
      return true;
    });
  });

  test("a timeout with 40 KiB of pending output still rejects (reference test_run_stdout)", async () => {
    await using monitor = new ProcessMonitor();
    await assert.rejects(
      monitor.runProcess(`sleep 10; echo '${"A".repeat(4096 * 10)}'`, { timeout: 300 }),
      TimeoutError,
    );
  });

  test("an AbortSignal stops the command and rejects with the reason as cause", async () => {
    await using monitor = new ProcessMonitor();
    const controller = new AbortController();
    const running = monitor.runProcess(node("forever.mjs"), {
      signal: controller.signal,
      stdoutCallback: (data) => {
        if (data.includes("ready")) controller.abort(new Error("test is done"));
      },
    });
    await assert.rejects(running, (error: unknown) => {
      assert.ok(error instanceof RunInfoError);
      assert.match(error.message, /aborted/u);
      assert.equal((error.cause as Error).message, "test is done");
      assert.equal(error.info.signal, "SIGTERM");
      assert.equal(isAlive(error.info.pid!), false);
      return true;
    });
  });

  test("a string runs through /bin/sh; an array never does, even with shell metacharacters", async () => {
    await using monitor = new ProcessMonitor();
    const sentinel = join(scratch, "injected");
    const literal = await monitor.runProcess(["echo", `$(touch ${sentinel})`, "; touch", sentinel, "`id`"]);
    assert.equal(literal.stdout, `$(touch ${sentinel}) ; touch ${sentinel} \`id\`\n`);
    assert.equal(existsSync(sentinel), false, "the array was not interpreted by a shell");
    const shell = await monitor.runProcess("echo $((40 + 2)) | tr 4 x");
    assert.equal(shell.stdout, "x2\n");
  });

  test("40 KiB and multi-megabyte outputs are kept whole (stdout and stderr)", async () => {
    await using monitor = new ProcessMonitor();
    for (const length of [1, 4096, 4096 * 10]) {
      const message = "A".repeat(length);
      const info = await monitor.runProcess(`echo '${message}'`);
      assert.equal(info.stdout, `${message}\n`);
    }
    const line = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ\n";
    const bytes = 8 * 1024 * 1024 + 17;
    const expected = line.repeat(Math.ceil(bytes / line.length)).slice(0, bytes);
    const out = await monitor.runProcess(node("print-lots.mjs", String(bytes)));
    assert.equal(out.stdout.length, bytes);
    assert.ok(out.stdout === expected, "stdout content differs");
    const err = await monitor.runProcess(node("print-lots.mjs", String(3 * 1024 * 1024), "stderr"));
    assert.equal(err.stderr.length, 3 * 1024 * 1024);
    assert.equal(err.stdout, "");
  });

  test("invalid UTF-8 becomes U+FFFD and characters split across reads stay whole", async () => {
    await using monitor = new ProcessMonitor();
    const invalid = await monitor.runProcess(node("write-bytes.mjs", "61ff62", "fe0a"));
    assert.equal(invalid.stdout, "a\uFFFDb\uFFFD\n");
    const chunks: string[] = [];
    const split = await monitor.runProcess(node("write-bytes.mjs", "c3", "a9e2", "82ac0a"), {
      stdoutCallback: (data) => chunks.push(data),
    });
    assert.equal(split.stdout, "é€\n");
    assert.ok(
      chunks.every((chunk) => !chunk.includes("\uFFFD")),
      `chunks: ${JSON.stringify(chunks)}`,
    );
    const truncated = await monitor.runProcess(node("write-bytes.mjs", "41e282"));
    assert.equal(truncated.stdout, "A\uFFFD", "an incomplete character at the end is replaced, not dropped");
  });

  test("a run whose background child keeps the output pipe open still completes", async () => {
    await using monitor = new ProcessMonitor();
    const start = performance.now();
    const info = await monitor.runProcess("sleep 30 & echo $!");
    const background = Number(info.stdout.trim());
    try {
      assert.equal(info.exitCode, 0);
      assert.ok(performance.now() - start < 10_000, "did not wait for the background sleep");
      assert.equal(isAlive(background), true, "the shell line's own background job is the user's business");
    } finally {
      process.kill(background, "SIGKILL");
    }
  });

  test("bad arguments are rejected before anything runs", async () => {
    await using monitor = new ProcessMonitor();
    await assert.rejects(monitor.runProcess([]), InvalidArgumentError);
    await assert.rejects(monitor.runProcess([""]), InvalidArgumentError);
    await assert.rejects(monitor.runProcess(["echo", 5 as unknown as string]), InvalidArgumentError);
    await assert.rejects(monitor.runProcess("echo a\0b"), InvalidArgumentError);
    await assert.rejects(
      monitor.runProcess("true", { timeout: -1 }),
      /Invalid timeout: -1 \(number\) must be a positive/u,
    );
    await assert.rejects(monitor.runProcess("true", { timeout: 0 }), InvalidArgumentError);
    await assert.rejects(monitor.keepRunning(Number.NaN), InvalidArgumentError);
    await assert.rejects(monitor.stop({ timeout: -5 }), InvalidArgumentError);
  });
});

describe("ProcessMonitor async processes and keepRunning", { timeout: 300_000 }, () => {
  test("output reaches the callback while the process is still running", async () => {
    await using monitor = new ProcessMonitor();
    const info = await monitor.runProcessAsync(node("forever.mjs"));
    assert.equal(info.isAsync, true);
    await outputSeen(info, (out) => out.includes("ready"));
    assert.equal(info.exitCode, null);
    assert.equal(isAlive(info.pid!), true);
    await monitor.stopProcessAsync(info);
    assert.equal(info.signal, "SIGTERM");
    assert.equal(isAlive(info.pid!), false);
  });

  test("jobs finishing: keepRunning is true while they run, then false, and ends early on an exit", async () => {
    await using monitor = new ProcessMonitor();
    const a = await monitor.runProcessAsync("echo first; sleep 0.3; echo 'a done'");
    const b = await monitor.runProcessAsync(["sh", "-c", "sleep 0.1; echo 'b done'"]);
    const start = performance.now();
    const calls = await runUntilDone(monitor, 20_000);
    assert.ok(performance.now() - start < 10_000, "keepRunning returned on the exits, not after its 20 s timeout");
    assert.ok(calls >= 2 && calls <= 4, `calls: ${calls}`);
    a.match({ stdout: "a done" });
    b.match({ stdout: "b done" });
    assert.equal(a.exitCode, 0);
    assert.equal(await monitor.keepRunning(), false);
  });

  test("async pings with a daemon (reference test_run_async_output)", async () => {
    await using monitor = new ProcessMonitor();
    const daemon = await monitor.runProcessAsync(node("forever.mjs"), { daemon: true });
    let streamed = "";
    const out1 = await monitor.runProcessAsync("ping -i 0.2 -c 5 127.0.0.1", {
      stdoutCallback: (data) => (streamed += data),
    });
    const out2 = await monitor.runProcessAsync(["ping", "-i", "0.2", "-c", "3", "127.0.0.1"]);
    await runUntilDone(monitor);
    out1.match({ stdout: "5 packets transmitted*" });
    out2.match({ stdout: "3 packets transmitted*" });
    assert.equal(streamed, out1.stdout);
    assert.equal(isAlive(daemon.pid!), true);
    await monitor.stop();
    assert.equal(isAlive(daemon.pid!), false);
    assert.equal(daemon.signal, "SIGTERM");
  });

  test("a failing job rejects keepRunning with an AggregateError of RunInfoError", async () => {
    await using monitor = new ProcessMonitor();
    await monitor.runProcessAsync(node("exit-with.mjs", "4", "", "job failed\n"));
    const error = await runUntilDone(monitor).then(
      () => undefined,
      (e: unknown) => e,
    );
    const [first, ...rest] = aggregateOf(error);
    assert.equal(rest.length, 0);
    assert.ok(first instanceof RunInfoError);
    assert.equal(first.info.exitCode, 4);
    assert.match(first.message, /job failed/u);
    // Reported once (../shared/API.md): stop() does not report it again.
    await monitor.stop();
  });

  test("a daemon that exits is a DaemonExitError (reference test_daemon_exit)", async () => {
    await using monitor = new ProcessMonitor();
    await monitor.runProcessAsync("sleep 0.2", { daemon: true });
    const job = await monitor.runProcessAsync(node("forever.mjs"));
    const error = await runUntilDone(monitor).then(
      () => undefined,
      (e: unknown) => e,
    );
    const errors = aggregateOf(error);
    assert.equal(errors.length, 1);
    assert.ok(errors[0] instanceof DaemonExitError);
    assert.match(errors[0].message, /Unexpected daemon exit: `sleep 0.2`.*exited with status 0/u);
    assert.equal(isAlive(job.pid!), true, "the job still runs until stop()");
    await monitor.stop(); // keepRunning reported the daemon: not again
    assert.equal(isAlive(job.pid!), false, "stop() stopped the job");
  });

  test("only daemons: keepRunning throws NoProcessesError (reference test_all_daemons)", async () => {
    await using monitor = new ProcessMonitor();
    const one = await monitor.runProcessAsync(node("forever.mjs"), { daemon: true });
    const two = await monitor.runProcessAsync(node("forever.mjs"), { daemon: true });
    await assert.rejects(monitor.keepRunning(), NoProcessesError);
    await monitor.stop();
    assert.equal(isAlive(one.pid!), false);
    assert.equal(isAlive(two.pid!), false);
  });

  test("no processes at all: keepRunning resolves false (reference test_no_processes)", async () => {
    const monitor = new ProcessMonitor();
    assert.equal(await monitor.keepRunning(), false);
    await monitor.stop();
  });

  test("a failing run while a daemon has died rejects with both (reference test_hostshell_timeout_daemon)", async () => {
    await using monitor = new ProcessMonitor();
    await monitor.runProcessAsync("sleep 0.2", { daemon: true });
    const error = await monitor.runProcess("sleep 10", { timeout: 1500 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    const errors = aggregateOf(error);
    assert.ok(errors[0] instanceof TimeoutError);
    assert.ok(errors.slice(1).some((e) => e instanceof DaemonExitError));
    assert.match((error as Error).message, /Run failure: .*daemon exited/u);
    await monitor.stop({ validateState: false });
  });

  test("a successful run is not affected by a failed job", async () => {
    await using monitor = new ProcessMonitor();
    const job = await monitor.runProcessAsync("exit 9");
    await new Promise<void>(
      (resolve) =>
        void monitor.keepRunning(5000).then(
          () => {
            resolve();
          },
          () => {
            resolve();
          },
        ),
    );
    assert.equal(job.exitCode, 9);
    assert.equal((await monitor.runProcess("true")).exitCode, 0);
    const error = await monitor.runProcess("exit 2").then(
      () => undefined,
      (e: unknown) => e,
    );
    // The failed job was reported by keepRunning: the run's error comes alone.
    assert.ok(error instanceof RunInfoError, String(error));
    assert.equal(error.info.exitCode, 2);
    await monitor.stop();
  });
});

describe("ProcessMonitor stopping", { timeout: 300_000 }, () => {
  test("stopProcessAsync: SIGTERM obeyed, trapped, or ignored until SIGKILL (reference test_stop_process_async_kill)", async () => {
    await using monitor = new ProcessMonitor();
    // SIGTERM only once the trap is set: before it, the shell dies of the signal instead.
    const clean = await monitor.runProcessAsync(`trap 'exit 0' TERM
      echo ready
      while :; do sleep 10 & wait $!; done`);
    await outputSeen(clean, (out) => out.includes("ready"));
    await monitor.stopProcessAsync(clean, { timeout: 2000 });
    assert.equal(clean.exitCode, 0);

    const hanging = await monitor.runProcessAsync(`trap '' TERM
      echo ready
      while :; do sleep 10 & wait $!; done`);
    await outputSeen(hanging, (out) => out.includes("ready"));
    const start = performance.now();
    await monitor.stopProcessAsync(hanging, { timeout: 300 });
    assert.equal(hanging.signal, "SIGKILL");
    assert.equal(hanging.exitCode, null);
    assert.ok(performance.now() - start >= 290, "SIGKILL came after the timeout");

    const daemon = await monitor.runProcessAsync("sleep 10", { daemon: true });
    await monitor.stopProcessAsync(daemon);
    assert.equal(daemon.signal, "SIGTERM");
    assert.equal(await monitor.keepRunning(), false, "stopped processes are forgotten, a stopped daemon is no error");
  });

  test("stopProcessAsync rejects a RunInfo the monitor does not manage", async () => {
    await using monitor = new ProcessMonitor();
    const stranger = new RunInfo({ cmd: "echo", pid: 0 });
    await assert.rejects(monitor.stopProcessAsync(stranger), InvalidArgumentError);
    const once = await monitor.runProcessAsync("sleep 10");
    await monitor.stopProcessAsync(once);
    await assert.rejects(monitor.stopProcessAsync(once), InvalidArgumentError);
  });

  test("stop(): a SIGTERM-respecting child and a SIGTERM-ignoring child together", async () => {
    const monitor = new ProcessMonitor();
    const polite = await monitor.runProcessAsync(node("forever.mjs"));
    const stubborn = await monitor.runProcessAsync(node("ignore-sigterm.mjs"), { daemon: true });
    await Promise.all([
      outputSeen(polite, (o) => o.includes("ready")),
      outputSeen(stubborn, (o) => o.includes("ready")),
    ]);
    await monitor.stop({ timeout: 400 });
    assert.equal(polite.signal, "SIGTERM");
    assert.equal(stubborn.signal, "SIGKILL");
    assert.match(stubborn.stdout, /got SIGTERM, ignoring it/u);
    assert.equal(isAlive(polite.pid!), false);
    assert.equal(isAlive(stubborn.pid!), false);
    assert.deepEqual(monitor.processes, []);
  });

  test("stop() signals the whole process group: grandchildren are gone too", async () => {
    const monitor = new ProcessMonitor();
    const parent = await monitor.runProcessAsync("sleep 1000 & echo $!; wait");
    const grandchild = Number((await outputSeen(parent, (o) => o.includes("\n"))).trim());
    assert.equal(isAlive(grandchild), true);
    await monitor.stop();
    assert.equal(isAlive(parent.pid!), false);
    assert.equal(isAlive(grandchild), false, `grandchild ${grandchild} was stopped with its group`);
  });

  test("a group member that outlives its leader's SIGTERM gets SIGKILL after the timeout", async () => {
    const monitor = new ProcessMonitor();
    // The grandchild ignores SIGTERM (ignored signals stay ignored across exec); the leader exits 0 on SIGTERM.
    // The grandchild prints its pid only once it ignores SIGTERM.
    const leader = await monitor.runProcessAsync(`trap 'exit 0' TERM
      sh -c 'trap "" TERM; echo $$; exec sleep 1000' &
      wait`);
    const grandchild = Number((await outputSeen(leader, (o) => o.includes("\n"))).trim());
    const start = performance.now();
    await monitor.stop({ timeout: 300 });
    assert.ok(performance.now() - start >= 290, "the SIGKILL came after the timeout");
    assert.equal(leader.exitCode, 0);
    assert.equal(isAlive(grandchild), false, `grandchild ${grandchild} was killed`);
  });

  test("stop() also ends a synchronous run in flight, which then rejects", async () => {
    const monitor = new ProcessMonitor();
    let announced!: () => void;
    const ready = new Promise<void>((resolve) => (announced = resolve));
    const running = monitor.runProcess(node("forever.mjs"), {
      stdoutCallback: () => {
        announced();
      },
    });
    // Handled at once: the run may reject before stop() resolves.
    const outcome = running.then(
      () => undefined,
      (error: unknown) => error,
    );
    await ready;
    await monitor.stop();
    const error = await outcome;
    assert.ok(error instanceof RunInfoError && error.info.signal === "SIGTERM", String(error));
  });
});

describe("ProcessMonitor CPU and memory statistics", { timeout: 300_000 }, () => {
  test("a busy loop's CPU time is measured while it runs and at its exit (reference test_cpu_usage_statistics)", async () => {
    await using monitor = new ProcessMonitor();
    const cpuSeconds = 1.0;
    for (const cmd of [
      node("busy-loop.mjs", String(cpuSeconds * 1000)),
      // Through a shell that stays the parent: the node child is part of the measured tree.
      `${process.execPath} ${fixture("busy-loop.mjs")} ${cpuSeconds * 1000}; true`,
    ]) {
      const info = await monitor.runProcessAsync(cmd);
      let maxWhileRunning = 0;
      let memRssWhileRunning = 0;
      while (await monitor.keepRunning(100)) {
        maxWhileRunning = Math.max(maxWhileRunning, info.cpuUser);
        memRssWhileRunning = Math.max(memRssWhileRunning, info.memRss);
      }
      assert.ok(maxWhileRunning > 0.1, `sampled while running: ${maxWhileRunning} s`);
      assert.ok(maxWhileRunning <= info.cpuUser, "the final figure is not below the samples");
      // Generous bounds: a noisy 2-core machine; node's own start-up adds a little.
      assert.ok(info.cpuUser > cpuSeconds * 0.9 && info.cpuUser < cpuSeconds + 1.5, `cpuUser ${info.cpuUser} s`);
      assert.ok(info.cpuSystem >= 0 && info.cpuSystem < 2, `cpuSystem ${info.cpuSystem} s`);
      assert.equal(info.cpuTotal, info.cpuUser + info.cpuSystem);
      assert.ok(memRssWhileRunning > 10 * 1024 * 1024, `node's RSS is tens of MB, got ${memRssWhileRunning}`);
      assert.ok(info.memVms > info.memRss, "virtual size exceeds resident size");
    }
  });

  test("the exit-time CPU figure is used only when plausible", () => {
    const lastSample = { user: 0.8, system: 0.1 };
    // Node's reaped-children time grew by the child's lifetime total.
    assert.deepEqual(
      finalCpu({
        lastSample,
        lastSampleAt: 0,
        before: { user: 5, system: 1 },
        after: { user: 5.95, system: 1.12 },
        now: 100,
      }),
      {
        user: 5.95 - 5,
        system: 1.12 - 1,
      },
    );
    // Another child reaped at the same time inflates it beyond what wall time allows: keep the sample.
    assert.deepEqual(
      finalCpu({
        lastSample,
        lastSampleAt: 0,
        before: { user: 5, system: 1 },
        after: { user: 9, system: 1.2 },
        now: 100,
      }),
      lastSample,
    );
    // Already counted by an earlier exit: keep the sample.
    assert.deepEqual(
      finalCpu({
        lastSample,
        lastSampleAt: 0,
        before: { user: 5, system: 1 },
        after: { user: 5, system: 1 },
        now: 100,
      }),
      lastSample,
    );
  });
});

test("RunInfo.finished resolves when the process is done, with its output", { timeout: 300_000 }, async () => {
  const monitor = new ProcessMonitor();
  const info = await monitor.runProcessAsync(["sh", "-c", "echo done; exit 4"]);
  const done = await info.finished;
  assert.equal(done, info);
  assert.equal(done.exitCode, 4);
  assert.equal(done.stdout, "done\n");
  await monitor.stop({ validateState: false });
});
