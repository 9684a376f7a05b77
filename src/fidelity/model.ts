/**
 * What the fidelity sweep (sweep.lab.ts) writes, the targets of
 * issue 11 it is judged against, and the statistics behind them; used by the
 * sweep, the CI subset (fidelity.lab.test.ts) and scripts/fidelity.mjs, which
 * renders docs/fidelity.md from the saved points (so a verdict is recomputed
 * from the raw counts, never stored).
 */
import type { ProbeCounts } from "../probe/accounting.js";

export interface FidelityPoint {
  /** delay, delay+jitter, loss, duplicate, reorder, rate-sender, rate-receiver-ingress, baseline, rate-baseline, finding, offloads. */
  section: string;
  /** The netem setting in words. */
  setting: string;
  /** The configured (or, where a model says so, expected) value, in `unit`. */
  configured: number;
  measured: number;
  unit: string;
  /** With jitter: the configured jitter, ms. */
  jitterMs?: number;
  /**
   * For shares (loss, duplicates): how many of how many trials, and by how much
   * the model's correlation inflates the variance of the share (1: independent
   * trials; Gilbert-Elliott: see gilbertElliott()).
   */
  share?: { events: number; trials: number; varianceFactor: number };
  /** With TCP: the sender's root qdisc right after the probe (backlog, packets waiting, drops since it was installed). */
  queueAfter?: { backlogBytes: number; packets: number; drops: number };
  /** What the library logged as warnings while the point was set up. */
  warnings?: string[];
  /** The probe's counts (one shape with the probe's own), and the TCP phase's outcome. */
  report: ProbeCounts & { goodputMbps?: number; tcpError?: string };
}

export interface FidelityResult {
  machine: {
    kernelRelease: string;
    kernelVersion: string;
    cpuModel: string;
    cpus: number;
    virtualised: boolean;
    node: string;
    /** The guest's clock source (/sys/devices/system/clocksource/clocksource0/current_clocksource). */
    clocksource?: string;
    /** How late a 1 ms sleep wakes up in the measuring machine, ms (see timerLateness in the sweep). */
    timerLatenessMs?: { samples: number; p50: number; p90: number; p99: number; max: number };
    /** Load average (1 min) of the machine running the sweep, at its start and end. */
    loadAverage?: [number, number];
  };
  startedAt: string;
  durationS: number;
  /** The groups measured (sweep.lab.ts GROUPS). */
  groups: string[];
  points: FidelityPoint[];
  /** Set by the sweep after its last point. */
  complete?: boolean;
}

// ---------------------------------------------------------------- statistics

/** Confidence of the loss target: the configured loss must lie in the 99 % interval of the measured share. */
const LOSS_CONFIDENCE = 0.99;
/** Fewest probes per loss setting for the loss target. */
export const LOSS_MIN_PROBES = 2000;

/** ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9; relative error under 1e-13). */
function logGamma(x: number): number {
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  x -= 1;
  let sum = c[0];
  for (let i = 1; i < 9; i++) sum += c[i] / (x + i);
  const t = x + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(sum);
}

/** Continued fraction of the incomplete beta function (modified Lentz). */
function betaContinuedFraction(x: number, a: number, b: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  d = 1 / (Math.abs(d) < tiny ? tiny : d);
  let h = d;
  for (let m = 1; m <= 10_000; m++) {
    const m2 = 2 * m;
    for (const numerator of [
      (m * (b - m) * x) / ((a + m2 - 1) * (a + m2)),
      (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1)),
    ]) {
      d = 1 + numerator * d;
      d = 1 / (Math.abs(d) < tiny ? tiny : d);
      c = 1 + numerator / c;
      if (Math.abs(c) < tiny) c = tiny;
      h *= d * c;
    }
    if (Math.abs(d * c - 1) < 1e-15) break;
  }
  return h;
}

/** The regularised incomplete beta function I_x(a, b), a, b > 0, 0 <= x <= 1. */
export function regularizedBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x));
  // The continued fraction converges fast on the side of the mean; use the symmetry on the other.
  return x < (a + 1) / (a + b + 2)
    ? (front * betaContinuedFraction(x, a, b)) / a
    : 1 - (front * betaContinuedFraction(1 - x, b, a)) / b;
}

/** The x with I_x(a, b) = q (bisection: I_x is increasing in x). */
function betaQuantile(q: number, a: number, b: number): number {
  let lo = 0;
  let hi = 1;
  for (let i = 0; i < 200 && hi - lo > 1e-12; i++) {
    const mid = (lo + hi) / 2;
    if (regularizedBeta(mid, a, b) < q) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/**
 * The exact (Clopper-Pearson) interval of a binomial probability after
 * `events` of `trials`, as fractions: the probabilities under which so many
 * events or more (lower end), or so few or fewer (upper end), have a chance of
 * (1 - confidence) / 2. Conservative: it covers the true probability at least
 * `confidence` of the time. Fractional counts (an effective sample size) are
 * allowed: the beta-quantile form does not need whole numbers.
 */
export function clopperPearson(events: number, trials: number, confidence = LOSS_CONFIDENCE): [number, number] {
  if (!(trials > 0) || events < 0 || events > trials)
    throw new RangeError(`clopperPearson: need 0 <= events <= trials and trials > 0, got ${events} of ${trials}`);
  if (!(confidence > 0 && confidence < 1))
    throw new RangeError(`clopperPearson: confidence must be between 0 and 1, got ${confidence}`);
  const tail = (1 - confidence) / 2;
  const lower = events === 0 ? 0 : betaQuantile(tail, events, trials - events + 1);
  const upper = events === trials ? 1 : betaQuantile(1 - tail, events + 1, trials - events);
  return [lower, upper];
}

/** Gilbert-Elliott in the library's terms (percent; h and k are delivery probabilities, as GilbertElliottModel). */
export interface GilbertElliottPercents {
  p: number;
  r?: number;
  h?: number;
  k?: number;
}

/**
 * What a Gilbert-Elliott channel loses in the long run, and how bursty it is.
 * A two-state Markov chain (good -> bad with p, bad -> good with r) has the
 * stationary share p / (p + r) in bad; a packet is lost with 1 - k in good and
 * 1 - h in bad. Successive losses are correlated (lag-j covariance
 * (lossBad - lossGood)^2 * goodShare * badShare * lambda^j, lambda = 1 - p - r),
 * so the share lost over n packets varies `varianceFactor` times more than n
 * independent trials would: an interval built for n trials must use
 * n / varianceFactor.
 */
export function gilbertElliott(model: GilbertElliottPercents): {
  lossPercent: number;
  varianceFactor: number;
  meanBurstPackets: number;
} {
  const p = model.p / 100;
  const r = (model.r ?? 100 - model.p) / 100;
  const lossGood = 1 - (model.k ?? 100) / 100;
  const lossBad = 1 - (model.h ?? 0) / 100;
  if (p + r === 0)
    throw new RangeError("gilbertElliott: p + r must be above 0 (else the chain never leaves its first state)");
  const bad = p / (p + r);
  const loss = (1 - bad) * lossGood + bad * lossBad;
  const lambda = 1 - p - r;
  const variance = loss * (1 - loss);
  const covariance = (lossBad - lossGood) ** 2 * bad * (1 - bad);
  const varianceFactor = variance === 0 ? 1 : 1 + (2 * covariance * lambda) / ((1 - lambda) * variance);
  return { lossPercent: 100 * loss, varianceFactor, meanBurstPackets: r > 0 ? 1 / r : Infinity };
}

/** A measured share checked against the expected percent: the Clopper-Pearson interval over the effective trials. */
export interface ShareCheck {
  /** The measured share, percent. */
  measuredPercent: number;
  expectedPercent: number;
  /** Trials divided by the variance factor (the trials themselves for independent ones). */
  effectiveTrials: number;
  /** Percent. */
  interval: [number, number];
  confidence: number;
  inside: boolean;
}

export function checkShare(
  share: { events: number; trials: number; varianceFactor: number },
  expectedPercent: number,
  confidence = LOSS_CONFIDENCE,
): ShareCheck {
  const effectiveTrials = share.trials / share.varianceFactor;
  const measured = share.events / share.trials;
  const [lo, hi] = clopperPearson(measured * effectiveTrials, effectiveTrials, confidence);
  const round = (x: number) => Number((100 * x).toFixed(3));
  const interval: [number, number] = [round(lo), round(hi)];
  // Compared before rounding: a boundary case must not flip on the third decimal.
  const inside = expectedPercent / 100 >= lo && expectedPercent / 100 <= hi;
  return { measuredPercent: 100 * measured, expectedPercent, effectiveTrials, interval, confidence, inside };
}

// ---------------------------------------------------------------- targets (issue 11)

/** RTT median within 5 % + 0.5 ms of the configured round trip. */
export function delayTarget(
  configuredRttMs: number,
  rttP50Ms: number,
): { met: boolean; errorMs: number; toleranceMs: number } {
  const toleranceMs = 0.05 * configuredRttMs + 0.5;
  const errorMs = rttP50Ms - configuredRttMs;
  return { met: Math.abs(errorMs) <= toleranceMs, errorMs, toleranceMs };
}

/** TCP goodput 90 to 102 % of the configured rate. @public scripts/fidelity.mjs loads it with tsImport, which knip cannot follow. */
export const RATE_TARGET = { low: 0.9, high: 1.02 } as const;

export function rateTarget(configuredMbps: number, goodputMbps: number): { met: boolean; ratio: number } {
  const ratio = goodputMbps / configuredMbps;
  return { met: ratio >= RATE_TARGET.low && ratio <= RATE_TARGET.high, ratio };
}

/**
 * The best TCP goodput a netem rate allows: netem counts every byte of the
 * frame (Ethernet 14, IPv4 20, TCP 20 + 12 of timestamps), the receiver counts
 * payload only: 1448 of 1514 bytes at an MTU of 1500, 95.6 %.
 */
export function goodputCeiling(mtu = 1500): number {
  const payload = mtu - 20 - 20 - 12;
  return payload / (mtu + 14);
}
