// requires: netem
// The examples and commands that need sch_netem: run the lossy pair, and
// change a running network's impairment with `dummynet impair` (seen with `dummynet inspect` and `dummynet probe`).
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { assertNothingLeft } from "../testing/leftovers.js";
import { finished, firstLine, runCli, startCli } from "./cli.test-helpers.js";

describe("netem examples", { concurrency: false, timeout: 300_000 }, () => {
  test("run examples/lossy-pair.yaml: each of 20 web requests takes at least the 40 ms round trip", async () => {
    const child = startCli(["run", "examples/lossy-pair.yaml", "--json"]);
    const result = await finished(child);
    // With --json the run's failure (a program's exit, a readiness timeout) is in stdout.
    assert.equal(result.code, 0, `${result.stderr}\n${result.stdout}`);
    const job = (JSON.parse(result.stdout) as { jobs: { name: string; stdout: string }[] }).jobs[0];
    assert.equal(job.name, "requests");
    const times = [...job.stdout.matchAll(/^request \d+: ([\d.]+) ms$/gm)].map((match) => Number(match[1]));
    assert.equal(times.length, 20, job.stdout);
    // 20 ms each way: a request and its answer cannot take less (a lost segment makes TCP resend, which takes longer).
    for (const ms of times) assert.ok(ms >= 38, job.stdout);
    assertNothingLeft(child.pid!);
  });

  test("up, impair a running link, see the new delay with probe, down", async () => {
    const up = startCli(["up", "examples/lossy-pair.yaml", "--json"]);
    try {
      const { uid } = JSON.parse(await firstLine(up, 120_000)) as { uid: number };
      const network = ["--network", String(uid)];
      const impair = await runCli(["impair", "a:a-b", ...network, "--delay", "100", "--loss", "0"]);
      assert.equal(impair.code, 0, impair.stderr);
      assert.match(impair.stdout, /impaired a:a-b: delay 100ms/);
      // inspect reads the impairments back from the kernel: the new delay on a-b, the file's on b-a.
      const inspect = await runCli(["inspect", String(uid), "--json"]);
      assert.equal(inspect.code, 0, inspect.stderr);
      const hosts = (
        JSON.parse(inspect.stdout) as {
          hosts: {
            name: string;
            interfaces: { name: string; qdisc: string; impairment: { delay?: number; loss?: number } | null }[];
          }[];
        }
      ).hosts;
      const iface = (host: string) => hosts.find((h) => h.name === host)!.interfaces[0];
      assert.equal(iface("a").qdisc, "netem", inspect.stdout);
      assert.equal(iface("a").impairment?.delay, 100, inspect.stdout);
      assert.equal(iface("b").impairment?.delay, 20, inspect.stdout);
      assert.equal(iface("b").impairment?.loss, 10, inspect.stdout);
      // b -> a keeps its 20 ms and 10 % loss: the probe's round trips take 100 + 20 ms, about a tenth is lost.
      const probe = await runCli(["probe", ...network, "a", "b", "--count", "100", "--json"]);
      assert.equal(probe.code, 0, probe.stderr);
      const report = JSON.parse(probe.stdout) as { received: number; lossPercent: number; rttMs: { min: number } };
      assert.ok(report.received > 0 && report.rttMs.min >= 115, probe.stdout);
      assert.ok(report.lossPercent < 40, probe.stdout);
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
