/**
 * DummyNet in rootless mode for real: each test drops to uid 65534, runs a
 * DummyNet owner there (fixtures/dummynet-owner.ts) and looks from outside,
 * as root, at what remains.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync } from "node:fs";
import { describe, test } from "node:test";
import {
  FixtureRun,
  type OutsideProcess,
  processesInNamespaces,
  processesMarked,
  spawnFixtureAs,
  unprivilegedUser,
  within,
} from "./unprivileged.test-helpers.js";

const NOBODY = 65534;
const MARK = "DUMMYNET_ROOTLESS_NET_TEST";
let serial = 0;

function event(run: FixtureRun, name: string): Record<string, unknown> {
  return (
    run.events.find((e) => e["event"] === name) ??
    assert.fail(`no ${name} event: ${JSON.stringify(run.events)}\n${run.stderr}`)
  );
}

/** Waits (at most 10 s) until no process carries the mark and none of uid 65534 is in the holder's namespaces. */
async function assertGone(mark: string, run: FixtureRun): Promise<void> {
  const namespaces = Object.values(
    (run.events.find((e) => e["event"] === "holder")?.["namespaces"] ?? {}) as Record<string, string>,
  );
  let remaining: OutsideProcess[] = [];
  const ms = await within(10_000, () => {
    remaining = [...processesMarked(mark), ...processesInNamespaces(namespaces, NOBODY)];
    return remaining.length === 0;
  });
  assert.ok(
    ms !== undefined,
    `still there 10 s after the owner ended:\n${remaining.map((p) => `${p.pid}: ${p.command}`).join("\n")}`,
  );
  // Nothing reached the real host's /run/netns.
  const names = (event(run, "namespaces")["names"] as string[] | undefined) ?? [];
  const hostNetns = existsSync("/run/netns") ? readdirSync("/run/netns") : [];
  assert.deepEqual(
    names.filter((name) => hostNetns.includes(name)),
    [],
  );
}

function start(
  user: ReturnType<typeof unprivilegedUser>,
  mode: "build" | "hold",
  option: "true" | "auto",
): { run: FixtureRun; mark: string } {
  const value = `${process.pid}-${++serial}`;
  return {
    run: new FixtureRun(spawnFixtureAs(user, "dummynet-owner", [mode, option], { [MARK]: value })),
    mark: `${MARK}=${value}`,
  };
}

describe("DummyNet rootless, as uid 65534", { timeout: 600_000 }, () => {
  for (const option of ["true", "auto"] as const) {
    test(
      `rootless: ${option}: two hosts, a veth, addresses, a probe across, a daemon; refusals; nothing left after cleanup`,
      { timeout: 120_000 },
      async () => {
        const user = unprivilegedUser(NOBODY);
        try {
          const { run, mark } = start(user, "build", option);
          const { code } = await run.end(100_000);
          assert.equal(code, 0, `${JSON.stringify(run.events)}\n${run.stderr}`);
          assert.deepEqual(event(run, "mode"), { event: "mode", mode: "rootless", rootless: true });
          const names = event(run, "namespaces")["names"] as string[];
          assert.equal(names.length, 2);
          // Each host's ip worker was entered into its namespace by nsenter (no ip -n: no mount namespace of its own).
          const { workers, hostNets } = event(run, "workers") as {
            workers: { net: string; mnt: string; argv: string[] }[];
            hostNets: string[];
          };
          const holderMnt = (event(run, "holder")["namespaces"] as Record<string, string>)["mnt"];
          for (const hostNet of hostNets) {
            const worker = workers.find((candidate) => candidate.net === hostNet);
            assert.ok(worker, `no ip worker in ${hostNet}: ${JSON.stringify(workers)}`);
            assert.equal(worker.mnt, holderMnt, JSON.stringify(worker));
            assert.ok(!worker.argv.includes("-n"), JSON.stringify(worker));
          }
          const probe = event(run, "probe");
          assert.ok((probe["received"] as number) > 0, `no datagram crossed the veth: ${JSON.stringify(probe)}`);
          const daemon = event(run, "daemon");
          assert.equal((daemon["inB"] as number[]).length, 1, `the daemon runs in host b: ${JSON.stringify(daemon)}`);
          const refusals = event(run, "refusals");
          for (const key of ["addrAdd", "sysctl", "vethToHost"]) {
            assert.match(
              refusals[key] as string,
              /^RootlessRefusedError: .* on the host namespace is refused in rootless mode: .*netnsAdd\(\)/,
              key,
            );
          }
          assert.match(
            refusals["addCgroup"] as string,
            /^RootlessRefusedError: addCgroup is refused in rootless mode: .*Delegate=yes/,
          );
          assert.deepEqual(refusals["hostLinks"], [], "refused operations changed nothing");
          assert.equal(event(run, "cleaned")["holderAlive"], false);
          await assertGone(mark, run);
        } finally {
          user.remove();
        }
      },
    );
  }

  test("SIGKILL of a rootless DummyNet owner leaves nothing (3 trials)", { timeout: 300_000 }, async () => {
    const user = unprivilegedUser(NOBODY);
    try {
      for (let trial = 0; trial < 3; trial++) {
        const { run, mark } = start(user, "hold", "true");
        await run.waitFor("built", 90_000);
        run.child.kill("SIGKILL");
        await run.end(10_000);
        await assertGone(mark, run);
      }
    } finally {
      user.remove();
    }
  });
});
