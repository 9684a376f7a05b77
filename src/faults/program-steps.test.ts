/**
 * Program steps of a schedule on a real program: its output stops while
 * paused and goes on after `for`; a kill ends it (no DaemonExitError at
 * cleanup) and a restart step starts it again, printing anew.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { DummyNet } from "../network/dummy-net.js";
import { assertNothingLeft } from "../testing/leftovers.js";

const TICKER = fileURLToPath(new URL("../test-support/fixtures/ticker.mjs", import.meta.url));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const ticks = (text: string) => (text.match(/^t \d+/gm) ?? []).length;

test(
  "pause for a while, then kill and restart: the program's output stops, goes on, ends, starts again",
  { timeout: 120_000 },
  async () => {
    const net = new DummyNet();
    const uid = net.uid;
    try {
      const host = await net.netnsAdd("a");
      const info = await host.runAsync(["node", TICKER, "t"], { daemon: true });
      while (ticks(info.stdout) < 3) await sleep(20);
      const schedule = net.schedule([
        { at: 0, pause: info, for: 1500 },
        { at: 4000, kill: info },
        { at: 6500, restart: info },
      ]);
      while (schedule.history.length < 1) await sleep(10);
      await sleep(200);
      const paused = ticks(info.stdout);
      await sleep(600);
      assert.equal(ticks(info.stdout), paused, "no output while paused");
      while (schedule.history.length < 2) await sleep(10);
      await sleep(300);
      assert.ok(ticks(info.stdout) > paused, "output again after `for`");
      const history = await schedule.done;
      assert.deepEqual(
        history.map((event) => [event.action, event.heals ?? null, event.error ?? null]),
        [
          ["pause", null, null],
          ["heal", "pause", null],
          ["kill", null, null],
          ["restart", null, null],
        ],
      );
      assert.equal(info.hasExited, true);
      const again = net.processMonitor.processes.find((other) => other !== info && other.cmd.includes(TICKER));
      assert.ok(again, "the restarted program is watched");
      while (ticks(again.stdout) < 2) await sleep(20);
    } finally {
      await net.cleanup();
      assertNothingLeft(uid);
    }
  },
);
