/**
 * A fresh machine has no iptables and no ping (and may lack nsenter and
 * modprobe): everything that only lists or removes must still work there, a
 * call that needs a missing program must say which package to install, and the
 * tests' "nothing left" check must never pass without having looked.
 * Children run with a PATH that lacks those programs; this process (with the
 * full PATH, iptables included) checks the machine afterwards.
 */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { REPO } from "../cli/cli.test-helpers.js";
import { MissingProgramError } from "../errors.js";
import { NamespaceScoped } from "../names/scoped.js";
import { SpawnRunner } from "../system/spawn-runner.js";
import { assertNothingLeft, leftovers } from "../testing/leftovers.js";
import { programPath, runBounded, type ProgramPath } from "../test-support/program-path.js";

const FIXTURES = fileURLToPath(new URL("../test-support/fixtures/", import.meta.url));
const MAIN = fileURLToPath(new URL("../cli/main.ts", import.meta.url));
const CHILD_TIMEOUT_MS = 120_000;

/** What a fresh machine lacks for the owner; the cleaner lacks even more. */
const freshMachine = programPath(["iptables", "ping"]);
const bareMachine = programPath(["iptables", "ping", "nsenter", "modprobe"]);
after(() => {
  freshMachine.remove();
  bareMachine.remove();
});

const IPTABLES_SKIPPED = {
  step: "iptables rules",
  why: "iptables is not installed (package iptables), so there can be none of ours",
};

/**
 * This machine is shared: any test's reapDeadOwners() would remove a killed
 * owner's objects before the step under test could. So the owner's uid is the
 * pid of a live guard process, and the owner records live in a state
 * directory of this test: elsewhere the uid looks alive (no record, its pid
 * runs), while the children given that directory see the record of a dead owner.
 */
const stateDirectory = mkdtempSync(join(tmpdir(), "dummynet-state-"));
after(() => {
  rmSync(stateDirectory, { recursive: true, force: true });
});

interface Owner {
  process: ChildProcess;
  guard: ChildProcess;
  uid: number;
}

/** Starts the owner fixture (3 hosts in a chain, a veth pair and a bridge on the host, a cgroup holding a daemon) and waits until it is built. */
async function startBuiltOwner(path: ProgramPath): Promise<Owner> {
  const guard = spawn("sleep", [String(CHILD_TIMEOUT_MS / 1000)], { stdio: "ignore" });
  const child = spawn(process.execPath, ["--import", "tsx", join(FIXTURES, "owner-network.ts"), String(guard.pid)], {
    env: { ...process.env, PATH: path.path, DUMMYNET_STATE_DIR: stateDirectory },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.setEncoding("utf8").on("data", (text: string) => (output += text));
  child.stderr.setEncoding("utf8").on("data", (text: string) => (output += text));
  const deadline = Date.now() + CHILD_TIMEOUT_MS;
  while (!output.includes(`built ${guard.pid}`)) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill("SIGKILL");
      guard.kill("SIGKILL");
      throw new Error(
        `the owner fixture ${child.exitCode !== null ? `exited (${child.exitCode})` : `did not finish within ${CHILD_TIMEOUT_MS} ms`}:\n${output}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { process: child, guard, uid: guard.pid! };
}

/** Ends the owner (if a test failed before it did) and its guard. */
async function stopOwner(owner: Owner): Promise<void> {
  for (const child of [owner.process, owner.guard]) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGKILL");
      await once(child, "exit");
    }
  }
}

async function sigkill(owner: Owner): Promise<void> {
  owner.process.kill("SIGKILL");
  if (owner.process.exitCode === null && owner.process.signalCode === null) await once(owner.process, "exit");
  assert.equal(owner.process.signalCode, "SIGKILL");
}

/** The kinds of objects found, counted: the owner must have left some of each kind the test is about. */
function kindsLeft(uid: number): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const entry of leftovers(uid)) {
    const kind = entry.split(" ")[0];
    counts[kind] = (counts[kind] ?? 0) + 1;
  }
  return counts;
}

function cli(args: readonly string[], path: ProgramPath) {
  return runBounded(
    [process.execPath, "--import", "tsx", MAIN, ...args],
    { PATH: path.path, DUMMYNET_STATE_DIR: stateDirectory },
    CHILD_TIMEOUT_MS,
    REPO,
  );
}

describe("without iptables, ping, nsenter and modprobe", { concurrency: false, timeout: 600_000 }, () => {
  test("a SIGKILLed owner: `dummynet ls --json` reports it and the skipped step, `dummynet cleanup` removes everything", async () => {
    const owner = await startBuiltOwner(freshMachine);
    try {
      await sigkill(owner);
      // 3 namespaces; hosta, hostb, br0 on the host; the cgroup in the cpu hierarchy (and the daemon in it).
      const left = kindsLeft(owner.uid);
      assert.ok(
        left["netns"] === 3 && left["link"] === 3 && (left["cgroup"] ?? 0) >= 1,
        `the killed owner left: ${JSON.stringify(left)}`,
      );
      const daemon = daemonOf(owner.uid);
      assert.ok(daemon !== undefined && processAlive(daemon), "the killed owner's daemon still runs in its namespace");

      const ls = await cli(["ls", "--json"], bareMachine);
      assert.equal(ls.code, 0, ls.stderr);
      const listed = JSON.parse(ls.stdout) as {
        owners: { uid: number; alive: boolean; objects: { kind: string }[] }[];
        skipped: unknown[];
      };
      assert.deepEqual(listed.skipped, [IPTABLES_SKIPPED]);
      const entry = listed.owners.find((o) => o.uid === owner.uid);
      assert.equal(entry?.alive, false, ls.stdout);
      assert.equal(entry.objects.length, leftovers(owner.uid).length, "ls lists every object the owner left");

      const text = await cli(["ls"], bareMachine);
      assert.equal(text.code, 0, text.stderr);
      assert.equal(text.stdout.match(/not listed: iptables rules: iptables is not installed/g)?.length, 1, text.stdout);

      const cleanup = await cli(["cleanup", String(owner.uid), "--json"], bareMachine);
      assert.equal(cleanup.code, 0, cleanup.stderr);
      const result = JSON.parse(cleanup.stdout) as {
        removed: { uid: number }[];
        failures: unknown[];
        skipped: unknown[];
      };
      assert.deepEqual(
        result.removed.map((r) => r.uid),
        [owner.uid],
      );
      assert.deepEqual(result.failures, []);
      assert.deepEqual(result.skipped, [IPTABLES_SKIPPED]);
      assert.equal(processAlive(daemon), false, `the daemon ${daemon} in the dead owner's namespace was killed`);
    } finally {
      await stopOwner(owner);
    }
    assertNothingLeft(owner.uid);
  });

  test("a SIGKILLed owner: reapDeadOwners() removes its namespaces (and the daemon inside), links and cgroup", async () => {
    const owner = await startBuiltOwner(freshMachine);
    try {
      await sigkill(owner);
      const daemon = daemonOf(owner.uid);
      assert.ok(daemon !== undefined && processAlive(daemon), "the killed owner's daemon still runs in its namespace");
      const before = leftovers(owner.uid).length;
      const reap = await runBounded(
        [process.execPath, "--import", "tsx", join(FIXTURES, "reap-owners.ts"), String(owner.uid)],
        { PATH: bareMachine.path, DUMMYNET_STATE_DIR: stateDirectory },
        CHILD_TIMEOUT_MS,
      );
      assert.equal(reap.code, 0, reap.stderr);
      const result = JSON.parse(reap.stdout) as {
        reaped: { uid: number; objects: unknown[] }[];
        failures: unknown[];
        skipped: unknown[];
      };
      assert.deepEqual(result.failures, []);
      assert.deepEqual(result.skipped, [IPTABLES_SKIPPED]);
      assert.deepEqual(
        result.reaped.map((r) => r.uid),
        [owner.uid],
      );
      assert.equal(result.reaped[0].objects.length, before);
      assert.equal(processAlive(daemon), false, `the daemon ${daemon} in the dead owner's namespace was killed`);
    } finally {
      await stopOwner(owner);
    }
    assertNothingLeft(owner.uid);
  });

  test("a live network: nat() and forward() reject naming the iptables package before any rule exists, cleanup() removes the rest", async () => {
    const child = spawn(process.execPath, ["--import", "tsx", join(FIXTURES, "network-without-iptables.ts")], {
      env: { ...process.env, PATH: bareMachine.path },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (text: string) => (stdout += text));
    child.stderr.setEncoding("utf8").on("data", (text: string) => (stderr += text));
    const killer = setTimeout(() => child.kill("SIGKILL"), CHILD_TIMEOUT_MS);
    const lines = () =>
      stdout
        .split("\n")
        .filter(Boolean)
        .map(
          (line) =>
            JSON.parse(line) as Record<string, { refused: boolean; name: string; message: string } | number | string>,
        );
    const waitForLine = async (count: number) => {
      while (lines().length < count) {
        if (child.exitCode !== null || child.signalCode !== null)
          throw new Error(
            `the network fixture ended (${child.exitCode ?? child.signalCode}) early:\n${stdout}\n${stderr}`,
          );
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    };
    let uid: number | undefined;
    try {
      await waitForLine(1);
      uid = lines()[0]["uid"] as number;
      await waitForLine(2);
      const refusals = lines()[1] as Record<string, { refused: boolean; name: string; message: string }>;
      for (const call of ["nat", "forward"]) {
        const refusal = refusals[call];
        assert.equal(refusal.refused, true, `${call}() without iptables must reject`);
        assert.equal(refusal.name, "MissingProgramError");
        assert.match(refusal.message, /iptables is not installed/);
        assert.match(refusal.message, /apt-get install iptables\b/);
      }
      // Read with the real iptables: the refused calls changed nothing; the rest of the network is there.
      const left = kindsLeft(uid);
      assert.equal(left["iptables"], undefined, "no iptables rule of this owner");
      assert.ok(left["netns"] === 2 && left["link"] === 3 && (left["cgroup"] ?? 0) >= 1, JSON.stringify(left));
      child.stdin.end("clean up\n");
      if (child.exitCode === null) await once(child, "exit");
      assert.equal(child.exitCode, 0, stderr);
      assert.deepEqual(lines()[2], { cleanup: "ok" });
    } finally {
      clearTimeout(killer);
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    }
    assertNothingLeft(uid);
  });
});

describe("what needs a missing program says so, and nothing else minds", { timeout: 300_000 }, () => {
  test("`dummynet doctor --json` reports each missing program with its package, and still probes the kernel", async () => {
    const doctor = await cli(["doctor", "--json"], bareMachine);
    assert.equal(doctor.code, 0, doctor.stderr);
    const report = JSON.parse(doctor.stdout) as {
      programs: Record<string, { available: boolean; howToGet?: string }>;
      netns: { available: boolean; probed: boolean };
      iptables: { available: boolean; howToGet?: string };
    };
    const packages: Record<string, string> = {
      iptables: "iptables",
      ping: "iputils-ping",
      nsenter: "util-linux",
      modprobe: "kmod",
    };
    for (const [program, debianPackage] of Object.entries(packages)) {
      assert.equal(report.programs[program].available, false, program);
      assert.match(report.programs[program].howToGet ?? "", new RegExp(`apt-get install ${debianPackage}\\b`), program);
    }
    assert.equal(report.programs["ip"].available, true);
    assert.deepEqual([report.netns.available, report.netns.probed], [true, true], "the probe ran without nsenter");
    assert.equal(report.iptables.available, false);
    assert.match(report.iptables.howToGet ?? "", /apt-get install iptables\b/);
    assertNothingLeft(doctor.pid);
  });

  test("SpawnRunner: a program that is not installed rejects with MissingProgramError, even with allowFailure, also inside a namespace", async () => {
    const runner = new SpawnRunner();
    const namespace = new NamespaceScoped("nsmiss", process.pid).scoped;
    const absent = "dummynet-no-such-program";
    await assert.rejects(runner.run([absent, "-x"], { allowFailure: true }), (error: unknown) => {
      assert.ok(error instanceof MissingProgramError, String(error));
      assert.equal(error.program, absent);
      assert.match(error.message, /dummynet-no-such-program is not installed/);
      return true;
    });
    // A program that runs and fails is not missing: allowFailure hands back its status.
    assert.equal((await runner.run(["sh", "-c", "exit 3"], { allowFailure: true })).exitCode, 3);
    await runner.run(["ip", "netns", "add", namespace]);
    try {
      // nsenter starts, then cannot find the program: its exit status 127 and its words tell.
      await assert.rejects(runner.run([absent], { namespace, allowFailure: true }), (error: unknown) => {
        assert.ok(error instanceof MissingProgramError, String(error));
        assert.equal(error.program, absent);
        return true;
      });
      // A program that runs there and fails is not missing either.
      assert.equal((await runner.run(["sh", "-c", "exit 5"], { namespace, allowFailure: true })).exitCode, 5);
    } finally {
      await runner.run(["ip", "netns", "delete", namespace]);
    }
    assertNothingLeft(process.pid);
  });
});

describe("the nothing-left check never passes blind", { timeout: 300_000 }, () => {
  const listInChild = async (path: ProgramPath, uid = process.pid) => {
    const run = await runBounded(
      [process.execPath, "--import", "tsx", join(FIXTURES, "list-leftovers.ts"), String(uid)],
      { PATH: path.path },
      CHILD_TIMEOUT_MS,
    );
    assert.equal(run.code, 0, run.stderr);
    return JSON.parse(run.stdout) as Record<
      "leftovers" | "assertNothingLeft" | "listOwners",
      { returned?: unknown; threw?: string }
    >;
  };

  test("iptables present but failing (the xtables lock held): leftovers, assertNothingLeft and listOwners throw, naming the command and its error", async () => {
    const calls = join(tmpdir(), `dummynet-iptables-calls-${process.pid}`);
    const lockHeld = programPath([], {
      iptables: `echo "$@" >> ${calls}\necho "Another app is currently holding the xtables lock. Stopped waiting after 0s." >&2\nexit 4`,
    });
    try {
      const outcome = await listInChild(lockHeld);
      for (const check of ["leftovers", "assertNothingLeft", "listOwners"] as const) {
        assert.equal(
          outcome[check].returned,
          undefined,
          `${check} returned ${JSON.stringify(outcome[check].returned)} instead of throwing`,
        );
        assert.match(
          outcome[check].threw ?? "",
          /ListingError: Cannot list iptables rules: `iptables -w -t filter -S` failed: Another app is currently holding the xtables lock/,
        );
      }
      // Every listing asked iptables to wait for its lock.
      const argvs = readFileSync(calls, "utf8").split("\n").filter(Boolean);
      assert.ok(argvs.length >= 3, argvs.join("\n"));
      for (const argv of argvs) assert.match(argv, /^-w /);
    } finally {
      lockHeld.remove();
      rmSync(calls, { force: true });
    }
  });

  test("ip missing: the checks and listOwners read namespaces and links from the kernel's files and find what is there", async () => {
    const owner = await startBuiltOwner(freshMachine);
    const withoutIp = programPath(["ip"]);
    try {
      const outcome = await listInChild(withoutIp, owner.uid);
      const found = leftovers(owner.uid);
      assert.ok(
        found.some((name) => name.startsWith("netns ")),
        found.join(", "),
      );
      assert.deepEqual(outcome["leftovers"].returned, found, "without ip the same objects are found");
      assert.match(outcome["assertNothingLeft"].threw ?? "", /are left on the system/);
      assert.equal((outcome["listOwners"].returned as unknown[] | undefined)?.length, 1, JSON.stringify(outcome));
    } finally {
      withoutIp.remove();
      owner.process.kill("SIGTERM");
      if (owner.process.exitCode === null && owner.process.signalCode === null) await once(owner.process, "exit");
      await stopOwner(owner);
    }
    assertNothingLeft(owner.uid);
  });

  test("iptables missing: the check still looks at everything else and finds what is there", async () => {
    const owner = await startBuiltOwner(freshMachine);
    try {
      const run = await runBounded(
        [process.execPath, "--import", "tsx", join(FIXTURES, "list-leftovers.ts"), String(owner.uid)],
        { PATH: bareMachine.path },
        CHILD_TIMEOUT_MS,
      );
      assert.equal(run.code, 0, run.stderr);
      const outcome = JSON.parse(run.stdout) as Record<string, { returned?: string[]; threw?: string }>;
      assert.deepEqual(
        outcome["leftovers"].returned,
        leftovers(owner.uid),
        "without iptables the same objects are found",
      );
      assert.match(outcome["assertNothingLeft"].threw ?? "", /are left on the system/);
    } finally {
      // SIGTERM: the owner removes its network itself.
      owner.process.kill("SIGTERM");
      if (owner.process.exitCode === null && owner.process.signalCode === null) await once(owner.process, "exit");
      await stopOwner(owner);
    }
    assertNothingLeft(owner.uid);
  });
});

/** A process of the owner's first host (the fixture's daemon), read from /proc. */
function daemonOf(uid: number): number | undefined {
  const entry = leftovers(uid).find((e) => e.startsWith("cgroup "));
  if (!entry) return undefined;
  const pids = readFileSync(join(entry.slice("cgroup ".length), "cgroup.procs"), "utf8")
    .split("\n")
    .filter(Boolean)
    .map(Number);
  return pids[0];
}

/** The process exists and is not a zombie (a killed process whose parent has not yet collected it). */
function processAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}
