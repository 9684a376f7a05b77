// requires: netem
// A schedule's impair step on real packets: felt while in force, and the link's qdisc exactly as before after `for`,
// on a link never impaired (the netem handle's restore) and on one impaired already (its old values back).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { DummyNet } from "../network/dummy-net.js";
import { assertNothingLeft } from "../testing/leftovers.js";
import { twoHosts } from "../test-support/two-hosts.js";

const T = { timeout: 240_000 };

describe("schedule impair steps", { timeout: 600_000 }, () => {
  let net: DummyNet;

  before(async () => {
    net = new DummyNet();
    await twoHosts(net);
  });

  after(async () => {
    const uid = net.uid;
    await net.cleanup();
    assertNothingLeft(uid);
  });

  const rtt = async () => (await net.probe("a", "b", { count: 5 })).rttMs.p50;
  const root = async () => {
    const applied = await (await net.netnsUse("a")).tcRead("a-b");
    return { kind: applied?.kind, delay: applied?.netem?.delay, loss: applied?.netem?.loss };
  };

  test("impair for a while on an unimpaired link: delay felt, then the qdisc found first is back", T, async () => {
    const before = await root();
    // Long enough for the probe's Node.js to start in the emulated guest (seconds) while the impairment is in force.
    const schedule = net.schedule([{ at: 0, impair: { host: "a", iface: "a-b", delay: 200 }, for: 40_000 }]);
    while (schedule.history.length < 1) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(schedule.history[0]?.error, undefined);
    assert.deepEqual(await root(), { kind: "netem", delay: 200, loss: undefined });
    const during = await rtt();
    assert.equal(schedule.history.length, 1, "the probe ran while the impairment was in force");
    assert.ok(during >= 200, `the delay is felt while in force (rtt p50 ${during} ms)`);
    const history = await schedule.done;
    assert.deepEqual(
      history.map((event) => [event.action, event.heals ?? null, event.error ?? null]),
      [
        ["impair", null, null],
        ["heal", "impair", null],
      ],
    );
    assert.deepEqual(await root(), before);
    assert.ok((await rtt()) < 100, "no delay after");
  });

  test("impair on a link impaired already: the fields it set go back to their old values", T, async () => {
    const a = await net.netnsUse("a");
    await a.tc("a-b", { delay: 50 });
    const before = await root();
    const schedule = net.schedule([{ at: 0, impair: { host: "a", iface: "a-b", delay: 300, loss: 10 }, for: 3000 }]);
    while (schedule.history.length < 1) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.deepEqual(await root(), { kind: "netem", delay: 300, loss: 10 });
    await schedule.done;
    assert.deepEqual(await root(), before);
    assert.deepEqual(before, { kind: "netem", delay: 50, loss: undefined });
  });
});
