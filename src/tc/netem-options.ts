/**
 * What a netem call does with the model (netem-model.ts) beyond checking each
 * value (netem-validate.ts): merging a call into what a link already has, the
 * rules that tie several options together, the derived queue limit, and the
 * `tc ... netem` argument list. Pure: nothing here touches the system.
 *
 * Units follow the API contract: times in milliseconds, ratios in percent,
 * rates in Mbit/s. `null` (or 0 for a number) removes a value; see
 * docs/traffic-control.md.
 */
import { InvalidArgumentError } from "../errors.js";
import { LIMIT_PACKET_BYTES, NETEM_DEFAULT_LIMIT, NETEM_KEYS, U32_MAX, type NetemKey } from "./netem-table.js";
import type { LossModel, NetemOptions, NetemSettings, SlotOptions } from "./netem-model.js";
import { validateOneWayNetem } from "./netem-validate.js";

/** Values that only qualify another: removing the main value removes them too. */
const QUALIFIERS: Partial<Record<NetemKey, NetemKey[]>> = {
  jitter: ["delayCorrelation", "distribution"],
  loss: ["lossCorrelation"],
  duplicate: ["duplicateCorrelation"],
  corrupt: ["corruptCorrelation"],
  reorder: ["reorderCorrelation", "gap"],
  rate: ["packetOverhead", "cellSize", "cellOverhead"],
};

function fail(path: string, value: unknown, rule: string): never {
  throw new InvalidArgumentError(`tc option ${path}`, value, rule);
}

// ---------------------------------------------------------------- merging

function completeLoss(loss: LossModel): NetemSettings["loss"] {
  if (typeof loss === "number") return loss;
  if ("random" in loss) return loss.random;
  if ("state" in loss) {
    const { p13, p31 = 100 - p13, p32 = 0, p23 = 100, p14 = 0 } = loss.state;
    return { state: { p13, p31, p32, p23, p14 } };
  }
  const { p, r = 100 - p, h = 0, k = 100 } = loss.gemodel;
  return { gemodel: { p, r, h, k } };
}

/**
 * Merges one call into the settings a link has: omitted values are kept,
 * null/0/false remove a value (and the values that only qualify it), `reset`
 * starts from nothing.
 */
export function mergeNetem(base: NetemSettings | undefined, change: Omit<NetemOptions, "ingress">): NetemSettings {
  const merged: Record<string, unknown> = change.reset ? {} : { ...(base ?? {}) };
  for (const key of NETEM_KEYS) {
    if (key === "reset") continue;
    const value = change[key];
    if (value === undefined) continue;
    const removes = value === null || value === false || (value === 0 && key !== "seed");
    if (removes) {
      Reflect.deleteProperty(merged, key);
      for (const qualifier of QUALIFIERS[key] ?? [])
        if (change[qualifier] === undefined) Reflect.deleteProperty(merged, qualifier);
      continue;
    }
    merged[key] =
      key === "loss" ? completeLoss(value as LossModel) : key === "slot" ? { ...(value as SlotOptions) } : value;
  }
  // A loss model other than random has no correlation of its own.
  if (merged["loss"] !== undefined && typeof merged["loss"] !== "number") delete merged["lossCorrelation"];
  return merged;
}

// ---------------------------------------------------------------- combinations and limit

/** Rejects combinations netem refuses or ignores, naming what to add or remove. */
export function checkNetemCombination(settings: NetemSettings, prefix = ""): void {
  const needs = (key: string, value: unknown, rule: string) => fail(prefix + key, value, rule);
  if (settings.reorder !== undefined && !settings.delay) {
    needs("reorder", settings.reorder, "needs a delay: reordered packets are the ones sent without it; set delay too");
  }
  if (settings.gap !== undefined && settings.reorder === undefined) {
    needs("gap", settings.gap, "needs reorder (a percent); set reorder too or remove gap with null");
  }
  if (settings.distribution !== undefined && !(settings.delay && settings.jitter)) {
    needs(
      "distribution",
      settings.distribution,
      "needs a delay and a jitter to shape; set both, or remove distribution with null",
    );
  }
  if (settings.delayCorrelation !== undefined && !settings.jitter) {
    needs(
      "delayCorrelation",
      settings.delayCorrelation,
      "needs a jitter (it correlates the random part of the delay); set jitter too",
    );
  }
  if (settings.lossCorrelation !== undefined && settings.loss === undefined) {
    needs("lossCorrelation", settings.lossCorrelation, "needs a random loss; set loss too");
  }
  if (settings.duplicateCorrelation !== undefined && settings.duplicate === undefined) {
    needs("duplicateCorrelation", settings.duplicateCorrelation, "needs duplicate; set duplicate too");
  }
  if (settings.corruptCorrelation !== undefined && settings.corrupt === undefined) {
    needs("corruptCorrelation", settings.corruptCorrelation, "needs corrupt; set corrupt too");
  }
  if (settings.reorderCorrelation !== undefined && settings.reorder === undefined) {
    needs("reorderCorrelation", settings.reorderCorrelation, "needs reorder; set reorder too");
  }
  if (settings.ecn && settings.loss === undefined) {
    needs("ecn", true, "needs a loss (ECN marks the packets a loss model would drop); set loss too");
  }
  for (const key of ["packetOverhead", "cellSize", "cellOverhead"] as const) {
    if (settings[key] !== undefined && settings.rate === undefined) {
      needs(key, settings[key], "only applies with a rate; set rate too");
    }
  }
}

/**
 * The queue limit used when none is set: netem holds every delayed packet in
 * its queue, so a fast, long link needs room for twice its bandwidth-delay
 * product in full-size packets, and never less than netem's own 1000.
 */
export function derivedLimit(settings: NetemSettings): number | undefined {
  if (settings.limit !== undefined) return settings.limit;
  if (!settings.rate || !settings.delay) return undefined;
  const bytesInFlight = ((settings.rate * 1e6) / 8) * ((settings.delay + (settings.jitter ?? 0)) / 1000);
  const packets = Math.ceil((2 * bytesInFlight) / LIMIT_PACKET_BYTES);
  return Math.min(U32_MAX, Math.max(NETEM_DEFAULT_LIMIT, packets));
}

// ---------------------------------------------------------------- arguments

function number(value: number): string {
  // Plain decimal notation: tc's parsers want a leading digit, never an exponent.
  if (Number.isInteger(value)) return String(value);
  return value.toFixed(9).replace(/0+$/, "").replace(/\.$/, "");
}

const pct = (value: number | undefined) => `${number(value ?? 0)}%`;

/** A time in ms as tc reads it: whole ms when exact, microseconds otherwise. */
export function formatTime(ms: number): string {
  if (Number.isInteger(ms)) return `${ms}ms`;
  return `${Math.round(ms * 1000)}us`;
}

/** A rate in Mbit/s as tc reads it: mbit, kbit or bit, whichever is exact. */
export function formatRate(mbit: number): string {
  if (Number.isInteger(mbit)) return `${mbit}mbit`;
  const kbit = mbit * 1000;
  if (Math.abs(kbit - Math.round(kbit)) < 1e-9) return `${Math.round(kbit)}kbit`;
  return `${Math.round(mbit * 1e6)}bit`;
}

/**
 * The argument list after `netem` that gives a link exactly these settings.
 * Correlations are always written out: tc sends all three correlations in one
 * attribute, and the kernel keeps the old attribute when a command omits it.
 */
export function netemArguments(options: Omit<NetemOptions, "ingress">): string[] {
  return settingsArguments(mergeNetem(undefined, validateOneWayNetem(options)));
}

/** `netemArguments` for settings already validated and merged. */
export function settingsArguments(settings: NetemSettings): string[] {
  checkNetemCombination(settings);
  const argv: string[] = [];
  let sendsCorrelations = false;
  const limit = derivedLimit(settings);
  if (limit !== undefined) argv.push("limit", String(limit));
  if (settings.delay || settings.jitter) {
    argv.push("delay", formatTime(settings.delay ?? 0));
    if (settings.jitter) {
      argv.push(formatTime(settings.jitter), pct(settings.delayCorrelation));
      sendsCorrelations = true;
      if (settings.distribution && settings.distribution !== "uniform")
        argv.push("distribution", settings.distribution);
    }
  }
  const loss = settings.loss;
  if (typeof loss === "number") {
    argv.push("loss", "random", pct(loss), pct(settings.lossCorrelation));
    sendsCorrelations = true;
  } else if (loss && "state" in loss) {
    const s = loss.state;
    argv.push("loss", "state", pct(s.p13), pct(s.p31), pct(s.p32), pct(s.p23), pct(s.p14));
  } else if (loss && "gemodel" in loss) {
    const g = loss.gemodel;
    argv.push("loss", "gemodel", pct(g.p), pct(g.r), pct(100 - g.h), pct(100 - g.k));
  }
  if (settings.ecn) argv.push("ecn");
  if (settings.reorder !== undefined) {
    argv.push("reorder", pct(settings.reorder), pct(settings.reorderCorrelation));
    if (settings.gap !== undefined) argv.push("gap", String(settings.gap));
    sendsCorrelations = true;
  }
  if (settings.corrupt !== undefined) {
    argv.push("corrupt", pct(settings.corrupt), pct(settings.corruptCorrelation));
    sendsCorrelations = true;
  }
  if (settings.duplicate !== undefined) {
    argv.push("duplicate", pct(settings.duplicate), pct(settings.duplicateCorrelation));
    // iproute2 parses the duplicate correlation but only sends the correlation
    // attribute for the others; a no-op corrupt makes it send.
    if (!sendsCorrelations) argv.push("corrupt", "0%", "0%");
  }
  if (settings.rate) {
    argv.push("rate", formatRate(settings.rate));
    const { packetOverhead = 0, cellSize = 0, cellOverhead = 0 } = settings;
    if (packetOverhead || cellSize || cellOverhead)
      argv.push(String(packetOverhead), String(cellSize), String(cellOverhead));
  }
  if (settings.slot) {
    const slot = settings.slot;
    // A slot distribution whose table is unknown is left as the kernel has it.
    const known = "min" in slot || slot.distribution !== undefined;
    if ("min" in slot) argv.push("slot", formatTime(slot.min), formatTime(slot.max ?? slot.min));
    else if (slot.distribution)
      argv.push("slot", "distribution", slot.distribution, formatTime(slot.delay), formatTime(slot.jitter));
    if (known && slot.packets) argv.push("packets", String(slot.packets));
    if (known && slot.bytes) argv.push("bytes", String(slot.bytes));
  }
  if (settings.seed !== undefined) argv.push("seed", String(settings.seed));
  return argv;
}

/**
 * Arguments that switch off, on a netem qdisc changed in place, the features
 * `before` had and `after` lacks: the kernel keeps an attribute the command
 * omits. Returns undefined when that cannot be done in place (ECN, a delay
 * distribution table); the caller then re-creates the qdisc.
 */
export function clearingArguments(
  before: NetemSettings,
  after: NetemSettings,
  tables: { delay?: string | undefined; slot?: string | undefined },
  afterArguments: readonly string[],
): string[] | undefined {
  if (before.ecn && !after.ecn) return undefined;
  const delayTable =
    after.jitter && after.distribution && after.distribution !== "uniform" ? after.distribution : undefined;
  if (tables.delay !== undefined && delayTable === undefined && after.jitter) return undefined;
  const slotTable = after.slot && !("min" in after.slot) ? after.slot.distribution : undefined;
  if (tables.slot !== undefined && slotTable === undefined && after.slot) return undefined;
  const argv: string[] = [];
  if (before.reorder !== undefined && after.reorder === undefined) argv.push("reorder", "0%");
  if (before.corrupt !== undefined && !afterArguments.includes("corrupt")) argv.push("corrupt", "0%");
  if (before.rate && !after.rate) argv.push("rate", "0bit");
  if (before.slot && !after.slot) argv.push("slot", "0");
  return argv;
}
