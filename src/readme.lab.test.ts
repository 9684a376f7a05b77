// requires: netem
/**
 * The README blocks that need netem (see README_BLOCKS in
 * readme.test-helpers.ts): the main example runs and its probe sees the
 * delay and rate it set; the netem command lines run one by one, in order,
 * in a sandbox of their own, each ending with status 0, and nothing is left.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { outputOf, readmeBlock, runCommandLines, runTypeScriptBlock } from "./readme.test-helpers.js";
import { assertNothingLeft } from "./testing/leftovers.js";

test(
  "the main example runs: the probe sees the netem delay and rate it set, the web client gets its answer",
  { timeout: 420_000 },
  async () => {
    const result = await runTypeScriptBlock(readmeBlock("main example"), 360_000);
    assert.equal(result.code, 0, outputOf(result));
    const printed = /^([\d.]+) % lost, p50 ([\d.]+) ms, ([\d.]+) Mbit\/s$/m.exec(result.stdout);
    assert.ok(printed, outputOf(result));
    const [, , p50, goodput] = printed.map(Number);
    // 20 ms (jitter 2) on what the client sends: no round trip can be shorter; 10 Mbit/s caps what it sends.
    assert.ok(p50 >= 18, `p50 ${p50} ms under the 20 ms delay:\n${outputOf(result)}`);
    assert.ok(
      goodput > 0 && goodput <= 10.5,
      `goodput ${goodput} Mbit/s through a 10 Mbit/s link:\n${outputOf(result)}`,
    );
    assertNothingLeft(result.pid);
  },
);

test(
  "the netem command lines run in order against examples/lossy-pair.yaml, each as the README says, and nothing is left",
  { timeout: 600_000 },
  async () => {
    const outputs = await runCommandLines(readmeBlock("netem command lines"));
    // After the impair, 50 ms out of a and still 20 ms back: no round trip can be shorter than 70 ms.
    const probe = outputs.find(({ line }) => line.startsWith("dummynet probe"))!;
    const min = Number(/round trip ms: min ([\d.]+)/.exec(probe.stdout)?.[1]);
    assert.ok(min >= 70, `the shortest round trip after the impair: ${min} ms\n${probe.stdout}`);
  },
);
