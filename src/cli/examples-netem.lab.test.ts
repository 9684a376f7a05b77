// requires: netem
// The examples and commands that need sch_netem: run the lossy pair, and
// change a running network's impairment with `dummynet impair`.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { assertNothingLeft } from "../test-support/leftovers.js";
import { finished, firstLine, runCli, startCli } from "./cli.test-helpers.js";

function averageRtt(pingOutput: string): number {
  const match = /= [\d.]+\/([\d.]+)\//.exec(pingOutput);
  assert.ok(match, `no rtt line in:\n${pingOutput}`);
  return Number(match[1]);
}

describe("netem examples", { concurrency: false, timeout: 300_000 }, () => {
  test("run examples/lossy-pair.yaml: about 40 ms round trips and some of 50 pings lost", async () => {
    const child = startCli(["run", "examples/lossy-pair.yaml", "--json"]);
    const result = await finished(child);
    assert.equal(result.code, 0, result.stderr);
    const job = (JSON.parse(result.stdout) as { jobs: { stdout: string }[] }).jobs[0]!;
    const counts = /(\d+) packets transmitted, (\d+) received/.exec(job.stdout);
    assert.ok(counts, job.stdout);
    assert.equal(Number(counts[1]), 50);
    // 10 % loss each way loses about 19 % of round trips; all 50 answered has odds of 3e-5.
    assert.ok(Number(counts[2]) < 50 && Number(counts[2]) > 10, job.stdout);
    assert.ok(averageRtt(job.stdout) >= 38, job.stdout); // 20 ms each way
    assertNothingLeft(child.pid!);
  });

  test("up, impair a running link, see the new delay with exec, down", async () => {
    const up = startCli(["up", "examples/lossy-pair.yaml", "--json"]);
    try {
      const { uid } = JSON.parse(await firstLine(up, 120_000)) as { uid: number };
      const network = ["--network", String(uid)];
      const impair = await runCli(["impair", "a:a-b", ...network, "--delay", "100", "--loss", "0"]);
      assert.equal(impair.code, 0, impair.stderr);
      assert.match(impair.stdout, /impaired a:a-b: delay 100ms/);
      // b -> a keeps its 20 ms and 10 % loss: a few pings, at least one answered.
      const ping = await runCli(["exec", "a", ...network, "--", "ping", "-c", "10", "-i", "0.2", "10.0.0.2"]);
      assert.equal(ping.code, 0, ping.stderr);
      assert.ok(averageRtt(ping.stdout) >= 115, ping.stdout);
      const bad = await runCli(["impair", "a:a-b", ...network, "--loss", "150"]);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /loss/);
      const down = await runCli(["down", String(uid)]);
      assert.equal(down.code, 0, down.stderr);
      assert.equal((await finished(up)).code, 0);
    } finally {
      if (up.exitCode === null) up.kill("SIGKILL");
    }
    assertNothingLeft(up.pid!);
  });
});
