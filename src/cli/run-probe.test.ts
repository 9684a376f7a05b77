// `dummynet run FILE --probe` on this host (no netem): a file without
// impairments says so and still runs its jobs; bad probe flags are refused
// before anything is built. Netem's delay and loss through `run --probe` are
// checked in the lab (run-probe.lab.test.ts).
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { assertNothingLeft } from "../testing/leftovers.js";
import { finished, startCli } from "./cli.test-helpers.js";

const scratch = mkdtempSync(join(tmpdir(), "dummynet-run-probe-"));
const UNIMPAIRED = join(scratch, "plain-pair.yaml");
writeFileSync(
  UNIMPAIRED,
  `name: plain-pair
hosts: { a: {}, b: {} }
links:
  - ends: [{ at: "a:a-b", address: 10.0.0.1/24 }, { at: "b:b-a", address: 10.0.0.2/24 }]
programs:
  - { name: hello, host: a, command: [node, -e, "console.log('the job ran')"] }
`,
);

async function run(args: string[]) {
  const child = startCli(["run", ...args]);
  const result = await finished(child);
  assertNothingLeft(child.pid!);
  return result;
}

describe("run --probe on this host", { concurrency: false, timeout: 300_000 }, () => {
  test("a file without impaired links: the probe says so, the jobs run as usual", async () => {
    const result = await run([UNIMPAIRED, "--probe"]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(
      result.stdout,
      /^probe: no impaired links in this file \(no link end has impair\): nothing to probe$/m,
    );
    assert.match(result.stdout, /the job ran/);
    // The probe's line comes before the job's output: it ran once the network was built.
    assert.ok(result.stdout.indexOf("no impaired links") < result.stdout.indexOf("the job ran"), result.stdout);
  });

  test("--json: an empty probes array beside the jobs", async () => {
    const result = await run([UNIMPAIRED, "--probe", "--json"]);
    assert.equal(result.code, 0, result.stderr);
    const report = JSON.parse(result.stdout) as { exitCode: number; probes: unknown[]; jobs: { stdout: string }[] };
    assert.deepEqual(report.probes, []);
    assert.equal(report.exitCode, 0);
    assert.match(report.jobs[0].stdout, /the job ran/);
  });

  test("bad probe flags are refused before anything is built", async () => {
    const zero = await run([UNIMPAIRED, "--probe", "--probe-count", "0"]);
    assert.equal(zero.code, 2, zero.stderr);
    assert.match(zero.stderr, /--probe: Invalid count: 0 \(number\) must be a whole number from 1/);
    const tcp = await run([UNIMPAIRED, "--probe", "--probe-tcp-seconds", "0.01"]);
    assert.equal(tcp.code, 2, tcp.stderr);
    assert.match(tcp.stderr, /tcp\.seconds: 0\.01 \(number\) must be a number of seconds from 0\.1 to 3600/);
    const alone = await run([UNIMPAIRED, "--probe-count", "5"]);
    assert.equal(alone.code, 2, alone.stderr);
    assert.match(alone.stderr, /--probe-count, --probe-tcp-seconds and --probe-timeout need --probe/);
    for (const result of [zero, tcp, alone]) assert.doesNotMatch(result.stdout, /the job ran/);
  });
});
