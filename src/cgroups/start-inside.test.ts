/**
 * `run`/`runAsync` with `{ cgroup }` on the real kernel: the command starts
 * inside the cgroup, so what it forks is inside from its first instruction;
 * shell lines and argument arrays, through sudo, in a network namespace and
 * through DummyNet; a bad option is refused before anything starts; the
 * wrapper refuses to run the command when it cannot enter the cgroup.
 */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CGroup, argvInsideCgroup, detectCgroupLayout, ENTER_CGROUP_FAILED } from "./index.js";
import { InvalidArgumentError } from "../errors.js";
import { CGroupScoped } from "../names/scoped.js";
import { DummyNet } from "../network/dummy-net.js";
import { HostShell } from "../shell/host-shell.js";
import { NamespaceShell } from "../shell/namespace-shell.js";
import type { Shell } from "../shell/shell.js";
import { assertNothingLeft } from "../testing/leftovers.js";
import { finishedWithin, stdoutMatch } from "./enforcement.test-helpers.js";

const uid = process.pid;
const layout = await detectCgroupLayout();
const scopedName = (name: string) => new CGroupScoped(name, uid).scoped;
const scratch = mkdtempSync(join(tmpdir(), "dummynet-start-inside-"));

after(() => {
  rmSync(scratch, { recursive: true, force: true });
  assertNothingLeft(uid);
});

/**
 * A shell line whose shell forks `cat` (the `; true` keeps it from exec'ing):
 * cat prints the cgroups of the forked process, then the shell prints its own pid.
 */
const FORKED_CGROUPS = "cat /proc/self/cgroup; echo shell $$";

/** The lines of /proc/<pid>/cgroup text that place a process in `cgroup` (one on v2, cpu and memory on v1). */
function linesNaming(text: string, cgroup: CGroup): string[] {
  return text.split("\n").filter((line) => line.endsWith(`:/${cgroup.name}`));
}

function assertForkedInside(stdout: string, cgroup: CGroup): void {
  assert.equal(
    linesNaming(stdout, cgroup).length,
    cgroup.paths.length,
    `the forked cat ran inside ${cgroup.name}:\n${stdout}`,
  );
}

/** Every way to pass a bad `cgroup` and the rule the error states. */
async function assertRefused(shell: Pick<Shell, "run" | "runAsync">, cgroup: unknown, rule: RegExp): Promise<void> {
  const marker = join(scratch, "must-not-exist");
  for (const start of [
    () => shell.run(["touch", marker], { cgroup: cgroup as CGroup }),
    () => shell.runAsync(`touch ${marker}`, { cgroup: cgroup as CGroup }),
  ]) {
    await assert.rejects(start(), (error: Error) => {
      assert.ok(error instanceof InvalidArgumentError, String(error));
      assert.equal(error.argument, "cgroup");
      assert.match(error.message, rule);
      return true;
    });
  }
  assert.equal(existsSync(marker), false, "nothing was started");
}

describe("run and runAsync with { cgroup } start the command inside", { timeout: 300_000 }, () => {
  test("a shell line and an argument array on the host: what they fork is inside; argv stays untouched", async () => {
    const cgroup = await CGroup.create({
      name: scopedName("start_host"),
      cpuLimit: 0.5,
      memoryLimit: 256 * 1024 * 1024,
      layout,
    });
    const shell = new HostShell();
    try {
      const line = await shell.run(`${FORKED_CGROUPS}; true`, { cgroup });
      assertForkedInside(line.stdout, cgroup);
      assert.equal(line.cmd, `${FORKED_CGROUPS}; true`, "RunInfo keeps the user's command");

      const array = await shell.run(["sh", "-c", `${FORKED_CGROUPS}; true`], { cgroup });
      assertForkedInside(array.stdout, cgroup);
      // Elements of an array are never interpreted; a "--" of the user's is just an argument.
      assert.equal(
        (await shell.run(["echo", "$(id -u)", "; ls", "--", "x"], { cgroup })).stdout,
        "$(id -u) ; ls -- x\n",
      );

      const polled = await shell.pollUntil(`${FORKED_CGROUPS}; true`, {
        matchStdout: "shell *",
        timeout: 10_000,
        cgroup,
      });
      assertForkedInside(polled.stdout, cgroup);

      // A job started inside stays inside with what it forks, and hardClean ends it (it was born inside).
      const job = await shell.runAsync("echo started; sleep 1000; true", { cgroup });
      await stdoutMatch(job, /^started$/mu, 10_000);
      assert.deepEqual(
        linesNaming(readFileSync(`/proc/${job.pid}/cgroup`, "utf8"), cgroup).length,
        cgroup.paths.length,
      );
      assert.equal((await cgroup.pids()).length, 2, "the shell and its sleep");
      await cgroup.hardClean();
      await finishedWithin(job, 10_000);
      assert.equal(job.signal, "SIGKILL");
    } finally {
      await shell.processMonitor.stop({ validateState: false });
      await cgroup.hardClean();
    }
    assertNothingLeft(uid);
  });

  test("through sudo (a stand-in sudo on PATH, as this machine may have none): the wrapper runs after sudo", async () => {
    const bin = join(scratch, "bin");
    writeFileSync(join(scratch, "sudo-calls"), "");
    // Drops `-n --preserve-env --` as sudo would, records the call, and runs the rest.
    const fakeSudo = `#!/bin/sh\necho "$*" >> '${join(scratch, "sudo-calls")}'\n[ "$1" = -n ] && shift\n[ "$1" = --preserve-env ] && shift\n[ "$1" = -- ] && shift\nexec "$@"\n`;
    mkdirSync(bin);
    writeFileSync(join(bin, "sudo"), fakeSudo);
    chmodSync(join(bin, "sudo"), 0o755);
    const path = process.env.PATH;
    process.env.PATH = `${bin}:${path}`;
    const cgroup = await CGroup.create({ name: scopedName("start_sudo"), cpuLimit: 0.5, layout });
    const shell = new HostShell({ sudo: true });
    try {
      const info = await shell.run(`${FORKED_CGROUPS}; true`, { cgroup });
      assertForkedInside(info.stdout, cgroup);
      const calls = readFileSync(join(scratch, "sudo-calls"), "utf8");
      assert.match(
        calls,
        /^-n --preserve-env -- \/bin\/sh -c .* dummynet-enter-cgroup \/sys\/fs\/cgroup\/.*cgroup\.procs -- \/bin\/sh -c cat/mu,
      );
    } finally {
      process.env.PATH = path;
      await shell.processMonitor.stop({ validateState: false });
      await cgroup.hardClean();
    }
    assertNothingLeft(uid);
  });

  test("in a network namespace (NamespaceShell and a namespaced DummyNet): inside the cgroup and the namespace", async () => {
    const net = new DummyNet({ uid });
    try {
      const ns = await net.netnsAdd("inside");
      const cgroup = await net.addCgroup("start_ns", { cpuLimit: 0.5 });
      const netnsInode = `net:[${statSync(`/run/netns/${ns.namespace.scoped}`).ino}]`;
      const line = `${FORKED_CGROUPS}; readlink /proc/self/ns/net; true`;

      const viaNet = await ns.run(line, { cgroup });
      assertForkedInside(viaNet.stdout, cgroup);
      assert.match(
        viaNet.stdout,
        new RegExp(`^${netnsInode.replace(/[[\]]/gu, "\\$&")}$`, "mu"),
        "the forked readlink ran in the namespace",
      );

      const viaShell = await new NamespaceShell(ns.namespace.scoped, new HostShell()).run(line, { cgroup });
      assertForkedInside(viaShell.stdout, cgroup);

      const job = await ns.runAsync(["sh", "-c", "echo started; exec sleep 1000"], { cgroup });
      await stdoutMatch(job, /^started$/mu, 10_000);
      assert.equal(readlinkSync(`/proc/${job.pid}/ns/net`), netnsInode);
      assert.equal(linesNaming(readFileSync(`/proc/${job.pid}/cgroup`, "utf8"), cgroup).length, cgroup.paths.length);
    } finally {
      await net.cleanup();
    }
    assertNothingLeft(uid);
  });
});

describe("a bad { cgroup } is refused before anything starts", { timeout: 300_000 }, () => {
  test("not a CGroup: an object, a name, a CGroupScoped, null", async () => {
    const shell = new HostShell();
    for (const bad of [{}, scopedName("x"), new CGroupScoped("x", uid), null]) {
      await assertRefused(shell, bad, /must be a CGroup/u);
    }
    assert.deepEqual(shell.processMonitor.processes, []);
  });

  test("a cgroup that hardClean() removed, or whose directory went away: on HostShell, NamespaceShell and DummyNet", async () => {
    const net = new DummyNet({ uid });
    try {
      const ns = await net.netnsAdd("refused");
      const removed = await CGroup.create({ name: scopedName("removed"), layout });
      await removed.hardClean();
      const vanished = await CGroup.create({ name: scopedName("vanished"), layout });
      for (const dir of vanished.paths) rmdirSync(dir);
      for (const shell of [new HostShell(), new NamespaceShell(ns.namespace.scoped, new HostShell()), net, ns]) {
        await assertRefused(shell, removed, /was removed by hardClean\(\)/u);
        await assertRefused(shell, vanished, /no longer exists on the system/u);
      }
      await vanished.hardClean();
    } finally {
      await net.cleanup();
    }
    assertNothingLeft(uid);
  });

  test("the wrapper does not run the command when it cannot enter the cgroup, and creates no file", async () => {
    // Past validation (a cgroup removed between the check and the start): the wrapper itself must refuse.
    const cgroup = await CGroup.create({ name: scopedName("gone"), layout });
    await cgroup.hardClean();
    const argv = argvInsideCgroup(cgroup, ["echo", "the command ran"]);
    const result = spawnSync(argv[0], argv.slice(1), { encoding: "utf8", timeout: 10_000 });
    assert.equal(result.status, ENTER_CGROUP_FAILED, result.stderr);
    assert.equal(result.stdout, "");
    assert.match(
      result.stderr,
      /dummynet-enter-cgroup: could not move process \d+ into the cgroup by writing \/sys\/fs\/cgroup\/.*cgroup\.procs; the command did not run/u,
    );
    for (const dir of cgroup.paths) assert.equal(existsSync(dir), false, `no ${dir} was made`);
    assertNothingLeft(uid);
  });
});
