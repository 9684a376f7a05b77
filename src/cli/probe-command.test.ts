/**
 * `dummynet probe` against a network that `dummynet up` holds: a report in
 * words and in JSON, usage errors (exit 2) before anything starts, and the
 * network untouched by it (down still removes everything).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { assertNothingLeft } from "../testing/leftovers.js";
import { finished, firstLine, runCli, startCli } from "./cli.test-helpers.js";

test(
  "probe a host pair of a running star: JSON and text reports, usage errors exit 2",
  { timeout: 240_000 },
  async () => {
    const up = startCli(["up", "examples/star.yaml", "--json"]);
    try {
      const { uid } = JSON.parse(await firstLine(up, 120_000)) as { uid: number };

      const json = await runCli([
        "probe",
        String(uid),
        "h1",
        "h3",
        "--count",
        "50",
        "--interval-ms",
        "2",
        "--tcp-seconds",
        "1",
        "--json",
      ]);
      assert.equal(json.code, 0, json.stderr);
      const report = JSON.parse(json.stdout) as {
        network: string;
        from: string;
        to: string;
        address: string;
        sent: number;
        received: number;
        lossPercent: number;
        goodputMbps: number;
        rttMs: { p50: number };
      };
      assert.deepEqual([report.network, report.from, report.to, report.address], ["star", "h1", "h3", "10.0.0.3"]);
      assert.equal(report.sent, 50);
      assert.equal(report.received, 50);
      assert.equal(report.lossPercent, 0);
      assert.ok(report.rttMs.p50 > 0);
      assert.ok(report.goodputMbps > 0);

      const text = await runCli(["probe", "h2", "h1", "--network", String(uid), "--count", "10", "--interval-ms", "1"]);
      assert.equal(text.code, 0, text.stderr);
      assert.match(
        text.stdout,
        /^h2 -> h1 \(10\.0\.0\.1\): 10 sent, 10 received, 0 % lost, 0 duplicates, 0 reordered\n {2}round trip ms: min /,
      );

      const unknownHost = await runCli(["probe", String(uid), "h1", "nope"]);
      assert.equal(unknownHost.code, 2);
      assert.match(unknownHost.stderr, /no host "nope" in network star/);
      const badCount = await runCli(["probe", String(uid), "h1", "h2", "--count", "0"]);
      assert.equal(badCount.code, 2);
      assert.match(badCount.stderr, /Invalid count: 0 \(number\) must be a whole number from 1/);
      const noAddress = await runCli(["probe", String(uid), "h1", "sw"]); // the switch host has only bridge ports, no address
      assert.equal(noAddress.code, 2);
      assert.match(noAddress.stderr, /has no IPv4 address/);
      const tooMany = await runCli(["probe", String(uid), "h1", "h2", "h3"]);
      assert.equal(tooMany.code, 2);

      assert.equal(up.exitCode, null, "the network is still up after the probes");
      const down = await runCli(["down", String(uid)]);
      assert.equal(down.code, 0, down.stderr);
      assert.equal((await finished(up)).code, 0);
    } finally {
      if (up.exitCode === null) up.kill("SIGKILL");
    }
    assertNothingLeft(up.pid!);
  },
);
