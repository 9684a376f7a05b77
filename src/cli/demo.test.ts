/**
 * The README's first command on a fresh machine: `npm run demo` with no
 * `ping` and no `iptables` on the PATH brings a network up, reports what the
 * probe saw cross it, cuts two hosts apart and heals them (the probe loses
 * everything, then nothing), takes it down and leaves nothing.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { REPO } from "./cli.test-helpers.js";
import { programPath, runBounded } from "../test-support/program-path.js";
import { assertNothingLeft } from "../testing/leftovers.js";

test(
  "npm run demo without ping and iptables: the probe reports what crossed, a partition drops all and its healing none, nothing is left",
  { timeout: 360_000 },
  async () => {
    const path = programPath(["ping", "iptables"]);
    try {
      const demo = await runBounded(["npm", "run", "--silent", "demo"], { PATH: path.path }, 300_000, REPO);
      const output = `${demo.stdout}\n${demo.stderr}`;
      assert.equal(demo.code, 0, output);
      const uid = Number(/owner uid (\d+)/.exec(demo.stdout)?.[1]);
      assert.ok(Number.isInteger(uid), `the demo names its owner uid:\n${output}`);
      // Two probes, each with its datagrams counted and round trips measured, one with TCP goodput; then one
      // across a partition (everything lost) and one after healing it (everything back).
      const probes = [...demo.stdout.matchAll(/(\d+) sent, (\d+) received, ([\d.]+) % lost/g)];
      assert.equal(probes.length, 4, output);
      for (const [, sent, received] of probes.slice(0, 2)) assert.ok(Number(sent) > 0 && Number(received) > 0, output);
      assert.match(demo.stdout, /\$ dummynet fault \d+ partition (\S+) (\S+)\npartitioned \1 \| \2/, output);
      const [, sent, received, lost] = probes[2];
      assert.deepEqual([sent, received, lost], ["50", "0", "100"], `across the partition:\n${output}`);
      const [, , afterReceived, afterLost] = probes[3];
      // Healed, the link is as before: lossless on the star (no netem), lossy-pair's own loss with netem.
      if (/network star is up/.test(demo.stdout)) assert.equal(afterLost, "0", output);
      else assert.ok(Number(afterReceived) > 0, output);
      assert.match(demo.stdout, /round trip ms: min [\d.]+ +p10 [\d.]+ +p50 [\d.]+/, output);
      assert.match(demo.stdout, /tcp goodput: [\d.]+ Mbit\/s/, output);
      assert.match(demo.stdout, /left on this machine: 0 namespaces, 0 links/, output);
      assertNothingLeft(uid);
    } finally {
      path.remove();
    }
  },
);
