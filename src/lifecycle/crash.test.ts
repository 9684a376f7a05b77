/**
 * Nothing left behind, whatever happens to a run: child processes build real
 * networks and are killed at random moments (SIGKILL: the reaper removes what
 * they left; SIGINT, SIGTERM, SIGHUP, process.exit and a crash: they clean up
 * by themselves), and a live run survives a reaping untouched.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { reapDeadOwners, listOwners } from "./reaper.js";
import { leftovers } from "../test-support/leftovers.js";

const FIXTURE = fileURLToPath(new URL("../test-support/fixtures/build-network.ts", import.meta.url));
const TRIALS = Number(process.env["DUMMYNET_CRASH_TRIALS"] ?? 30);

interface Child {
  process: ChildProcess;
  uid: Promise<number>;
  built: Promise<void>;
  output: () => string;
}

function startBuilder(hosts: number, mode = "hold"): Child {
  const child = spawn(process.execPath, ["--import", "tsx", FIXTURE, String(hosts), mode], { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  let resolveUid!: (uid: number) => void;
  let resolveBuilt!: () => void;
  const uid = new Promise<number>((resolve) => (resolveUid = resolve));
  const built = new Promise<void>((resolve) => (resolveBuilt = resolve));
  child.stdout!.setEncoding("utf8").on("data", (text: string) => {
    output += text;
    const match = /uid (\d+)/.exec(output);
    if (match) resolveUid(Number(match[1]));
    if (output.includes("built ")) resolveBuilt();
  });
  child.stderr!.setEncoding("utf8").on("data", (text: string) => (output += text));
  return { process: child, uid, built, output: () => output };
}

async function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return { code: child.exitCode, signal: child.signalCode };
  const [code, signal] = (await once(child, "exit")) as [number | null, NodeJS.Signals | null];
  return { code, signal };
}

/** Runs `count` trials, `parallel` at a time. */
async function trials(count: number, parallel: number, trial: (index: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < count) await trial(next++);
    }),
  );
}

describe("crash safety", { concurrency: false }, () => {
  test(`SIGKILL at a random moment, then the dead-owner reaper: nothing remains (${TRIALS} trials)`, async (t) => {
    let killedMidBuild = 0;
    let objectsFound = 0;
    await trials(TRIALS, 3, async (index) => {
      const child = startBuilder(10);
      const uid = await child.uid;
      // Every third trial kills a finished network; the others at a random moment of the build.
      if (index % 3 === 2) await child.built;
      else await Promise.race([new Promise((resolve) => setTimeout(resolve, Math.random() * 1500)), child.built]);
      if (!child.output().includes("built")) killedMidBuild++;
      child.process.kill("SIGKILL");
      assert.equal((await exited(child.process)).signal, "SIGKILL");
      objectsFound += leftovers(uid).length;
      const result = await reapDeadOwners({ only: [uid] });
      assert.deepEqual(result.failures, [], `trial ${index}: reaping failed`);
      assert.deepEqual(leftovers(uid), [], `trial ${index}: objects of the killed owner ${uid} remain`);
    });
    // The trials must really have hit builds in progress, not only finished networks.
    assert.ok(killedMidBuild > 0, "no trial killed a build in progress");
    assert.ok(objectsFound > 0, "no trial left objects for the reaper to remove");
    t.diagnostic(`crash trials: ${TRIALS} killed (${killedMidBuild} mid-build), ${objectsFound} objects reaped, 0 left`);
  });

  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    test(`${signal}: the run removes everything itself and dies of the signal`, async () => {
      await trials(4, 2, async (index) => {
        const child = startBuilder(10);
        const uid = await child.uid;
        if (index % 2 === 0) await child.built;
        else await new Promise((resolve) => setTimeout(resolve, 300 + Math.random() * 300));
        child.process.kill(signal);
        const { signal: endedBy } = await exited(child.process);
        assert.equal(endedBy, signal, `the child should end by ${signal}: ${child.output()}`);
        assert.deepEqual(leftovers(uid), [], `objects of ${uid} remain after ${signal}`);
      });
    });
  }

  test("process.exit() without cleanup: the exit hook removes namespaces and host links", async () => {
    const child = startBuilder(5, "exit");
    const uid = await child.uid;
    assert.equal((await exited(child.process)).code, 3);
    assert.deepEqual(leftovers(uid), []);
  });

  test("an uncaught error: cleanup, then exit status 1", async () => {
    const child = startBuilder(5, "throw");
    const uid = await child.uid;
    const { code } = await exited(child.process);
    assert.equal(code, 1, child.output());
    assert.match(child.output(), /fixture failed on purpose/);
    assert.deepEqual(leftovers(uid), []);
  });

  test("a live run survives a dead-owner cleanup untouched", async () => {
    const live = startBuilder(4);
    const uid = await live.uid;
    await live.built;
    const before = leftovers(uid);
    assert.ok(before.length >= 4);
    const result = await reapDeadOwners();
    assert.ok(result.spared.some((owner) => owner.uid === uid), "the live owner was not spared");
    assert.ok(!result.reaped.some((owner) => owner.uid === uid));
    assert.deepEqual(leftovers(uid), before, "a live owner's objects changed");
    const owners = await listOwners();
    assert.equal(owners.find((o) => o.uid === uid)?.state, "alive");
    live.process.kill("SIGTERM");
    await exited(live.process);
    assert.deepEqual(leftovers(uid), []);
  });
});
