/**
 * Reading traffic control back: `tc -j qdisc show` and `tc -j filter show`
 * parsed into the option units of the API (ms, percent, Mbit/s). iproute2's
 * JSON gives times in seconds and ratios as fractions of 1, with about six
 * significant digits.
 */
import { parseIpJson } from "../system/ip-json.js";
import type { Shell } from "../shell/shell.js";
import type { TableDistribution } from "./netem-table.js";
import type { NetemSettings, SlotSettings } from "./netem-model.js";

/** The parts of a shell the traffic-control code uses. */
export type TcShell = Pick<Shell, "system" | "namespace" | "log">;

/** One qdisc as `tc -j qdisc show` prints it. */
export interface QdiscJson {
  kind: string;
  handle: string;
  root?: boolean;
  parent?: string;
  options?: Record<string, unknown>;
}

/** A root qdisc read back from the kernel. */
export interface AppliedQdisc {
  /** Kind of the root qdisc: "netem", "noqueue", "pfifo_fast", ... */
  kind: string;
  /** Its handle, e.g. "8001:"; "0:" for the kernel's default qdisc. */
  handle: string;
  /** True for the qdisc the kernel gives a device by itself (handle 0:). */
  isDefault: boolean;
  /** The netem settings, when the root is netem. */
  netem: NetemSettings | undefined;
  /** Shaping of incoming traffic: the IFB device it is redirected to, and the IFB's netem. */
  ingress:
    | {
        /** The IFB device incoming traffic is redirected to. */
        ifb: string;
        /** The netem settings on that device, if any. */
        netem: NetemSettings | undefined;
      }
    | undefined;
  /** The qdisc exactly as tc printed it. */
  raw: QdiscJson;
}

/** Tables the kernel holds but does not report, when known from the call that loaded them. */
export interface KnownTables {
  delay?: TableDistribution | undefined;
  slot?: TableDistribution | undefined;
}

function round(value: number, decimals: number): number {
  const factor = 10 ** decimals;
  return Math.round(value * factor) / factor;
}

const ms = (seconds: unknown) => round(Number(seconds) * 1000, 3);
const percent = (fraction: unknown) => round(Number(fraction) * 100, 5);

function object(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === "object" && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

/** Parses `tc -j qdisc show` output (an empty output is no qdisc). */
export function parseQdiscs(json: string): QdiscJson[] {
  const text = json.trim();
  if (!text) return [];
  const parsed: unknown = parseIpJson(text);
  if (!Array.isArray(parsed))
    throw new Error(`tc -j qdisc show printed something other than a list: ${text.slice(0, 200)}`);
  return parsed.filter((entry): entry is QdiscJson => typeof object(entry)?.["kind"] === "string");
}

/** The netem settings of the `options` object of a netem qdisc in `tc -j` output. */
export function netemFromJson(options: Record<string, unknown>, tables: KnownTables = {}): NetemSettings {
  const settings: NetemSettings = {};
  if (typeof options["limit"] === "number") settings.limit = options["limit"];
  const delay = object(options["delay"]);
  if (delay) {
    if (Number(delay["delay"])) settings.delay = ms(delay["delay"]);
    if (Number(delay["jitter"])) {
      settings.jitter = ms(delay["jitter"]);
      if (Number(delay["correlation"])) settings.delayCorrelation = percent(delay["correlation"]);
      if (tables.delay) settings.distribution = tables.delay;
    }
  }
  const random = object(options["loss-random"]);
  if (random && Number(random["loss"])) {
    settings.loss = percent(random["loss"]);
    if (Number(random["correlation"])) settings.lossCorrelation = percent(random["correlation"]);
  }
  const state = object(options["loss-state"]);
  if (state) {
    settings.loss = {
      state: {
        p13: percent(state["p13"]),
        p31: percent(state["p31"]),
        p32: percent(state["p32"]),
        p23: percent(state["p23"]),
        p14: percent(state["p14"]),
      },
    };
  }
  const ge = object(options["loss-gemodel"]);
  if (ge) {
    settings.loss = {
      gemodel: {
        p: percent(ge["p"]),
        r: percent(ge["r"]),
        h: round(100 - percent(ge["1-h"]), 5),
        k: round(100 - percent(ge["1-k"]), 5),
      },
    };
  }
  if (options["ecn"] === true) settings.ecn = true;
  for (const [key, correlationKey] of [
    ["duplicate", "duplicateCorrelation"],
    ["reorder", "reorderCorrelation"],
    ["corrupt", "corruptCorrelation"],
  ] as const) {
    const entry = object(options[key]);
    if (entry && Number(entry[key])) {
      settings[key] = percent(entry[key]);
      if (Number(entry["correlation"])) settings[correlationKey] = percent(entry["correlation"]);
    }
  }
  if (settings.reorder !== undefined && Number(options["gap"]) > 1) settings.gap = Number(options["gap"]);
  const rate = object(options["rate"]);
  if (rate && Number(rate["rate"])) {
    settings.rate = round((Number(rate["rate"]) * 8) / 1e6, 9);
    if (Number(rate["packetoverhead"])) settings.packetOverhead = Number(rate["packetoverhead"]);
    if (Number(rate["cellsize"])) settings.cellSize = Number(rate["cellsize"]);
    if (Number(rate["celloverhead"])) settings.cellOverhead = Number(rate["celloverhead"]);
  }
  const slot = object(options["slot"]);
  if (slot) {
    let read: SlotSettings;
    if (slot["jitter"] !== undefined) {
      read = { delay: ms(slot["distribution"]), jitter: ms(slot["jitter"]) };
      if (tables.slot) read.distribution = tables.slot;
    } else {
      read = { min: ms(slot["min-delay"]) };
      const max = ms(slot["max-delay"]);
      if (max !== read.min) read.max = max;
    }
    if (Number(slot["packets"])) read.packets = Number(slot["packets"]);
    if (Number(slot["bytes"])) read.bytes = Number(slot["bytes"]);
    settings.slot = read;
  }
  if (typeof options["seed"] === "number") settings.seed = options["seed"];
  return settings;
}

/** The device an ingress filter redirects to (mirred egress redirect), from `tc -j filter show ... ingress`. */
export function redirectTargetFromFilters(json: string): string | undefined {
  const text = json.trim();
  if (!text) return undefined;
  const filters: unknown = parseIpJson(text);
  if (!Array.isArray(filters)) return undefined;
  for (const filter of filters) {
    const actions = object(object(filter)?.["options"])?.["actions"];
    if (!Array.isArray(actions)) continue;
    for (const action of actions) {
      const a = object(action);
      if (a?.["kind"] === "mirred" && a["mirred_action"] === "redirect" && typeof a["to_dev"] === "string")
        return a["to_dev"];
    }
  }
  return undefined;
}

export async function showQdiscs(shell: TcShell, iface: string): Promise<QdiscJson[]> {
  const result = await shell.system(["tc", "-j", "qdisc", "show", "dev", iface]);
  return parseQdiscs(result.stdout);
}

export function appliedRoot(qdiscs: QdiscJson[], tables: KnownTables = {}): AppliedQdisc | undefined {
  const root = qdiscs.find((qdisc) => qdisc.root);
  if (!root) return undefined;
  return {
    kind: root.kind,
    handle: root.handle,
    isDefault: root.handle === "0:",
    netem: root.kind === "netem" ? netemFromJson(root.options ?? {}, tables) : undefined,
    ingress: undefined,
    raw: root,
  };
}

/**
 * Reads the root qdisc of `iface` and, when its incoming traffic is redirected
 * to another device (an IFB), that device's netem. Units as in the options.
 */
export async function readNetem(
  shell: TcShell,
  iface: string,
  tables: { egress?: KnownTables; ingress?: KnownTables } = {},
): Promise<AppliedQdisc | undefined> {
  const qdiscs = await showQdiscs(shell, iface);
  const root = appliedRoot(qdiscs, tables.egress);
  if (!root) return undefined;
  if (qdiscs.some((qdisc) => qdisc.kind === "ingress" || qdisc.kind === "clsact")) {
    const filters = await shell.system(["tc", "-j", "filter", "show", "dev", iface, "ingress"]);
    const ifb = redirectTargetFromFilters(filters.stdout);
    if (ifb) {
      const ifbRoot = appliedRoot(await showQdiscs(shell, ifb), tables.ingress);
      root.ingress = { ifb, netem: ifbRoot?.netem };
    }
  }
  return root;
}
