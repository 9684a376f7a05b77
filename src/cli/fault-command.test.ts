/**
 * `dummynet fault` against a network that `dummynet up` holds: the holder
 * makes the fault, so traffic stops (the probe's datagrams all lost) and
 * comes back on `heal` from a later call, `--for` heals by itself, `inspect`
 * lists what is in force, mistakes exit 2 with nothing changed, and a holder
 * killed with faults in force leaves nothing the reaper does not take.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { detectCapabilities, missingFeatures } from "../capabilities/capabilities.js";
import { controlSocketPath } from "../lifecycle/owners.js";
import { assertNothingLeft } from "../testing/leftovers.js";
import { finished, firstLine, runCli, startCli, withNetworkUp } from "./cli.test-helpers.js";

interface ProbeJson {
  sent: number;
  received: number;
  lossPercent: number;
}

/** Loss of 20 datagrams from `from` to `to` and back (the probe's own bound: 5 s). */
async function loss(uid: number, from: string, to: string): Promise<number> {
  const args = ["probe", String(uid), from, to, "--count", "20", "--interval-ms", "5", "--timeout", "20000", "--json"];
  const probe = await runCli(args);
  assert.equal(probe.code, 0, probe.stderr);
  const report = JSON.parse(probe.stdout) as ProbeJson;
  assert.equal(report.sent, 20);
  return report.lossPercent;
}

async function faultsOf(uid: number): Promise<{ kind: string; hosts: string[]; until: string | null }[]> {
  const inspect = await runCli(["inspect", String(uid), "--json"]);
  assert.equal(inspect.code, 0, inspect.stderr);
  return (JSON.parse(inspect.stdout) as { faults: { kind: string; hosts: string[]; until: string | null }[] }).faults;
}

test(
  "fault partition cuts traffic between groups only; a later fault heal restores it; inspect lists it; --for heals by itself",
  { timeout: 300_000 },
  async () => {
    await withNetworkUp(
      "examples/star.yaml",
      async ({ uid }) => {
        const made = await runCli(["fault", String(uid), "partition", "h1", "h2,h3", "--json"]);
        assert.equal(made.code, 0, made.stderr);
        const answer = JSON.parse(made.stdout) as { fault: { kind: string; hosts: string[] } };
        assert.deepEqual(answer.fault.kind, "partition");
        assert.deepEqual([...answer.fault.hosts].sort(), ["h1", "h2", "h3"]);
        assert.equal(await loss(uid, "h1", "h2"), 100, "across the partition nothing gets through");
        assert.equal(await loss(uid, "h2", "h3"), 0, "within a group traffic is untouched");
        const listed = await faultsOf(uid);
        assert.deepEqual(
          listed.map((fault) => [fault.kind, fault.until]),
          [["partition", null]],
        );
        const text = await runCli(["inspect", String(uid)]);
        assert.match(text.stdout, /FAULT\s+HOSTS\s+SINCE\s+HEALS AT\n.*partition\s+h1, h2, h3 .* until healed/);

        // Another call, another process: heal reaches the fault the first one made.
        const heal = await runCli(["fault", "heal", "--network", String(uid)]);
        assert.equal(heal.code, 0, heal.stderr);
        assert.match(heal.stdout, /healed every fault of star/);
        assert.equal(await loss(uid, "h1", "h2"), 0, "healed: traffic flows again");
        assert.deepEqual(await faultsOf(uid), []);

        const timed = await runCli(["fault", String(uid), "isolate", "h3", "--for", "1500ms"]);
        assert.equal(timed.code, 0, timed.stderr);
        assert.match(timed.stdout, /isolated h3 for 1500 ms/);
        // The CLI's own start takes longer than the fault lasts on a loaded machine: wait until it is gone.
        const deadline = Date.now() + 30_000;
        while ((await faultsOf(uid)).length > 0)
          assert.ok(Date.now() < deadline, "isolate --for 1500ms still in force");
        assert.equal(await loss(uid, "h3", "h1"), 0, "healed by itself");
      },
      280_000,
    );
  },
);

test(
  "fault mistakes exit 2 and change nothing: unknown host, overlapping groups, one group, heal --for, bad duration",
  { timeout: 240_000 },
  async () => {
    await withNetworkUp(
      "examples/star.yaml",
      async ({ uid }) => {
        const cases: [string[], RegExp][] = [
          [["partition", "h1", "nosuch"], /no host "nosuch" in network star; hosts: sw, h1, h2, h3/],
          [["partition", "h1,h2", "h2"], /h2/],
          [["partition", "h1,h2"], /partition takes two or more groups/],
          [["heal", "--for", "1s"], /--for goes with partition, block and isolate/],
          [
            ["isolate", "h1", "--for", "soon"],
            /Invalid --for: "soon" must be a number of milliseconds or a time with a unit/,
          ],
          [["block", "h1"], /block takes FROM TO/],
          [["explode", "h1"], /expected an action \(partition, block, isolate, heal\)/],
        ];
        for (const [words, message] of cases) {
          const result = await runCli(["fault", String(uid), ...words]);
          assert.equal(result.code, 2, `${words.join(" ")}: ${result.stderr}`);
          assert.match(result.stderr, message, words.join(" "));
        }
        assert.deepEqual(await faultsOf(uid), [], "nothing was made");
        assert.equal(await loss(uid, "h1", "h2"), 0);
      },
      220_000,
    );
  },
);

test(
  "a holder SIGKILLed with a partition in force: the reaper takes the namespaces (and the cut with them) and the control socket",
  { timeout: 240_000 },
  async () => {
    const up = startCli(["up", "examples/star.yaml", "--json"], {}, 200_000);
    try {
      const { uid } = JSON.parse(await firstLine(up, 120_000)) as { uid: number };
      const made = await runCli(["fault", String(uid), "partition", "h1", "h2"]);
      assert.equal(made.code, 0, made.stderr);
      assert.ok(existsSync(controlSocketPath(uid)));
      up.kill("SIGKILL");
      await finished(up);
      const refused = await runCli(["fault", String(uid), "heal"]);
      assert.equal(refused.code, 2, "a dead holder's network takes no faults");
      const cleanup = await runCli(["cleanup", String(uid)]);
      assert.equal(cleanup.code, 0, cleanup.stderr);
      assert.ok(!existsSync(controlSocketPath(uid)), "the reaper removed the control socket");
    } finally {
      if (up.exitCode === null && up.signalCode === null) {
        up.kill("SIGKILL");
        await finished(up);
      }
      await runCli(["cleanup", String(up.pid)]);
    }
    assertNothingLeft(up.pid!);
  },
);

interface EventJson {
  action: string;
  hosts: string[];
  heals?: string;
  error?: string;
}

test(
  "run examples/partition.yaml follows its faults: each event printed, the history in the report, exit 0",
  { timeout: 180_000 },
  async () => {
    const child = startCli(["run", "examples/partition.yaml", "--json"], {}, 170_000);
    const result = await finished(child);
    assert.equal(result.code, 0, result.stderr);
    const report = JSON.parse(result.stdout) as { exitCode: number; faults: EventJson[] };
    assert.equal(report.exitCode, 0);
    assert.deepEqual(
      report.faults.map((event) => [event.heals ? `heal ${event.heals}` : event.action, event.error]),
      [
        ["partition", undefined],
        ["heal partition", undefined],
        ["isolate", undefined],
        ["heal isolate", undefined],
        ["heal", undefined],
      ],
    );
    assertNothingLeft(child.pid!);
  },
);

test(
  "up follows the file's faults (one JSON line each with --json); a step that fails at its time makes run exit 1",
  { timeout: 240_000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), "dummynet-faults-"));
    const pair = (faults: string) =>
      `name: faulty\nhosts: { a: {}, b: {} }\nlinks: [{ ends: [{ at: "a:eth0", address: 10.9.0.1/24 }, { at: "b:eth0", address: 10.9.0.2/24 }] }]\nfaults:\n${faults}`;
    const flapping = join(dir, "flapping.yaml");
    writeFileSync(
      flapping,
      pair("  - { at: 0, block: [a, b], for: 300ms }\n  - { at: 500ms, down: { host: b, iface: eth0 }, for: 300ms }\n"),
    );
    await withNetworkUp(
      flapping,
      async ({ up }) => {
        const deadline = Date.now() + 60_000;
        const events = () =>
          up.output.stdout
            .split("\n")
            .slice(1)
            .filter(Boolean)
            .map((line) => (JSON.parse(line) as { fault: EventJson }).fault);
        while (events().length < 4) {
          assert.ok(Date.now() < deadline, `up printed ${events().length} of 4 fault events:\n${up.output.stdout}`);
          await new Promise((done) => setTimeout(done, 100));
        }
        assert.deepEqual(
          events().map((event) => [event.heals ? `heal ${event.heals}` : event.action, event.hosts, event.error]),
          [
            ["block", ["a", "b"], undefined],
            ["heal block", ["a", "b"], undefined],
            ["down", ["b"], undefined],
            ["heal down", ["b"], undefined],
          ],
        );
        assert.equal(up.exitCode, null, "the network stays up after its schedule");
      },
      200_000,
    );

    // Without netem an impairment step fails when its time comes (with netem it works): the run says so.
    const netem = missingFeatures(await detectCapabilities(), ["netem"]).length === 0;
    const impaired = join(dir, "impaired.yaml");
    writeFileSync(impaired, pair("  - { at: 0, impair: { host: a, iface: eth0, loss: 100 }, for: 200ms }\n"));
    const run = await runCli(["run", impaired, "--json"]);
    const report = JSON.parse(run.stdout) as { exitCode: number; failure?: string; faults: EventJson[] };
    if (netem) assert.equal(run.code, 0, run.stderr);
    else {
      assert.equal(run.code, 1, run.stderr);
      assert.equal(report.faults[0]?.action, "impair");
      assert.ok(report.faults[0]?.error, "the failed step has its error");
      assert.match(report.failure ?? "", /a fault step failed: impair: /);
    }
  },
);
