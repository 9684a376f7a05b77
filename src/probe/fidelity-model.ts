/**
 * What the fidelity sweep (fidelity-sweep.lab.ts) writes and the CI subset
 * (fidelity.lab.test.ts) checks against: the JSON shape scripts/fidelity.mjs
 * reads, and the statistics both use.
 */
import type { ProbeCounts } from "./accounting.js";

export interface FidelityPoint {
  /** delay, delay+jitter, loss, duplicate, reorder, rate-sender, rate-receiver-ingress, baseline, rate-baseline, finding. */
  section: string;
  /** The netem setting in words. */
  setting: string;
  /** The configured (or, where a model says so, expected) value, in `unit`. */
  configured: number;
  measured: number;
  unit: string;
  /** With jitter: the configured jitter, ms. */
  jitterMs?: number;
  /** For loss and duplicates: the 95 % interval a correct implementation lands in, percent. */
  interval?: [number, number];
  /** The probe's counts (one shape with the probe's own), and the TCP phase's outcome. */
  report: ProbeCounts & { goodputMbps?: number; tcpError?: string };
}

export interface FidelityResult {
  machine: { kernelRelease: string; kernelVersion: string; cpuModel: string; cpus: number; virtualised: boolean; node: string };
  startedAt: string;
  durationS: number;
  /** The groups measured (fidelity-sweep.lab.ts GROUPS). */
  groups: string[];
  points: FidelityPoint[];
  /** Set by the sweep after its last point. */
  complete?: boolean;
}

/**
 * The interval, in percent, that a Binomial(n, p) share falls in with about
 * `z` standard deviations each side (normal approximation, with at least one
 * event's worth of width so tiny p still gets a usable range).
 */
export function binomialInterval(n: number, p: number, z = 1.96): [number, number] {
  const halfWidth = Math.max(z * Math.sqrt((p * (1 - p)) / n), 1 / n);
  const round = (x: number) => Number((100 * x).toFixed(3));
  return [round(Math.max(0, p - halfWidth)), round(Math.min(1, p + halfWidth))];
}
