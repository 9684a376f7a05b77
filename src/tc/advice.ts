/**
 * Honest advice on netem settings that measurement shows to misbehave
 * (docs/fidelity.md, "Settings that misbehave" and "Offloads"): pure functions
 * from the settings a link gets to the warnings the library logs, and to the
 * GSO size the library gives a link it rate-shapes (offloads.ts applies it).
 */
import { LIMIT_PACKET_BYTES, type NetemSettings } from "./netem-model.js";

/** Where a netem sits, for the words of a warning: "d-1-a-b (outgoing)". */
export interface AdviceTarget {
  iface: string;
  direction: "outgoing" | "incoming";
}

/**
 * Packets of LIMIT_PACKET_BYTES that netem holds at once when traffic arrives
 * at the configured rate: each waits (delay + jitter), so a full link keeps
 * rate x (delay + jitter) in the queue. Undefined without both a rate and a delay.
 */
export function bandwidthDelayPackets(settings: NetemSettings): number | undefined {
  if (!settings.rate || !settings.delay) return undefined;
  const bytes = ((settings.rate * 1e6) / 8) * ((settings.delay + (settings.jitter ?? 0)) / 1000);
  return Math.ceil(bytes / LIMIT_PACKET_BYTES);
}

const mbit = (rate: number) => `${Number(rate.toPrecision(6))} Mbit/s`;
const ms = (value: number) => `${Number(value.toPrecision(6))} ms`;

/** Warnings for settings about to be applied; empty when nothing is known to misbehave. */
export function netemAdvice(settings: NetemSettings, target: AdviceTarget): string[] {
  const where = `tc on ${target.iface} (${target.direction})`;
  const advice: string[] = [];
  const needed = bandwidthDelayPackets(settings);
  if (needed !== undefined && settings.limit !== undefined && settings.limit < needed) {
    const delay = (settings.delay ?? 0) + (settings.jitter ?? 0);
    advice.push(
      `${where}: limit ${settings.limit} packets is under the bandwidth-delay product of ${mbit(settings.rate!)} x ${ms(delay)} ` +
        `(~${needed} packets of ${LIMIT_PACKET_BYTES} B): expect extra loss, and TCP far under the rate; raise limit to at least ${needed}, or leave it unset (the library then derives one)`,
    );
  }
  return advice;
}

/** Least gso_max_size the library sets: one full-size segment. */
const GSO_FLOOR_BYTES = LIMIT_PACKET_BYTES;

/**
 * The largest GSO packet a link rate-shaped at `rateMbit` should let TCP build:
 * about one millisecond of the rate (what TCP's own autosizing picks for one
 * millisecond of its pacing rate, had it known the bottleneck), at least one
 * full-size segment, never above the device's current maximum. A 64 kB GSO
 * packet leaves netem as one burst: 524 ms of a 1 Mbit/s link.
 */
export function gsoSizeForRate(rateMbit: number, deviceMaxBytes: number): number {
  const perMillisecond = Math.round((rateMbit * 1e6) / 8 / 1000);
  return Math.min(deviceMaxBytes, Math.max(GSO_FLOOR_BYTES, perMillisecond));
}
