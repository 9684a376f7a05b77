/**
 * Rootless mode for real: CI runs as root, so each test drops to an
 * unprivileged uid (65534, and 65533 for a second user), runs an owner there
 * (fixtures/owner.ts) and looks from outside, as root, at what remains.
 */
import assert from "node:assert/strict";
import { chownSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import {
  FixtureRun,
  median,
  repoRoot,
  type OutsideProcess,
  processesInNamespaces,
  processesMarked,
  spawnFixtureAs,
  unprivilegedUser,
  within,
} from "./unprivileged.test-helpers.js";

const NOBODY = 65534;
const OTHER = 65533;
const MARK = "DUMMYNET_ROOTLESS_TEST";
let serial = 0;
/** The fixture's events after which a trial kills the owner (undefined: counted from its start). */
const KILL_AFTER = [undefined, "holder", "built", "program", "traffic", "stopped"] as const;
const marker = () => `${MARK}=${process.pid}-${++serial}`;

/** Namespaces ("type:[inode]") a fixture reported: its holder's and its hosts'. */
function namespacesOf(run: FixtureRun): string[] {
  const found: string[] = [];
  for (const event of run.events) {
    if (event["namespaces"]) found.push(...Object.values(event["namespaces"] as Record<string, string>));
    if (event["netns"]) found.push(...Object.values(event["netns"] as Record<string, string>));
  }
  return found;
}

/** Waits (at most 10 s) until no process carries `mark` and none of `uid` is in `namespaces`; fails listing what remains. */
async function assertGone(mark: string, namespaces: readonly string[], uid: number): Promise<number> {
  let remaining: OutsideProcess[] = [];
  const ms = await within(10_000, () => {
    remaining = [...processesMarked(mark), ...processesInNamespaces(namespaces, uid)];
    return remaining.length === 0;
  });
  assert.ok(
    ms !== undefined,
    `still there 10 s after the owner ended:\n${remaining.map((p) => `${p.pid} (uid ${p.uid}, NSpid ${p.nsPid.join(" ")}): ${p.command}`).join("\n")}`,
  );
  return ms;
}

describe("rootless holder, as an unprivileged user", { timeout: 600_000 }, () => {
  test(
    "two hosts joined by a veth, UDP and TCP across, iptables and a sysctl, a long-running program; nothing left after stop",
    { timeout: 120_000 },
    async () => {
      const user = unprivilegedUser(NOBODY);
      const mark = marker();
      // An XDG_RUNTIME_DIR under /run, as systemd makes it: the holder keeps it visible inside its private /run.
      const runtimeDir = `/run/dummynet-rootless-test-${process.pid}`;
      mkdirSync(runtimeDir, { mode: 0o700 });
      try {
        writeFileSync(join(runtimeDir, "marker"), "kept\n");
        chownSync(runtimeDir, NOBODY, NOBODY);
        const run = new FixtureRun(
          spawnFixtureAs(user, "owner", ["network"], { [MARK]: mark.split("=")[1], XDG_RUNTIME_DIR: runtimeDir }),
        );
        const { code } = await run.end(100_000);
        assert.equal(code, 0, `${JSON.stringify(run.events)}\n${run.stderr}`);
        const event = (name: string) =>
          run.events.find((e) => e["event"] === name) ??
          assert.fail(`no ${name} event: ${JSON.stringify(run.events)}\n${run.stderr}`);
        const holder = event("holder");
        const namespaces = holder["namespaces"] as Record<string, string>;
        for (const type of ["user", "mnt", "net", "pid"])
          assert.match(namespaces[type], new RegExp(`^${type}:\\[\\d+\\]$`));
        const inside = event("inside");
        assert.equal(inside["id"], "0", "the owner is root inside its user namespace");
        const runEntries = (inside["run"] as string[]).filter((entry) => entry !== "mount"); // util-linux mount's own utab directory
        assert.deepEqual(
          runEntries.sort(),
          [runtimeDir.slice("/run/".length), "netns"].sort(),
          "/run inside is private: its netns and the kept runtime directory only",
        );
        assert.equal(inside["kept"], "kept", "the XDG_RUNTIME_DIR under /run is the host's, bound back in");
        assert.equal(inside["cwd"], "/", "entering the mount namespace resets the working directory");
        assert.equal(inside["cwdGiven"], repoRoot, "the cwd option sets it inside");
        assert.deepEqual(
          event("built")["netnsList"],
          ["a", "b"],
          "the holder's /run/netns holds exactly its two hosts",
        );
        assert.deepEqual(
          event("built")["netnsFiles"],
          ["a", "b"],
          "the owner reads the holder's /run/netns from outside (holderPath)",
        );
        const traffic = event("traffic");
        assert.equal(traffic["udp"], "pong:ping", "a UDP datagram crossed the veth and came back");
        assert.equal(traffic["tcp"], "pong:hello", "a TCP connection crossed the veth");
        assert.ok(
          (traffic["udpAccepted"] as number) >= 1,
          `the iptables rule in host a counted the datagrams: ${String(traffic["udpAccepted"])}`,
        );
        const program = event("program");
        assert.notEqual(
          program["inner"],
          program["pid"],
          "the program runs as nsenter's child, inside the PID namespace",
        );
        const stopped = event("program-stopped");
        assert.deepEqual(
          stopped["output"],
          ["listening", "term"],
          "SIGTERM to the program's process group reached the program inside",
        );
        assert.deepEqual(event("deleted")["netnsList"], []);
        assert.equal(event("stopped")["running"], false);
        await assertGone(mark, namespacesOf(run), NOBODY);
      } finally {
        user.remove();
        rmSync(runtimeDir, { recursive: true, force: true });
      }
    },
  );

  test(
    "the owner SIGKILLed at a random moment, 30 trials: nothing of it remains, with no reaper",
    { timeout: 540_000 },
    async (t) => {
      const user = unprivilegedUser(NOBODY);
      const trials = 30;
      const phases: string[] = [];
      const goneMs: number[] = [];
      try {
        for (let trial = 0; trial < trials; trial++) {
          const mark = marker();
          const run = new FixtureRun(spawnFixtureAs(user, "owner", ["loop"], { [MARK]: mark.split("=")[1] }));
          // Spread the kills over the phases: from the start (node starting, the holder starting), then a random
          // moment after each step of the first cycle ("stopped" lands in the second cycle's holder start).
          const after = KILL_AFTER[trial % KILL_AFTER.length];
          if (after !== undefined) await run.waitFor(after, 120_000);
          await new Promise((done) => setTimeout(done, Math.random() * (after === undefined ? 3000 : 400)));
          const last = run.events.at(-1);
          phases.push(
            last === undefined
              ? "before the holder"
              : `after ${String(last["event"])}${last["cycle"] ? ` (cycle ${JSON.stringify(last["cycle"])})` : ""}`,
          );
          assert.equal(run.child.exitCode, null, `the owner ended on its own: ${run.stderr}`);
          run.child.kill("SIGKILL");
          const { signal } = await run.end(10_000);
          assert.equal(signal, "SIGKILL");
          goneMs.push(await assertGone(mark, namespacesOf(run), NOBODY));
        }
        t.diagnostic(`${trials} trials, all clean; killed ${phases.join(", ")}`);
        t.diagnostic(
          `everything gone ${median(goneMs).toFixed(0)} ms (median; max ${Math.max(...goneMs).toFixed(0)}) after the owner's end`,
        );
      } finally {
        user.remove();
      }
    },
  );

  test(
    "two users, and one user twice, build the same names at once without collision",
    { timeout: 180_000 },
    async () => {
      const users = [unprivilegedUser(NOBODY), unprivilegedUser(NOBODY), unprivilegedUser(OTHER)];
      const mark = marker();
      try {
        const runs = users.map(
          (user, i) =>
            new FixtureRun(
              spawnFixtureAs(user, "owner", ["same-names", `${user.uid}-${i}`], { [MARK]: mark.split("=")[1] }),
            ),
        );
        const built = await Promise.all(runs.map((run) => run.waitFor("built", 120_000)));
        for (const b of built) assert.deepEqual(b["traffic"], { udp: "pong:ping", tcp: "pong:hello" });
        // All three networks are up at once: same namespace, link and address names.
        for (const run of runs) run.child.stdin.end("check\n");
        const checked = await Promise.all(runs.map((run) => run.waitFor("checked", 60_000)));
        checked.forEach((c, i) => {
          assert.equal(
            c["alias"],
            `owner-${users[i].uid}-${i}`,
            "each owner sees its own link, not another's of the same name",
          );
          assert.deepEqual(c["traffic"], { udp: "pong:ping", tcp: "pong:hello" });
          assert.deepEqual(c["netnsList"], ["a", "b"], "each holder's /run/netns has only its own two hosts");
        });
        for (const run of runs) assert.equal((await run.end(60_000)).code, 0, run.stderr);
        const namespaces = runs.flatMap(namespacesOf);
        assert.equal(new Set(namespaces).size, namespaces.length, "no namespace is shared between the owners");
        await assertGone(mark, namespaces, NOBODY);
        await assertGone(mark, namespaces, OTHER);
      } finally {
        for (const user of users) user.remove();
      }
    },
  );

  test(
    "another process of the same user finds the network by its record and takes it down; another user can neither read the record nor enter",
    { timeout: 180_000 },
    async () => {
      const owner = unprivilegedUser(NOBODY);
      const stranger = unprivilegedUser(OTHER);
      const mark = marker();
      const env = { [MARK]: mark.split("=")[1] };
      try {
        const owning = new FixtureRun(spawnFixtureAs(owner, "owner", ["record-owner", "net1"], env));
        const recorded = await owning.waitFor("recorded", 60_000);
        assert.ok(String(recorded["path"]).startsWith(`${owner.home}/dummynet/`), String(recorded["path"]));
        const holder = recorded["holder"] as { pid: number };

        const prying = new FixtureRun(
          spawnFixtureAs(stranger, "owner", ["record-visitor", "net1"], { ...env, XDG_RUNTIME_DIR: owner.home }),
        );
        await prying.end(60_000);
        assert.match(
          String(prying.events.find((e) => e["event"] === "error")?.["message"]),
          /EACCES/,
          `${JSON.stringify(prying.events)} ${prying.stderr}`,
        );
        const entering = new FixtureRun(spawnFixtureAs(stranger, "owner", ["enter", String(holder.pid)], env));
        await entering.end(60_000);
        const entered = await entering.waitFor("entered", 1);
        assert.notEqual(entered["status"], 0, "another user cannot enter the holder");
        assert.match(String(entered["stderr"]), /Operation not permitted|Permission denied/);

        const visiting = new FixtureRun(spawnFixtureAs(owner, "owner", ["record-visitor", "net1"], env));
        await visiting.end(60_000);
        const visited = await visiting.waitFor("visited", 1);
        assert.deepEqual(
          { ...visited, at: 0 },
          { event: "visited", at: 0, found: true, before: ["a"], after: [], killed: true },
        );
        await owning.waitFor("holder-ended", 30_000);
        assert.equal((await owning.end(30_000)).code, 0);

        const again = new FixtureRun(spawnFixtureAs(owner, "owner", ["record-visitor", "net1"], env));
        await again.end(60_000);
        assert.equal((await again.waitFor("visited", 1))["found"], false, "the stale record is not followed");
        await assertGone(mark, namespacesOf(owning), NOBODY);
      } finally {
        owner.remove();
        stranger.remove();
      }
    },
  );
});
