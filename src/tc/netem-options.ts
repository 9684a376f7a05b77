/**
 * The netem model as typed options: validation (ranges, names, combinations),
 * merging a call into what a link already has, the derived queue limit, and the
 * `tc ... netem` argument list. Pure: nothing here touches the system.
 *
 * Units follow the API contract: times in milliseconds, ratios in percent,
 * rates in Mbit/s. `null` (or 0 for a number) removes a value; see
 * docs/traffic-control.md.
 */
import { InvalidArgumentError } from "../errors.js";

/** Shapes of the delay jitter: `uniform` (netem's default) or one of the kernel's tables. */
export type DelayDistribution = "uniform" | "normal" | "pareto" | "paretonormal";
/** Distributions with a table file shipped by iproute2 (slot distributions need a table). */
export type TableDistribution = Exclude<DelayDistribution, "uniform">;

/** 4-state Markov loss model (tc `loss state`), all values in percent. */
export interface LossStateModel {
  /** Probability of going from good reception (1) to burst losses (3). */
  p13: number;
  /** From burst losses (3) back to good reception (1). @default 100 - p13 */
  p31?: number;
  /** From burst losses (3) to good reception within a burst (2). @default 0 */
  p32?: number;
  /** From good reception within a burst (2) to burst losses (3). @default 100 */
  p23?: number;
  /** From good reception (1) to isolated losses (4). @default 0 */
  p14?: number;
}

/**
 * Gilbert-Elliott loss model (tc `loss gemodel`), in percent, with the
 * literature's meaning of h and k (probabilities of delivery, not of loss).
 */
export interface GilbertElliottModel {
  /** Probability of going from the good to the bad state. */
  p: number;
  /** Probability of going from the bad to the good state. @default 100 - p */
  r?: number;
  /** Probability that a packet is delivered in the bad state (tc's `1-h` is 100 - h). @default 0 */
  h?: number;
  /** Probability that a packet is delivered in the good state (tc's `1-k` is 100 - k). @default 100 */
  k?: number;
}

export type LossModel =
  | number
  | { random: number; correlation?: number }
  | { state: LossStateModel }
  | { gemodel: GilbertElliottModel };

/** Slot-based delivery (tc `slot`): packets leave in bursts, one burst per slot. */
export type SlotOptions =
  | {
      /** Minimum time between slots, ms. */
      min: number;
      /** Maximum time between slots, ms (uniformly chosen between min and max). @default min */
      max?: number;
      /** Packets delivered per slot; 0 = no limit. @default 0 */
      packets?: number;
      /** Bytes delivered per slot; 0 = no limit. @default 0 */
      bytes?: number;
    }
  | {
      /** Distribution of the time between slots (needs iproute2's table file). */
      distribution: TableDistribution;
      /** Mean time between slots, ms. */
      delay: number;
      /** Spread of the time between slots, ms (> 0). */
      jitter: number;
      packets?: number;
      bytes?: number;
    };

/**
 * Every netem impairment. Each value is optional; in a call to `tc()` an
 * omitted value keeps what the link has, `null` (or 0) removes it.
 */
export interface NetemOptions {
  /** Start from an unimpaired link instead of keeping the link's current values. @default false */
  reset?: boolean | null;
  /** One-way delay added to every packet, ms (0 to 274877). */
  delay?: number | null;
  /** Random variation of the delay, ms (0 to 274877). */
  jitter?: number | null;
  /** Correlation of each delay with the previous one, percent. @default 0 */
  delayCorrelation?: number | null;
  /** Shape of the jitter. @default "uniform" (the kernel's behaviour when no table is loaded) */
  distribution?: DelayDistribution | null;
  /** Packet loss: a percent (random loss) or a loss model. */
  loss?: LossModel | null;
  /** Correlation of random loss, percent (only with random loss). @default 0 */
  lossCorrelation?: number | null;
  /** Mark packets with ECN congestion instead of dropping them (needs a loss). @default false */
  ecn?: boolean | null;
  /** Percent of packets sent twice. */
  duplicate?: number | null;
  /** @default 0 */
  duplicateCorrelation?: number | null;
  /** Percent of packets with a flipped random bit. */
  corrupt?: number | null;
  /** @default 0 */
  corruptCorrelation?: number | null;
  /** Percent of packets sent at once while the others wait `delay` (needs a delay). */
  reorder?: number | null;
  /** @default 0 */
  reorderCorrelation?: number | null;
  /** Reorder only every `gap`-th packet (needs reorder). @default 1 */
  gap?: number | null;
  /** Rate limit, Mbit/s. */
  rate?: number | null;
  /** Bytes added to (or, negative, removed from) each packet for the rate. @default 0 */
  packetOverhead?: number | null;
  /** Link-layer cell size in bytes for the rate (e.g. 48 for ATM); 0 = none. @default 0 */
  cellSize?: number | null;
  /** Bytes added per cell (e.g. 5 for ATM). @default 0 */
  cellOverhead?: number | null;
  /** Queue limit, packets. @default derived: max(1000, 2 x rate x (delay + jitter) / 1500 bytes) when rate and delay are set, else 1000 */
  limit?: number | null;
  /** Slot-based (bursty MAC) delivery. */
  slot?: SlotOptions | null;
  /** Seed for netem's random numbers (needs iproute2 >= 6.6 and Linux >= 6.4). */
  seed?: number | null;
}

/** What `tc(iface, options)` accepts: the netem model for outgoing traffic, plus incoming traffic. */
export interface TcOptions extends NetemOptions {
  /**
   * Shaping of the link's incoming traffic, through an IFB device the library
   * creates: `true` applies the same options as outgoing traffic after this call,
   * an object applies its own options, `null`/`false` removes ingress shaping,
   * omitted keeps what is there.
   */
  ingress?: NetemOptions | boolean | null;
}

/**
 * A slot as read back or merged: the kernel does not report which table a slot
 * distribution uses, so `distribution` is missing when nobody here set it.
 */
export type SlotSettings =
  | { min: number; max?: number; packets?: number; bytes?: number }
  | { distribution?: TableDistribution; delay: number; jitter: number; packets?: number; bytes?: number };

/**
 * A validated, merged, normalised set of options: no nulls, no zeros, loss
 * models completed. `distribution` is missing when the kernel may hold a table
 * nobody here chose (it does not report it).
 */
export interface NetemSettings {
  /** One-way delay, ms. */
  delay?: number;
  /** Random variation of the delay, ms. */
  jitter?: number;
  /** Correlation of each delay with the previous one, percent. */
  delayCorrelation?: number;
  /** Shape of the jitter (missing when the kernel may hold a table nobody here chose). */
  distribution?: DelayDistribution;
  /** Packet loss: a percent (random loss) or a complete loss model. */
  loss?:
    | number
    | {
        /** 4-state Markov model, every probability filled in. */
        state: Required<LossStateModel>;
      }
    | {
        /** Gilbert-Elliott model, every probability filled in. */
        gemodel: Required<GilbertElliottModel>;
      };
  /** Correlation of random loss, percent. */
  lossCorrelation?: number;
  /** ECN marking instead of dropping. */
  ecn?: true;
  /** Percent of packets sent twice. */
  duplicate?: number;
  /** Correlation of duplication, percent. */
  duplicateCorrelation?: number;
  /** Percent of packets with a flipped random bit. */
  corrupt?: number;
  /** Correlation of corruption, percent. */
  corruptCorrelation?: number;
  /** Percent of packets sent at once while the others wait `delay`. */
  reorder?: number;
  /** Correlation of reordering, percent. */
  reorderCorrelation?: number;
  /** Reorder only every `gap`-th packet. */
  gap?: number;
  /** Rate limit, Mbit/s. */
  rate?: number;
  /** Bytes added to (negative: removed from) each packet for the rate. */
  packetOverhead?: number;
  /** Link-layer cell size for the rate, bytes. */
  cellSize?: number;
  /** Bytes added per cell. */
  cellOverhead?: number;
  /** Queue limit, packets. */
  limit?: number;
  /** Slot-based (bursty MAC) delivery. */
  slot?: SlotSettings;
  /** Seed of netem's random numbers. */
  seed?: number;
}

/** Largest time netem takes from iproute2 6.1: 2^32 psched ticks of 64 ns. */
export const MAX_TIME_MS = 274877;
export const MAX_RATE_MBIT = 1e9;
export const MIN_RATE_MBIT = 8e-6; // 1 byte per second
const U32_MAX = 2 ** 32 - 1;
const S32_MAX = 2 ** 31 - 1;
/** netem's own default queue limit, packets. */
export const NETEM_DEFAULT_LIMIT = 1000;
/** Packet size assumed when deriving a queue limit from rate x delay (a full Ethernet MTU). */
export const LIMIT_PACKET_BYTES = 1500;

const DISTRIBUTIONS: readonly DelayDistribution[] = ["uniform", "normal", "pareto", "paretonormal"];
const TABLE_DISTRIBUTIONS: readonly TableDistribution[] = ["normal", "pareto", "paretonormal"];

const NETEM_KEYS = [
  "reset", "delay", "jitter", "delayCorrelation", "distribution", "loss", "lossCorrelation", "ecn",
  "duplicate", "duplicateCorrelation", "corrupt", "corruptCorrelation", "reorder", "reorderCorrelation",
  "gap", "rate", "packetOverhead", "cellSize", "cellOverhead", "limit", "slot", "seed",
] as const;
type NetemKey = (typeof NETEM_KEYS)[number];

/** Values that only qualify another: removing the main value removes them too. */
const QUALIFIERS: Partial<Record<NetemKey, NetemKey[]>> = {
  jitter: ["delayCorrelation", "distribution"],
  loss: ["lossCorrelation"],
  duplicate: ["duplicateCorrelation"],
  corrupt: ["corruptCorrelation"],
  reorder: ["reorderCorrelation", "gap"],
  rate: ["packetOverhead", "cellSize", "cellOverhead"],
};

// ---------------------------------------------------------------- validation

function fail(path: string, value: unknown, rule: string): never {
  throw new InvalidArgumentError(`tc option ${path}`, value, rule);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function editDistance(a: string, b: string): number {
  a = a.toLowerCase();
  b = b.toLowerCase();
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length]!;
}

function suggestion(name: string, known: readonly string[]): string {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const distance = editDistance(name, candidate);
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance];
  }
  const close = best !== undefined && (bestDistance <= 2 || best.toLowerCase().includes(name.toLowerCase()));
  return close ? `did you mean "${best}"? ` : "";
}

function rejectUnknownKeys(object: Record<string, unknown>, known: readonly string[], path: string): void {
  for (const key of Object.keys(object)) {
    if (!known.includes(key)) {
      fail(
        path ? `${path}.${key}` : key,
        object[key],
        `is not a known option: ${suggestion(key, known)}the options are ${known.join(", ")}`,
      );
    }
  }
}

function checkNumber(path: string, value: unknown, min: number, max: number, unit: string, options: { integer?: boolean; exclusiveMin?: boolean } = {}): number {
  const integer = options.integer ?? false;
  const ok =
    typeof value === "number" &&
    Number.isFinite(value) &&
    (options.exclusiveMin ? value > min : value >= min) &&
    value <= max &&
    (!integer || Number.isInteger(value));
  if (!ok) {
    const what = integer ? `an integer number of ${unit}` : `a number of ${unit}`;
    const lower = options.exclusiveMin ? `greater than ${min}` : `from ${min}`;
    fail(path, value, `must be ${what} ${lower} to ${max}; pass null to remove it`);
  }
  return value as number;
}

const percent = (path: string, value: unknown) => checkNumber(path, value, 0, 100, "percent");
const milliseconds = (path: string, value: unknown) => checkNumber(path, value, 0, MAX_TIME_MS, "milliseconds");

function checkLoss(path: string, value: unknown): LossModel {
  if (typeof value === "number") return percent(path, value);
  if (!isPlainObject(value)) {
    fail(path, value, 'must be a percent (random loss) or one of { random, correlation? }, { state: { p13, ... } }, { gemodel: { p, ... } }');
  }
  const kinds = Object.keys(value).filter((key) => ["random", "state", "gemodel"].includes(key));
  if (kinds.length !== 1) {
    fail(path, value, "must name exactly one loss model: random, state (4-state Markov) or gemodel (Gilbert-Elliott)");
  }
  if ("random" in value) {
    rejectUnknownKeys(value, ["random", "correlation"], path);
    const random = percent(`${path}.random`, value["random"]);
    if (value["correlation"] === undefined) return { random };
    return { random, correlation: percent(`${path}.correlation`, value["correlation"]) };
  }
  if ("state" in value) {
    rejectUnknownKeys(value, ["state"], path);
    const state = value["state"];
    if (!isPlainObject(state)) fail(`${path}.state`, state, "must be an object { p13, p31?, p32?, p23?, p14? } of percents");
    rejectUnknownKeys(state, ["p13", "p31", "p32", "p23", "p14"], `${path}.state`);
    const model: LossStateModel = { p13: percent(`${path}.state.p13`, state["p13"]) };
    for (const key of ["p31", "p32", "p23", "p14"] as const) {
      if (state[key] !== undefined) model[key] = percent(`${path}.state.${key}`, state[key]);
    }
    return { state: model };
  }
  rejectUnknownKeys(value, ["gemodel"], path);
  const ge = value["gemodel"];
  if (!isPlainObject(ge)) fail(`${path}.gemodel`, ge, "must be an object { p, r?, h?, k? } of percents");
  rejectUnknownKeys(ge, ["p", "r", "h", "k"], `${path}.gemodel`);
  const model: GilbertElliottModel = { p: percent(`${path}.gemodel.p`, ge["p"]) };
  for (const key of ["r", "h", "k"] as const) {
    if (ge[key] !== undefined) model[key] = percent(`${path}.gemodel.${key}`, ge[key]);
  }
  return { gemodel: model };
}

function checkSlot(path: string, value: unknown): SlotOptions {
  if (!isPlainObject(value)) {
    fail(path, value, "must be { min, max?, packets?, bytes? } or { distribution, delay, jitter, packets?, bytes? } (times in ms)");
  }
  const counts = (slot: { packets?: number; bytes?: number }) => {
    if (value["packets"] !== undefined) slot.packets = checkNumber(`${path}.packets`, value["packets"], 0, S32_MAX, "packets", { integer: true });
    if (value["bytes"] !== undefined) slot.bytes = checkNumber(`${path}.bytes`, value["bytes"], 0, S32_MAX, "bytes", { integer: true });
  };
  if ("distribution" in value) {
    rejectUnknownKeys(value, ["distribution", "delay", "jitter", "packets", "bytes"], path);
    const distribution = value["distribution"];
    if (!TABLE_DISTRIBUTIONS.includes(distribution as TableDistribution)) {
      fail(`${path}.distribution`, distribution, `must be one of ${TABLE_DISTRIBUTIONS.join(", ")} (slot distributions need one of iproute2's table files)`);
    }
    const slot: SlotOptions = {
      distribution: distribution as TableDistribution,
      delay: milliseconds(`${path}.delay`, value["delay"]),
      jitter: checkNumber(`${path}.jitter`, value["jitter"], 0, MAX_TIME_MS, "milliseconds", { exclusiveMin: true }),
    };
    counts(slot);
    return slot;
  }
  rejectUnknownKeys(value, ["min", "max", "packets", "bytes"], path);
  const min = milliseconds(`${path}.min`, value["min"]);
  const slot: SlotOptions = { min };
  if (value["max"] !== undefined) {
    slot.max = milliseconds(`${path}.max`, value["max"]);
    if (slot.max < min) fail(`${path}.max`, value["max"], `must not be less than slot.min (${min} ms)`);
  }
  counts(slot);
  return slot;
}

/** Checks one value of the netem model; returns it (normalised where there are two spellings). */
function checkValue(key: NetemKey, value: unknown, prefix: string): unknown {
  const path = prefix + key;
  if (value === null) return null;
  switch (key) {
    case "reset":
    case "ecn":
      if (typeof value !== "boolean") fail(path, value, "must be true or false");
      return value;
    case "delay":
    case "jitter":
      return milliseconds(path, value);
    case "delayCorrelation":
    case "lossCorrelation":
    case "duplicate":
    case "duplicateCorrelation":
    case "corrupt":
    case "corruptCorrelation":
    case "reorder":
    case "reorderCorrelation":
      return percent(path, value);
    case "distribution":
      if (!DISTRIBUTIONS.includes(value as DelayDistribution)) {
        fail(path, value, `must be one of ${DISTRIBUTIONS.join(", ")}${typeof value === "string" ? "; " + suggestion(value, DISTRIBUTIONS) : ""}`);
      }
      return value;
    case "loss":
      return checkLoss(path, value);
    case "gap":
      return checkNumber(path, value, 1, U32_MAX, "packets", { integer: true });
    case "rate":
      if (value === 0) return 0;
      return checkNumber(path, value, MIN_RATE_MBIT, MAX_RATE_MBIT, "Mbit/s (0 or null removes the rate limit)");
    case "packetOverhead":
    case "cellOverhead":
      return checkNumber(path, value, -65535, 65535, "bytes", { integer: true });
    case "cellSize":
      return checkNumber(path, value, 0, 65535, "bytes", { integer: true });
    case "limit":
      return checkNumber(path, value, 1, U32_MAX, "packets", { integer: true });
    case "slot":
      return checkSlot(path, value);
    case "seed":
      return checkNumber(path, value, 0, Number.MAX_SAFE_INTEGER, "(a seed)", { integer: true });
  }
}

function validateNetemAt(options: unknown, prefix: string, extraKeys: readonly string[]): NetemOptions {
  if (options === undefined) return {};
  if (!isPlainObject(options)) {
    fail(prefix ? prefix.slice(0, -1) : "object", options, "must be an object such as { delay: 20, loss: 1 } (ms, percent, Mbit/s)");
  }
  rejectUnknownKeys(options, [...NETEM_KEYS, ...extraKeys], prefix.slice(0, -1));
  const result: Record<string, unknown> = {};
  for (const key of NETEM_KEYS) {
    if (options[key] === undefined) continue;
    result[key] = checkValue(key, options[key], prefix);
  }
  // Random loss has two spellings: loss + lossCorrelation, or { random, correlation }.
  const loss = result["loss"];
  if (isPlainObject(loss) && "random" in loss) {
    if (loss["correlation"] !== undefined && result["lossCorrelation"] !== undefined) {
      fail(`${prefix}lossCorrelation`, result["lossCorrelation"], "is given twice (also as loss.correlation): give it once");
    }
    result["loss"] = loss["random"];
    if (loss["correlation"] !== undefined) result["lossCorrelation"] = loss["correlation"];
  } else if (isPlainObject(loss) && typeof result["lossCorrelation"] === "number" && result["lossCorrelation"] !== 0) {
    fail(`${prefix}lossCorrelation`, result["lossCorrelation"], "only applies to random loss; the state and gemodel models have their own probabilities");
  }
  return result as NetemOptions;
}

/**
 * Validates the netem options of one call (types, ranges, names). Rules that
 * tie several values together are checked on the merged result by
 * `netemArguments`/`checkNetemCombination`, since a call may change one value.
 */
export function validateNetemOptions(options: unknown): NetemOptions {
  return validateNetemAt(options, "", []);
}

/** Validates what `tc(iface, options)` accepts: netem options plus `ingress`. */
export function validateTcOptions(options: unknown): TcOptions {
  const result: TcOptions = validateNetemAt(options, "", ["ingress"]);
  const ingress = isPlainObject(options) ? options["ingress"] : undefined;
  if (ingress === undefined) return result;
  if (ingress === null || typeof ingress === "boolean") result.ingress = ingress;
  else if (isPlainObject(ingress)) result.ingress = validateNetemAt(ingress, "ingress.", []);
  else fail("ingress", ingress, "must be true (same options as outgoing traffic), an object of netem options, or null/false to remove ingress shaping");
  return result;
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
export function mergeNetem(base: NetemSettings | undefined, change: NetemOptions): NetemSettings {
  const merged: Record<string, unknown> = change.reset ? {} : { ...(base ?? {}) };
  for (const key of NETEM_KEYS) {
    if (key === "reset") continue;
    const value = change[key];
    if (value === undefined) continue;
    const removes = value === null || value === false || (value === 0 && key !== "seed");
    if (removes) {
      delete merged[key];
      for (const qualifier of QUALIFIERS[key] ?? []) if (change[qualifier] === undefined) delete merged[qualifier];
      continue;
    }
    merged[key] = key === "loss" ? completeLoss(value as LossModel) : key === "slot" ? { ...(value as SlotOptions) } : value;
  }
  // A loss model other than random has no correlation of its own.
  if (merged["loss"] !== undefined && typeof merged["loss"] !== "number") delete merged["lossCorrelation"];
  return merged as NetemSettings;
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
    needs("distribution", settings.distribution, "needs a delay and a jitter to shape; set both, or remove distribution with null");
  }
  if (settings.delayCorrelation !== undefined && !settings.jitter) {
    needs("delayCorrelation", settings.delayCorrelation, "needs a jitter (it correlates the random part of the delay); set jitter too");
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
  const bytesInFlight = (settings.rate * 1e6 / 8) * ((settings.delay + (settings.jitter ?? 0)) / 1000);
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
export function netemArguments(options: NetemOptions): string[] {
  return settingsArguments(mergeNetem(undefined, validateNetemOptions(options)));
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
      if (settings.distribution && settings.distribution !== "uniform") argv.push("distribution", settings.distribution);
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
    if (packetOverhead || cellSize || cellOverhead) argv.push(String(packetOverhead), String(cellSize), String(cellOverhead));
  }
  if (settings.slot) {
    const slot = settings.slot;
    // A slot distribution whose table is unknown is left as the kernel has it.
    const known = "min" in slot || slot.distribution !== undefined;
    if ("min" in slot) argv.push("slot", formatTime(slot.min), formatTime(slot.max ?? slot.min));
    else if (slot.distribution) argv.push("slot", "distribution", slot.distribution, formatTime(slot.delay), formatTime(slot.jitter));
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
  const delayTable = after.jitter && after.distribution && after.distribution !== "uniform" ? after.distribution : undefined;
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
