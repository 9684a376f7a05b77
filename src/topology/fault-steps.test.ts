// The file's `faults:`: times read as ms or with a unit, every mistake refused with file:line:column before
// anything is built, and the steps shown by `validate` and `graph`.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { parseTopology } from "./load.js";
import { TopologyError } from "./errors.js";
import { toDot, toMermaid } from "./graph.js";
import { describeFaults } from "./fault-steps.js";
import { filePlan } from "./lab-faults.js";
import { DummyNetError } from "../errors.js";
import { BAD_TOPOLOGIES } from "./fixtures/bad-topologies.js";
import { parseDuration } from "../validation/duration.js";
import { InvalidArgumentError } from "../errors.js";

function problems(text: string): string[] {
  try {
    parseTopology(text, "net.yaml");
  } catch (error) {
    assert.ok(error instanceof TopologyError, `expected a TopologyError, got ${String(error)}`);
    return error.message.split("\n");
  }
  assert.fail("the file was accepted");
}

const PAIR = "hosts: { a: {}, b: {}, c: {} }\nlinks: [{ ends: [a:eth0, b:eth0] }]\n";

describe("faults in topology files", () => {
  test("durations: ms numbers and text with ms, s or m; anything else refused naming the rule", () => {
    assert.equal(parseDuration("for", 1500), 1500);
    assert.equal(parseDuration("for", "500ms"), 500);
    assert.equal(parseDuration("for", "2s"), 2000);
    assert.equal(parseDuration("for", "1.5m"), 90_000);
    assert.equal(parseDuration("for", "250"), 250);
    for (const bad of [-1, Number.NaN, Infinity, "2 hours", "", "-1s", null, "1e3"]) {
      assert.throws(
        () => parseDuration("--for", bad),
        (error) => error instanceof InvalidArgumentError && /--for/.test(error.message) && /"2s"/.test(error.message),
        String(bad),
      );
    }
  });

  test("steps are normalized to milliseconds, keep their paths, and are described in time order", () => {
    const topology = parseTopology(
      PAIR +
        "faults:\n  - { at: 2s, heal: true }\n  - { at: 500ms, partition: [[a], [b, c]], for: 1s }\n  - { at: 0, impair: { host: a, iface: eth0, loss: 100 }, for: 250 }\n",
      "net.yaml",
    );
    assert.deepEqual(topology.faults, [
      { at: 2000, heal: true, path: ["faults", 0] },
      { at: 500, for: 1000, partition: [["a"], ["b", "c"]], path: ["faults", 1] },
      { at: 0, for: 250, impair: { host: "a", iface: "eth0", loss: 100 }, path: ["faults", 2] },
    ]);
    assert.deepEqual(describeFaults(topology.faults), [
      "at 0 ms: impair a:eth0 loss 100% for 250 ms",
      "at 500 ms: partition [a] | [b, c] for 1000 ms",
      "at 2000 ms: heal",
    ]);
    assert.match(toMermaid(topology), /faults>"faults<br\/>at 0 ms: impair a:eth0 .*<br\/>at 2000 ms: heal"\]/);
    assert.match(toDot(topology), /"faults" \[shape=note, label="faults\\nat 0 ms: impair a:eth0/);
  });

  test("a generator: times in ms, hosts checked", () => {
    const topology = parseTopology(
      PAIR + "faults: { every: 1s, for: 10s, faults: [partition, isolate], hosts: [a, b], seed: 7 }\n",
      "net.yaml",
    );
    assert.deepEqual(topology.faults, {
      every: 1000,
      for: 10_000,
      faults: ["partition", "isolate"],
      hosts: ["a", "b"],
      seed: 7,
      path: ["faults"],
    });
    assert.deepEqual(describeFaults(topology.faults), [
      "every 1000 ms for 10000 ms: a random partition or isolate among a, b (seed 7)",
    ]);
    const lines = problems(PAIR + "faults: { every: 0, for: 1s, faults: [partition], hosts: [a, z, a] }\n");
    assert.deepEqual(lines, [
      "net.yaml:3:18: faults.every: is 0; expected a time between faults greater than 0",
      'net.yaml:3:62: faults.hosts[1]: unknown host "z"; expected a host declared under hosts (a, b, c)',
      'net.yaml:3:65: faults.hosts[2]: host "a" is listed twice; expected each host once',
    ]);
  });

  test("schema mistakes: negative and malformed times, a partition of one group", () => {
    assert.deepEqual(problems(BAD_TOPOLOGIES.faultsSchema), [
      "net.yaml:3:11: faults[0].at: is -1; expected a value >= 0 (Milliseconds, 0 or more)",
      'net.yaml:4:11: faults[1].at: "2x" is not valid; expected a time such as 500ms, 2s or 1.5m (no unit: milliseconds)',
      "net.yaml:5:26: faults[2].partition: has 1 item(s); expected at least 2",
    ]);
  });

  test("semantic mistakes, each at its line and column: no action, two, overlapping groups, unknown names, for on an instant", () => {
    assert.deepEqual(problems(BAD_TOPOLOGIES.faultsSemantic), [
      "net.yaml:5:5: faults[0]: says what time but not what to do; expected one of: partition, block, isolate, heal, impair, down, up, pause, resume, kill, restart",
      'net.yaml:6:27: faults[1].block: is a second action in one step (isolate, block); expected one action per step: write two steps with the same "at"',
      'net.yaml:7:36: faults[2].partition[1][0]: host "b" is in group 1 already; expected disjoint groups (each host in at most one)',
      'net.yaml:8:26: faults[3].block[1]: unknown host "c"; expected a host declared under hosts (a, b)',
      'net.yaml:9:27: faults[4].for: does not apply to heal, which takes no time; "for" goes with partition, block, isolate, impair, down, pause, kill',
      'net.yaml:10:41: faults[5].impair.iface: unknown interface "eth9" in host "a"; expected one of: eth0',
      'net.yaml:11:22: faults[6].pause: unknown program "wbe"; expected the name of a program under programs (web)',
    ]);
  });

  test("the plan for schedule(): names as the file gives them, times in ms, programs found among those started", () => {
    const topology = parseTopology(
      PAIR +
        "programs: [{ name: web, host: b, daemon: true, command: [sleep, '9'] }, { name: job, host: a, command: ['true'] }]\n" +
        "faults:\n  - { at: 1s, block: [a, b], for: 500ms }\n  - { at: 2s, kill: web, signal: SIGKILL, for: 1s }\n",
      "net.yaml",
    );
    const web = { name: "the RunInfo of web" } as never;
    assert.deepEqual(filePlan(topology.faults!, new Map([["web", web]])), {
      plan: [
        { at: 1000, for: 500, block: ["a", "b"] },
        { at: 2000, for: 1000, signal: "SIGKILL", kill: web },
      ],
      options: {},
    });
    assert.throws(
      () => filePlan(topology.faults!, new Map()),
      (error) =>
        error instanceof DummyNetError &&
        /faults\[1\]\.kill: program "web" was not started, so it cannot be killed/.test(error.message),
    );
    const generated = parseTopology(PAIR + "faults: { every: 2s, for: 10s, faults: [block], seed: 3 }\n", "net.yaml");
    assert.deepEqual(filePlan(generated.faults!, new Map()), {
      plan: { every: 2000, for: 10_000, faults: ["block"] },
      options: { seed: 3 },
    });
  });

  test("an impairment step's netem options are checked as a link's are", () => {
    const lines = problems(PAIR + "faults:\n  - { at: 1s, impair: { host: a, iface: eth0, gap: 5 } }\n");
    assert.equal(lines.length, 1, lines.join("\n"));
    assert.match(lines[0], /^net\.yaml:4:\d+: faults\[0\]\.impair\.gap: .*reorder/);
  });
});
