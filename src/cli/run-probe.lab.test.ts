// requires: netem
// `dummynet run FILE --probe` through netem: 20 ms and 5 % loss each way are
// felt and counted by the probe, on a pair (--json) and through a bridge (the table).
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkShare } from "../fidelity/model.js";
import { assertNothingLeft } from "../testing/leftovers.js";
import { finished, startCli } from "./cli.test-helpers.js";

const scratch = mkdtempSync(join(tmpdir(), "dummynet-run-probe-lab-"));
function file(name: string, text: string): string {
  const path = join(scratch, name);
  writeFileSync(path, text);
  return path;
}

/** The probe's default bound assumes a real machine; a Node.js start in the lab's guest took 30 s at host load 30. */
const PROBE_TIMEOUT = "120000";

/** Netem's 5 % each way loses 1 - 0.95^2 = 9.75 % of round trips; it must lie in the exact 99.9 % interval of what was lost. */
function assertLoss(measured: { sent: number; received: number }) {
  const check = checkShare(
    { events: measured.sent - measured.received, trials: measured.sent, varianceFactor: 1 },
    9.75,
    0.999,
  );
  assert.ok(
    check.inside,
    `lost ${measured.sent - measured.received} of ${measured.sent}: the 99.9 % interval ${check.interval.join("-")} % does not hold 9.75 %`,
  );
}

describe("run --probe through netem", { concurrency: false, timeout: 480_000 }, () => {
  test("a pair with 20 ms and 5 % loss each way, --json: round trips of at least 40 ms, about 9.75 % lost", async (t) => {
    const pair = file(
      "lossy.yaml",
      `name: lossy
hosts: { a: {}, b: {} }
links:
  - ends: [{ at: "a:a-b", address: 10.0.0.1/24 }, { at: "b:b-a", address: 10.0.0.2/24 }]
    impair: { delay: 20, loss: 5 }
`,
    );
    const child = startCli(["run", pair, "--probe", "--probe-timeout", PROBE_TIMEOUT, "--json", "--", "true"]);
    const result = await finished(child);
    assert.equal(result.code, 0, result.stderr);
    const { probes } = JSON.parse(result.stdout) as {
      probes: {
        link: string;
        from: string;
        to: string;
        configured: { rttMs: number; lossPercent: number };
        measured: { sent: number; received: number; lossPercent: number; rttMs: { min: number; p50: number } };
      }[];
    };
    assert.equal(probes.length, 1);
    const [probe] = probes;
    t.diagnostic(
      `configured rtt ${probe.configured.rttMs} ms, loss ${probe.configured.lossPercent} %; measured rtt ${JSON.stringify(probe.measured.rttMs)}, loss ${probe.measured.lossPercent} %`,
    );
    assert.deepEqual(
      [probe.link, probe.from, probe.to, probe.configured.rttMs, probe.configured.lossPercent],
      ["a:a-b <-> b:b-a", "a", "b", 40, 9.75],
    );
    assert.equal(probe.measured.sent, 200);
    // The fastest round trip, not the median: the emulated guest's median carries its own scheduling noise (docs/fidelity.md).
    assert.ok(probe.measured.rttMs.min >= 40 && probe.measured.rttMs.min < 80, JSON.stringify(probe.measured.rttMs));
    assertLoss(probe.measured);
    assertNothingLeft(child.pid!);
  });

  test("a host behind a bridge, the table: probed through the bridge to the other host, configured beside measured", async (t) => {
    const star = file(
      "star.yaml",
      `name: lossy-star
hosts: { sw: {}, h1: {}, h2: {} }
links:
  - ends: [{ at: "h1:h1-sw", address: 10.0.0.1/24 }, "sw:sw-h1"]
    impair: { delay: 20, loss: 5 }
  - ends: [{ at: "h2:h2-sw", address: 10.0.0.2/24 }, "sw:sw-h2"]
bridges:
  - { name: br0, host: sw, interfaces: [sw-h1, sw-h2] }
`,
    );
    const child = startCli(["run", star, "--probe", "--probe-timeout", PROBE_TIMEOUT, "--", "true"]);
    const result = await finished(child);
    t.diagnostic(result.stdout);
    assert.equal(result.code, 0, result.stderr);
    assert.match(
      result.stdout,
      /^probe h1:h1-sw <-> sw:sw-h1: h1 -> h2 \(10\.0\.0\.2\), sw:sw-h1 is a port of bridge br0: probed through it from h2/m,
    );
    assert.match(result.stdout, /^  there: h1:h1-sw sends: delay 20ms, loss 5%$/m);
    assert.match(result.stdout, /^  back: {2}sw:sw-h1 sends: delay 20ms, loss 5%$/m);
    const rtt = /^ {2}round trip +40\.0 ms +p50 [\d.]+ ms \(min ([\d.]+), p99 [\d.]+\)$/m.exec(result.stdout);
    assert.ok(rtt && Number(rtt[1]) >= 40, result.stdout);
    const loss = /^ {2}loss +9\.75 % \(both ways\) +[\d.]+ % \((\d+) of (\d+)\)$/m.exec(result.stdout);
    assert.ok(loss, result.stdout);
    assertLoss({ sent: Number(loss[2]), received: Number(loss[2]) - Number(loss[1]) });
    assertNothingLeft(child.pid!);
  });
});
