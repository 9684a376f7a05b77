/**
 * The per-user records: written privately, found while the holder runs,
 * stale ones dropped, a directory someone else made refused.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { InvalidArgumentError } from "../errors.js";
import { processStartTime } from "../system/proc.js";
import {
  findRootlessRecord,
  listRootlessRecords,
  removeRootlessRecord,
  rootlessRecordDirectory,
  writeRootlessRecord,
} from "./record.js";

function scratch(): { dir: string; remove: () => void } {
  const base = mkdtempSync(join(tmpdir(), "dummynet-records-"));
  return {
    dir: join(base, "dummynet"),
    remove: () => {
      rmSync(base, { recursive: true, force: true });
    },
  };
}

describe("rootless records", () => {
  test("the directory: DUMMYNET_ROOTLESS_DIR, else under XDG_RUNTIME_DIR, else /tmp/dummynet-<uid>", () => {
    assert.equal(rootlessRecordDirectory({ DUMMYNET_ROOTLESS_DIR: "/x/y", XDG_RUNTIME_DIR: "/run/user/7" }), "/x/y");
    assert.equal(rootlessRecordDirectory({ XDG_RUNTIME_DIR: "/run/user/7" }), "/run/user/7/dummynet");
    assert.equal(rootlessRecordDirectory({}), join(tmpdir(), `dummynet-${String(process.geteuid?.())}`));
  });

  test("a record of a running holder is found, private to the user, and listed; removed, it is gone", async () => {
    const { dir, remove } = scratch();
    const holder = spawn("sleep", ["30"]);
    try {
      await new Promise((done) => holder.once("spawn", done));
      const ref = { pid: holder.pid!, startTime: processStartTime(holder.pid!)! };
      const path = writeRootlessRecord("net-1", ref, dir);
      assert.equal(statSync(dir).mode & 0o777, 0o700);
      assert.equal(statSync(path).mode & 0o777, 0o600);
      const record = findRootlessRecord("net-1", dir);
      assert.deepEqual(record?.holder, ref);
      assert.equal(record.owner.pid, process.pid);
      assert.deepEqual(
        listRootlessRecords(dir).map((r) => r.name),
        ["net-1"],
      );
      removeRootlessRecord("net-1", dir);
      assert.equal(findRootlessRecord("net-1", dir), undefined);
    } finally {
      holder.kill("SIGKILL");
      remove();
    }
  });

  test("a record whose holder has ended, or whose pid now belongs to another process, is stale: dropped, not followed", async () => {
    const { dir, remove } = scratch();
    try {
      const ended = spawn("true");
      await new Promise((done) => ended.once("close", done));
      writeRootlessRecord("gone", { pid: ended.pid!, startTime: 1 }, dir);
      writeRootlessRecord("reused", { pid: process.pid, startTime: processStartTime(process.pid)! + 1 }, dir);
      assert.equal(findRootlessRecord("gone", dir), undefined);
      assert.deepEqual(listRootlessRecords(dir), []);
      assert.throws(() => readFileSync(join(dir, "gone.json")), /ENOENT/, "the stale record was removed");
    } finally {
      remove();
    }
  });

  test("a directory of another user, or open to others, is refused with what to do", () => {
    const { dir, remove } = scratch();
    try {
      mkdirSync(dir, { mode: 0o755 });
      chmodSync(dir, 0o755);
      assert.throws(
        () => writeRootlessRecord("n", { pid: process.pid, startTime: 1 }, dir),
        /mode 0700.*mode 0755.*DUMMYNET_ROOTLESS_DIR/s,
      );
      chmodSync(dir, 0o700);
      chownSync(dir, 65534, 65534);
      assert.throws(
        () => writeRootlessRecord("n", { pid: process.pid, startTime: 1 }, dir),
        /owned by uid 0.*of uid 65534.*someone else made it first/s,
      );
      writeFileSync(join(dir, "bad.json"), "{}");
      assert.throws(() => findRootlessRecord("bad", dir), /not a rootless record of this version/);
    } finally {
      remove();
    }
  });

  test("names that could leave the directory are refused before anything is written", () => {
    const { dir, remove } = scratch();
    try {
      for (const name of ["../x", "a/b", "", ".".repeat(101), "with space"]) {
        assert.throws(() => writeRootlessRecord(name, { pid: process.pid, startTime: 1 }, dir), InvalidArgumentError);
      }
      assert.throws(() => statSync(dir), /ENOENT/, "nothing was made");
    } finally {
      remove();
    }
  });
});
