// requires: netem
// The CI subset of the fidelity sweep (docs/fidelity.md, npm run fidelity):
// a few points with bounds wide enough for a loaded, software-emulated guest,
// yet each would catch a wrong implementation (a delay applied once or twice
// too often, a loss percent read as a fraction, a rate in the wrong unit).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createLogger } from "../log.js";
import { DummyNet } from "../network/dummy-net.js";
import type { InterfaceScoped } from "../names/scoped.js";
import { assertNothingLeft } from "../testing/leftovers.js";
import { checkShare } from "./model.js";

const warnings: string[] = [];
let net: DummyNet;
let a: DummyNet;
let b: DummyNet;
let ab: InterfaceScoped;
let ba: InterfaceScoped;

// The bound of the whole suite: each probe takes 30 to 90 s in the lab's guest on a loaded host.
describe("fidelity: netem through tc() measured with the probe", { concurrency: false, timeout: 600_000 }, () => {
  before(async () => {
    const log = { ...createLogger("silent"), warn: (message: string) => void warnings.push(message) };
    net = new DummyNet({ uid: (process.pid % 100000) * 10 + 1600000, log });
    a = await net.netnsAdd("a");
    b = await net.netnsAdd("b");
    [ab, ba] = await net.linkVethAdd("a-b", "b-a", { p1Namespace: a, p2Namespace: b });
    await a.addrAdd("10.0.0.1/24", ab);
    await b.addrAdd("10.0.0.2/24", ba);
    await a.up(ab);
    await b.up(ba);
  });

  after(async () => {
    await net.cleanup();
    assertNothingLeft(net.uid);
  });

  test("delay 50 ms each way: the fastest round trip takes 100 to 150 ms", async (t) => {
    await a.tc(ab, { reset: true, delay: 50 });
    await b.tc(ba, { reset: true, delay: 50 });
    const report = await net.probe(a, b, { count: 40, intervalMs: 20, timeout: 120_000 });
    t.diagnostic(`rtt ms ${JSON.stringify(report.rttMs)}`);
    assert.equal(report.received, 40);
    // netem never delivers early, so no round trip is under 100 ms. A starved guest pushes the median
    // up (seen: 209 ms on a loaded machine, docs/fidelity.md) but rarely the fastest of 40: its
    // minimum stays under 150, where a delay applied twice (200 ms) cannot be.
    assert.ok(
      report.rttMs.min >= 100 && report.rttMs.min <= 150,
      `RTT min ${report.rttMs.min} ms, p50 ${report.rttMs.p50} ms`,
    );
  });

  test("loss 30 % one way: 30 % lies in the exact 99.9 % interval of the share lost of 1000 datagrams", async (t) => {
    await a.tc(ab, { reset: true, loss: 30 });
    await b.tc(ba, { reset: true });
    // 4 ms apart: at 1 ms a starved guest's echo agent can fall a socket buffer behind (a loss netem did not make).
    const report = await net.probe(a, b, { count: 1000, intervalMs: 4, timeout: 120_000 });
    // The published sweep judges at 99 % (docs/fidelity.md); a CI gate at 99 % would fail a correct
    // netem about once in 100 runs, at 99.9 % once in 1000, and a loss off by a factor still fails.
    const check = checkShare(
      { events: report.sent - report.received, trials: report.sent, varianceFactor: 1 },
      30,
      0.999,
    );
    t.diagnostic(`loss ${report.lossPercent} % of ${report.sent}; 99.9 % interval ${check.interval.join("-")} %`);
    assert.equal(report.sent, 1000);
    assert.ok(
      check.inside,
      `loss ${report.lossPercent} % of ${report.sent}: its 99.9 % interval ${check.interval.join("-")} % does not hold 30 %`,
    );
  });

  test("rate 10 Mbit/s at the receiver's ingress: TCP goodput within 25 %", async (t) => {
    await a.tc(ab, { reset: true });
    await b.tc(ba, { reset: true, ingress: { rate: 10 } });
    const report = await net.probe(a, b, { count: 10, intervalMs: 5, tcp: { seconds: 3 }, timeout: 120_000 });
    t.diagnostic(`goodput ${report.goodputMbps} Mbit/s (${JSON.stringify(report.tcp)})`);
    assert.ok(report.goodputMbps! >= 7.5 && report.goodputMbps! <= 12.5, `goodput ${report.goodputMbps} Mbit/s`);
  });

  test("a limit under the bandwidth-delay product is applied and warned about, with the limit to set", async () => {
    warnings.length = 0;
    await a.tc(ab, { reset: true, rate: 20, delay: 40, limit: 10 });
    assert.equal((await a.tcRead(ab))?.netem?.limit, 10);
    assert.equal(warnings.length, 1, warnings.join("\n"));
    assert.match(
      warnings[0],
      /limit 10 packets is under the bandwidth-delay product of 20 Mbit\/s x 40 ms \(~67 packets of 1500 B\).*raise limit to at least 67/,
    );
    await a.tc(ab, { reset: true });
  });
});
