/**
 * Honest advice on netem settings that measurement shows to misbehave
 * (docs/fidelity.md, "Settings that misbehave"): a pure function from the
 * settings a link gets to the warnings the library logs.
 */
import { LIMIT_PACKET_BYTES } from "../tc/netem-table.js";
import type { NetemSettings } from "../tc/netem-model.js";

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
  if (needed !== undefined && settings.rate !== undefined && settings.limit !== undefined && settings.limit < needed) {
    const delay = (settings.delay ?? 0) + (settings.jitter ?? 0);
    advice.push(
      `${where}: limit ${settings.limit} packets is under the bandwidth-delay product of ${mbit(settings.rate)} x ${ms(delay)} ` +
        `(~${needed} packets of ${LIMIT_PACKET_BYTES} B): expect extra loss, and TCP far under the rate; raise limit to at least ${needed}, or leave it unset (the library then derives one)`,
    );
  }
  return advice;
}
