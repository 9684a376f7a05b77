/**
 * One owner per instance: uids are taken in the owner records atomically, so
 * instances, worker threads and processes never share one by accident; the
 * first instance of a process keeps its pid, later ones get a reserved uid
 * above any pid, and the reaper judges both by the holder's pid and start time.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { InvalidArgumentError } from "../errors.js";
import { DummyNet } from "../network/dummy-net.js";
import { assertNothingLeft } from "../testing/leftovers.js";
import {
  RESERVED_UID_RANGE,
  claimReservedUid,
  ownerRecordPath,
  ownerState,
  readOwnerRecords,
  recordNetwork,
  releaseUid,
  type OwnerRecord,
} from "./owners.js";
import { processStartTime } from "../system/proc.js";
import { reapDeadOwners, surveyOwners } from "./reaper.js";

const FIXTURE = fileURLToPath(new URL("../testing/fixtures/hold-uids.fixture.ts", import.meta.url));
const WORKER = fileURLToPath(new URL("../testing/fixtures/hold-uids.worker.mjs", import.meta.url));
const isReserved = (uid: number) => uid >= RESERVED_UID_RANGE.first && uid <= RESERVED_UID_RANGE.last;

test("the range of reserved uids lies above any pid and within 4 base58 digits", () => {
  assert.equal(RESERVED_UID_RANGE.first, 4194304, "Linux caps pid_max at 2^22");
  assert.ok(Number(readFileSync("/proc/sys/kernel/pid_max", "utf8")) <= RESERVED_UID_RANGE.first);
  assert.equal(RESERVED_UID_RANGE.last, 58 ** 4 - 1);
});

test("the first instance of a process keeps the pid, later ones get reserved uids, cleanup gives them back", async () => {
  const first = new DummyNet();
  const second = new DummyNet();
  const third = new DummyNet();
  try {
    assert.equal(first.uid, process.pid);
    assert.ok(
      isReserved(second.uid) && isReserved(third.uid) && second.uid !== third.uid,
      `${second.uid}, ${third.uid}`,
    );
    for (const net of [first, second, third]) {
      const record = JSON.parse(readFileSync(ownerRecordPath(net.uid), "utf8")) as OwnerRecord;
      assert.equal(record.pid, process.pid);
      assert.equal(record.startTime, processStartTime(process.pid));
    }
    await second.netnsAdd("a"); // the same name in two networks: no clash
    await third.netnsAdd("a");
    await first.cleanup();
    assert.ok(!existsSync(ownerRecordPath(process.pid)), "cleanup gave the pid back");
    const again = new DummyNet();
    assert.equal(again.uid, process.pid, "the first live instance gets the pid again");
    // Used again after its cleanup, `first` would share a uid with `again`: refused.
    await assert.rejects(
      first.netnsAdd("b"),
      /uid \d+ was given back by cleanup\(\) and is now held by pid \d+.*make a new DummyNet/,
    );
    await again.cleanup();
  } finally {
    await Promise.all([first, second, third].map((net) => net.cleanup()));
  }
  for (const net of [first, second, third]) {
    assert.ok(!existsSync(ownerRecordPath(net.uid)));
    assertNothingLeft(net.uid);
  }
});

test("worker threads of one process: every instance its own uid, only one of them the pid", async () => {
  const workers = Array.from({ length: 4 }, () => new Worker(WORKER));
  try {
    const main = new DummyNet();
    const perWorker = await Promise.all(workers.map(async (worker) => (await once(worker, "message"))[0] as number[]));
    const uids = [main.uid, ...perWorker.flat()];
    assert.equal(new Set(uids).size, 9, `uids: ${uids.join(", ")}`);
    assert.equal(uids.filter((uid) => uid === process.pid).length, 1, "exactly one instance holds the pid");
    assert.ok(uids.every((uid) => uid === process.pid || isReserved(uid)));
    // A worker's uid is held by this process: alive to the reaper, and refused to anyone else.
    const survey = await surveyOwners();
    for (const uid of perWorker.flat())
      assert.equal(survey.owners.find((owner) => owner.uid === uid)?.state, "alive", `uid ${uid}`);
    assert.throws(
      () => new DummyNet({ uid: perWorker[0][1] }),
      (error: unknown) =>
        error instanceof InvalidArgumentError &&
        /held by a live owner: pid \d+ \(this process, worker thread \d+\)/.test(error.message),
    );
    await Promise.all(
      workers.map(async (worker) => {
        worker.postMessage("release");
        await once(worker, "message");
      }),
    );
    for (const uid of perWorker.flat()) assert.ok(!existsSync(ownerRecordPath(uid)), `uid ${uid} given back`);
    await main.cleanup();
  } finally {
    await Promise.all(workers.map((worker) => worker.terminate()));
  }
});

test("an explicit uid a live process holds is refused; once it is dead, the reaper removes its objects and the uid is free", async () => {
  const child = spawn(process.execPath, ["--import", "tsx", FIXTURE], { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.setEncoding("utf8").on("data", (text: string) => (output += text));
  child.stderr.setEncoding("utf8").on("data", (text: string) => (output += text));
  const bound = setTimeout(() => child.kill("SIGKILL"), 60_000);
  try {
    while (!output.includes("\n")) {
      if (child.exitCode !== null || child.signalCode !== null) assert.fail(`the fixture ended: ${output}`);
      await Promise.race([once(child.stdout, "data"), once(child, "exit")]);
    }
    const [pidUid, reserved] = (JSON.parse(output.split("\n")[0]) as { uids: number[] }).uids as [number, number];
    assert.equal(pidUid, child.pid);
    assert.ok(isReserved(reserved));
    assert.throws(
      () => new DummyNet({ uid: reserved }),
      (error: unknown) => {
        assert.ok(error instanceof InvalidArgumentError);
        assert.match(
          error.message,
          new RegExp(
            `Invalid uid: ${reserved} \\(number\\) is held by a live owner: pid ${child.pid}, .*Omit uid to get a free one`,
          ),
        );
        return true;
      },
    );
    const live = await reapDeadOwners({ only: [reserved] });
    assert.deepEqual(
      live.spared.map((owner) => owner.uid),
      [reserved],
      "a live holder of a reserved uid is spared",
    );
    child.kill("SIGKILL");
    await once(child, "exit");
    const dead = await reapDeadOwners({ only: [reserved, pidUid] });
    assert.deepEqual(
      dead.reaped.find((owner) => owner.uid === reserved)?.objects.map((object) => object.name),
      [`d-${(await import("../names/base58.js")).intToBase58(reserved)}-held`],
    );
    assertNothingLeft(reserved);
    const reuse = new DummyNet({ uid: reserved });
    assert.equal(reuse.uid, reserved, "free once its holder is dead");
    await reuse.cleanup();
  } finally {
    clearTimeout(bound);
    child.kill("SIGKILL");
  }
});

test("an owner whose process is a zombie (exited, not yet reaped by its parent) is dead", async () => {
  // The shell backgrounds a short sleep, then becomes a long sleep that never waits for it: a zombie.
  const parent = spawn("sh", ["-c", "sleep 0.05 & echo $!; exec sleep 20"], {
    stdio: ["ignore", "pipe", "ignore"],
    timeout: 30_000,
  });
  try {
    const [chunk] = (await once(parent.stdout, "data")) as [Buffer];
    const zombie = Number(chunk.toString().trim());
    const record: OwnerRecord = {
      uid: zombie,
      pid: zombie,
      startTime: processStartTime(zombie) ?? 0,
      command: "sleep 0.05",
      createdAt: new Date().toISOString(),
    };
    assert.equal(ownerState(zombie, record), "alive", "the sleep is still running");
    const deadline = Date.now() + 10_000;
    while (!/\) Z /.test(readFileSync(`/proc/${zombie}/stat`, "utf8"))) {
      assert.ok(Date.now() < deadline, "the backgrounded sleep never became a zombie");
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal(processStartTime(zombie), undefined);
    assert.equal(ownerState(zombie, record), "dead");
    assert.equal(ownerState(zombie, undefined), "dead");
  } finally {
    parent.kill("SIGKILL");
  }
});

test("a network recorded in its owner's record is listed with it, judged by its pid, and goes when the uid is given back", async () => {
  const uid = claimReservedUid();
  try {
    const network = {
      name: "recorded",
      file: "/tmp/recorded.yaml",
      hosts: { a: `d-x-a` },
      interfaces: { "a:eth0": "d-x-eth0" },
    };
    assert.equal(recordNetwork(uid, network), ownerRecordPath(uid));
    recordNetwork(uid, {
      ...network,
      programs: [{ name: "p", host: "a", pid: process.pid, startTime: processStartTime(process.pid)! }],
    });
    const record = (await readOwnerRecords()).get(uid);
    assert.ok(record);
    assert.equal(record.pid, process.pid);
    assert.equal(record.startTime, processStartTime(process.pid));
    assert.deepEqual(record.network, {
      ...network,
      programs: [{ name: "p", host: "a", pid: process.pid, startTime: processStartTime(process.pid) }],
    });
    assert.equal(ownerState(uid, record), "alive");
    // Recording a network of a uid this process does not hold is refused (and writes nothing).
    const foreign = RESERVED_UID_RANGE.first - 1;
    assert.throws(
      () => recordNetwork(foreign, network),
      /cannot record network recorded: this process holds no record of uid \d+/,
    );
    assert.ok(!existsSync(ownerRecordPath(foreign)));
  } finally {
    releaseUid(uid);
  }
  assert.ok(!existsSync(ownerRecordPath(uid)), "giving the uid back removed the record, network and all");
});
