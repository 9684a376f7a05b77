/**
 * The probe's accounting: what the sender agent saw (every reply in arrival
 * order, duplicates included) turned into counts and round-trip statistics.
 * Pure functions, so the rules are tested with synthetic input.
 */

/** One reply as the sender received it. */
export interface Reply {
  seq: number;
  rttMs: number;
}

/** Round-trip times in milliseconds; every field is NaN when no reply came back. */
export interface RttStats {
  /** Shortest round trip, ms. */
  min: number;
  /** 10th percentile, ms. */
  p10: number;
  /** Median, ms. */
  p50: number;
  /** 90th percentile, ms. */
  p90: number;
  /** 99th percentile, ms. */
  p99: number;
  /** Longest round trip, ms. */
  max: number;
  /** Mean, ms. */
  mean: number;
  /** Population standard deviation (as ping's mdev). */
  stdev: number;
}

export interface ProbeCounts {
  /** Datagrams the sender tried to send (failed sends included: they count as lost). */
  sent: number;
  /** Distinct datagrams that came back. */
  received: number;
  /** (sent - received) / sent, in percent. */
  lossPercent: number;
  /** Replies for a sequence number that had already come back. */
  duplicates: number;
  /** Replies that arrived after a reply with a higher sequence number (each direction's reordering counts). */
  reordered: number;
  /** Over the first reply of each sequence number. */
  rttMs: RttStats;
}

/** Counts and statistics of `replies` (arrival order) for `sent` datagrams numbered 0..sent-1. */
export function accountReplies(sent: number, replies: readonly Reply[]): ProbeCounts {
  const seen = new Set<number>();
  const rtts: number[] = [];
  let duplicates = 0;
  let reordered = 0;
  let highest = -1;
  for (const { seq, rttMs } of replies) {
    if (!Number.isInteger(seq) || seq < 0 || seq >= sent) continue; // not one we sent
    if (seen.has(seq)) {
      duplicates++;
      continue;
    }
    seen.add(seq);
    rtts.push(rttMs);
    if (seq < highest) reordered++;
    else highest = seq;
  }
  const received = seen.size;
  return {
    sent,
    received,
    lossPercent: sent === 0 ? 0 : Math.round(((sent - received) / sent) * 100 * 1e4) / 1e4,
    duplicates,
    reordered,
    rttMs: rttStatistics(rtts),
  };
}

export function rttStatistics(values: readonly number[]): RttStats {
  if (values.length === 0) return { min: NaN, p10: NaN, p50: NaN, p90: NaN, p99: NaN, max: NaN, mean: NaN, stdev: NaN };
  const sorted = [...values].sort((a, b) => a - b);
  const mean = sorted.reduce((sum, value) => sum + value, 0) / sorted.length;
  const variance = sorted.reduce((sum, value) => sum + (value - mean) ** 2, 0) / sorted.length;
  return {
    min: microseconds(sorted[0]),
    p10: microseconds(percentile(sorted, 0.1)),
    p50: microseconds(percentile(sorted, 0.5)),
    p90: microseconds(percentile(sorted, 0.9)),
    p99: microseconds(percentile(sorted, 0.99)),
    max: microseconds(sorted.at(-1) ?? Number.NaN),
    mean: microseconds(mean),
    stdev: microseconds(Math.sqrt(variance)),
  };
}

/** The sender's clock reads to the nanosecond, but a Node.js event loop adds tens of microseconds: keep what means something. */
function microseconds(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

/** Linear interpolation between the closest ranks (numpy's default) of an ascending list. */
export function percentile(sorted: readonly number[], fraction: number): number {
  const position = (sorted.length - 1) * fraction;
  const below = Math.floor(position);
  const above = Math.min(sorted.length - 1, below + 1);
  return sorted[below] + (sorted[above] - sorted[below]) * (position - below);
}

/** What the sender agent printed (see agent.mjs), read back. */
export interface SenderOutput {
  sent: number;
  replies: Reply[];
  sendErrors: number;
  firstSendError?: string;
  tcp?: { bytes: number; seconds: number } | { error: string };
}

export function parseSenderOutput(text: string): SenderOutput {
  const output: SenderOutput = { sent: 0, replies: [], sendErrors: 0 };
  for (const line of text.split("\n")) {
    const [kind, ...fields] = line.trim().split(" ");
    if (kind === "r") output.replies.push({ seq: Number(fields[0]), rttMs: Number(fields[1]) });
    else if (kind === "sent") output.sent = Number(fields[0]);
    else if (kind === "err") {
      output.sendErrors = Number(fields[0]);
      output.firstSendError = fields.slice(1).join(" ");
    } else if (kind === "tcp") output.tcp = { bytes: Number(fields[0]), seconds: Number(fields[1]) / 1e9 };
    else if (kind === "tcp-error") output.tcp = { error: fields.join(" ") };
  }
  return output;
}
