// requires: netem
// The full fidelity sweep (npm run fidelity, scripts/fidelity.mjs): what netem
// set through DummyNet.tc() does to a link, measured with the probe, point by
// point, written as JSON for scripts/fidelity.mjs to turn into docs/fidelity.md.
// Not a *.test.ts: it asserts only that every point could be measured (the
// published numbers are the result); the CI subset is fidelity.lab.test.ts.
//
// Output: $DUMMYNET_FIDELITY_OUT, else fidelity.json in the lab's run
// directory ($DUMMYNET_LAB_RUN, set by the lab's guest init).
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg, release, version } from "node:os";
import { join } from "node:path";
import { createLogger } from "../log.js";
import { DummyNet } from "../network/dummy-net.js";
import type { InterfaceScoped } from "../names/scoped.js";
import type { NetemOptions } from "../tc/netem-model.js";
import type { ProbeOptions, ProbeReport } from "../probe/probe.js";
import { assertNothingLeft } from "../testing/leftovers.js";
import { twoHosts } from "../test-support/two-hosts.js";
import { timerLateness } from "./timer-lateness.js";
import { LOSS_MIN_PROBES, gilbertElliott, type FidelityPoint, type FidelityResult } from "./model.js";

const outPath =
  process.env.DUMMYNET_FIDELITY_OUT ??
  (process.env.DUMMYNET_LAB_RUN ? join(process.env.DUMMYNET_LAB_RUN, "fidelity.json") : undefined);
/** The groups to measure: all, or those listed (comma-separated) in $DUMMYNET_FIDELITY_GROUPS or the run directory's fidelity-groups file. */
const GROUPS = ["delay", "loss", "duplicate-reorder", "rate", "findings", "offloads"] as const;
const groupsFile = process.env.DUMMYNET_LAB_RUN ? join(process.env.DUMMYNET_LAB_RUN, "fidelity-groups") : undefined;
const wantedGroups = (
  process.env.DUMMYNET_FIDELITY_GROUPS ??
  (groupsFile && existsSync(groupsFile) ? readFileSync(groupsFile, "utf8") : GROUPS.join(","))
)
  .split(",")
  .map((g) => g.trim())
  .filter(Boolean);
const wants = (group: (typeof GROUPS)[number]) => wantedGroups.includes(group);

const DELAYS_MS = [1, 5, 20, 50, 100, 200];
/** Jitter as a fraction of the delay for the "with jitter" series. */
const JITTER_FRACTION = 0.2;
const LOSSES = [0.1, 1, 5, 30];
const RATES_MBPS = [1, 10, 50, 100];
const TCP_SECONDS = 3;

function machine(): FidelityResult["machine"] {
  const cpuinfo = readFileSync("/proc/cpuinfo", "utf8");
  const virtualised = /^flags\s*:.*\bhypervisor\b/m.test(cpuinfo);
  return {
    kernelRelease: release(),
    kernelVersion: version(),
    cpuModel: /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? cpus().at(0)?.model ?? "unknown",
    cpus: cpus().length,
    virtualised,
    node: process.version,
    clocksource: readIfThere("/sys/devices/system/clocksource/clocksource0/current_clocksource"),
    timerLatenessMs: timerLateness(200),
    loadAverage: [loadavg()[0], loadavg()[0]],
  };
}

function readIfThere(path: string): string | undefined {
  return existsSync(path) ? readFileSync(path, "utf8").trim() : undefined;
}

test("fidelity sweep", { timeout: 43 * 60_000 }, async (t) => {
  const unknown = wantedGroups.filter((g) => !(GROUPS as readonly string[]).includes(g));
  assert.deepEqual(unknown, [], `fidelity groups are ${GROUPS.join(", ")}`);
  assert.ok(outPath, "set DUMMYNET_FIDELITY_OUT (or run in the lab, which sets DUMMYNET_LAB_RUN)");
  const started = Date.now();
  const result: FidelityResult = {
    machine: machine(),
    startedAt: new Date().toISOString(),
    durationS: 0,
    groups: wantedGroups,
    points: [],
  };
  const save = () => {
    result.durationS = Math.round((Date.now() - started) / 1000);
    result.machine.loadAverage = [result.machine.loadAverage?.[0] ?? loadavg()[0], loadavg()[0]];
    writeFileSync(outPath, JSON.stringify(result, null, 2));
  };
  // The library's warnings about traffic control (src/fidelity/netem-advice.ts) go with the point they were logged before.
  const warnings: string[] = [];
  const log = {
    ...createLogger("silent"),
    warn: (message: string) => {
      if (message.startsWith("tc on ")) warnings.push(message);
    },
  };
  const net = new DummyNet({ uid: (process.pid % 100000) * 10 + 1500000, log });
  try {
    const { a, b, ab, ba } = await twoHosts(net);

    /** Both ends back to an unimpaired netem, no ingress shaping, full-size GSO. */
    const clear = async () => {
      await a.tc(ab, { reset: true, ingress: null });
      await b.tc(ba, { reset: true, ingress: null });
      await setGsoMaxSize(a, ab, 65536);
    };
    const measure = async (
      point: Omit<FidelityPoint, "measured" | "report">,
      options: ProbeOptions,
      pick: (r: ProbeReport) => number,
      share?: (r: ProbeReport) => FidelityPoint["share"],
    ) => {
      // The probe's own default bound assumes a real machine; the emulated guest is several times slower.
      let report: ProbeReport;
      try {
        report = await net.probe(a, b, { timeout: 180_000, ...options });
      } catch (error) {
        // A probe that could not run (an agent that did not start in time on a starved guest) is tried once more;
        // its measurement is never retried for a better number.
        t.diagnostic(`${point.section} ${point.setting}: probe failed (${String(error)}); once more`);
        report = await net.probe(a, b, { timeout: 180_000, ...options });
      }
      const measured = pick(report);
      // What still waits in the sender's netem when the probe is done: a deep queue is why a transfer's end comes late.
      const queueAfter = options.tcp ? await senderQueue(a, ab) : undefined;
      const full: FidelityPoint = {
        ...point,
        measured,
        ...(share ? { share: share(report) } : {}),
        ...(queueAfter ? { queueAfter } : {}),
        ...(warnings.length ? { warnings: warnings.splice(0) } : {}),
        report: slim(report),
      };
      result.points.push(full);
      t.diagnostic(
        `${point.section} ${point.setting}: configured ${point.configured} measured ${measured.toFixed(3)} ${point.unit}`,
      );
      save();
      return report;
    };

    // ---- delay: the same one-way delay on both ends, so RTT = 2 x delay.
    await clear();
    if (wants("delay")) {
      await measure(
        {
          section: "baseline",
          setting: "no impairment (netem with no options on both ends)",
          configured: 0,
          unit: "ms RTT p50",
        },
        { count: 60, intervalMs: 20 },
        (r) => r.rttMs.p50,
      );
      for (const jitter of [false, true]) {
        for (const delay of DELAYS_MS) {
          const options: NetemOptions = jitter
            ? { reset: true, delay, jitter: delay * JITTER_FRACTION }
            : { reset: true, delay };
          await a.tc(ab, options);
          await b.tc(ba, options);
          // Fewer, sparser datagrams for long delays keep each point to a few seconds.
          const count = delay >= 100 ? 40 : 60;
          const setting = jitter
            ? `delay ${delay} ms, jitter ${delay * JITTER_FRACTION} ms (uniform), both ends`
            : `delay ${delay} ms, both ends`;
          await measure(
            {
              section: jitter ? "delay+jitter" : "delay",
              setting,
              configured: delay,
              unit: "ms one-way",
              jitterMs: jitter ? delay * JITTER_FRACTION : 0,
            },
            { count, intervalMs: 20 },
            (r) => r.rttMs.p50 / 2,
          );
        }
      }
    }
    // ---- loss, one way (a's egress): the probe's loss is the one direction's.
    await clear();
    if (wants("loss")) {
      // 0.1 % gets a wide interval (about 2 expected losses of 2000). One datagram every 4 ms (8 s a point): at 1 ms a
      // starved guest's echo agent can fall a socket buffer behind and lose datagrams netem never dropped.
      const count = LOSS_MIN_PROBES;
      const intervalMs = 4;
      const lost = (report: ProbeReport, varianceFactor = 1) => ({
        events: report.sent - report.received,
        trials: report.sent,
        varianceFactor,
      });
      for (const loss of LOSSES) {
        await a.tc(ab, { reset: true, loss });
        await measure(
          { section: "loss", setting: `loss ${loss} % (random), one way`, configured: loss, unit: "% lost" },
          { count, intervalMs },
          (r) => r.lossPercent,
          (r) => lost(r),
        );
      }
      // Gilbert-Elliott: good -> bad 1 %, bad -> good 30 %, everything lost in bad, nothing in good.
      const model = { p: 1, r: 30, h: 0, k: 100 };
      const ge = gilbertElliott(model);
      await a.tc(ab, { reset: true, loss: { gemodel: model } });
      await measure(
        {
          section: "loss",
          setting: `Gilbert-Elliott p ${model.p} %, r ${model.r} %, h ${model.h} %, k ${model.k} % (mean burst ${ge.meanBurstPackets.toFixed(1)} packets; stationary loss p / (p + r)), one way`,
          configured: Number(ge.lossPercent.toFixed(3)),
          unit: "% lost",
        },
        { count, intervalMs },
        (report) => report.lossPercent,
        (report) => lost(report, ge.varianceFactor),
      );
    }
    // ---- duplicate and reorder, one way.
    if (wants("duplicate-reorder")) {
      await a.tc(ab, { reset: true, duplicate: 10 });
      await measure(
        { section: "duplicate", setting: "duplicate 10 %, one way", configured: 10, unit: "% duplicated" },
        { count: 1000, intervalMs: 1 },
        (r) => (100 * r.duplicates) / r.sent,
        (r) => ({ events: r.duplicates, trials: r.sent, varianceFactor: 1 }),
      );
      await a.tc(ab, { reset: true, delay: 10, reorder: 25 });
      await measure(
        {
          section: "reorder",
          setting: "delay 10 ms, reorder 25 % (sent at once), one way, a datagram every 2 ms",
          configured: 25,
          unit: "% arriving after a later one",
        },
        { count: 500, intervalMs: 2 },
        (r) => (100 * r.reordered) / r.received,
      );
    }
    // ---- rate: TCP goodput a -> b, shaped at the sender (a's egress) or at the receiver's ingress (b, IFB).
    await clear();
    if (wants("rate")) {
      await measure(
        {
          section: "rate-baseline",
          setting: "no shaping: what the machine's TCP does at all",
          configured: 0,
          unit: "Mbit/s",
        },
        { count: 10, intervalMs: 5, tcp: { seconds: TCP_SECONDS } },
        (r) => r.goodputMbps ?? 0,
      );
      for (const where of ["sender", "receiver-ingress"] as const) {
        for (const rate of RATES_MBPS) {
          await clear();
          if (where === "sender") await a.tc(ab, { reset: true, rate });
          else await b.tc(ba, { ingress: { rate } });
          await measure(
            {
              section: `rate-${where}`,
              setting: `rate ${rate} Mbit/s at the ${where === "sender" ? "sender's egress" : "receiver's ingress (IFB)"}`,
              configured: rate,
              unit: "Mbit/s",
            },
            { count: 10, intervalMs: 5, tcp: { seconds: TCP_SECONDS } },
            (r) => r.goodputMbps ?? 0,
          );
        }
      }
    }
    // ---- findings: settings that misbehave.
    const tcpPoint = (setting: string, configured: number) =>
      measure(
        { section: "finding", setting, configured, unit: "Mbit/s" },
        { count: 10, intervalMs: 5, tcp: { seconds: TCP_SECONDS } },
        (r) => r.goodputMbps ?? 0,
      );
    // Rate with a delay (RTT 40 ms): at the sender the rate and the delay share netem's one queue.
    await clear();
    if (wants("findings")) {
      await a.tc(ab, { reset: true, rate: 10, delay: 20 });
      await b.tc(ba, { reset: true, delay: 20 });
      await tcpPoint("rate 10 Mbit/s + delay 20 ms at the sender, delay 20 ms back (derived limit)", 10);
      await clear();
      await a.tc(ab, { reset: true, delay: 20 });
      await b.tc(ba, { reset: true, delay: 20, ingress: { rate: 10 } });
      await tcpPoint("rate 10 Mbit/s at the receiver's ingress, delay 20 ms each way", 10);
      // A queue limit under the bandwidth-delay product (50 Mbit/s x 50 ms RTT = 312 kB, 208 full-size packets);
      // offloads as the library sets them (the offloads group compares GSO sizes).
      for (const limit of [undefined, 20]) {
        await clear();
        await a.tc(ab, { reset: true, rate: 50, delay: 25, ...(limit ? { limit } : {}) });
        await b.tc(ba, { reset: true, delay: 25 });
        await tcpPoint(
          `rate 50 Mbit/s + delay 25 ms at the sender, delay 25 ms back, limit ${limit ?? "derived (1000)"}`,
          50,
        );
      }
    }
    // ---- offloads: the sender's GSO size against the rate it is shaped to (a default the library tried and dropped: docs/fidelity-findings.md).
    if (wants("offloads")) {
      const scaled = (rate: number) => Math.max(1500, Math.round((rate * 1e6) / 8 / 1000));
      for (const rate of RATES_MBPS) {
        // 65536: offloads as veth has them (and the library leaves them); about 1 ms of the rate, at least one segment.
        for (const gso of [65536, scaled(rate)]) {
          await clear();
          await a.tc(ab, { reset: true, rate });
          await setGsoMaxSize(a, ab, gso);
          await measure(
            {
              section: "offloads",
              setting: `rate ${rate} Mbit/s at the sender, sender gso_max_size ${gso}`,
              configured: rate,
              unit: "Mbit/s",
            },
            { count: 10, intervalMs: 5, tcp: { seconds: TCP_SECONDS } },
            (r) => r.goodputMbps ?? 0,
          );
        }
      }
      for (const gso of [65536, scaled(50)]) {
        await clear();
        await a.tc(ab, { reset: true, rate: 50, delay: 25 });
        await b.tc(ba, { reset: true, delay: 25 });
        await setGsoMaxSize(a, ab, gso);
        await measure(
          {
            section: "offloads",
            setting: `rate 50 Mbit/s + delay 25 ms at the sender, delay 25 ms back, sender gso_max_size ${gso}`,
            configured: 50,
            unit: "Mbit/s",
          },
          { count: 10, intervalMs: 5, tcp: { seconds: TCP_SECONDS } },
          (r) => r.goodputMbps ?? 0,
        );
      }
      for (const rate of [50]) {
        for (const gso of [65536, 1500]) {
          await clear();
          await b.tc(ba, { ingress: { rate } });
          await setGsoMaxSize(a, ab, gso);
          await measure(
            {
              section: "offloads",
              setting: `rate ${rate} Mbit/s at the receiver's ingress, sender gso_max_size ${gso}`,
              configured: rate,
              unit: "Mbit/s",
            },
            { count: 10, intervalMs: 5, tcp: { seconds: TCP_SECONDS } },
            (r) => r.goodputMbps ?? 0,
          );
        }
      }
    }
    await clear();
    result.complete = true;
    save();
  } finally {
    await net.cleanup();
    assertNothingLeft(net.uid);
  }
  const bad = result.points.filter((p) => !Number.isFinite(p.measured));
  assert.deepEqual(
    bad.map((p) => p.setting),
    [],
    "every point measured",
  );
});

/**
 * The largest GSO packet the sender's stack builds for this link (ethtool is
 * not on every machine; `ip link set gso_max_size` is iproute2's way). 1500
 * makes every TCP segment one MTU: TSO/GSO off in effect.
 */
async function setGsoMaxSize(ns: DummyNet, iface: InterfaceScoped, size: number): Promise<void> {
  // A starved guest took over 10 s for one `ip` here.
  const info = await ns.run(["ip", "link", "set", "dev", iface.scoped, "gso_max_size", String(size)], {
    timeout: 60_000,
  });
  if (info.exitCode !== 0)
    throw new Error(`ip link set gso_max_size ${size} failed (${info.exitCode}): ${info.stderr}`);
}

/** The backlog of the root qdisc of `iface`, from `tc -s -j qdisc show`. */
async function senderQueue(ns: DummyNet, iface: InterfaceScoped): Promise<FidelityPoint["queueAfter"]> {
  const info = await ns.run(["tc", "-s", "-j", "qdisc", "show", "dev", iface.scoped], { timeout: 60_000 });
  const root = (
    JSON.parse(info.stdout) as Array<{ root?: boolean; backlog?: number; qlen?: number; drops?: number }>
  ).find((q) => q.root);
  return root ? { backlogBytes: root.backlog ?? 0, packets: root.qlen ?? 0, drops: root.drops ?? 0 } : undefined;
}

function slim(report: ProbeReport): FidelityPoint["report"] {
  return {
    sent: report.sent,
    received: report.received,
    lossPercent: report.lossPercent,
    duplicates: report.duplicates,
    reordered: report.reordered,
    rttMs: report.rttMs,
    ...(report.goodputMbps === undefined ? {} : { goodputMbps: report.goodputMbps }),
    ...(report.tcpError ? { tcpError: report.tcpError } : {}),
  };
}
