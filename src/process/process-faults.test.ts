/**
 * Program faults on purpose (issue 19): pause/resume (SIGSTOP/SIGCONT to the
 * program and everything it forked), kill (an exit asked for, never reported
 * as a failure), restart (the same command, cwd, env and host again), and the
 * rule that a failure is reported once. Checked on real programs' output:
 * a ticker that prints a line every 20 ms.
 */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InvalidArgumentError } from "../errors.js";
import { DummyNet } from "../network/dummy-net.js";
import { assertNothingLeft } from "../testing/leftovers.js";
import { isAlive } from "../system/proc.js";
import { DaemonExitError } from "./errors.js";
import { ProcessMonitor } from "./process-monitor.js";
import type { RunInfo } from "./run-info.js";

const fixture = (name: string) => new URL(`../test-support/fixtures/${name}`, import.meta.url).pathname;
const ticker = (...args: string[]) => [process.execPath, fixture("ticker.mjs"), ...args];

/** Milliseconds a ticker (a line every 20 ms) is watched for silence or for new lines. */
const WATCH = 400;

interface Tick {
  name: string;
  n: number;
  pid: number;
  cwd: string;
  tag: string;
  netns: string;
}

function ticks(stdout: string, name: string): Tick[] {
  const found: Tick[] = [];
  for (const match of stdout.matchAll(/^(\S+) (\d+) pid=(\d+) cwd=(.*) tag=(.*) netns=(.*)$/gmu)) {
    const [, who, n, pid, cwd, tag, netns] = match as unknown as string[];
    if (who === name) found.push({ name: who, n: Number(n), pid: Number(pid), cwd, tag, netns });
  }
  return found;
}

/** Resolves once `info` has printed at least `count` more lines of each of `names` after offset `from`; rejects after `ms`. */
async function linesAfter(
  info: RunInfo,
  from: number,
  names: readonly string[],
  count = 3,
  ms = 10_000,
): Promise<void> {
  const deadline = performance.now() + ms;
  while (!names.every((name) => ticks(info.stdout.slice(from), name).length >= count)) {
    if (performance.now() > deadline) {
      assert.fail(`expected ${count} lines of ${names.join(", ")} within ${ms} ms; got: ${info.stdout.slice(from)}`);
    }
    await delay(10);
  }
}

/** Each process's state letter in /proc/<pid>/stat (T: stopped). */
function stateOf(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0] ?? "";
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

const scratch = mkdtempSync(join(tmpdir(), "dummynet-faults-"));
let nextUid = (process.pid % 100000) * 10 + 1300000;
after(() => {
  rmSync(scratch, { recursive: true, force: true });
  assertNothingLeft(process.pid);
  for (let uid = (process.pid % 100000) * 10 + 1300000; uid < nextUid; uid++) assertNothingLeft(uid);
});

describe("ProcessMonitor program faults", { timeout: 120_000 }, () => {
  test("pause stops the program and what it forked (in its group or not) until resume", async () => {
    await using monitor = new ProcessMonitor();
    const info = await monitor.runProcessAsync(ticker("p", "--fork"), { daemon: true });
    const escaped = await monitor.runProcessAsync(ticker("q", "--fork", "--setsid"), { daemon: true });
    await linesAfter(info, 0, ["p", "p-child"]);
    await linesAfter(escaped, 0, ["q", "q-child"]);
    const child = ticks(info.stdout, "p-child")[0].pid;
    const escapedChild = ticks(escaped.stdout, "q-child")[0].pid;

    await monitor.pause(info);
    await monitor.pause(escaped);
    for (const pid of [info.pid!, child, escaped.pid!, escapedChild]) assert.equal(stateOf(pid), "T", `pid ${pid}`);
    await delay(50); // lines written just before the stop may still be in the pipe
    const atPause = [info.stdout.length, escaped.stdout.length] as const;
    await delay(WATCH);
    assert.equal(info.stdout.slice(atPause[0]), "", "no output while paused (the program and its child)");
    assert.equal(escaped.stdout.slice(atPause[1]), "", "no output from a child that left the process group");

    await monitor.resume(info);
    await monitor.resume(escaped);
    await linesAfter(info, atPause[0], ["p", "p-child"]);
    await linesAfter(escaped, atPause[1], ["q", "q-child"]);
    // Numbering goes on where it stopped: the same processes, continued.
    assert.equal(ticks(info.stdout.slice(atPause[0]), "p")[0].pid, info.pid);
    await monitor.stop();
    assert.ok(!isAlive(child) && !isAlive(escapedChild), "stop() ends forked children, also one out of the group");
  });

  test("stop() and kill(SIGTERM) end a paused program (a stopped process keeps SIGTERM pending)", async () => {
    const monitor = new ProcessMonitor();
    const one = await monitor.runProcessAsync(ticker("one"), { daemon: true });
    const two = await monitor.runProcessAsync(ticker("two"), { daemon: true });
    await monitor.pause(one);
    await monitor.pause(two);
    await monitor.kill(one, { signal: "SIGTERM" });
    assert.equal(one.signal, "SIGTERM");
    await monitor.stop();
    // A SIGTERM left pending would have ended in the SIGKILL after the timeout.
    assert.equal(two.signal, "SIGTERM", "SIGTERM, not the SIGKILL after the timeout");
  });

  test("kill ends the program and its children, and is never reported as a failure", async () => {
    const monitor = new ProcessMonitor();
    const daemon = await monitor.runProcessAsync(ticker("d", "--fork"), { daemon: true });
    const job = await monitor.runProcessAsync(ticker("j"));
    await linesAfter(daemon, 0, ["d", "d-child"]);
    const child = ticks(daemon.stdout, "d-child")[0].pid;
    const killed = await monitor.kill(daemon);
    assert.equal(killed, daemon);
    assert.equal(daemon.signal, "SIGKILL", "SIGKILL by default (a crash)");
    assert.ok(!isAlive(daemon.pid!) && !isAlive(child));
    await monitor.kill(job, { signal: "SIGINT" });
    assert.equal(job.signal, "SIGINT");
    assert.equal(await monitor.keepRunning(50), false, "no DaemonExitError, no failed job");
    await monitor.stop(); // validateState: nothing to report
  });

  test("restart runs the same command again: new pid, same cwd and env, output flows", async () => {
    await using monitor = new ProcessMonitor();
    const env = { ...process.env, TICKER_TAG: "tagged" };
    const first = await monitor.runProcessAsync(ticker("r"), { daemon: true, cwd: scratch, env });
    await linesAfter(first, 0, ["r"]);
    let seen = "";
    first.stdoutCallback = (data) => (seen += data);
    const again = await monitor.restart(first);
    assert.notEqual(again.pid, first.pid);
    assert.ok(!isAlive(first.pid!), "the running program was stopped first");
    assert.equal(first.signal, "SIGTERM");
    await linesAfter(again, 0, ["r"]);
    const tick = ticks(again.stdout, "r")[0];
    assert.equal(tick.pid, again.pid);
    assert.equal(tick.cwd, scratch);
    assert.equal(tick.tag, "tagged");
    assert.equal(again.isDaemon, true);
    assert.ok(seen.includes(`pid=${again.pid}`), "the callback set on the old RunInfo follows the restart");
    assert.deepEqual(monitor.processes, [again], "the monitor tracks the new process instead");
    // A killed program restarts too; the old RunInfo cannot be restarted twice.
    await monitor.kill(again);
    const third = await monitor.restart(again);
    await linesAfter(third, 0, ["r"]);
    await assert.rejects(monitor.restart(again), /was restarted already/u);
    await monitor.stop(); // validateState: the programs stopped, killed and restarted on purpose are no failures
  });

  test("bad input is refused before anything changes", async () => {
    await using monitor = new ProcessMonitor();
    const other = new ProcessMonitor();
    const running = await monitor.runProcessAsync(ticker("b"), { daemon: true });
    const foreign = await other.runProcessAsync(ticker("f"), { daemon: true });
    const ended = await monitor.runProcessAsync(["true"]);
    await ended.finished;
    const sync = await monitor.runProcess(["true"]);
    const refused = (pattern: RegExp) => (error: unknown) => {
      assert.ok(error instanceof InvalidArgumentError, String(error));
      assert.match(error.message, pattern);
      return true;
    };
    await assert.rejects(monitor.pause(foreign), refused(/not a program this process monitor started/u));
    await assert.rejects(monitor.pause(sync), refused(/not a program this process monitor started/u));
    await assert.rejects(monitor.pause(ended), refused(/has already ended .*exited with status 0/u));
    await assert.rejects(monitor.resume(running), refused(/is not paused/u));
    await assert.rejects(monitor.kill(ended), refused(/has already ended/u));
    await assert.rejects(monitor.kill(running, { signal: "SIGSTOP" }), refused(/pause\(\)\/resume\(\)/u));
    await assert.rejects(
      monitor.kill(running, { signal: "SIGNOPE" as NodeJS.Signals }),
      refused(/must be a signal name/u),
    );
    await assert.rejects(monitor.kill(running, { timeout: -1 }), refused(/non-negative finite number/u));
    await assert.rejects(monitor.restart(foreign), refused(/not a program this process monitor started/u));
    await monitor.pause(running);
    await assert.rejects(monitor.pause(running), refused(/already paused/u));
    assert.equal(stateOf(running.pid!), "T", "still paused after the refusals");
    await monitor.resume(running);
    assert.notEqual(stateOf(running.pid!), "T");
    await other.stop();
  });

  test("a failure reported by keepRunning or stop is not reported again", async () => {
    const monitor = new ProcessMonitor();
    await monitor.runProcessAsync(["sh", "-c", "exit 3"], { daemon: true });
    await monitor.runProcessAsync(ticker("k"));
    await assert.rejects(
      (async () => {
        while (await monitor.keepRunning(100));
      })(),
      (error: unknown) => error instanceof AggregateError && error.errors[0] instanceof DaemonExitError,
    );
    assert.equal(await monitor.keepRunning(50), true, "reported once: the job still runs, no error again");
    await monitor.stop();
  });
});

describe(
  "program faults in a host of a network (rootless: inside the holder's namespaces)",
  { timeout: 120_000 },
  () => {
    test("pause, resume, kill and restart act on the program in its namespace; cleanup reports nothing", async () => {
      const net = new DummyNet({ uid: nextUid++ });
      try {
        const a = await net.netnsAdd("a");
        const env = { ...process.env, TICKER_TAG: "in-a" };
        const info = await a.runAsync(ticker("h", "--fork"), { daemon: true, cwd: scratch, env });
        await linesAfter(info, 0, ["h", "h-child"]);
        const first = ticks(info.stdout, "h")[0];
        assert.notEqual(first.netns, readlinkSync("/proc/self/ns/net"), "runs in host a's namespace");

        const monitor = net.processMonitor;
        await monitor.pause(info);
        await delay(50);
        const atPause = info.stdout.length;
        await delay(WATCH);
        assert.equal(info.stdout.slice(atPause), "", "no output while paused");
        await monitor.resume(info);
        await linesAfter(info, atPause, ["h", "h-child"]);

        const again = await monitor.restart(info);
        await linesAfter(again, 0, ["h"]);
        const tick = ticks(again.stdout, "h")[0];
        assert.deepEqual([tick.cwd, tick.tag, tick.netns], [scratch, "in-a", first.netns], "same cwd, env and host");
        assert.notEqual(tick.pid, first.pid);

        // A failing daemon reported by keepRunning is not reported again by cleanup.
        const failing = await a.runAsync(["sh", "-c", "exit 7"], { daemon: true });
        await a.runAsync(["sleep", "30"]);
        await failing.finished;
        await assert.rejects(monitor.keepRunning(10), AggregateError);
        await monitor.kill(again);
      } finally {
        await net.cleanup(); // rejects if the killed daemon or the reported failure were reported here
      }
    });
  },
);
