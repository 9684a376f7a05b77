// requires: cgroup2
/**
 * cgroup v2, proven in the kernel lab (a user-mode Linux guest with cgroup2
 * mounted at /sys/fs/cgroup and +cpu +memory +pids enabled): cpu.max holds a
 * busy loop to its share, memory.max OOM-kills an allocation over the limit,
 * controllers missing in a parent's subtree_control are enabled, and nothing
 * remains. The guest is slow (Node starts in about a second, one CPU), so
 * the suite is small and its bounds generous.
 */
import { test, describe, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { CGroup, detectCgroupLayout, listCgroups, type CgroupV2Layout } from "./index.js";
import { CGroupScoped } from "../names/scoped.js";
import { assertNothingLeft } from "../test-support/leftovers.js";
import { cpuShares, spawnAllocator, spawnBusyLoop } from "./enforcement.test-helpers.js";

const uid = process.pid;
const MiB = 1024 * 1024;
const scopedName = (name: string) => new CGroupScoped(name, uid).scoped;
const detected = await detectCgroupLayout();
assert.equal(detected.version, 2, "this file proves cgroup v2: run it in the kernel lab, where cgroup2 is mounted at /sys/fs/cgroup");
const layout = detected as CgroupV2Layout;

function read(dir: string, file: string): string {
  return readFileSync(join(dir, file), "utf8").trim();
}

after(() => assertNothingLeft(uid));

describe("cgroup v2 (lab)", () => {
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
      t.diagnostic(`CPU share over 2 s: limited to 0.2 -> ${limitedShare!.toFixed(3)}, unlimited -> ${unlimitedShare!.toFixed(3)}`);
      assert.ok(limitedShare! > 0.03 && limitedShare! < 0.45, `limited busy loop used ${limitedShare} of a CPU; expected about 0.2`);
      // The guest may have a single CPU, shared with the limited loop and this test.
      assert.ok(unlimitedShare! > limitedShare!, `unlimited busy loop used ${unlimitedShare}, limited ${limitedShare}`);
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
      assert.deepEqual(await greedy.exited, { code: null, signal: "SIGKILL" }, "256 MiB over a 96 MiB limit is OOM-killed");
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
      const nested: CgroupV2Layout = { version: 2, root: layout.root, parent: parent.path };
      const child = await CGroup.create({ name: scopedName("v2_child"), cpuLimit: 0.3, memoryLimit: 32 * MiB, layout: nested });
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
