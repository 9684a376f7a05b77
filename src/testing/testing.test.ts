/**
 * dummynet/testing on the real kernel: tests running at once build the same
 * host names, each on its own uid, and talk across their own link; a test
 * that throws or times out still cleans up; one that leaks fails naming the
 * object; readiness waits end on the event, or fail saying what and how long.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { DummyNetError, InvalidArgumentError } from "../errors.js";
import { TimeoutError } from "../process/errors.js";
import { reapDeadOwners } from "../lifecycle/reaper.js";
import { RESERVED_UID_RANGE, claimReservedUid, releaseUid } from "../lifecycle/owners.js";
import { buildTopology } from "../topology/lab.js";
import type { TopologyDocument } from "../topology/normalize.js";
import { DummyNet } from "../network/dummy-net.js";
import {
  assertNothingLeft,
  leftovers,
  machineCapabilities,
  skipUnless,
  useNetwork,
  useTopology,
  waitForLine,
  waitForPort,
} from "./index.js";
import { runNodeTest } from "./child.test-helpers.js";
import { echoClient, echoServer } from "./fixtures/tcp.js";

const OUTCOMES = fileURLToPath(new URL("./fixtures/outcomes.fixture.ts", import.meta.url));
const SKIPS = fileURLToPath(new URL("./fixtures/skip.fixture.ts", import.meta.url));
const STARTED_AHEAD = fileURLToPath(new URL("./fixtures/started-ahead.ts", import.meta.url));

/** Two hosts and a link: client 10.9.0.1 - server 10.9.0.2. */
async function pair(net: DummyNet): Promise<{ client: DummyNet; server: DummyNet }> {
  const [client, server] = await Promise.all([net.netnsAdd("client"), net.netnsAdd("server")]);
  await net.linkVethAdd("eth0", "eth0", { p1Namespace: client, p2Namespace: server });
  await Promise.all([client.addrAdd("10.9.0.1/24", "eth0"), server.addrAdd("10.9.0.2/24", "eth0")]);
  await Promise.all([client.up("eth0"), server.up("eth0")]);
  return { client, server };
}

test("loaded as root, the fixtures start the ip workers' helper and the capture hub, which the first test then uses", () => {
  const { before, after } = JSON.parse(
    execFileSync(process.execPath, ["--import", "tsx", STARTED_AHEAD], { encoding: "utf8", timeout: 60_000 }),
  ) as Record<"before" | "after", Record<string, number | undefined>>;
  assert.equal(before["helper"], 1, "the ip workers' helper did not start with the fixtures");
  assert.equal(before["hub"], 1, "the capture hub did not start with the fixtures");
  // The test's two namespaces were recorded and configured through those two: no new hub, no ip spawned here.
  assert.deepEqual([after["helper"], after["hub"], after["ip"]], [1, 1, undefined]);
});

describe("useNetwork", () => {
  const uids: number[] = [];
  describe("four tests at once, the same host names", { concurrency: 4 }, () => {
    for (let i = 0; i < 4; i++) {
      test(`test ${i} talks TCP across its own link`, async (t) => {
        const net = useNetwork(t);
        uids.push(net.uid);
        const { client, server } = await pair(net);
        const daemon = await server.runAsync(echoServer(7000), { daemon: true });
        await waitForPort(server, 7000, { timeout: 10_000 });
        await waitForLine(daemon, "listening 7000", { timeout: 10_000 });
        const reply = await client.run(echoClient("10.9.0.2", 7000), { timeout: 10_000 });
        reply.match({ stdout: "echo ping after *" });
      });
    }
  });

  test("they had four different uids, the first the pid or a reserved one, and left nothing", () => {
    assert.equal(new Set(uids).size, 4, `uids: ${uids.join(", ")}`);
    for (const uid of uids) {
      assert.ok(
        uid === process.pid || (uid >= RESERVED_UID_RANGE.first && uid <= RESERVED_UID_RANGE.last),
        `uid ${uid}`,
      );
      assertNothingLeft(uid);
    }
  });

  test("a test that throws, one that times out, and one that leaks (in a child node --test)", async () => {
    const outcome = await runNodeTest([OUTCOMES], { timeout: 120_000 });
    const out = outcome.output;
    assert.notEqual(outcome.code, 0, out);
    const childUids = [...out.matchAll(/^uid (\d+)$/gm)].map((match) => Number(match[1]));
    assert.equal(childUids.length, 3, out);
    assert.match(out, /✖ throws after building[\s\S]*boom from the test body/);
    assert.match(out, /✖ times out while building[\s\S]*test timed out after 1500ms/);
    // The leak is named: its kind and its full name.
    const leakedUid = childUids[2];
    const prefix = `d-${(await import("../names/base58.js")).intToBase58(leakedUid)}-`;
    assert.match(
      out,
      new RegExp(
        `✖ leaks a namespace[\\s\\S]*1 object\\(s\\) of uid ${leakedUid} \\(${prefix}\\*\\) are left on the system:\\s+netns ${prefix}leak`,
      ),
    );
    // The child is gone: what it leaked belongs to a dead owner now; the rest was cleaned up by the tests themselves.
    const reaped = await reapDeadOwners({ only: [leakedUid] });
    assert.deepEqual(
      reaped.reaped.flatMap((owner) => owner.objects.map((object) => object.name)),
      [`${prefix}leak`],
    );
    for (const uid of childUids) assertNothingLeft(uid);
  });
});

describe("useTopology", () => {
  const text = [
    "hosts: { client: {}, server: {} }",
    "links:",
    "  - ends: [{ at: 'client:eth0', address: 10.8.0.1/24 }, { at: 'server:eth0', address: [10.8.0.2/24, 'fd08::2/64'] }]",
    "programs:",
    `  - { name: echo, host: server, daemon: true, command: ${JSON.stringify(echoServer(7100))}, ready: { port: 7100, line: "listening *" } }`,
  ].join("\n");

  test("builds, starts the daemon ready, and talks TCP from host to host", async (t) => {
    const lab = await useTopology(t, { text, name: "pair.yaml" });
    assert.equal(lab.name, "pair");
    assert.equal(lab.address("server"), "10.8.0.2");
    assert.equal(lab.address("client", "eth0"), "10.8.0.1");
    assert.throws(
      () => lab.host("router"),
      (error: unknown) =>
        error instanceof InvalidArgumentError && /router.*its hosts: client, server/.test(error.message),
    );
    assert.throws(() => lab.address("client", "eth9"), /its interfaces: eth0/);
    const [echo] = await lab.start();
    assert.equal(echo.name, "echo");
    const reply = await lab.host("client").run(echoClient(lab.address("server"), 7100), { timeout: 10_000 });
    reply.match({ stdout: "echo ping after *" });
  });

  test("a build that fails removes what it made and rejects with the failure", async () => {
    // Valid for the loader, refused by the kernel in the settings phase, after the hosts and the link exist.
    const failing: TopologyDocument = {
      hosts: { a: { sysctls: { "net.ipv4.tcp_syn_retries": 500 } }, b: {} },
      links: [{ ends: ["a:eth0", "b:eth0"] }],
    };
    const uid = claimReservedUid();
    releaseUid(uid);
    const steps: string[] = [];
    await assert.rejects(
      buildTopology(failing, { uid, onProgress: ({ step }) => steps.push(step) }),
      /tcp_syn_retries/,
    );
    assert.ok(steps.includes("link a:eth0 - b:eth0"), `the link was made first: ${steps.join(", ")}`);
    assertNothingLeft(uid);
  });
});

describe("skipUnless", () => {
  test("skips, naming what is missing, exactly when the kernel lacks it (in a child node --test)", async () => {
    const capabilities = await machineCapabilities();
    const outcome = await runNodeTest([SKIPS], { timeout: 120_000 });
    assert.equal(outcome.code, 0, outcome.output);
    if (capabilities.netem.available) {
      assert.match(outcome.output, /✔ needs netem/);
      assert.match(outcome.output, /^ran with netem$/m);
    } else {
      assert.match(outcome.output, /﹣ needs netem .*# this machine lacks netem \(netem: /);
      assert.doesNotMatch(outcome.output, /^ran with netem$/m);
    }
    assert.match(outcome.output, /✔ needs veth/);
  });

  test("refuses a feature it does not know", async (t) => {
    await assert.rejects(skipUnless(t, ["warp-drive" as "netem"]), /warp-drive.*known: netns, veth/);
  });
});

describe("waitForLine and waitForPort", () => {
  test("a line (glob or RegExp) ends the wait when printed; a timeout says what and how long", async (t) => {
    const net = useNetwork(t);
    const host = await net.netnsAdd("h");
    const info = await host.runAsync(
      [process.execPath, "-e", "setTimeout(() => console.log('ready on 4242'), 300); setTimeout(() => {}, 30000)"],
      { daemon: true },
    );
    assert.equal(await waitForLine(info, "ready on *", { timeout: 10_000 }), "ready on 4242");
    assert.equal(
      await waitForLine(info, /on (\d+)$/, { timeout: 10_000 }),
      "ready on 4242",
      "a line already printed counts",
    );
    await assert.rejects(waitForLine(info, "never*", { timeout: 200 }), (error: unknown) => {
      assert.ok(error instanceof TimeoutError);
      assert.match(
        error.message,
        /^Timed out after 200 ms waiting for a line matching "never\*" in the output of `.*node/,
      );
      return true;
    });
    const quitter = await host.runAsync([process.execPath, "-e", "console.log('bye')"]);
    await assert.rejects(
      waitForLine(quitter, "hello", { timeout: 10_000 }),
      (error: unknown) =>
        error instanceof DummyNetError && /exited without printing a line matching "hello"/.test(error.message),
    );
  });

  test("a port ends the wait once it listens; a timeout names the port and the host", async (t) => {
    const net = useNetwork(t);
    const host = await net.netnsAdd("h");
    const late = `setTimeout(() => require("node:net").createServer().listen(7300), 300)`;
    const started = Date.now();
    await host.runAsync([process.execPath, "-e", late], { daemon: true });
    await waitForPort(host, 7300, { timeout: 10_000 });
    console.log(`# port 7300 seen ${Date.now() - started} ms after start (the server listens after 300 ms)`);
    await assert.rejects(waitForPort(host, 7301, { timeout: 200 }), (error: unknown) => {
      assert.ok(error instanceof TimeoutError);
      assert.match(
        error.message,
        new RegExp(
          `^Timed out after 200 ms waiting for TCP port 7301 in host h \\(${host.namespace.scoped}\\) to accept connections$`,
        ),
      );
      return true;
    });
    assert.deepEqual(
      leftovers(net.uid).filter((object) => object.startsWith("netns")),
      [`netns ${host.namespace.scoped}`],
    );
  });
});
