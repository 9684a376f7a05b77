/**
 * The netem table, defined once: `NETEM_OPTIONS` (and the fields of the loss
 * models and of a slot) give each option's unit, range or allowed values,
 * meaning and examples. The per-field validation (netem-validate.ts), the
 * topology schema's `netem` and `impairment` definitions (netem-schema.ts,
 * written into schema/topology.schema.json by scripts/generate-schema.mjs) and
 * the flags of `dummynet impair` with their help (src/cli/netem-flags.ts) are
 * all read from these tables. Rules that tie several options together stay
 * hand-written (netem-options.ts: checkNetemCombination, mergeNetem). The
 * option types, checked against this table, are in netem-model.ts.
 */

/** Largest time netem takes from iproute2 6.1: 2^32 psched ticks of 64 ns. */
const MAX_TIME_MS = 274877;
const MAX_RATE_MBIT = 1e9;
const MIN_RATE_MBIT = 8e-6; // 1 byte per second
export const U32_MAX = 2 ** 32 - 1;
const S32_MAX = 2 ** 31 - 1;
/** netem's own default queue limit, packets. */
export const NETEM_DEFAULT_LIMIT = 1000;
/** Packet size assumed when deriving a queue limit from rate x delay (a full Ethernet MTU). */
export const LIMIT_PACKET_BYTES = 1500;

/** Shapes of the delay jitter: `uniform` (netem's default) or one of the kernel's tables. */
export type DelayDistribution = "uniform" | TableDistribution;
/** Distributions with a table file shipped by iproute2 (slot distributions need a table). */
export type TableDistribution = "normal" | "pareto" | "paretonormal";

const TABLE_DISTRIBUTIONS = ["normal", "pareto", "paretonormal"] as const satisfies readonly TableDistribution[];
export const DISTRIBUTIONS = ["uniform", ...TABLE_DISTRIBUTIONS] as const satisfies readonly DelayDistribution[];

// ---------------------------------------------------------------- the tables

/** Units of the model, with the words messages use and the placeholder of a command-line flag. */
export const UNITS = {
  ms: { words: "milliseconds", flag: "<ms>" },
  percent: { words: "percent", flag: "<percent>" },
  mbit: { words: "Mbit/s", flag: "<mbit>" },
  packets: { words: "packets", flag: "<packets>" },
  bytes: { words: "bytes", flag: "<bytes>" },
  none: { words: "", flag: "<n>" },
} as const;
type Unit = keyof typeof UNITS;

/** A number with a unit and an inclusive range (or, with `exclusiveMin`, one above `min`). */
export interface NumberField {
  readonly type: "number";
  readonly unit: Unit;
  readonly min: number;
  readonly max: number;
  readonly integer?: boolean;
  readonly exclusiveMin?: boolean;
  /** 0 is accepted below `min`: it removes the value (a rate of 0 is no rate limit). */
  readonly zeroRemoves?: boolean;
  /** What the value means, without its unit or range (those are added from the fields above). */
  readonly description: string;
  /** What applies when the value is not given, in words. */
  readonly default?: string;
}
/** One of a fixed list of names. */
interface EnumField {
  readonly type: "enum";
  readonly values: readonly string[];
  readonly description: string;
  readonly default?: string;
  /** Why only these, for the message of a value that is not one of them. */
  readonly why?: string;
}
interface BooleanField {
  readonly type: "boolean";
  readonly description: string;
  readonly default?: string;
}
export type Field = NumberField | EnumField | BooleanField;

/** A top-level option: a field, or one of the two structured options (their fields are below). */
export type OptionSpec = (
  Field | { readonly type: "loss" | "slot"; readonly description: string; readonly default?: string }
) & {
  /** Example values, as the library takes them (the command line writes them as text). */
  readonly examples: readonly unknown[];
  /** Only in a call that changes a link (tc(), dummynet impair), not in a topology file. */
  readonly callOnly?: boolean;
};

const percent = (description: string, defaultValue?: string) =>
  ({
    type: "number",
    unit: "percent",
    min: 0,
    max: 100,
    description,
    ...(defaultValue === undefined ? {} : { default: defaultValue }),
  }) as const;
const milliseconds = (description: string, defaultValue?: string) =>
  ({
    type: "number",
    unit: "ms",
    min: 0,
    max: MAX_TIME_MS,
    description,
    ...(defaultValue === undefined ? {} : { default: defaultValue }),
  }) as const;
/** Bytes of the rate's link layer (iproute2 takes up to 65535), 0 by default. */
const bytes = (min: number, description: string) =>
  ({ type: "number", unit: "bytes", min, max: 65535, integer: true, description, default: "0" }) as const;

/** Every netem option, in the order tc writes them and help lists them. */
export const NETEM_OPTIONS = {
  reset: {
    type: "boolean",
    description: "start from an unimpaired link instead of keeping the link's current values",
    default: "false",
    examples: [true],
    callOnly: true,
  },
  delay: { ...milliseconds("one-way delay added to every packet"), examples: [20] },
  jitter: { ...milliseconds("random variation of the delay (needs delay)"), examples: [5] },
  delayCorrelation: {
    ...percent("correlation of each delay with the previous one (needs jitter)", "0"),
    examples: [25],
  },
  distribution: {
    type: "enum",
    values: DISTRIBUTIONS,
    description: "shape of the jitter: uniform (the kernel's own) or one of iproute2's tables (needs delay and jitter)",
    default: "uniform",
    examples: ["normal"],
  },
  loss: {
    type: "loss",
    description:
      "packet loss: a percent (random loss), or a loss model: 4-state Markov (state) or Gilbert-Elliott (gemodel), probabilities in percent",
    examples: [1, { state: { p13: 1, p31: 30 } }, { gemodel: { p: 1, r: 30, h: 20, k: 98 } }],
  },
  lossCorrelation: {
    ...percent("correlation of each random loss with the previous one (random loss only)", "0"),
    examples: [25],
  },
  ecn: {
    type: "boolean",
    description: "mark packets with ECN congestion instead of dropping them (needs a loss)",
    default: "false",
    examples: [true],
  },
  duplicate: { ...percent("share of packets sent twice"), examples: [1] },
  duplicateCorrelation: {
    ...percent("correlation of each duplication with the previous one (needs duplicate)", "0"),
    examples: [10],
  },
  corrupt: { ...percent("share of packets with a flipped random bit"), examples: [0.1] },
  corruptCorrelation: {
    ...percent("correlation of each corruption with the previous one (needs corrupt)", "0"),
    examples: [10],
  },
  reorder: {
    ...percent("share of packets sent at once while the others wait the delay (needs delay)"),
    examples: [25],
  },
  reorderCorrelation: {
    ...percent("correlation of each reordering with the previous one (needs reorder)", "0"),
    examples: [50],
  },
  gap: {
    type: "number",
    unit: "packets",
    min: 1,
    max: U32_MAX,
    integer: true,
    description: "reorder only every gap-th packet (needs reorder)",
    default: "1",
    examples: [5],
  },
  rate: {
    type: "number",
    unit: "mbit",
    min: MIN_RATE_MBIT,
    max: MAX_RATE_MBIT,
    zeroRemoves: true,
    description: "rate limit",
    examples: [10],
  },
  packetOverhead: {
    ...bytes(-65535, "bytes added to (negative: removed from) each packet when computing the rate (needs rate)"),
    examples: [-14],
  },
  cellSize: {
    ...bytes(0, "link-layer cell size for the rate, e.g. 48 for ATM; 0 is none (needs rate)"),
    examples: [48],
  },
  cellOverhead: { ...bytes(-65535, "bytes added per cell for the rate, e.g. 5 for ATM (needs rate)"), examples: [5] },
  limit: {
    type: "number",
    unit: "packets",
    min: 1,
    max: U32_MAX,
    integer: true,
    description: "queue limit",
    default: "with rate and delay max(1000, twice rate x (delay + jitter) in 1500-byte packets), else 1000",
    examples: [5000],
  },
  slot: {
    type: "slot",
    description: "slot-based (bursty, Wi-Fi or cellular-like) delivery: packets leave in bursts, one burst per slot",
    examples: [
      { min: 1, max: 5, packets: 10 },
      { distribution: "pareto", delay: 10, jitter: 2 },
    ],
  },
  seed: {
    type: "number",
    unit: "none",
    min: 0,
    max: Number.MAX_SAFE_INTEGER,
    integer: true,
    description: "seed of netem's random numbers, for repeatable runs (needs iproute2 >= 6.6 and Linux >= 6.4)",
    examples: [42],
  },
} as const satisfies Record<string, OptionSpec>;

export type NetemKey = keyof typeof NETEM_OPTIONS;
export const NETEM_KEYS = Object.keys(NETEM_OPTIONS) as NetemKey[];

/** The loss models: the fields of each and the one that must be given. */
export const LOSS_MODELS = {
  random: {
    description: "random loss",
    required: "random",
    fields: {
      random: percent("random loss"),
      correlation: percent("how much each loss decision depends on the previous one"),
    },
  },
  state: {
    description: "4-state Markov loss model (tc `loss state`)",
    required: "p13",
    fields: {
      p13: percent("from good reception (1) to burst losses (3)"),
      p31: percent("from burst losses (3) back to good reception (1)", "100 - p13"),
      p32: percent("from burst losses (3) to good reception within a burst (2)", "0"),
      p23: percent("from good reception within a burst (2) to burst losses (3)", "100"),
      p14: percent("from good reception (1) to isolated losses (4)", "0"),
    },
  },
  gemodel: {
    description: "Gilbert-Elliott loss model (tc `loss gemodel`)",
    required: "p",
    fields: {
      p: percent("from the good to the bad state"),
      r: percent("from the bad to the good state", "100 - p"),
      h: percent("chance a packet is delivered in the bad state (tc's 1-h is 100 - h)", "0"),
      k: percent("chance a packet is delivered in the good state (tc's 1-k is 100 - k)", "100"),
    },
  },
} as const satisfies Record<string, { description: string; required: string; fields: Record<string, NumberField> }>;
export type LossModelName = keyof typeof LOSS_MODELS;

const perSlot = (unit: "packets" | "bytes") =>
  ({
    type: "number",
    unit,
    min: 0,
    max: S32_MAX,
    integer: true,
    description: `at most this many ${unit} leave per slot; 0 is no limit`,
    default: "0",
  }) as const;

/** The fields of a slot: fixed spacing (`min`, `max`) or distributed spacing (`distribution`, `delay`, `jitter`). */
export const SLOT_FIELDS = {
  min: milliseconds("fixed slot spacing: the shortest gap between slots"),
  max: milliseconds("fixed slot spacing: the longest gap between slots (>= min)", "min"),
  distribution: {
    type: "enum",
    values: TABLE_DISTRIBUTIONS,
    description: "distributed slot spacing: the shape of the gaps (used with delay and jitter)",
    why: "slot distributions need one of iproute2's table files",
  },
  delay: milliseconds("distributed slot spacing: the mean gap between slots"),
  jitter: { ...milliseconds("distributed slot spacing: the spread of the gaps"), exclusiveMin: true },
  packets: perSlot("packets"),
  bytes: perSlot("bytes"),
} as const satisfies Record<string, Field>;

/** The two kinds of slot: the fields each takes and those it needs (a `distribution` makes a slot distributed). */
export const SLOT_KINDS = {
  fixed: { fields: ["min", "max", "packets", "bytes"], required: ["min"] },
  distributed: {
    fields: ["distribution", "delay", "jitter", "packets", "bytes"],
    required: ["distribution", "delay", "jitter"],
  },
} as const satisfies Record<
  string,
  { fields: readonly (keyof typeof SLOT_FIELDS)[]; required: readonly (keyof typeof SLOT_FIELDS)[] }
>;

/** `{ p13, p31?, ... }`: the fields of an object, the optional ones marked. */
export function fieldShape(fields: readonly string[], required: readonly string[]): string {
  return `{ ${fields.map((name) => (required.includes(name) ? name : `${name}?`)).join(", ")} }`;
}

/** The shapes of a slot in words: "{ min, max?, packets?, bytes? } or { distribution, delay, jitter, ... }". */
export const SLOT_SHAPES = Object.values(SLOT_KINDS)
  .map((kind) => fieldShape(kind.fields, kind.required))
  .join(" or ");

/**
 * A number field's unit and range in words, as messages, help and the schema
 * say it: "a number of milliseconds from 0 to 274877". `zero` adds the 0 a
 * call may give to remove the value, where it lies below the range.
 */
export function rangeInWords(field: NumberField, zero = true): string {
  const words = UNITS[field.unit].words;
  const what = field.integer
    ? words
      ? `an integer number of ${words}`
      : "an integer"
    : words
      ? `a number of ${words}`
      : "a number";
  const lower = field.exclusiveMin ? `greater than ${field.min}` : `from ${field.min}`;
  return `${what} ${lower} to ${field.max}${zero && field.zeroRemoves ? " (or 0: none)" : ""}`;
}
