/**
 * `dummynet doctor`'s fidelity section: what measurement showed misbehaves
 * with netem (the measurements are in the repository's docs/) and what the
 * library does about each, with the facts of this machine that matter (its
 * timers, whether it is a guest, netem and ifb, TCP's small-queue budget).
 * Facts are read (and one timer measured) by detectFidelity(); the advice is a
 * pure function of them, so its words are tested against chosen facts.
 */
import { readFileSync } from "node:fs";
import { timerLateness } from "./timer-lateness.js";
import { LIMIT_PACKET_BYTES, NETEM_DEFAULT_LIMIT } from "../tc/netem-table.js";

/** What this machine shows that bears on how faithful netem is here. */
export interface FidelityFacts {
  /** Whether the kernel has sch_netem (from detectCapabilities). */
  netem: boolean;
  /** Whether it has ifb, which shaping at the receiver's ingress needs. */
  ifb: boolean;
  /** The kernel's clock source (/sys/devices/system/clocksource/clocksource0/current_clocksource). */
  clocksource?: string;
  /** The CPU's hypervisor flag (/proc/cpuinfo): this kernel runs in a virtual machine. */
  virtualMachine: boolean;
  /** How late a 1 ms sleep of this Node.js process woke, ms, over `samples` sleeps. */
  timerLateMs?: { p50: number; p99: number; samples: number };
  /** net.ipv4.tcp_limit_output_bytes: how many bytes of one TCP socket may sit in the qdiscs below it (TCP Small Queues). */
  tcpLimitOutputBytes?: number;
}

/** One point of advice: the topic, what measurement showed, what the library does (or leaves to the user). */
export interface FidelityAdvice {
  topic: "timer" | "tcp-rate" | "queue-limit" | "offloads" | "loss" | "jitter" | "netem";
  text: string;
}

export interface FidelityReport {
  facts: FidelityFacts;
  advice: FidelityAdvice[];
}

/** Sleeps of 1 ms for the timer measurement (its cost: docs/cli.md, doctor). */
const TIMER_SAMPLES = 50;

/** Reads this machine's facts and measures its timer (50 sleeps of 1 ms, timerLateness). */
export function detectFidelity(capabilities: {
  netem: { available: boolean };
  ifb: { available: boolean };
}): Promise<FidelityReport> {
  const read = (path: string) => {
    try {
      return readFileSync(path, "utf8").trim();
    } catch {
      return undefined;
    }
  };
  const limit = Number(read("/proc/sys/net/ipv4/tcp_limit_output_bytes"));
  const facts: FidelityFacts = {
    netem: capabilities.netem.available,
    ifb: capabilities.ifb.available,
    virtualMachine: /^flags\s*:.*\bhypervisor\b/m.test(read("/proc/cpuinfo") ?? ""),
    timerLateMs: timerLateness(TIMER_SAMPLES),
  };
  const clocksource = read("/sys/devices/system/clocksource/clocksource0/current_clocksource");
  if (clocksource) facts.clocksource = clocksource;
  if (Number.isInteger(limit) && limit > 0) facts.tcpLimitOutputBytes = limit;
  return Promise.resolve({ facts, advice: fidelityAdvice(facts) });
}

/** The advice for a machine with these facts, most machine-specific first. */
export function fidelityAdvice(facts: FidelityFacts): FidelityAdvice[] {
  const advice: FidelityAdvice[] = [];
  if (!facts.netem) {
    advice.push({
      topic: "netem",
      text: "this kernel has no sch_netem, so nothing below can be seen here: impairments fail until it is available (see netem above)",
    });
  }
  const timer = facts.timerLateMs;
  const where = [
    facts.clocksource ? `clock source ${facts.clocksource}` : undefined,
    facts.virtualMachine ? "a virtual machine (hypervisor flag set)" : undefined,
  ]
    .filter(Boolean)
    .join(", ");
  advice.push({
    topic: "timer",
    text:
      (timer
        ? `a 1 ms sleep of this Node.js process woke ${timer.p50} ms late at the median, ${timer.p99} ms at p99 (${timer.samples} sleeps${where ? `; ${where}` : ""}). `
        : "") +
      "netem releases delayed packets with the kernel's timers, so round trips come out about that much above the configured delay, and more under load; " +
      "on an emulated machine (a guest without hardware virtualisation) timers run late enough that small delay targets measure the machine, not netem. " +
      "The library cannot fix a timer: judge small delays on real hardware, and read a probe's fastest round trip (min) rather than its median on a loaded machine" +
      (facts.virtualMachine
        ? "; this machine is a virtual machine, so expect the guest's numbers, not the hardware's"
        : ""),
  });
  const tsq = facts.tcpLimitOutputBytes;
  advice.push({
    topic: "tcp-rate",
    text:
      "netem's rate sits where the impairment is: on the sender's outgoing queue unless you give it to the receiver with `ingress` (an IFB device" +
      (facts.ifb ? "" : ", which this kernel lacks") +
      "); the library never moves it by itself. " +
      `At the sender, TCP Small Queues bound how much of one socket may wait in the qdiscs below it (at most net.ipv4.tcp_limit_output_bytes${tsq !== undefined ? `, ${tsq} here` : ""}), so netem's queue there throttles the sending TCP itself, not only the path (a known effect, not measured here); shaping at the receiver's ingress keeps that queue off the sender. ` +
      "In measurements at up to 50 Mbit/s TCP reached the same share of the rate either way, close to the ceiling of TCP payload; `dummynet probe --tcp` measures it on this machine",
  });
  advice.push({
    topic: "queue-limit",
    text:
      `without a limit, the library derives netem's queue limit from the rate and the delay: max(${NETEM_DEFAULT_LIMIT}, twice rate x (delay + jitter) in ${LIMIT_PACKET_BYTES}-byte packets); ` +
      "a limit you set under the bandwidth-delay product gets a warning when it is applied, with the limit to set: a limit far under it costs TCP most of the rate",
  });
  advice.push({
    topic: "offloads",
    text:
      "the library leaves offloads (GSO/TSO) as the interfaces have them: netem takes a 64 kB GSO packet as one packet, so at high rates its rate lets it out as one burst and its packet-counted limit holds more bytes than it says. " +
      "A cap of the GSO size was tried as a default and dropped: on an emulated machine it made TCP slower. " +
      "On real hardware at rates of 100 Mbit/s and more, try it yourself: `ip link set dev IFACE gso_max_size 1500` on the sender, and measure with `dummynet probe --tcp`",
  });
  advice.push({
    topic: "loss",
    text: "random loss came out as set, within its statistical interval; a Gilbert-Elliott model loses p / (p + r) in the long run, in bursts, so judge it over many packets (`dummynet probe` counts them)",
  });
  advice.push({
    topic: "jitter",
    text: "jitter reorders packets whenever it exceeds the gap between them (netem sends by time): for a jittered path without reordering, keep the jitter under the packets' spacing; `reorder` itself depends on how many packets are in flight",
  });
  return advice;
}

/** The section `dummynet doctor` prints: each point under its topic, wrapped at `width` columns. */
export function formatFidelity(report: FidelityReport, width = 100): string {
  const indent = " ".repeat(14);
  const wrap = (first: string, text: string) => {
    const lines: string[] = [];
    let line = first;
    for (const word of text.split(" ")) {
      if (line.length + 1 + word.length > width && line.trim().length > 0 && line !== first) {
        lines.push(line);
        line = indent + word;
      } else line = line === first ? line + word : `${line} ${word}`;
    }
    return [...lines, line].join("\n");
  };
  return [
    "fidelity: what measurement showed misbehaves, and what the library does",
    ...report.advice.map((item) => wrap(`  ${item.topic.padEnd(11)} `, item.text)),
  ].join("\n");
}
