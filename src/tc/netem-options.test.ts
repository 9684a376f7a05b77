import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { InvalidArgumentError } from "../errors.js";
import {
  clearingArguments,
  derivedLimit,
  formatRate,
  formatTime,
  mergeNetem,
  netemArguments,
  settingsArguments,
} from "./netem-options.js";
import { validateOneWayNetem, validateNetemOptions } from "./netem-validate.js";

function rejects(options: unknown, pattern: RegExp): void {
  assert.throws(
    () => netemArguments(options as never),
    (error: unknown) => {
      assert.ok(error instanceof InvalidArgumentError, String(error));
      assert.match(error.message, pattern);
      return true;
    },
  );
}

describe("validateOneWayNetem", { timeout: 60_000 }, () => {
  test("names the option, the value and the rule for an out-of-range value", () => {
    assert.throws(
      () => validateOneWayNetem({ delay: -1 }),
      /Invalid tc option delay: -1 \(number\) must be a number of milliseconds from 0 to 274877; pass null/,
    );
    assert.throws(() => validateOneWayNetem({ loss: 101 }), /tc option loss: 101 .*percent from 0 to 100/);
    assert.throws(() => validateOneWayNetem({ limit: 1.5 }), /tc option limit: 1.5 .*integer number of packets from 1/);
    assert.throws(
      () => validateOneWayNetem({ rate: "10mbit" }),
      /tc option rate: "10mbit" must be a number of Mbit\/s/,
    );
    assert.throws(
      () => validateOneWayNetem({ slot: { min: 5, max: 1 } }),
      /tc option slot.max: 1 .*must not be less than slot.min/,
    );
    assert.throws(() => validateOneWayNetem({ loss: { gemodel: { p: 1, h: 200 } } }), /tc option loss.gemodel.h: 200/);
  });

  test("rejects unknown names with a suggestion", () => {
    assert.throws(
      () => validateOneWayNetem({ dealy: 20 }),
      /tc option dealy: 20 \(number\) is not a known option: did you mean "delay"\?/,
    );
    assert.throws(() => validateOneWayNetem({ distribution: "pareto-normal" }), /did you mean "paretonormal"/);
    assert.throws(
      () => validateOneWayNetem({ loss: { random: 1, corelation: 5 } }),
      /loss.corelation.*did you mean "correlation"/,
    );
    assert.throws(() => validateOneWayNetem({ ingress: true }), /tc option ingress.*not a known option/);
  });

  test("accepts null to remove a value and normalises structured random loss", () => {
    assert.deepEqual(validateOneWayNetem({ delay: null, loss: { random: 2, correlation: 25 } }), {
      delay: null,
      loss: 2,
      lossCorrelation: 25,
    });
    assert.throws(
      () => validateOneWayNetem({ loss: { random: 2, correlation: 1 }, lossCorrelation: 3 }),
      /given twice/,
    );
    assert.throws(
      () => validateOneWayNetem({ loss: { state: { p13: 1 } }, lossCorrelation: 3 }),
      /only applies to random loss/,
    );
  });

  test("ingress takes true, null or its own options, validated with their own path", () => {
    assert.deepEqual(validateNetemOptions({ delay: 5, ingress: true }), { delay: 5, ingress: true });
    assert.deepEqual(validateNetemOptions({ ingress: { delay: 7 } }), { ingress: { delay: 7 } });
    assert.throws(() => validateNetemOptions({ ingress: { delay: -3 } }), /tc option ingress.delay: -3/);
    assert.throws(() => validateNetemOptions({ ingress: "yes" }), /tc option ingress: "yes" must be true/);
  });
});

describe("netemArguments", { timeout: 60_000 }, () => {
  test("writes iproute2 6.1 syntax, correlations included", () => {
    assert.deepEqual(netemArguments({ delay: 20, jitter: 5, delayCorrelation: 25, distribution: "normal", loss: 1 }), [
      "delay",
      "20ms",
      "5ms",
      "25%",
      "distribution",
      "normal",
      "loss",
      "random",
      "1%",
      "0%",
    ]);
    assert.deepEqual(netemArguments({ delay: 10, reorder: 25, reorderCorrelation: 50, gap: 5 }), [
      "delay",
      "10ms",
      "reorder",
      "25%",
      "50%",
      "gap",
      "5",
    ]);
    assert.deepEqual(netemArguments({ rate: 1.5, packetOverhead: -14, cellSize: 48, cellOverhead: 5 }), [
      "rate",
      "1500kbit",
      "-14",
      "48",
      "5",
    ]);
    assert.deepEqual(netemArguments({ slot: { min: 1, max: 5, packets: 10, bytes: 4000 } }), [
      "slot",
      "1ms",
      "5ms",
      "packets",
      "10",
      "bytes",
      "4000",
    ]);
    assert.deepEqual(netemArguments({ slot: { distribution: "pareto", delay: 10, jitter: 2.5 } }), [
      "slot",
      "distribution",
      "pareto",
      "10ms",
      "2500us",
    ]);
    assert.deepEqual(netemArguments({ loss: { state: { p13: 1 } }, ecn: true }), [
      "loss",
      "state",
      "1%",
      "99%",
      "0%",
      "100%",
      "0%",
      "ecn",
    ]);
    // h and k are probabilities of delivery; tc takes 1-h and 1-k.
    assert.deepEqual(netemArguments({ loss: { gemodel: { p: 1, r: 30, h: 20, k: 98 } } }), [
      "loss",
      "gemodel",
      "1%",
      "30%",
      "80%",
      "2%",
    ]);
    assert.deepEqual(netemArguments({ seed: 42, loss: 3 }), ["loss", "random", "3%", "0%", "seed", "42"]);
  });

  test("uniform jitter loads no table (the kernel's own uniform)", () => {
    assert.deepEqual(netemArguments({ delay: 20, jitter: 4, distribution: "uniform" }), ["delay", "20ms", "4ms", "0%"]);
  });

  test("a duplicate correlation alone is sent through a no-op corrupt (iproute2 would drop it)", () => {
    assert.deepEqual(netemArguments({ duplicate: 5, duplicateCorrelation: 50 }), [
      "duplicate",
      "5%",
      "50%",
      "corrupt",
      "0%",
      "0%",
    ]);
    assert.deepEqual(netemArguments({ duplicate: 5, loss: 1 }), [
      "loss",
      "random",
      "1%",
      "0%",
      "duplicate",
      "5%",
      "0%",
    ]);
  });

  test("rejects combinations netem refuses, naming what to add", () => {
    rejects({ reorder: 10 }, /tc option reorder: 10 .*needs a delay/);
    rejects({ delay: 10, gap: 3 }, /tc option gap: 3 .*needs reorder/);
    rejects({ delay: 10, distribution: "pareto" }, /tc option distribution: "pareto" needs a delay and a jitter/);
    rejects({ ecn: true }, /tc option ecn: true .*needs a loss/);
    rejects({ cellSize: 48 }, /tc option cellSize: 48 .*only applies with a rate/);
  });

  test("formats times and rates without exponents", () => {
    assert.equal(formatTime(0.0015), "2us");
    assert.equal(formatTime(250), "250ms");
    assert.equal(formatRate(0.000008), "8bit");
    assert.equal(formatRate(100), "100mbit");
    assert.equal(formatRate(0.25), "250kbit");
  });
});

describe("derived queue limit", { timeout: 60_000 }, () => {
  test("is twice the bandwidth-delay product in 1500-byte packets, never below 1000", () => {
    // 1000 Mbit/s x 100 ms = 12.5 MB in flight = 8333.3 packets; twice that, rounded up.
    assert.equal(derivedLimit({ rate: 1000, delay: 100 }), 16667);
    // Jitter adds to the time a packet may wait.
    assert.equal(derivedLimit({ rate: 1000, delay: 30, jitter: 5 }), 5834);
    // A slow or short link keeps netem's 1000.
    assert.equal(derivedLimit({ rate: 10, delay: 20 }), 1000);
    assert.equal(derivedLimit({ delay: 500 }), undefined);
    assert.equal(derivedLimit({ rate: 1000, delay: 100, limit: 50 }), 50);
    assert.deepEqual(netemArguments({ rate: 10000, delay: 50 }).slice(0, 2), ["limit", "83334"]);
  });
});

describe("mergeNetem", { timeout: 60_000 }, () => {
  test("keeps omitted values, removes null/0 values with their qualifiers, reset starts over", () => {
    const base = mergeNetem(
      undefined,
      validateOneWayNetem({
        delay: 20,
        jitter: 5,
        distribution: "normal",
        loss: 1,
        lossCorrelation: 25,
        rate: 10,
        cellSize: 48,
      }),
    );
    assert.deepEqual(mergeNetem(base, { delay: 30 }), { ...base, delay: 30 });
    const noJitter = mergeNetem(base, { jitter: null, loss: 0, rate: null });
    assert.deepEqual(noJitter, { delay: 20 });
    assert.deepEqual(mergeNetem(base, { reset: true, duplicate: 1 }), { duplicate: 1 });
    // A loss model replaces random loss and its correlation.
    assert.deepEqual(mergeNetem(base, { loss: { gemodel: { p: 2 } } }).loss, {
      gemodel: { p: 2, r: 98, h: 0, k: 100 },
    });
    assert.equal(mergeNetem(base, { loss: { gemodel: { p: 2 } } }).lossCorrelation, undefined);
  });

  test("clearing arguments switch off what the kernel would otherwise keep", () => {
    const before = { delay: 10, reorder: 5, corrupt: 1, rate: 10, slot: { min: 1 } };
    const after = { delay: 10 };
    assert.deepEqual(clearingArguments(before, after, {}, settingsArguments(after)), [
      "reorder",
      "0%",
      "corrupt",
      "0%",
      "rate",
      "0bit",
      "slot",
      "0",
    ]);
    // ECN and a loaded delay table cannot be switched off in place.
    assert.equal(clearingArguments({ loss: 1, ecn: true }, { loss: 1 }, {}, []), undefined);
    assert.equal(
      clearingArguments({ delay: 9, jitter: 1 }, { delay: 9, jitter: 1 }, { delay: "pareto" }, []),
      undefined,
    );
  });
});
