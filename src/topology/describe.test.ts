import { test } from "node:test";
import assert from "node:assert/strict";
import { describeImpairment } from "./describe.js";

test("describeImpairment: delay, jitter, correlation and distribution", () => {
  assert.equal(describeImpairment(undefined), "");
  assert.equal(describeImpairment({ delay: 20 }), "delay 20ms");
  assert.equal(
    describeImpairment({ delay: 20, jitter: 5, distribution: "normal", delayCorrelation: 25 }),
    "delay 20ms ±5ms normal (corr 25%)",
  );
});

test("describeImpairment: every loss model with the fields it sets", () => {
  assert.equal(describeImpairment({ loss: 1, lossCorrelation: 25 }), "loss 1% (corr 25%)");
  assert.equal(describeImpairment({ loss: { random: 2 } }), "loss 2%");
  assert.equal(describeImpairment({ loss: { state: { p13: 1, p31: 30 } } }), "loss state p13 1% p31 30%");
  assert.equal(
    describeImpairment({ loss: { gemodel: { p: 1, r: 30, h: 0, k: 100 } }, ecn: true }),
    "loss gemodel p 1% r 30% h 0% k 100%, ecn",
  );
});

test("describeImpairment: the rate's link layer (overheads, cell size) and the slot's packets and bytes", () => {
  assert.equal(
    describeImpairment({ rate: 10, packetOverhead: -14, cellSize: 48, cellOverhead: 5 }),
    "rate 10Mbit/s packet overhead -14B cell 48B cell overhead 5B",
  );
  assert.equal(
    describeImpairment({ slot: { min: 1, max: 5, packets: 10, bytes: 3000 } }),
    "slot 1-5ms 10 packets 3000 bytes",
  );
  assert.equal(describeImpairment({ slot: { min: 2 } }), "slot 2ms");
  assert.equal(
    describeImpairment({ slot: { distribution: "pareto", delay: 10, jitter: 2, packets: 4 } }),
    "slot pareto 10ms ±2ms 4 packets",
  );
});

test("describeImpairment: duplicates, corruption, reordering, limit, seed and what is received", () => {
  assert.equal(
    describeImpairment({
      delay: 10,
      duplicate: 1,
      corrupt: 0.1,
      corruptCorrelation: 10,
      reorder: 25,
      gap: 5,
      limit: 5000,
      seed: 42,
    }),
    "delay 10ms, duplicate 1%, corrupt 0.1% (corr 10%), reorder 25%, gap 5, limit 5000, seed 42",
  );
  assert.equal(describeImpairment({ delay: 5, ingress: true }), "delay 5ms, (also received)");
  assert.equal(describeImpairment({ ingress: { rate: 10 } }), "(received: rate 10Mbit/s)");
});
