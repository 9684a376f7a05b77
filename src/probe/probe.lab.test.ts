// requires: netem
// The probe sees what netem does to a link: the configured delay in its round
// trips, the configured loss in its loss figure, netem's duplicates and
// reordering in its counts.
import { afterEach, beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { DummyNet } from "../network/dummy-net.js";
import { assertNothingLeft } from "../test-support/leftovers.js";
import { twoHosts } from "../test-support/two-hosts.js";

let nextUid = (process.pid % 100000) * 10 + 1400000;
let net: DummyNet;


describe("probe through netem", { concurrency: false, timeout: 300_000 }, () => {
  beforeEach(() => {
    net = new DummyNet({ uid: nextUid++ });
  });

  afterEach(async () => {
    await net.cleanup();
    assertNothingLeft(net.uid);
  });

  test("20 ms delay each way: every round trip takes at least 40 ms", async (t) => {
    const { a, b, ab, ba } = await twoHosts(net);
    await a.tc(ab, { delay: 20 });
    await b.tc(ba, { delay: 20 });
    const report = await net.probe(a, b, { count: 100, intervalMs: 10 });
    t.diagnostic(`netem 20 ms each way: rtt ms ${JSON.stringify(report.rttMs)}`);
    assert.equal(report.received, 100);
    assert.ok(report.rttMs.min >= 40, JSON.stringify(report.rttMs));
    // Far below anything a 40 ms path could give if the delay were applied twice per direction.
    assert.ok(report.rttMs.p50 < 80, JSON.stringify(report.rttMs));
  });

  test("20 % loss one way: the probe loses about a fifth of 500 datagrams", async (t) => {
    const { a, b, ab } = await twoHosts(net);
    await a.tc(ab, { loss: 20 });
    const report = await net.probe(a, b, { count: 500, intervalMs: 10 });
    t.diagnostic(`netem 20 % loss: ${report.lossPercent} % lost of ${report.sent}`);
    assert.equal(report.sent, 500);
    // Binomial(500, 0.2): standard deviation 1.8 points; 12..28 is more than four of them each side. At 10 ms
    // apart (not 2) the emulated guest's echo agent keeps up: at 2 ms one CI run lost 51 % to its own socket.
    assert.ok(report.lossPercent >= 12 && report.lossPercent <= 28, `loss ${report.lossPercent} %`);
    assert.equal(report.duplicates, 0);
  });

  test("netem duplicates and reordering show in the counts", async () => {
    const { a, b, ab } = await twoHosts(net);
    await a.tc(ab, { duplicate: 50 });
    const duplicated = await net.probe(a, b, { count: 200, intervalMs: 10 });
    assert.equal(duplicated.received, 200);
    assert.ok(duplicated.duplicates > 50 && duplicated.duplicates < 150, `duplicates ${duplicated.duplicates}`);
    await a.tc(ab, { reset: true, delay: 20, reorder: 50, gap: 2 });
    const reordered = await net.probe(a, b, { count: 200, intervalMs: 10 });
    assert.equal(reordered.received, 200);
    assert.ok(reordered.reordered > 20, `reordered ${reordered.reordered}`);
  });

  test("TCP goodput through netem rate 5 Mbit/s: within 20 % of the rate", async (t) => {
    const { a, b, ab } = await twoHosts(net);
    await a.tc(ab, { rate: 5 });
    const report = await net.probe(a, b, { count: 10, intervalMs: 5, tcp: { seconds: 3 } });
    t.diagnostic(`goodput through netem rate 5: ${report.goodputMbps} Mbit/s`);
    assert.ok(report.goodputMbps! >= 4 && report.goodputMbps! <= 6, `goodput ${report.goodputMbps} Mbit/s`);
  });
});
