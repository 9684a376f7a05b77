import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { detectFidelity, fidelityAdvice, formatFidelity, type FidelityFacts } from "./machine-advice.js";
import { timerLateness } from "./timer-lateness.js";
import { finished, startCli } from "../cli/cli.test-helpers.js";
import { assertNothingLeft } from "../testing/leftovers.js";

const facts: FidelityFacts = {
  netem: true,
  ifb: true,
  clocksource: "hpet",
  virtualMachine: true,
  timerLateMs: { p50: 3.25, p99: 28.2, samples: 50 },
  tcpLimitOutputBytes: 1048576,
};
const text = (advice: ReturnType<typeof fidelityAdvice>, topic: string) =>
  advice.find((item) => item.topic === topic)?.text ?? "";

test("fidelityAdvice: each finding with what the library does, and this machine's facts in the words", () => {
  const advice = fidelityAdvice(facts);
  assert.deepEqual(
    advice.map((item) => item.topic),
    ["timer", "tcp-rate", "queue-limit", "offloads", "loss", "jitter"],
  );
  assert.match(
    text(advice, "timer"),
    /^a 1 ms sleep of this Node\.js process woke 3\.25 ms late at the median, 28\.2 ms at p99 \(50 sleeps; clock source hpet, a virtual machine \(hypervisor flag set\)\)/,
  );
  assert.match(text(advice, "timer"), /The library cannot fix a timer/);
  assert.match(text(advice, "timer"), /this machine is a virtual machine/);
  // What the library really does: the rate stays where it is given (src/tc never moves it), offloads are left alone.
  assert.match(text(advice, "tcp-rate"), /the library never moves it by itself/);
  assert.match(text(advice, "tcp-rate"), /tcp_limit_output_bytes, 1048576 here/);
  assert.doesNotMatch(text(advice, "tcp-rate"), /which this kernel lacks/);
  assert.match(
    text(advice, "queue-limit"),
    /max\(1000, twice rate x \(delay \+ jitter\) in 1500-byte packets\).*gets a warning when it is applied/,
  );
  assert.match(text(advice, "offloads"), /leaves offloads \(GSO\/TSO\) as the interfaces have them/);
});

test("fidelityAdvice: no netem says so first; no ifb says shaping at the receiver is not here; unknown facts are left out", () => {
  const advice = fidelityAdvice({ netem: false, ifb: false, virtualMachine: false });
  assert.equal(advice[0].topic, "netem");
  assert.match(advice[0].text, /this kernel has no sch_netem/);
  assert.match(text(advice, "tcp-rate"), /an IFB device, which this kernel lacks/);
  assert.doesNotMatch(text(advice, "tcp-rate"), /tcp_limit_output_bytes, \d+ here/);
  assert.match(text(advice, "timer"), /^netem releases delayed packets/);
  assert.doesNotMatch(text(advice, "timer"), /virtual machine/);
});

test("formatFidelity: one topic a paragraph, wrapped at 100 columns", () => {
  const lines = formatFidelity({ facts, advice: fidelityAdvice(facts) }).split("\n");
  assert.match(lines[0], /^fidelity: /);
  assert.match(lines[1], /^ {2}timer {7}a 1 ms sleep/);
  for (const line of lines) assert.ok(line.length <= 100 || !line.includes(" ", 15), line);
});

test("detectFidelity reads this machine: the clock source and TCP's small-queue budget as the kernel has them, a timer measured", async () => {
  const report = await detectFidelity({ netem: { available: false }, ifb: { available: true } });
  assert.equal(
    report.facts.clocksource,
    readFileSync("/sys/devices/system/clocksource/clocksource0/current_clocksource", "utf8").trim(),
  );
  assert.equal(
    report.facts.tcpLimitOutputBytes,
    Number(readFileSync("/proc/sys/net/ipv4/tcp_limit_output_bytes", "utf8")),
  );
  assert.equal(report.facts.virtualMachine, /\bhypervisor\b/.test(readFileSync("/proc/cpuinfo", "utf8")));
  const timer = report.facts.timerLateMs!;
  assert.equal(timer.samples, 50);
  assert.ok(timer.p50 >= 0 && timer.p99 >= timer.p50, JSON.stringify(timer));
  assert.equal(report.advice[0].topic, "netem");
});

test("timerLateness: a sleep never wakes early, and the median is at most the p99", () => {
  const timer = timerLateness(20);
  assert.ok(timer.p50 >= 0 && timer.p99 >= timer.p50);
});

test("dummynet doctor prints the fidelity section, and --json carries it", { timeout: 120_000 }, async () => {
  const child = startCli(["doctor", "--json"]);
  const result = await finished(child);
  assert.equal(result.code, 0, result.stderr);
  const report = JSON.parse(result.stdout) as {
    netem: { available: boolean };
    fidelity: { facts: FidelityFacts; advice: { topic: string }[] };
  };
  assert.equal(report.fidelity.facts.netem, report.netem.available);
  assert.ok(
    ["timer", "tcp-rate", "queue-limit", "offloads"].every((topic) =>
      report.fidelity.advice.some((item) => item.topic === topic),
    ),
    result.stdout,
  );
  const plain = startCli(["doctor"]);
  const printed = await finished(plain);
  assert.match(printed.stdout, /\n\nfidelity: what measurement showed misbehaves, and what the library does/);
  assert.match(printed.stdout, /\n {2}offloads {4}the library leaves offloads/);
  assertNothingLeft(child.pid!);
  assertNothingLeft(plain.pid!);
});
