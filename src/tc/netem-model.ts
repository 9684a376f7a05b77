/**
 * The netem option types: what `tc()` accepts (NetemOptions) and a validated,
 * merged set (NetemSettings). They are written out, with their documentation,
 * for editors and the API docs; `NetemOptionsFromTable` derives the same type
 * from the table (netem-table.ts), and a compile-time check makes the two
 * agree, so an option added to one and not the other does not compile.
 */
import type {
  DelayDistribution,
  DISTRIBUTIONS,
  LOSS_MODELS,
  NETEM_OPTIONS,
  NetemKey,
  TableDistribution,
} from "./netem-table.js";

/** 4-state Markov loss model (tc `loss state`), all values in percent. */
interface LossStateModel {
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
interface GilbertElliottModel {
  /** Probability of going from the good to the bad state. */
  p: number;
  /** Probability of going from the bad to the good state. @default 100 - p */
  r?: number;
  /** Probability that a packet is delivered in the bad state (tc's `1-h` is 100 - h). @default 0 */
  h?: number;
  /** Probability that a packet is delivered in the good state (tc's `1-k` is 100 - k). @default 100 */
  k?: number;
}

/** Packet loss: a percent of random loss, or a loss model (all values in percent). */
export type LossModel =
  | number
  | {
      /** Random loss, percent. */
      random: number;
      /** How much each loss decision depends on the previous one, percent. @default 0 */
      correlation?: number;
    }
  | {
      /** 4-state Markov loss model (tc `loss state`). */
      state: LossStateModel;
    }
  | {
      /** Gilbert-Elliott loss model (tc `loss gemodel`). */
      gemodel: GilbertElliottModel;
    };

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
      /** Packets delivered per slot; 0 = no limit. @default 0 */
      packets?: number;
      /** Bytes delivered per slot; 0 = no limit. @default 0 */
      bytes?: number;
    };

/**
 * What `tc(iface, options)` accepts: every netem impairment of outgoing traffic
 * (see `NETEM_OPTIONS` for units and ranges), plus `ingress` for incoming
 * traffic. Each value is optional; in a call to `tc()` an omitted value keeps
 * what the link has, `null` (or 0) removes it.
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
  /** Correlation of duplication, percent. @default 0 */
  duplicateCorrelation?: number | null;
  /** Percent of packets with a flipped random bit. */
  corrupt?: number | null;
  /** Correlation of corruption, percent. @default 0 */
  corruptCorrelation?: number | null;
  /** Percent of packets sent at once while the others wait `delay` (needs a delay). */
  reorder?: number | null;
  /** Correlation of reordering, percent. @default 0 */
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
  /**
   * Shaping of the link's incoming traffic, through an IFB device the library
   * creates: `true` applies the same options as outgoing traffic after this call,
   * an object applies its own options, `null`/`false` removes ingress shaping,
   * omitted keeps what is there.
   */
  ingress?: Omit<NetemOptions, "ingress"> | boolean | null;
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

// ---------------------------------------------------------------- the types, checked against the table

/** The value type an option of the table takes. */
type ValueOf<S> = S extends { type: "number" }
  ? number
  : S extends { type: "boolean" }
    ? boolean
    : S extends { type: "enum"; values: readonly (infer V)[] }
      ? V
      : S extends { type: "loss" }
        ? LossModel
        : S extends { type: "slot" }
          ? SlotOptions
          : never;

/** `NetemOptions` of one direction (no `ingress`) as the table defines it. */
type NetemOptionsFromTable = { [K in NetemKey]?: ValueOf<(typeof NETEM_OPTIONS)[K]> | null };

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type SameKeys<A, B> = Same<keyof A, keyof B>;
// Compile-time checks: the written-out types have exactly the table's options and value types.
const optionsMatchTable: Same<Required<Omit<NetemOptions, "ingress">>, Required<NetemOptionsFromTable>> = true;
const settingsMatchTable: SameKeys<Required<NetemSettings>, Omit<Required<NetemOptionsFromTable>, "reset">> = true;
const distributionsMatchTable: Same<DelayDistribution, (typeof DISTRIBUTIONS)[number]> = true;
const lossModelsMatchTable: SameKeys<Required<LossStateModel>, (typeof LOSS_MODELS)["state"]["fields"]> = true;
// eslint-disable-next-line @typescript-eslint/no-unused-expressions -- uses the checks, which exist only to compile
[optionsMatchTable, settingsMatchTable, distributionsMatchTable, lossModelsMatchTable];
