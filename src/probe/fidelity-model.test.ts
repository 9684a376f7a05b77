import { test } from "node:test";
import assert from "node:assert/strict";
import { binomialInterval } from "./fidelity-model.js";

test("binomialInterval: about two standard deviations each side, in percent", () => {
  // Binomial(2000, 0.3): standard deviation sqrt(0.21 / 2000) = 1.025 points.
  const [lo, hi] = binomialInterval(2000, 0.3);
  assert.ok(Math.abs(lo - (30 - 1.96 * 1.0247)) < 0.01, String(lo));
  assert.ok(Math.abs(hi - (30 + 1.96 * 1.0247)) < 0.01, String(hi));
  // A wider z, a wider interval.
  const [lo3, hi3] = binomialInterval(2000, 0.3, 3.29);
  assert.ok(lo3 < lo && hi3 > hi);
});

test("binomialInterval: clamped to 0..100 and at least one event wide", () => {
  assert.deepEqual(binomialInterval(100, 0), [0, 1]);
  const [lo, hi] = binomialInterval(2000, 0.001);
  assert.equal(lo, 0);
  assert.ok(hi > 0.1 && hi < 0.3, String(hi));
  assert.equal(binomialInterval(10, 1)[1], 100);
});
