import { test } from "node:test";
import assert from "node:assert/strict";
import {
  checkShare,
  clopperPearson,
  delayTarget,
  gilbertElliott,
  goodputCeiling,
  rateTarget,
  regularizedBeta,
} from "./model.js";

const close = (actual: number, expected: number, tolerance: number, what: string) => {
  assert.ok(Math.abs(actual - expected) <= tolerance, `${what}: ${actual}, expected ${expected} +/- ${tolerance}`);
};

test("regularizedBeta against SciPy's beta.cdf", () => {
  close(regularizedBeta(0.3, 2.5, 4.5), 0.40653901668245934, 1e-10, "I_0.3(2.5, 4.5)");
  close(regularizedBeta(0.5, 3, 3), 0.5, 1e-12, "symmetric");
  assert.equal(regularizedBeta(0, 2, 2), 0);
  assert.equal(regularizedBeta(1, 2, 2), 1);
});

test("clopperPearson: the exact 99 % interval, as SciPy's beta.ppf gives it", () => {
  // Reference values: scipy.stats.beta.ppf(0.005, k, n - k + 1) and beta.ppf(0.995, k + 1, n - k).
  const cases: Array<[number, number, number, number]> = [
    [2, 2000, 5.1758875564725135e-5, 0.004628472391608589],
    [16, 2000, 0.0037905618891921015, 0.014691314159684665],
    [609, 2000, 0.27823804275040487, 0.33170289773994016],
    [5, 10, 0.12831055393508328, 0.8716894460649167],
  ];
  for (const [k, n, lo, hi] of cases) {
    const [l, h] = clopperPearson(k, n);
    close(l, lo, 1e-9, `lower of ${k}/${n}`);
    close(h, hi, 1e-9, `upper of ${k}/${n}`);
  }
  // None lost: from 0, up to 1 - 0.005^(1/n).
  const [l0, h0] = clopperPearson(0, 2000);
  assert.equal(l0, 0);
  close(h0, 1 - 0.005 ** (1 / 2000), 1e-9, "upper of 0/2000");
  assert.equal(clopperPearson(10, 10)[1], 1);
  // R's binom.test(5, 10): 0.1871 to 0.8129 at 95 %.
  const [l95, h95] = clopperPearson(5, 10, 0.95);
  close(l95, 0.18708602844739855, 1e-9, "95 % lower");
  close(h95, 0.8129139715526015, 1e-9, "95 % upper");
  // Fractional counts (an effective sample size) work too.
  const [lf, hf] = clopperPearson(66 / 5.4516, 2000 / 5.4516);
  close(lf, 0.013772124833405772, 1e-8, "fractional lower");
  close(hf, 0.06511275034670488, 1e-8, "fractional upper");
  assert.throws(() => clopperPearson(3, 2), /events <= trials/);
});

/** A small seeded generator, so the simulation below is the same every run. */
function mulberry32(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test("gilbertElliott: stationary loss, and the variance of the share as a simulated chain has it", () => {
  const model = { p: 1, r: 30 };
  const ge = gilbertElliott(model);
  close(ge.lossPercent, 100 / 31, 1e-9, "loss p / (p + r)");
  // h = 0, k = 100: the factor is (1 + lambda) / (1 - lambda), lambda = 1 - p - r = 0.69.
  close(ge.varianceFactor, 1.69 / 0.31, 1e-9, "variance factor");
  close(ge.meanBurstPackets, 1 / 0.3, 1e-9, "mean burst");
  // Delivery in both states: losses of 1 - k in good and 1 - h in bad.
  close(
    gilbertElliott({ p: 10, r: 40, h: 20, k: 95 }).lossPercent,
    100 * (0.8 * 0.05 + 0.2 * 0.8),
    1e-9,
    "general loss",
  );
  // Independent (r = 100 - p): no correlation.
  close(gilbertElliott({ p: 5 }).varianceFactor, 1, 1e-9, "memoryless chain");

  // Simulate: 1000 runs of 2000 packets; the variance of the lost share against the binomial variance.
  const random = mulberry32(11);
  const runs = 1000;
  const packets = 2000;
  const shares: number[] = [];
  let bad = false;
  for (let run = 0; run < runs; run++) {
    let lost = 0;
    for (let i = 0; i < packets; i++) {
      bad = bad ? random() >= 0.3 : random() < 0.01;
      if (bad) lost++;
    }
    shares.push(lost / packets);
  }
  const mean = shares.reduce((s, x) => s + x, 0) / runs;
  const variance = shares.reduce((s, x) => s + (x - mean) ** 2, 0) / (runs - 1);
  const loss = ge.lossPercent / 100;
  const ratio = variance / ((loss * (1 - loss)) / packets);
  close(mean, loss, 0.002, "simulated mean loss");
  // The sample variance of 1000 runs is good to about 10 %.
  close(ratio, ge.varianceFactor, 0.15 * ge.varianceFactor, "simulated variance factor");
});

test("checkShare: inside or outside the interval, over the effective trials", () => {
  const inside = checkShare({ events: 16, trials: 2000, varianceFactor: 1 }, 1);
  assert.equal(inside.inside, true);
  assert.deepEqual(inside.interval, [0.379, 1.469]);
  assert.equal(checkShare({ events: 40, trials: 2000, varianceFactor: 1 }, 1).inside, false);
  // Bursty loss: the same count is inside a wider interval.
  assert.equal(checkShare({ events: 100, trials: 2000, varianceFactor: 1 }, 3.23).inside, false);
  assert.equal(checkShare({ events: 100, trials: 2000, varianceFactor: 5.45 }, 3.23).inside, true);
});

test("delayTarget and rateTarget: the issue's tolerances", () => {
  assert.equal(delayTarget(100, 105.4).met, true); // 5 % + 0.5 ms = 5.5 ms
  assert.equal(delayTarget(100, 105.6).met, false);
  assert.equal(delayTarget(100, 94.6).met, true);
  assert.equal(delayTarget(2, 2.55).met, true); // 0.6 ms
  assert.equal(delayTarget(2, 1.3).met, false);
  assert.equal(rateTarget(10, 9).met, true);
  assert.equal(rateTarget(10, 8.99).met, false);
  assert.equal(rateTarget(10, 10.3).met, false);
  close(goodputCeiling(), 1448 / 1514, 1e-12, "goodput ceiling");
});
