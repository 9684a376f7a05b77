import { test } from "node:test";
import assert from "node:assert/strict";
import { bandwidthDelayPackets, gsoSizeForRate, netemAdvice } from "./advice.js";

const target = { iface: "d-1-a-b", direction: "outgoing" } as const;

test("bandwidthDelayPackets: rate x (delay + jitter) in packets of 1500 B", () => {
  // 20 Mbit/s x 40 ms = 100 kB = 66.7 packets.
  assert.equal(bandwidthDelayPackets({ rate: 20, delay: 40 }), 67);
  assert.equal(bandwidthDelayPackets({ rate: 20, delay: 30, jitter: 10 }), 67);
  assert.equal(bandwidthDelayPackets({ rate: 20 }), undefined);
  assert.equal(bandwidthDelayPackets({ delay: 40 }), undefined);
});

test("netemAdvice: a limit under the bandwidth-delay product is warned about, with the limit to set", () => {
  const [warning, ...rest] = netemAdvice({ rate: 20, delay: 40, limit: 10 }, target);
  assert.deepEqual(rest, []);
  assert.match(warning!, /^tc on d-1-a-b \(outgoing\): limit 10 packets is under the bandwidth-delay product of 20 Mbit\/s x 40 ms \(~67 packets of 1500 B\)/);
  assert.match(warning!, /raise limit to at least 67/);
  // At or above the product, without a limit (the library derives one), or without a rate: nothing to say.
  assert.deepEqual(netemAdvice({ rate: 20, delay: 40, limit: 67 }, target), []);
  assert.deepEqual(netemAdvice({ rate: 20, delay: 40 }, target), []);
  assert.deepEqual(netemAdvice({ delay: 40, limit: 5 }, target), []);
  assert.deepEqual(netemAdvice({ loss: 1 }, target), []);
});

test("gsoSizeForRate: about 1 ms of the rate, at least one segment, at most the device's", () => {
  assert.equal(gsoSizeForRate(1, 65536), 1500);
  assert.equal(gsoSizeForRate(10, 65536), 1500);
  assert.equal(gsoSizeForRate(50, 65536), 6250);
  assert.equal(gsoSizeForRate(100, 65536), 12500);
  assert.equal(gsoSizeForRate(10_000, 65536), 65536);
  assert.equal(gsoSizeForRate(100, 8000), 8000);
});
