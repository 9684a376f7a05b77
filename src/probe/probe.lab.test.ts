// requires: netem
// The probe sees what netem does to a link: the configured delay in its round
// trips, the configured loss in its loss figure, netem's duplicates and
// reordering in its counts.
import { afterEach, beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { DummyNet } from "../network/dummy-net.js";
import { assertNothingLeft } from "../testing/leftovers.js";
import { twoHosts } from "../test-support/two-hosts.js";
import { checkShare } from "../fidelity/model.js";

/** The probe's default bound assumes a real machine; a Node.js start in the lab's guest took 30 s at host load 30. */
const PROBE_TIMEOUT = 120_000;

let nextUid = (process.pid % 100000) * 10 + 1400000;
let net: DummyNet;

describe("probe through netem", { concurrency: false, timeout: 600_000 }, () => {
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
    const report = await net.probe(a, b, { count: 100, intervalMs: 10, timeout: PROBE_TIMEOUT });
    t.diagnostic(`netem 20 ms each way: rtt ms ${JSON.stringify(report.rttMs)}`);
    assert.equal(report.received, 100);
    assert.ok(report.rttMs.min >= 40, JSON.stringify(report.rttMs));
    // A delay applied twice per direction makes every round trip at least 80 ms. The fastest of 100, not the
    // median: a starved guest pushed the median to 143 ms once (the fastest was 52.7 ms).
    assert.ok(report.rttMs.min < 80, JSON.stringify(report.rttMs));
  });

  test("20 % loss one way: the probe loses about a fifth of 500 datagrams", async (t) => {
    const { a, b, ab } = await twoHosts(net);
    await a.tc(ab, { loss: 20 });
    const report = await net.probe(a, b, { count: 500, intervalMs: 10, timeout: PROBE_TIMEOUT });
    t.diagnostic(`netem 20 % loss: ${report.lossPercent} % lost of ${report.sent}`);
    assert.equal(report.sent, 500);
    // 20 % must lie in the exact 99.9 % interval of the share lost (docs/fidelity.md judges at 99 %; a gate at 99.9 %
    // fails a correct netem once in 1000 runs). At 10 ms apart (not 2) the emulated guest's echo agent keeps up:
    // at 2 ms one CI run lost 51 % to its own socket.
    const check = checkShare(
      { events: report.sent - report.received, trials: report.sent, varianceFactor: 1 },
      20,
      0.999,
    );
    assert.ok(
      check.inside,
      `loss ${report.lossPercent} % of ${report.sent}: its 99.9 % interval ${check.interval.join("-")} % does not hold 20 %`,
    );
    assert.equal(report.duplicates, 0);
  });

  test("netem duplicates and reordering show in the counts", async () => {
    const { a, b, ab } = await twoHosts(net);
    await a.tc(ab, { duplicate: 50 });
    const duplicated = await net.probe(a, b, { count: 200, intervalMs: 10, timeout: PROBE_TIMEOUT });
    assert.equal(duplicated.received, 200);
    assert.ok(duplicated.duplicates > 50 && duplicated.duplicates < 150, `duplicates ${duplicated.duplicates}`);
    await a.tc(ab, { reset: true, delay: 20, reorder: 50, gap: 2 });
    const reordered = await net.probe(a, b, { count: 200, intervalMs: 10, timeout: PROBE_TIMEOUT });
    assert.equal(reordered.received, 200);
    assert.ok(reordered.reordered > 20, `reordered ${reordered.reordered}`);
  });

  test("TCP goodput through netem rate 5 Mbit/s: within 20 % of the rate", async (t) => {
    const { a, b, ab } = await twoHosts(net);
    await a.tc(ab, { rate: 5 });
    const report = await net.probe(a, b, { count: 10, intervalMs: 5, tcp: { seconds: 3 }, timeout: PROBE_TIMEOUT });
    t.diagnostic(`goodput through netem rate 5: ${report.goodputMbps} Mbit/s`);
    assert.ok(report.goodputMbps! >= 4 && report.goodputMbps! <= 6, `goodput ${report.goodputMbps} Mbit/s`);
  });
});
