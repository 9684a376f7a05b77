// The system-command runners against real commands: a worker that exits on a
// bad argument fails only that command (the ones queued behind it still run),
// and a command that does not read its input does not crash the process.
import { test } from "node:test";
import assert from "node:assert/strict";
import { SystemCommandError } from "../errors.js";
import { InterfaceScoped } from "../names/scoped.js";
import { IpBatchRunner } from "./ip-batch-runner.js";
import { SpawnRunner } from "./spawn-runner.js";
import { assertNothingLeft } from "../test-support/leftovers.js";

test("IpBatchRunner: a command that makes ip exit fails alone; the commands queued behind it run", async () => {
  const runner = new IpBatchRunner();
  const link = new InterfaceScoped("rq0", process.pid).scoped;
  const peer = new InterfaceScoped("rq1", process.pid).scoped;
  try {
    const [bad, good] = await Promise.allSettled([
      runner.run(["ip", "link", "set", "dev", "lo", "netns", "no-such-namespace-x"]),
      runner.run(["ip", "link", "add", link, "type", "veth", "peer", "name", peer]),
    ]);
    assert.equal(bad.status, "rejected");
    assert.ok((bad as PromiseRejectedResult).reason instanceof SystemCommandError);
    assert.match(String((bad as PromiseRejectedResult).reason), /no-such-namespace-x/);
    assert.equal(good.status, "fulfilled", String((good as PromiseRejectedResult).reason));
    await runner.run(["ip", "link", "delete", link]);
  } finally {
    await runner.close();
  }
  assertNothingLeft(process.pid);
});

test("SpawnRunner: input the command never reads is not an unhandled EPIPE", async () => {
  const result = await new SpawnRunner().run(["true"], { input: "x".repeat(4 << 20) });
  assert.equal(result.exitCode, 0);
});

test("both runners report a command that ip says failed even though it exits 0", async () => {
  // An over-long name makes ip print "addattr_l ERROR: message exceeded bound" and exit 0; nothing reaches the kernel.
  const name = `${new InterfaceScoped("x", process.pid).scoped}${"x".repeat(5000)}`;
  const batch = new IpBatchRunner();
  try {
    await assert.rejects(batch.run(["ip", "link", "add", name, "type", "bridge"]), (error: unknown) => error instanceof SystemCommandError && /ERROR/.test(error.message));
  } finally {
    await batch.close();
  }
  await assert.rejects(new SpawnRunner().run(["ip", "link", "add", name, "type", "bridge"]), SystemCommandError);
  assertNothingLeft(process.pid);
});
