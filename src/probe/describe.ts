// A probe report in words, as the `dummynet probe` command and the demo print it.
import type { ProbeReport } from "./probe.js";

/**
 * A probe report in words, as the `dummynet probe` command and the demo print it:
 * sent and received, loss, round-trip percentiles and goodput.
 *
 * @example
 * ```ts
 * console.log(describeProbeReport(await net.probe("client", "server", { count: 100 })));
 * ```
 */
export function describeProbeReport(report: ProbeReport): string {
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;
  const lines = [
    `${report.from} -> ${report.to} (${report.address}): ${report.sent} sent, ${report.received} received, ${report.lossPercent} % lost, ${plural(report.duplicates, "duplicate")}, ${report.reordered} reordered`,
  ];
  if (report.sendErrors > 0) lines.push(`  ${plural(report.sendErrors, "send")} failed: ${report.sendError ?? "?"}`);
  const rtt = report.rttMs;
  if (report.received > 0) {
    const ms = (value: number) => (value < 10 ? value.toFixed(3) : value.toFixed(1));
    lines.push(
      `  round trip ms: min ${ms(rtt.min)}  p10 ${ms(rtt.p10)}  p50 ${ms(rtt.p50)}  p90 ${ms(rtt.p90)}  p99 ${ms(rtt.p99)}  max ${ms(rtt.max)}  (mean ${ms(rtt.mean)}, stdev ${ms(rtt.stdev)})`,
    );
  } else lines.push("  round trip: no reply came back");
  if (report.goodputMbps !== undefined) {
    lines.push(
      report.tcp
        ? `  tcp goodput: ${report.goodputMbps.toFixed(2)} Mbit/s (${report.tcp.bytes} bytes in ${report.tcp.seconds.toFixed(2)} s)`
        : `  tcp goodput: 0 Mbit/s (${report.tcpError ?? "no transfer"})`,
    );
  }
  return lines.join("\n");
}
