// requires: cgroup2
/**
 * cgroup v2, proven in the kernel lab (a guest with cgroup2 mounted at
 * /sys/fs/cgroup and +cpu +memory +pids enabled): cpu.max holds a busy loop
 * to its share, memory.max OOM-kills an allocation over the limit,
 * controllers missing in a parent's subtree_control are enabled, the limits
 * hold for what a shell line forks (moved by addPid, or started inside with
 * runAsync's { cgroup }), and nothing remains. The guest is slow (Node starts
 * in 0.3 to 1 s, one or two CPUs), so the suite is small and its bounds
 * generous; nothing here depends on the guest's speed.
 */
import { test, describe, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CGroup, detectCgroupLayout, listCgroups, type CGroupV2Layout } from "./index.js";
import { CGroupScoped } from "../names/scoped.js";
import { descendantsByChildrenFiles, descendantsByScan } from "../system/process-tree.js";
import { HostShell } from "../shell/host-shell.js";
import { assertNothingLeft } from "../testing/leftovers.js";
import {
  cpuScenario,
  cpuShares,
  isInside,
  memoryScenario,
  PLACEMENTS,
  spawnAllocator,
  spawnBusyLoop,
  stdoutMatch,
} from "./enforcement.test-helpers.js";

const uid = process.pid;
const MiB = 1024 * 1024;
const scopedName = (name: string) => new CGroupScoped(name, uid).scoped;
const detected = await detectCgroupLayout();
assert.equal(
  detected.version,
  2,
  "this file proves cgroup v2: run it in the kernel lab, where cgroup2 is mounted at /sys/fs/cgroup",
);
const layout = detected;

function read(dir: string, file: string): string {
  return readFileSync(join(dir, file), "utf8").trim();
}

after(() => {
  assertNothingLeft(uid);
});

describe("cgroup v2 (lab)", { timeout: 1_200_000 }, () => {
  test("create writes cpu.max, memory.max and memory.swap.max; hardClean removes it", async () => {
    const name = scopedName("v2_files");
    const cgroup = await CGroup.create({ name, cpuLimit: 0.5, memoryLimit: 64 * MiB, layout });
    try {
      assert.equal(cgroup.path, join(layout.parent, name));
      assert.deepEqual(cgroup.paths, [cgroup.path]);
      assert.equal(read(cgroup.path, "cpu.max"), "50000 100000");
      assert.equal(read(cgroup.path, "memory.max"), String(64 * MiB));
      if (existsSync(join(cgroup.path, "memory.swap.max"))) assert.equal(read(cgroup.path, "memory.swap.max"), "0");
      assert.deepEqual((await listCgroups(uid, layout)).map(String), [name]);
      await cgroup.setLimit({ cpu: null, memory: null });
      assert.equal(read(cgroup.path, "cpu.max"), "max 100000");
      assert.equal(read(cgroup.path, "memory.max"), "max");
    } finally {
      await cgroup.hardClean();
    }
    assert.equal(existsSync(cgroup.path), false);
    assert.deepEqual(await listCgroups(uid, layout), []);
    assertNothingLeft(uid);
  });

  test("cpu.max holds a busy loop to its share", async (t) => {
    const cgroup = await CGroup.create({ name: scopedName("v2_cpu"), cpuLimit: 0.2, layout });
    const limited = spawnBusyLoop();
    const unlimited = spawnBusyLoop();
    try {
      await cgroup.addPid(limited.pid);
      const [limitedShare, unlimitedShare] = await cpuShares([limited.pid, unlimited.pid], 2000);
      t.diagnostic(
        `CPU share over 2 s: limited to 0.2 -> ${limitedShare.toFixed(3)}, unlimited -> ${unlimitedShare.toFixed(3)}`,
      );
      assert.ok(
        limitedShare > 0.03 && limitedShare < 0.45,
        `limited busy loop used ${limitedShare} of a CPU; expected about 0.2`,
      );
      // The guest may have a single CPU, shared with the limited loop and this test.
      assert.ok(unlimitedShare > limitedShare, `unlimited busy loop used ${unlimitedShare}, limited ${limitedShare}`);
      assert.match(read(cgroup.path, "cpu.stat"), /nr_throttled [1-9]/, "the kernel throttled the cgroup");
    } finally {
      await Promise.all([limited.stop(), unlimited.stop()]);
      await cgroup.hardClean();
    }
    assertNothingLeft(uid);
  });

  test("memory.max OOM-kills an allocation over the limit, one under it survives", async () => {
    const cgroup = await CGroup.create({ name: scopedName("v2_memory"), memoryLimit: 96 * MiB, layout });
    try {
      const modest = spawnAllocator(16);
      await cgroup.addPid(modest.pid);
      modest.go();
      assert.deepEqual(await modest.exited, { code: 0, signal: null }, "16 MiB under a 96 MiB limit survives");

      const greedy = spawnAllocator(256);
      await cgroup.addPid(greedy.pid);
      greedy.go();
      assert.deepEqual(
        await greedy.exited,
        { code: null, signal: "SIGKILL" },
        "256 MiB over a 96 MiB limit is OOM-killed",
      );
      assert.match(read(cgroup.path, "memory.events"), /oom_kill [1-9]/);
    } finally {
      await cgroup.hardClean();
    }
    assertNothingLeft(uid);
  });

  test("a parent without cpu and memory in its subtree_control gets them enabled", async () => {
    // A nested parent starts with an empty subtree_control, like a fresh delegated subtree.
    const parent = await CGroup.create({ name: scopedName("v2_parent"), layout });
    try {
      assert.equal(read(parent.path, "cgroup.subtree_control"), "");
      const nested: CGroupV2Layout = { version: 2, root: layout.root, parent: parent.path };
      const child = await CGroup.create({
        name: scopedName("v2_child"),
        cpuLimit: 0.3,
        memoryLimit: 32 * MiB,
        layout: nested,
      });
      try {
        assert.deepEqual(read(parent.path, "cgroup.subtree_control").split(" ").sort(), ["cpu", "memory"]);
        assert.equal(read(child.path, "cpu.max"), "30000 100000");
        assert.equal(read(child.path, "memory.max"), String(32 * MiB));
      } finally {
        await child.hardClean();
      }
      assert.equal(existsSync(child.path), false);
    } finally {
      await parent.hardClean();
    }
    assertNothingLeft(uid);
  });
});

describe("cgroup v2 (lab): limits hold for what a shell line forks", { timeout: 1_200_000 }, () => {
  const scratch = mkdtempSync(join(tmpdir(), "dummynet-cgroup-go-"));
  after(() => {
    rmSync(scratch, { recursive: true, force: true });
  });
  /** Milliseconds for a Node.js child to start, and to end, in the slow guest. */
  const patienceMs = 60_000;

  test("addPid moves a shell line's whole tree, found through /proc/<pid>/task/*/children as by a scan", async () => {
    const cgroup = await CGroup.create({ name: scopedName("v2_tree"), layout });
    const shell = new HostShell();
    try {
      const line = await shell.runAsync("sh -c 'sleep 1000 & sleep 1000 & echo started; wait'; true");
      await stdoutMatch(line, /^started$/mu, patienceMs);
      const scanned = await descendantsByScan(line.pid!);
      assert.equal(scanned.length, 3, `a shell and two sleepers below the line's shell: ${scanned.join(" ")}`);
      if (existsSync("/proc/thread-self/children")) {
        assert.deepEqual([...(await descendantsByChildrenFiles(line.pid!))].sort(), [...scanned].sort());
      }
      await cgroup.addPid(line.pid!);
      assert.deepEqual(
        await cgroup.pids(),
        [line.pid!, ...scanned].sort((a, b) => a - b),
      );
      for (const pid of [line.pid!, ...scanned]) assert.ok(await isInside(pid, cgroup), `${pid} is inside`);
    } finally {
      await shell.processMonitor.stop({ validateState: false });
      await cgroup.hardClean();
    }
    assertNothingLeft(uid);
  });

  for (const placement of PLACEMENTS) {
    test(`CPU, ${placement}: the forked busy child does at most a third of the unconstrained one's work`, async (t) => {
      const figures = await cpuScenario(
        { layout, name: scopedName("v2_line_cpu"), placement, scratch, patienceMs },
        2000,
      );
      t.diagnostic(
        `work in 2 s: limited to 0.2 CPU ${figures.limited}, unconstrained ${figures.unconstrained}, ` +
          `ratio ${figures.ratio.toFixed(2)}, nr_throttled ${figures.throttled}`,
      );
      assert.ok(
        figures.ratio >= 3,
        `the unconstrained child did ${figures.ratio.toFixed(2)} times the limited one's work; expected at least 3`,
      );
      assert.ok(figures.throttled > 0, "the kernel throttled the cgroup");
      assertNothingLeft(uid);
    });

    test(`memory, ${placement}: the forked hog is OOM-killed under 96 MiB and survives without`, async (t) => {
      const outcome = await memoryScenario(
        { layout, name: scopedName("v2_line_memory"), placement, scratch, patienceMs },
        96,
        256,
      );
      t.diagnostic(
        `limited: ${JSON.stringify(outcome.limitedStdout)}, unconstrained: ${JSON.stringify(outcome.unconstrainedStdout)}, oom_kill ${outcome.oomKills}`,
      );
      assert.equal(
        outcome.limitedStdout,
        "exit 137\n",
        "the child was SIGKILLed (128 + 9) before it could allocate 256 MiB",
      );
      assert.equal(outcome.unconstrainedStdout, "allocated 256\nexit 0\n");
      assert.ok(outcome.oomKills > 0, "the kernel counted an OOM kill in memory.events");
      assertNothingLeft(uid);
    });
  }
});
