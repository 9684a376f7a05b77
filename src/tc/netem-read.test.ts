import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { appliedRoot, netemFromJson, parseQdiscs, redirectTargetFromFilters } from "./netem-read.js";
import { settingsArguments } from "./netem-options.js";

// Captured from `tc -j` (iproute2 6.1) in the kernel lab.
const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), "utf8");

describe("netem read back from tc -j", { timeout: 60_000 }, () => {
  test("converts every netem field back to ms, percent and Mbit/s", () => {
    const root = appliedRoot(parseQdiscs(fixture("netem-full.json")), { delay: "normal" })!;
    assert.equal(root.kind, "netem");
    assert.equal(root.isDefault, false);
    assert.deepEqual(root.netem, {
      limit: 1000,
      delay: 20,
      jitter: 5,
      delayCorrelation: 25,
      distribution: "normal",
      loss: 1,
      lossCorrelation: 10,
      ecn: true,
      duplicate: 2,
      duplicateCorrelation: 30,
      reorder: 5,
      reorderCorrelation: 40,
      gap: 3,
      corrupt: 0.5,
      rate: 10,
      packetOverhead: 20,
      cellSize: 100,
      cellOverhead: 5,
      slot: { min: 1, max: 5, packets: 10, bytes: 4000 },
    });
  });

  test("reads the loss models with h and k as delivery probabilities", () => {
    assert.deepEqual(appliedRoot(parseQdiscs(fixture("netem-gemodel.json")))!.netem!.loss, {
      gemodel: { p: 1, r: 30, h: 20, k: 98 },
    });
    const state = appliedRoot(parseQdiscs(fixture("netem-state-ingress.json")))!.netem!;
    assert.deepEqual(state.loss, { state: { p13: 1, p31: 30, p32: 2, p23: 50, p14: 3 } });
    assert.equal(state.rate, 1000);
    assert.equal(state.limit, 5834);
  });

  test("reads 64-bit rates and the kernel's default qdisc", () => {
    assert.equal(appliedRoot(parseQdiscs(fixture("netem-rate64.json")))!.netem!.rate, 20000);
    const root = appliedRoot(parseQdiscs(fixture("default-noqueue.json")))!;
    assert.deepEqual([root.kind, root.isDefault, root.netem], ["noqueue", true, undefined]);
    assert.deepEqual(parseQdiscs(""), []);
  });

  test("what is read back gives the same arguments again", () => {
    const settings = netemFromJson(parseQdiscs(fixture("netem-full.json"))[0].options!);
    assert.deepEqual(settingsArguments(settings).slice(0, 7), ["limit", "1000", "delay", "20ms", "5ms", "25%", "loss"]);
  });

  test("finds the IFB an ingress filter redirects to", () => {
    assert.equal(redirectTargetFromFilters(fixture("filter-redirect.json")), "d-3-ifb2");
    assert.equal(redirectTargetFromFilters("[]"), undefined);
  });
});
