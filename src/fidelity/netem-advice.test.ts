import { test } from "node:test";
import assert from "node:assert/strict";
import { bandwidthDelayPackets, netemAdvice } from "./netem-advice.js";

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
  assert.match(
    warning,
    /^tc on d-1-a-b \(outgoing\): limit 10 packets is under the bandwidth-delay product of 20 Mbit\/s x 40 ms \(~67 packets of 1500 B\)/,
  );
  assert.match(warning, /raise limit to at least 67/);
  // At or above the product, without a limit (the library derives one), or without a rate: nothing to say.
  assert.deepEqual(netemAdvice({ rate: 20, delay: 40, limit: 67 }, target), []);
  assert.deepEqual(netemAdvice({ rate: 20, delay: 40 }, target), []);
  assert.deepEqual(netemAdvice({ delay: 40, limit: 5 }, target), []);
  assert.deepEqual(netemAdvice({ loss: 1 }, target), []);
});
