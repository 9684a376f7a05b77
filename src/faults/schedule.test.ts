/**
 * Schedules against the real kernel: a seed draws the same plan step for step
 * and the history follows it; explicit steps in force at their time (a
 * partition, a link flap whose routes come back); a failing step recorded
 * while the others run; stop(); a Lab by host names; bad plans refused before
 * anything runs. Runs in the rootless phase too. (impair needs netem: see
 * schedule.lab.test.ts.)
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { InvalidArgumentError } from "../errors.js";
import { DummyNet } from "../network/dummy-net.js";
import { buildTopology } from "../topology/lab.js";
import { assertNothingLeft } from "../testing/leftovers.js";
import type { RunInfo } from "../process/run-info.js";
import { LAN_V4, type LanHost, buildLan, reach, rulesOf, startServer } from "./faults.test-helpers.js";
import type { ScheduleStep } from "./plan.js";

const T = { timeout: 120_000 };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("schedules on a LAN of a, b, c and d behind router r", { timeout: 300_000 }, () => {
  let net: DummyNet;
  let hosts: Record<LanHost, DummyNet>;
  let pristine: Map<string, string>;

  before(async () => {
    net = new DummyNet();
    ({ hosts } = await buildLan(net));
    pristine = new Map(Object.entries(hosts).map(([name, host]) => [name, rulesOf(net, host)]));
  });

  after(async () => {
    const uid = net.uid;
    await net.cleanup();
    assertNothingLeft(uid);
  });

  function assertRulesPristine(): void {
    for (const [name, rules] of pristine) assert.equal(rulesOf(net, hosts[name as LanHost]), rules, name);
  }

  test(
    "the same seed draws the same plan step for step; the history follows it and everything is healed",
    T,
    async () => {
      const generator = {
        every: 60,
        for: 600,
        faults: ["partition", "block", "isolate"] as const,
        hosts: ["a", "b", "c", "d"],
      };
      const first = net.schedule(generator, { seed: 1234 });
      const history = await first.done;
      const again = net.schedule(generator, { seed: 1234 });
      await again.stop();
      const other = net.schedule(generator, { seed: 4321 });
      await other.stop();
      assert.equal(first.seed, 1234);
      assert.deepEqual(again.plan, first.plan);
      assert.notDeepEqual(other.plan, first.plan);
      assert.equal(first.plan.length, 10);
      for (const step of first.plan) assert.ok(step.for! >= 1 && step.for! <= 30, JSON.stringify(step));
      // Steps may come into force out of order (one slower than the next): compare by planned time.
      const applied = history.filter((event) => event.action !== "heal").sort((x, y) => x.plannedMs - y.plannedMs);
      assert.deepEqual(
        applied.map((event) => [event.action, event.plannedMs]),
        first.plan.map((step) => [Object.keys(step).find((key) => !["at", "for"].includes(key)), step.at]),
      );
      assert.equal(history.filter((event) => event.action === "heal").length, 10, JSON.stringify(history));
      for (const event of history) {
        assert.equal(event.error, undefined, JSON.stringify(event));
        assert.ok(event.lateMs >= 0, JSON.stringify(event));
      }
      assert.deepEqual(net.faults, []);
      assertRulesPristine();
    },
  );

  test(
    "explicit steps are in force at their time: a partition for a while, then a link flap whose routes come back",
    T,
    async () => {
      const schedule = net.schedule([
        { at: 0, partition: [["a"], ["b"]], for: 1500 },
        { at: 4000, down: { host: "a", iface: "a0" }, for: 4000 },
      ]);
      while (schedule.history.length < 1) await sleep(10);
      assert.equal(await reach(hosts.a, "udp", LAN_V4.b, 400), "timeout");
      while (schedule.history.length < 2) await sleep(20);
      assert.equal(await reach(hosts.a, "udp", LAN_V4.b), "reply");
      // Between its cuts, a schedule keeps the local rule moved behind them (CutRules.hold); it goes back at the end.
      assert.match(rulesOf(net, hosts.a), /^2:\s+from all lookup local/m);
      while (schedule.history.length < 3) await sleep(20);
      // Down: no route at all, at once (the link's routes went with it).
      assert.match(await reach(hosts.a, "tcp", LAN_V4.d), /^error (ENETUNREACH|EHOSTUNREACH)$/);
      const history = await schedule.done;
      // Times are rounded to microseconds, so a heal's planned time is compared to a microsecond.
      const micro = (ms: number) => Math.round(ms * 1000);
      assert.deepEqual(
        history.map((event) => [event.action, event.heals ?? null, micro(event.plannedMs), event.error ?? null]),
        [
          ["partition", null, 0, null],
          ["heal", "partition", micro(history[0].appliedMs + 1500), null],
          ["down", null, micro(4000), null],
          ["heal", "down", micro(history[2].appliedMs + 4000), null],
        ],
      );
      // Up again with its route through r to d's subnet.
      assert.equal(await reach(hosts.a, "tcp", LAN_V4.d), "connected");
      assert.equal(await reach(hosts.a, "tcp", "fd00::2"), "connected");
      assertRulesPristine();
    },
  );

  test("a step that fails is recorded with its error and the later steps still run; done resolves", T, async () => {
    await net.linkVethAdd("x0", "x1", { p1Namespace: hosts.c, p2Namespace: hosts.d });
    const schedule = net.schedule([
      { at: 100, down: { host: "c", iface: "x0" } },
      { at: 200, block: ["c", "b"], for: 100 },
    ]);
    await hosts.c.linkDelete("x0"); // gone before its step
    const history = await schedule.done;
    assert.deepEqual(
      history.map((event) => [event.action, event.error === undefined]),
      [
        ["down", false],
        ["block", true],
        ["heal", true],
      ],
    );
    assert.match(history[0].error!, /x0/);
    assert.deepEqual(net.faults, []);
  });

  test("stop() runs no further step and heals what the schedule put in force", T, async () => {
    const schedule = net.schedule([
      { at: 0, isolate: "b", for: 60_000 },
      { at: 8000, partition: [["a"], ["c"]] },
    ]);
    while (schedule.history.length < 1) await sleep(10);
    assert.equal(await reach(hosts.a, "udp", LAN_V4.b, 300), "timeout");
    await schedule.stop();
    assert.deepEqual(
      schedule.history.map((event) => event.action),
      ["isolate", "heal"],
    );
    assert.deepEqual(net.faults, []);
    assert.equal(await reach(hosts.a, "udp", LAN_V4.c), "reply");
    assertRulesPristine();
  });

  test("a bad plan is refused before anything runs, naming the step and what to do", T, async () => {
    const ended: RunInfo = await hosts.a.run(["true"]);
    const bad: [unknown, RegExp][] = [
      [[{ at: 0 }], /plan\[0\].*has no action/],
      [[{ at: 0, heal: true, isolate: "a" }], /plan\[0\].*has 2 actions \(isolate, heal\)/],
      [[{ at: -5, heal: true }], /plan\[0\]\.at: -5 \(number\) must be a finite number/],
      [[{ at: 0, isolate: "a", for: Number.POSITIVE_INFINITY }], /plan\[0\]\.for: Infinity/],
      [[{ at: 0, heal: true, for: 10 }], /plan\[0\]\.for.*does not go with heal/],
      [[{ at: 0, partition: [["a"], ["a"]] }], /is also in groups\[0\]/],
      [[{ at: 0, isolate: "zz" }], /plan\[0\]\.isolate: "zz" is not a host/],
      [
        [{ at: 0, impair: { host: "a", iface: "nope0", loss: 5 } }],
        /plan\[0\]\.impair\.iface: "nope0" is not an interface of host a/,
      ],
      [[{ at: 0, pause: ended }], /plan\[0\]\.pause.*has ended already/],
      [[{ at: 0, down: { host: net, iface: "a0" } }], /is the network itself/],
      [
        { every: 0, for: 100, faults: ["partition"] },
        /plan\.every: 0 \(number\) must be a finite number of milliseconds > 0/,
      ],
      [{ every: 10, for: 100, faults: ["reboot"] }, /plan\.faults/],
    ];
    for (const [plan, message] of bad) {
      assert.throws(
        () => net.schedule(plan as ScheduleStep[]),
        (error: unknown) => error instanceof InvalidArgumentError && message.test(error.message),
        String(message),
      );
    }
    assert.throws(() => net.schedule([], { seed: -1 }), /options\.seed/);
    assert.deepEqual(net.faults, []);
    assertRulesPristine();
  });
});

test(
  "a Lab takes faults and schedules by host name, and refuses an unknown host with its hosts listed",
  T,
  async () => {
    const lab = await buildTopology("examples/star.yaml");
    const uid = lab.uid;
    try {
      await assert.rejects(
        async () => lab.partition([["h1"], ["nosuch"]]),
        /"nosuch" is not a host of star; its hosts: h1, h2, h3, sw/,
      );
      const h1 = lab.host("h1");
      await using cut = await lab.partition([["h1"], ["h2", "h3"]]);
      assert.deepEqual(lab.faults, [cut]);
      const schedule = lab.schedule([{ at: 0, block: ["h3", "h2"], for: 50 }]);
      await schedule.done;
      assert.deepEqual(
        lab.faultHistory.map((event) => event.action),
        ["partition", "block", "heal"],
      );
      await startServer(lab.host("h2"));
      assert.equal(await reach(h1, "udp", lab.address("h2"), 400), "timeout");
      assert.equal(await reach(lab.host("h3"), "udp", lab.address("h2")), "reply"); // same group
    } finally {
      await lab.cleanup();
      assertNothingLeft(uid);
    }
  },
);
