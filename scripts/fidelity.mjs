// npm run fidelity: measures how faithfully netem, set through DummyNet.tc(),
// shapes a link (src/fidelity/sweep.lab.ts, with the probe), and writes
// the published result: docs/fidelity.md with docs/fidelity-delay.svg and
// docs/fidelity-rate.svg.
//
// The sweep runs in the kernel lab (scripts/lab) unless this host's kernel has
// netem (then here, DUMMYNET_FIDELITY_HERE=1 forces it).
//   node scripts/fidelity.mjs                  measure, then write the docs
//   node scripts/fidelity.mjs --render X.json  only write the docs from a saved sweep
import { spawn } from "node:child_process";
import { cpus, loadavg } from "node:os";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseCommandLine } from "./args.mjs";
import { formatLabTimings, runInLab } from "./lab/lab.mjs";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const SWEEP = join(repoRoot, "src/fidelity/sweep.lab.ts");
/** A part of the sweep (--groups) takes 15 to 40 minutes in the lab on a loaded machine's emulated guest; this bounds a hang. */
const SWEEP_TIMEOUT_MS = 45 * 60_000;

const USAGE =
  "usage: node scripts/fidelity.mjs [--groups delay,loss,duplicate-reorder,rate,findings,offloads] [--merge <earlier sweep.json>] | --render <sweep.json>";

async function main(argv) {
  const { values } = parseCommandLine(
    USAGE,
    { render: { type: "string" }, groups: { type: "string" }, merge: { type: "string" } },
    { args: argv },
  );
  if (values.render !== undefined && (values.groups !== undefined || values.merge !== undefined))
    throw new Error(`--render takes no other option; ${USAGE}`);
  await loadModel();
  if (values.render !== undefined) {
    const saved = JSON.parse(readFileSync(values.render, "utf8"));
    writeDocs(saved, { where: saved.where ?? "rendered from a saved sweep" });
    return 0;
  }
  const groups = values.groups;
  const mergeInto = values.merge === undefined ? undefined : JSON.parse(readFileSync(values.merge, "utf8"));
  const runDir = join(
    repoRoot,
    "test-results",
    `fidelity-${new Date().toISOString().replace(/[:.]/g, "-")}-${process.pid}`,
  );
  mkdirSync(runDir, { recursive: true });
  const outFile = join(runDir, "fidelity.json");
  const started = Date.now();
  const hostLoadAtStart = loadavg()[0];
  if (groups) writeFileSync(join(runDir, "fidelity-groups"), groups);
  let where;
  if (process.env.DUMMYNET_FIDELITY_HERE === "1" || (await hostHasNetem())) {
    where = "this host";
    const code = await runHere(outFile, groups);
    if (code !== 0)
      throw new Error(
        `the sweep failed here (exit ${code}); partial results, if any, in ${relative(repoRoot, outFile)}`,
      );
  } else {
    console.log("[fidelity] this kernel has no netem: running the sweep in the kernel lab");
    const outcome = await runInLab({
      repoRoot,
      runDir,
      files: [{ path: SWEEP, requires: ["netem"] }],
      // The guest's default bound per test file (10 min) is shorter than a whole sweep there; a later flag wins.
      testArgs: [`--test-timeout=${SWEEP_TIMEOUT_MS - 60_000}`],
      timeoutMs: SWEEP_TIMEOUT_MS,
    });
    for (const problem of outcome.problems) console.log(`[fidelity] lab problem: ${problem}`);
    if (outcome.guest) console.log(`[fidelity] guest: ${outcome.guest}`);
    console.log(`[fidelity] ${formatLabTimings(outcome.timings)}`);
    if (outcome.failed > 0)
      throw new Error(`the sweep failed in the lab; outputs kept in ${relative(repoRoot, runDir)}`);
    where = `the kernel lab: ${outcome.guest}`;
  }
  let result = JSON.parse(readFileSync(outFile, "utf8"));
  result.wallS = Math.round((Date.now() - started) / 1000);
  result.where = where;
  // A guest's own load average does not show the host it shares: the host's is what starves it.
  if (where !== "this host") result.hostLoadAverage = [hostLoadAtStart, loadavg()[0]];
  if (mergeInto) result = merge(mergeInto, result);
  writeFileSync(join(repoRoot, "docs", "fidelity.json"), JSON.stringify(result, null, 2) + "\n");
  writeDocs(result, { where });
  rmSync(runDir, { recursive: true, force: true });
  return 0;
}

/** An earlier sweep with the sections of `later` replaced by its points (a run of some groups only). */
function merge(earlier, later) {
  const sections = new Set(later.points.map((p) => p.section));
  return {
    ...later,
    startedAt: earlier.startedAt,
    groups: [...new Set([...(earlier.groups ?? []), ...later.groups])],
    durationS: earlier.durationS + later.durationS,
    wallS: (earlier.wallS ?? 0) + later.wallS,
    runs: (earlier.runs ?? 1) + 1,
    ...(later.hostLoadAverage
      ? { hostLoadAverage: [earlier.hostLoadAverage?.[0] ?? later.hostLoadAverage[0], later.hostLoadAverage[1]] }
      : {}),
    points: [...earlier.points.filter((p) => !sections.has(p.section)), ...later.points],
  };
}

/** Whether tc can make a netem qdisc here (in a throwaway network namespace that ends with the command). */
async function hostHasNetem() {
  return (
    (await runCommand("unshare", ["--net", "tc", "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms"])) === 0
  );
}

function runCommand(program, args, options = {}) {
  return new Promise((resolveExit) => {
    const child = spawn(program, args, { stdio: options.stdio ?? "ignore", env: options.env ?? process.env });
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 10_000);
    child.on("error", () => resolveExit(-1));
    child.on("close", (code) => {
      clearTimeout(timer);
      resolveExit(code ?? -1);
    });
  });
}

function runHere(outFile, groups) {
  return runCommand(process.execPath, ["--import", "tsx", "--test", "--test-force-exit", SWEEP], {
    stdio: "inherit",
    env: { ...process.env, DUMMYNET_FIDELITY_OUT: outFile, ...(groups ? { DUMMYNET_FIDELITY_GROUPS: groups } : {}) },
    timeoutMs: SWEEP_TIMEOUT_MS,
  });
}

// ------------------------------------------------------------------ the docs

const fmt = (x, digits = 2) => (Number.isFinite(x) ? Number(x.toFixed(digits)).toString() : "n/a");
const signed = (x, digits = 2) => `${x >= 0 ? "+" : ""}${fmt(x, digits)}`;
const pct = (ratio) => `${fmt(100 * ratio, 1)} %`;

/** The statistics and targets (src/fidelity/model.ts), loaded once: verdicts are computed from the raw counts here. */
let model;
/** The sweep being rendered. */
let currentResult;
async function loadModel() {
  const { tsImport } = await import("tsx/esm/api");
  model = await tsImport("../src/fidelity/model.ts", import.meta.url);
}

const isDelayRow = (p) => p.section === "delay" || p.section === "delay+jitter";
const isLossRow = (p) => p.section === "loss";
const isRateRow = (p) => p.section === "rate-sender" || p.section === "rate-receiver-ingress";

/** The verdict of one point against its target, or undefined for a point no target covers. */
function verdict(point) {
  if (isDelayRow(point)) {
    const v = model.delayTarget(2 * point.configured, point.report.rttMs.p50);
    return {
      met: v.met,
      text: `RTT p50 ${signed(v.errorMs)} ms off ${fmt(2 * point.configured)} (allowed +/- ${fmt(v.toleranceMs)})`,
      badness: Math.abs(v.errorMs) / v.toleranceMs,
    };
  }
  // A sweep saved before shares were recorded: losses of independent trials.
  const share =
    point.share ??
    (isLossRow(point)
      ? { events: point.report.sent - point.report.received, trials: point.report.sent, varianceFactor: 1 }
      : undefined);
  if (share && (isLossRow(point) || point.section === "duplicate")) {
    point = { ...point, share };
    const c = model.checkShare(share, point.configured);
    const [lo, hi] = c.interval;
    const half = Math.max((hi - lo) / 2, 1e-9);
    const effective =
      point.share.varianceFactor !== 1
        ? `, over ${fmt(c.effectiveTrials, 0)} effective of ${point.share.trials} (bursty: variance x ${fmt(point.share.varianceFactor)})`
        : "";
    return {
      met: c.inside,
      text: `${point.share.events} of ${point.share.trials}; exact 99 % interval ${fmt(lo, 3)}-${fmt(hi, 3)} %${effective}: ${c.inside ? "holds" : "**does not hold**"} ${fmt(point.configured, 3)}`,
      badness: Math.abs(c.measuredPercent - point.configured) / half,
      lossOnly: isLossRow(point),
    };
  }
  if (isRateRow(point)) {
    const v = model.rateTarget(point.configured, point.measured);
    const { low, high } = model.RATE_TARGET;
    return {
      met: v.met,
      text: `${pct(v.ratio)} of the rate`,
      badness: v.ratio < low ? (low - v.ratio) / low : v.ratio > high ? (v.ratio - high) / high : 0,
      ratio: v.ratio,
    };
  }
  return undefined;
}

function errorText(point) {
  if (point.configured === 0) return "-";
  const diff = point.measured - point.configured;
  const unit = point.unit.startsWith("ms") ? " ms" : point.unit.startsWith("Mbit") ? " Mbit/s" : " points";
  return `${signed(diff)}${unit} (${signed((100 * diff) / point.configured, 1)} %)`;
}

function row(point) {
  const r = point.report;
  let detail;
  if (isDelayRow(point) || point.section === "baseline") {
    const expectedStdev = point.jitterMs ? point.jitterMs * Math.sqrt(2 / 3) : 0;
    detail = `fastest one-way (RTT min / 2) ${fmt(r.rttMs.min / 2)} ms${point.configured ? ` (${fmt(r.rttMs.min / 2 - point.configured)} off)` : ""}; RTT p50 ${fmt(r.rttMs.p50)}, p10-p90 ${fmt(r.rttMs.p10)}-${fmt(r.rttMs.p90)}, stdev ${fmt(r.rttMs.stdev)}${point.jitterMs ? ` (uniform jitter both ends: ${fmt(expectedStdev)})` : ""} ms; ${r.received}/${r.sent} back, ${r.reordered} reordered`;
  } else if (r.goodputMbps !== undefined) {
    detail = `UDP RTT p50 ${fmt(r.rttMs.p50)} ms (before the transfer)${r.tcpError ? `; TCP: ${r.tcpError}` : ""}`;
    // (Its drop counter is the qdisc's since the sweep installed it, across points: not shown.)
    if (point.queueAfter)
      detail += `; sender's queue right after: ${fmt(point.queueAfter.backlogBytes / 1000, 1)} kB in ${point.queueAfter.packets} packets`;
    const tcWarnings = (point.warnings ?? []).filter((w) => w.startsWith("tc on "));
    if (tcWarnings.length) detail += `; the library warned: "${tcWarnings.join('"; "')}"`;
  } else {
    detail = `${r.sent} sent, ${r.received} back, ${r.duplicates} duplicates, ${r.reordered} reordered, RTT p50 ${fmt(r.rttMs.p50)} ms`;
  }
  const v = verdict(point);
  const target = v ? `${v.met ? "met" : "**not met**"}: ${v.text}` : "-";
  return `| ${point.setting} | ${fmt(point.configured, 3)} ${point.unit} | ${fmt(point.measured, 3)} | ${errorText(point)} | ${target} | ${detail} |`;
}

function table(points) {
  if (points.length === 0) return "(not measured in this sweep)";
  return [
    "| setting | configured | measured | error | target | detail |",
    "| --- | --- | --- | --- | --- | --- |",
    ...points.map(row),
  ].join("\n");
}

/** One line of the targets table: how many rows met it, the worst row, and why where not met (from the measurements). */
function targetLine(name, rows, why) {
  if (rows.length === 0) return `| ${name} | not measured | - | - | - |`;
  const judged = rows.map((p) => ({ p, v: verdict(p) }));
  const met = judged.filter((j) => j.v.met).length;
  const worst = judged.reduce((w, j) => (j.v.badness > w.v.badness ? j : w));
  const worstText = `${worst.p.setting}: configured ${fmt(worst.p.configured, 3)} ${worst.p.unit}, measured ${fmt(worst.p.measured, 3)} (${worst.v.text})`;
  const status = met === rows.length ? "**met**" : met === 0 ? "**not met**" : "**partly met**";
  return `| ${name} | ${status} | ${met} of ${rows.length} | ${worstText} | ${met === rows.length ? "-" : why(judged.filter((j) => !j.v.met))} |`;
}

/** The same setting measured again in the Offloads section (offloads as the library leaves them: veth's 64 kB GSO). */
function repeatOf(point, points) {
  const gso = 65536;
  const where = point.section === "rate-sender" ? "at the sender" : "at the receiver's ingress";
  return points.find(
    (p) =>
      p.section === "offloads" && p.setting === `rate ${point.configured} Mbit/s ${where}, sender gso_max_size ${gso}`,
  );
}

function repeatsText(failed) {
  const all = currentResult.points;
  const pairs = failed.map((p) => [p, repeatOf(p, all)]).filter(([, again]) => again);
  if (pairs.length === 0)
    return "no repeat of these settings was measured, so the machine's share of the error is not known";
  const spread = Math.max(
    ...pairs.map(
      ([p, again]) => Math.max(p.measured, again.measured) / Math.max(Math.min(p.measured, again.measured), 1e-9),
    ),
  );
  const verdictText =
    spread > 1.25
      ? "a spread that large is the starved guest, not netem"
      : "close to each other: a repeatable error, not only noise";
  return `the same settings measured again minutes later (Offloads section): ${pairs.map(([p, again]) => `${fmt(p.configured)} Mbit/s ${fmt(p.measured)} then ${fmt(again.measured)}`).join(", ")}: ${verdictText}`;
}

function targetsTable(result) {
  const points = result.points;
  const m = result.machine;
  const baseline = points.find((p) => p.section === "baseline");
  const rateBaseline = points.find((p) => p.section === "rate-baseline");
  const timer = m.timerLatenessMs;
  const delayWhy = (failed) => {
    const parts = [];
    if (baseline) {
      parts.push(
        `the unimpaired round trip (no delay at all) already has a median of ${fmt(baseline.report.rttMs.p50)} ms and a p10-p90 of ${fmt(baseline.report.rttMs.p10)}-${fmt(baseline.report.rttMs.p90)} ms here: that is the probe's Node.js agents and the guest's network stack waiting for a CPU, against tolerances of 0.6 to 20.5 ms`,
      );
    }
    if (timer)
      parts.push(
        `a 1 ms sleep woke ${fmt(timer.p50, 3)} ms late at the median, ${fmt(timer.p99, 3)} ms at p99 (${timer.samples} sleeps, clock source ${m.clocksource ?? "unknown"}); netem releases packets with the same kind of timer`,
      );
    if (result.hostLoadAverage)
      parts.push(
        `the host running the guest had a load average of ${fmt(result.hostLoadAverage[0], 1)} at the start and ${fmt(result.hostLoadAverage[1], 1)} at the end, on ${cpus().length} cores`,
      );
    else if (m.loadAverage)
      parts.push(
        `the load average of the machine was ${fmt(m.loadAverage[0], 1)} at the start and ${fmt(m.loadAverage[1], 1)} at the end, on ${m.cpus} CPU(s)`,
      );
    const plain = failed.filter((j) => j.p.section === "delay");
    if (plain.length) {
      const over = plain.map((j) => j.p.report.rttMs.min - 2 * j.p.configured);
      parts.push(
        `netem itself is not the cause: the fastest round trip of each failed row without jitter was ${fmt(Math.min(...over))} to ${fmt(Math.max(...over))} ms above the configured one (never below it), while the medians were ${fmt(Math.min(...plain.map((j) => j.v.badness)), 1)} to ${fmt(Math.max(...plain.map((j) => j.v.badness)), 1)} times the tolerance off`,
      );
    }
    return parts.join("; ") + ".";
  };
  const lossWhy = (failed) =>
    failed
      .map(
        (j) =>
          `${j.p.setting}: ${j.p.share.events} of ${j.p.share.trials} lost (${fmt((100 * j.p.share.events) / j.p.share.trials, 3)} %)`,
      )
      .join("; ") +
    (baseline
      ? `. Datagrams can be lost by the machine too (a full socket buffer of a starved guest): see the unimpaired rows, ${baseline.report.sent - baseline.report.received} of ${baseline.report.sent} lost`
      : "") +
    ".";
  const rateWhy = (failed) => {
    const parts = [];
    if (rateBaseline) {
      const capped = failed.filter((j) => j.p.configured >= 0.9 * rateBaseline.measured);
      if (capped.length)
        parts.push(
          `${capped.map((j) => j.p.setting).join(", ")}: unshaped, this machine's TCP did only ${fmt(rateBaseline.measured)} Mbit/s over the same veth, so the rate measures the machine, not netem`,
        );
    }
    const others = failed.filter((j) => !rateBaseline || j.p.configured < 0.9 * rateBaseline.measured);
    if (others.length) {
      const load = result.hostLoadAverage
        ? `, on a host whose load average was ${fmt(result.hostLoadAverage[0], 1)} to ${fmt(result.hostLoadAverage[1], 1)} on ${cpus().length} cores`
        : "";
      parts.push(
        `${others.map((j) => `${j.p.setting} (${pct(j.v.ratio)}${j.p.report.tcpError ? `; ${j.p.report.tcpError}` : ""})`).join(", ")}: ` +
          `one 3 s transfer each in a guest whose unshaped TCP managed ${rateBaseline ? `${fmt(rateBaseline.measured)} Mbit/s` : "an unknown rate"}${load}; ` +
          `${repeatsText(others.map((j) => j.p))}`,
      );
    }
    parts.push(
      `goodput counts TCP payload, netem's rate every byte of the frame: at most ${pct(model.goodputCeiling())} of the rate at an MTU of 1500`,
    );
    return parts.join("; ") + ".";
  };
  const rtt = points.filter(isDelayRow);
  const lossRows = points.filter(isLossRow);
  const probesOk = lossRows.every((p) => p.report.sent >= model.LOSS_MIN_PROBES);
  return [
    "| target (issue 11) | status | rows met | worst row | why, where not met |",
    "| --- | --- | --- | --- | --- |",
    targetLine(
      "RTT median within 5 % + 0.5 ms of the configured round trip, 1 to 200 ms (with and without jitter)",
      rtt,
      delayWhy,
    ),
    targetLine(
      `Loss inside the exact (Clopper-Pearson) 99 % interval over at least ${model.LOSS_MIN_PROBES} probes${probesOk ? "" : " (**some rows had fewer**)"}`,
      lossRows,
      lossWhy,
    ),
    targetLine(
      "TCP goodput 90 to 102 % of the rate, 1 to 100 Mbit/s, shaped at the receiver's ingress",
      points.filter((p) => p.section === "rate-receiver-ingress"),
      rateWhy,
    ),
    targetLine(
      "TCP goodput 90 to 102 % of the rate, 1 to 100 Mbit/s, shaped at the sender",
      points.filter((p) => p.section === "rate-sender"),
      rateWhy,
    ),
  ].join("\n");
}

const REAL_KERNEL = `## Running the same sweep on a real kernel with netem

The numbers above are only as good as the machine that measured them. To
measure your own kernel and hardware:

\`\`\`sh
git clone <this repository> && cd dummynet && npm ci
sudo modprobe -a sch_netem ifb act_mirred cls_matchall   # most distributions load them on demand
sudo npm run fidelity                                     # or: sudo DUMMYNET_FIDELITY_HERE=1 npm run fidelity
\`\`\`

It needs Linux with \`sch_netem\` and \`ifb\` (the receiver's ingress rows
redirect to an IFB device with \`act_mirred\`, through \`cls_matchall\` or
\`u32\`), iproute2 (\`ip\`, \`tc\`), Node.js 20 or later, and root (it makes
network namespaces). No ping, iperf or ethtool. When the kernel has netem,
\`npm run fidelity\` runs the sweep on the host itself (a throwaway namespace
asks the kernel), else in the QEMU kernel lab. It rewrites docs/fidelity.md,
docs/fidelity.json and the two charts; \`--groups delay,loss\` measures a part,
\`--merge docs/fidelity.json\` keeps the other parts of an earlier sweep, and
\`--render docs/fidelity.json\` only redraws. Run it on an otherwise idle
machine: the probe's agents are ordinary processes, and a busy CPU shows up as
delay (the targets table states the load average it saw).`;

function writeDocs(result, { where }) {
  currentResult = result;
  const docs = join(repoRoot, "docs");
  const bySection = (...sections) => result.points.filter((p) => sections.includes(p.section));
  const m = result.machine;
  const hostCpu = cpus()[0]?.model ?? "unknown";
  const timer = m.timerLatenessMs;
  writeFileSync(join(docs, "fidelity-delay.svg"), delayChart(result));
  writeFileSync(join(docs, "fidelity-rate.svg"), rateChart(result));
  const findings = existsSync(join(docs, "fidelity-findings.md"))
    ? readFileSync(join(docs, "fidelity-findings.md"), "utf8").trim()
    : "";
  const md = `# Fidelity: what netem through DummyNet.tc() really does

Generated by \`npm run fidelity\` (scripts/fidelity.mjs, the sweep in
src/fidelity/sweep.lab.ts, targets and statistics in
src/fidelity/model.ts) on ${result.startedAt.slice(0, 10)}: two namespaces joined by a veth pair,
impaired with \`DummyNet.tc()\`, measured with \`net.probe()\` (UDP echoes for
delay, loss, duplicates and reordering; a ${"TCP"} bulk transfer for goodput).
The raw numbers are in [fidelity.json](fidelity.json). The CI subset is
src/fidelity/fidelity.lab.test.ts.

**Where:** ${where}.
Kernel \`${m.kernelRelease}\` (\`${m.kernelVersion}\`), ${m.cpus} CPU(s), CPU model as the measuring kernel sees it:
"${m.cpuModel}"${m.virtualised ? " (hypervisor flag set)" : ""}, Node.js ${m.node}${m.clocksource ? `, clock source ${m.clocksource}` : ""}. Host CPU: "${hostCpu}".
${timer ? `Timer: a 1 ms sleep woke ${fmt(timer.p50, 3)} ms late at the median, ${fmt(timer.p90, 3)} at p90, ${fmt(timer.p99, 3)} at p99, ${fmt(timer.max, 3)} at most (${timer.samples} sleeps). ` : ""}${m.loadAverage ? `Load average (1 min) ${fmt(m.loadAverage[0], 1)} at the start, ${fmt(m.loadAverage[1], 1)} at the end` : ""}${result.hostLoadAverage ? `; of the host running the guest (${cpus().length} cores, shared with other work) ${fmt(result.hostLoadAverage[0], 1)} and ${fmt(result.hostLoadAverage[1], 1)}.` : "."}
${where.includes("TCG") ? "A QEMU TCG guest emulates every instruction in software: timers, the network stack and the probe's Node.js\nprocesses all run several times slower than on hardware, on a machine shared with other work. Read the\nnumbers as an upper bound on the error; a real kernel on real hardware does better.\n" : ""}
Sweep time ${result.durationS} s inside${result.wallS ? `, ${result.wallS} s end to end` : ""}${result.runs > 1 ? ` (in ${result.runs} lab runs of some groups each, merged with --merge: a lab run has a bound of its own)` : ""}.

## Targets

${targetsTable(result)}

Error is measured minus configured. Delays are set on both ends (RTT = 2 x
delay); the measured one-way delay is half the RTT's median, so it includes
half the unimpaired round trip (the baseline row). Shares (loss, duplicates)
are judged with the exact Clopper-Pearson interval of the measured share: the
configured value must lie in it. Gilbert-Elliott losses come in bursts, so
their share varies more than independent trials would: the interval uses the
effective number of trials (trials / variance factor, from the chain's
correlation; fidelity/model.ts \`gilbertElliott\`), and the expected loss is
the chain's stationary one.

![configured versus measured one-way delay](fidelity-delay.svg)

![configured rate versus TCP goodput](fidelity-rate.svg)

## Delay

${table(bySection("baseline", "delay", "delay+jitter"))}

## Loss, duplication, reordering

${table(bySection("loss", "duplicate", "reorder"))}

## Rate (TCP goodput, offloads as the library leaves them)

${table(bySection("rate-baseline", "rate-sender", "rate-receiver-ingress"))}

## Offloads: the sender's GSO size against the rate (veth's 64 kB against about 1 ms of the rate)

${table(bySection("offloads"))}

## Settings that misbehave

${table(bySection("finding"))}

${REAL_KERNEL}

${findings}
`;
  writeFileSync(join(docs, "fidelity.md"), md);
  console.log(
    `[fidelity] wrote docs/fidelity.md, docs/fidelity-delay.svg, docs/fidelity-rate.svg (${result.points.length} points)`,
  );
}

// ------------------------------------------------------------------ charts (plain SVG)

const W = 640;
const H = 440;
const PAD = { left: 70, right: 20, top: 40, bottom: 60 };
const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e"];
const esc = (s) => String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** A log-log chart of series of [x, y] points with the y = x line; values below `min` are drawn at `min`. */
function logChart({ title, xLabel, yLabel, min, max, ticks, series }) {
  const lx = (v) =>
    PAD.left +
    ((Math.log10(Math.max(v, min)) - Math.log10(min)) / (Math.log10(max) - Math.log10(min))) *
      (W - PAD.left - PAD.right);
  const ly = (v) =>
    H -
    PAD.bottom -
    ((Math.log10(Math.max(v, min)) - Math.log10(min)) / (Math.log10(max) - Math.log10(min))) *
      (H - PAD.top - PAD.bottom);
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">${esc(title)}</text>`,
  ];
  for (const t of ticks) {
    out.push(
      `<line x1="${lx(t).toFixed(1)}" y1="${PAD.top}" x2="${lx(t).toFixed(1)}" y2="${H - PAD.bottom}" stroke="#ddd"/>`,
    );
    out.push(
      `<line x1="${PAD.left}" y1="${ly(t).toFixed(1)}" x2="${W - PAD.right}" y2="${ly(t).toFixed(1)}" stroke="#ddd"/>`,
    );
    out.push(`<text x="${lx(t).toFixed(1)}" y="${H - PAD.bottom + 16}" text-anchor="middle">${t}</text>`);
    out.push(`<text x="${PAD.left - 6}" y="${(ly(t) + 4).toFixed(1)}" text-anchor="end">${t}</text>`);
  }
  out.push(
    `<rect x="${PAD.left}" y="${PAD.top}" width="${W - PAD.left - PAD.right}" height="${H - PAD.top - PAD.bottom}" fill="none" stroke="#333"/>`,
  );
  out.push(
    `<line x1="${lx(min)}" y1="${ly(min)}" x2="${lx(max)}" y2="${ly(max)}" stroke="#888" stroke-dasharray="5,4"/>`,
  );
  out.push(`<text x="${W / 2}" y="${H - 18}" text-anchor="middle">${esc(xLabel)}</text>`);
  out.push(
    `<text x="18" y="${(H - PAD.bottom + PAD.top) / 2}" text-anchor="middle" transform="rotate(-90 18 ${(H - PAD.bottom + PAD.top) / 2})">${esc(yLabel)}</text>`,
  );
  const legend = [
    ...series.map((s, i) => ({ label: s.label, color: COLORS[i % COLORS.length], dashed: false })),
    { label: "measured = configured", color: "#888", dashed: true },
  ];
  legend.forEach((entry, i) => {
    const y = PAD.top + 16 + i * 18;
    out.push(
      `<line x1="${PAD.left + 12}" y1="${y - 4}" x2="${PAD.left + 34}" y2="${y - 4}" stroke="${entry.color}" stroke-width="2"${entry.dashed ? ' stroke-dasharray="5,4"' : ""}/>`,
    );
    out.push(`<text x="${PAD.left + 40}" y="${y}">${esc(entry.label)}</text>`);
  });
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    const pts = s.points.map(([x, y]) => `${lx(x).toFixed(1)},${ly(y).toFixed(1)}`);
    out.push(`<polyline points="${pts.join(" ")}" fill="none" stroke="${color}" stroke-width="2"/>`);
    for (const [x, y] of s.points) {
      out.push(
        `<circle cx="${lx(x).toFixed(1)}" cy="${ly(y).toFixed(1)}" r="4" fill="${color}"><title>${esc(`${s.label}: configured ${x}, measured ${fmt(y, 3)}`)}</title></circle>`,
      );
    }
  });
  out.push("</svg>", "");
  return out.join("\n");
}

function delayChart(result) {
  const series = (section, label) => ({
    label,
    points: result.points.filter((p) => p.section === section).map((p) => [p.configured, p.measured]),
  });
  return logChart({
    title: "netem delay, both ends: configured vs measured one-way delay",
    xLabel: "configured one-way delay (ms)",
    yLabel: "measured one-way delay (ms)",
    min: 0.5,
    max: 300,
    ticks: [1, 2, 5, 10, 20, 50, 100, 200],
    series: [
      series("delay", "no jitter (RTT p50 / 2)"),
      series("delay+jitter", "jitter 20 % of the delay (RTT p50 / 2)"),
      {
        label: "no jitter, fastest datagram (RTT min / 2)",
        points: result.points.filter((p) => p.section === "delay").map((p) => [p.configured, p.report.rttMs.min / 2]),
      },
    ],
  });
}

function rateChart(result) {
  const series = (section, label) => ({
    label,
    points: result.points.filter((p) => p.section === section).map((p) => [p.configured, p.measured]),
  });
  return logChart({
    title: "netem rate: configured vs TCP goodput",
    xLabel: "configured rate (Mbit/s)",
    yLabel: "measured TCP goodput (Mbit/s)",
    min: 0.5,
    max: 200,
    ticks: [1, 2, 5, 10, 20, 50, 100],
    series: [
      series("rate-sender", "shaped at the sender's egress"),
      series("rate-receiver-ingress", "shaped at the receiver's ingress (IFB)"),
      {
        label: "at the sender, GSO capped to about 1 ms of the rate (Offloads section)",
        points: result.points
          .filter(
            (p) =>
              p.section === "offloads" &&
              /^rate \d+ Mbit\/s at the sender, sender gso_max_size (?!65536$)\d+$/.test(p.setting),
          )
          .map((p) => [p.configured, p.measured]),
      },
    ],
  });
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error) => {
    console.error(`[fidelity] ${error.message}`);
    process.exit(1);
  },
);
