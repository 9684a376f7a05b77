/**
 * Isolation (issue 6, point 4): several processes, and several instances with
 * different uids in one process, build networks with the same names and the
 * same addresses at the same time. Namespaces keep identical addresses apart
 * (every ping crosses its own network), scoped names keep same-named objects
 * of the host namespace apart, a dead-owner reap touches none of the live
 * runs, and each run's cleanup removes its own objects and nobody else's.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { rmSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { DummyNet } from "../network/dummy-net.js";
import { NamespaceScoped, InterfaceScoped } from "../names/scoped.js";
import { assertNothingLeft, leftovers, ownerPrefix } from "../testing/leftovers.js";
import { listOwners, reapDeadOwners } from "./reaper.js";

const PROJECT = fileURLToPath(new URL("../../", import.meta.url));
const CHAIN_FIXTURE = fileURLToPath(new URL("../test-support/fixtures/isolated-chain.ts", import.meta.url));
const CHAIN_TOPOLOGY = fileURLToPath(new URL("../test-support/fixtures/isolation-chain.yaml", import.meta.url));
const CLI = fileURLToPath(new URL("../cli/main.ts", import.meta.url));
const PARALLEL = 8;
/** Generous: 8 node processes start and build at once on a 2-core machine shared with other test runs. */
const STEP_TIMEOUT_MS = 120_000;

interface Child {
  process: ChildProcess;
  /** The child's owner uid: its pid, DummyNet's default. */
  uid: number;
  output(): string;
  /** Resolves once the output matches; rejects if the child exits first or the time is up. */
  waitFor(pattern: RegExp): Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function start(args: string[]): Child {
  const child = spawn(process.execPath, ["--import", "tsx", ...args], {
    cwd: PROJECT,
    stdio: ["pipe", "pipe", "pipe"],
  });
  let output = "";
  const listeners = new Set<() => void>();
  const onText = (text: string) => {
    output += text;
    for (const listener of listeners) listener();
  };
  child.stdout.setEncoding("utf8").on("data", onText);
  child.stderr.setEncoding("utf8").on("data", onText);
  const exited = once(child, "exit").then(([code, signal]) => ({
    code: code as number | null,
    signal: signal as NodeJS.Signals | null,
  }));
  const waitFor = (pattern: RegExp) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (!pattern.test(output)) return;
        cleanupWait();
        resolve();
      };
      const timer = setTimeout(() => {
        cleanupWait();
        reject(
          new Error(`child ${child.pid} did not print ${pattern} within ${STEP_TIMEOUT_MS} ms; output:\n${output}`),
        );
      }, STEP_TIMEOUT_MS);
      const cleanupWait = () => {
        clearTimeout(timer);
        listeners.delete(check);
      };
      listeners.add(check);
      void exited.then(({ code, signal }) => {
        if (!listeners.has(check)) return;
        cleanupWait();
        if (pattern.test(output)) resolve();
        else
          reject(
            new Error(`child ${child.pid} exited (${code ?? signal}) before printing ${pattern}; output:\n${output}`),
          );
      });
      check();
    });
  return { process: child, uid: child.pid!, output: () => output, waitFor, exited };
}

/** Ends children still running (their exit cleanup runs), then removes anything a failed test left of theirs. */
async function stopAll(children: readonly Child[]): Promise<void> {
  for (const child of children)
    if (child.process.exitCode === null && child.process.signalCode === null) child.process.kill("SIGTERM");
  await Promise.all(children.map((child) => child.exited));
  const stray = children.filter((child) => leftovers(child.uid).length > 0).map((child) => child.uid);
  if (stray.length > 0) await reapDeadOwners({ only: stray });
}

/** The objects of one owner with the owner's prefix cut out, so that runs of different owners compare equal. */
function unscopedLeftovers(uid: number): string[] {
  return leftovers(uid)
    .map((entry) => entry.replaceAll(ownerPrefix(uid), "d-<uid>-"))
    .sort();
}

function addressesOf(uid: number, host: string, iface: string): string[] {
  const namespace = new NamespaceScoped(host, uid).scoped;
  const link = new InterfaceScoped(iface, uid).scoped;
  const [device] = JSON.parse(
    execFileSync("ip", ["-n", namespace, "-j", "addr", "show", "dev", link], { encoding: "utf8", timeout: 30_000 }),
  ) as {
    addr_info: { family: string; local: string; prefixlen: number }[];
  }[];
  return device.addr_info.filter((a) => a.family === "inet").map((a) => `${a.local}/${a.prefixlen}`);
}

/**
 * While all the children hold their networks: the same names and addresses
 * exist once per owner, and a dead-owner reap asked about exactly these
 * owners spares every one of them and removes nothing.
 */
async function checkLiveRunsAndReap(children: readonly Child[], expected: string[]): Promise<void> {
  const before = new Map(children.map((child) => [child.uid, leftovers(child.uid)]));
  for (const child of children) {
    assert.deepEqual(unscopedLeftovers(child.uid), expected, `owner ${child.uid} has not built the expected objects`);
    assert.deepEqual(addressesOf(child.uid, "h1", "l1a"), ["10.9.1.1/24"]);
    assert.deepEqual(addressesOf(child.uid, "h2", "l2b"), ["10.9.2.1/24"]);
  }
  const uids = children.map((child) => child.uid);
  const owners = (await listOwners()).filter((owner) => uids.includes(owner.uid));
  assert.deepEqual(
    owners.map((owner) => owner.state),
    uids.map(() => "alive"),
  );
  const result = await reapDeadOwners({ only: uids });
  assert.deepEqual(
    result.reaped.map((owner) => owner.uid),
    [],
    "the reaper removed a live owner's objects",
  );
  assert.deepEqual(result.spared.map((owner) => owner.uid).sort(), [...uids].sort());
  assert.deepEqual(result.failures, []);
  for (const child of children)
    assert.deepEqual(leftovers(child.uid), before.get(child.uid), `owner ${child.uid} lost objects to the reaper`);
}

describe("isolation of parallel runs", { concurrency: false, timeout: 900_000 }, () => {
  test(
    `${PARALLEL} processes build the same network with DummyNet at once; each pings across its own; a reap spares them; nothing left`,
    { timeout: 300_000 },
    async (t) => {
      const children = Array.from({ length: PARALLEL }, () => start([CHAIN_FIXTURE]));
      try {
        await Promise.all(children.map((child) => child.waitFor(/^pinged \d+$/m)));
        for (const child of children)
          assert.match(child.output(), new RegExp(`^uid ${child.uid}$`, "m"), "the default uid is the pid");
        const expected = unscopedLeftovers(children[0].uid);
        // 3 namespaces, the bridge and the veth pair of the host namespace, the cgroup (one directory per v1 hierarchy or one on v2).
        for (const name of [
          "netns d-<uid>-h1",
          "netns d-<uid>-r",
          "netns d-<uid>-h2",
          "link d-<uid>-br0",
          "link d-<uid>-up0",
          "link d-<uid>-up1",
        ]) {
          assert.ok(expected.includes(name), `${name} missing from ${expected.join(", ")}`);
        }
        assert.ok(expected.some((entry) => entry.startsWith("cgroup ") && entry.endsWith("/d-<uid>-cg")));
        await checkLiveRunsAndReap(children, expected);
        // Each pings across its own network again after the reap, then cleans up.
        for (const child of children) child.process.stdin!.write("go\n");
        await Promise.all(children.map((child) => child.waitFor(/^clean \d+$/m)));
        for (const child of children) assert.deepEqual(await child.exited, { code: 0, signal: null }, child.output());
        for (const child of children) assertNothingLeft(child.uid);
        t.diagnostic(
          `isolation: ${PARALLEL} DummyNet processes, ${expected.length} same-named objects each, all pinged, 0 left`,
        );
      } finally {
        await stopAll(children);
      }
    },
  );

  test(
    `${PARALLEL} \`dummynet run\` of the same topology file at once: each pings across its own network; nothing left`,
    { timeout: 300_000 },
    async (t) => {
      const fifos = Array.from({ length: PARALLEL }, (_, i) => join(tmpdir(), `dn-isolation-${process.pid}-${i}`));
      for (const fifo of fifos) {
        rmSync(fifo, { force: true });
        execFileSync("mkfifo", [fifo], { timeout: 30_000 });
      }
      // The job pings, says so, then holds the network until the test writes to its FIFO.
      // The FIFO's path is sh's $0: no file name is ever pasted into a shell line.
      const job = 'ping -c 1 -W 5 10.9.2.1 && echo pinged && exec cat "$0"';
      const children = fifos.map((fifo) =>
        start([CLI, "run", CHAIN_TOPOLOGY, "--host", "h1", "--", "sh", "-c", job, fifo]),
      );
      try {
        await Promise.all(children.map((child) => child.waitFor(/^pinged$/m)));
        for (const child of children) assert.match(child.output(), / 1 received/);
        const expected = unscopedLeftovers(children[0].uid);
        for (const name of ["netns d-<uid>-h1", "netns d-<uid>-r", "netns d-<uid>-h2"])
          assert.ok(expected.includes(name), `${name} missing from ${expected.join(", ")}`);
        await checkLiveRunsAndReap(children, expected);
        await Promise.all(fifos.map((fifo) => writeFile(fifo, "go\n")));
        for (const child of children) assert.deepEqual(await child.exited, { code: 0, signal: null }, child.output());
        for (const child of children) assertNothingLeft(child.uid);
        t.diagnostic(`isolation: ${PARALLEL} \`dummynet run\` processes of one file, all pinged, 0 left`);
      } finally {
        await stopAll(children);
        for (const fifo of fifos) rmSync(fifo, { force: true });
      }
    },
  );

  test(
    "instances with different uids in one process build same-named objects at once; cleaning one leaves the others intact",
    { timeout: 120_000 },
    async (t) => {
      // Above the pid range (pid_max is at most 2^22), so these uids are nobody's pid.
      const base = 4_200_000 + (process.pid % 100_000) * 8;
      const nets = [0, 1, 2, 3].map((i) => new DummyNet({ uid: base + i }));
      const build = async (net: DummyNet) => {
        const [a, b] = await Promise.all([net.netnsAdd("a"), net.netnsAdd("b")]);
        const [p0, p1] = await net.linkVethAdd("p0", "p1");
        await Promise.all([net.linkSet(a, p0), net.linkSet(b, p1)]);
        await Promise.all([a.addrAdd("10.5.0.1/24", p0), b.addrAdd("10.5.0.2/24", p1)]);
        await Promise.all([a.up(p0), b.up(p1)]);
        await net.bridgeAdd("br0");
        const [q0, q1] = await net.linkVethAdd("q0", "q1");
        await net.forward(q0, q1);
        await net.addCgroup("cg", { cpuLimit: 0.5 });
        return a;
      };
      const ping = async (host: DummyNet) => {
        assert.match((await host.run(["ping", "-c", "1", "-W", "5", "10.5.0.2"])).stdout, / 1 received/);
      };
      try {
        const hosts = await Promise.all(nets.map(build));
        await Promise.all(hosts.map(ping));
        const snapshots = nets.map((net) => leftovers(net.uid));
        for (const net of nets) assert.deepEqual(unscopedLeftovers(net.uid), unscopedLeftovers(nets[0].uid));
        // 2 namespaces, 2 host links (br0, q0, q1), the iptables rule, the cgroup.
        assert.ok(snapshots[0].length >= 7, snapshots[0].join("\n"));

        await nets[0].cleanup();
        assertNothingLeft(nets[0].uid);
        for (let i = 1; i < nets.length; i++) {
          assert.deepEqual(
            leftovers(nets[i].uid),
            snapshots[i],
            `cleaning up uid ${nets[0].uid} touched uid ${nets[i].uid}`,
          );
          assert.deepEqual(
            (await nets[i].netnsList()).map((ns) => ns.name),
            ["a", "b"],
          );
          await ping(hosts[i]);
        }
        await Promise.all(nets.slice(1).map((net) => net.cleanup()));
        for (const net of nets) assertNothingLeft(net.uid);
        t.diagnostic(
          `isolation: ${nets.length} instances in one process, ${snapshots[0].length} same-named objects each, 0 left`,
        );
      } finally {
        await Promise.allSettled(nets.map((net) => net.cleanup()));
        for (const net of nets) assertNothingLeft(net.uid);
      }
    },
  );
});
