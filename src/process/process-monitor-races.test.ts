/**
 * The process monitor when a stop meets a start: a command started in the
 * same tick as stop() is stopped with the rest, not waited for (exit cleanup
 * once waited 600 s for a `sleep 600` daemon started that way).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { ProcessMonitor } from "./process-monitor.js";
import { isAlive } from "../system/proc.js";

test(
  "stop() in the same tick as runProcessAsync() stops that daemon (SIGTERM) and forgets it",
  { timeout: 30_000 },
  async () => {
    const monitor = new ProcessMonitor();
    const starting = monitor.runProcessAsync(["sleep", "600"], { daemon: true });
    await monitor.stop();
    const info = await starting;
    assert.equal(info.signal, "SIGTERM", `the daemon should have been stopped: ${info.describe()}`);
    assert.ok(!isAlive(info.pid!));
    assert.deepEqual(monitor.processes, [], "a stopped daemon must not stay listed (it would count as a dead daemon)");
    assert.equal(await monitor.keepRunning(), false);
  },
);

test("stop() in the same tick as runProcess() stops that run, which rejects", { timeout: 30_000 }, async () => {
  const monitor = new ProcessMonitor();
  const running = monitor.runProcess(["sleep", "600"]);
  const outcome = running.then(
    (info) => ({ info }),
    (error: unknown) => ({ error: error as Error & { info?: { signal: string | null } } }),
  );
  await monitor.stop();
  const result = await outcome;
  assert.ok("error" in result, "a run stopped before it ended must reject");
  assert.equal(result.error.info?.signal, "SIGTERM", result.error.message);
});
