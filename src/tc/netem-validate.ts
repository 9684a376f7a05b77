/**
 * Validation of netem options, one value at a time, from the tables of
 * netem-table.ts: types, ranges, units and names, with messages that name the
 * option, the value, the rule and what to do. What ties several options
 * together is checked on the merged result (netem-options.ts).
 */
import { InvalidArgumentError } from "../errors.js";
import {
  LOSS_MODELS,
  NETEM_KEYS,
  NETEM_OPTIONS,
  SLOT_FIELDS,
  SLOT_KINDS,
  fieldShape,
  rangeInWords,
  SLOT_SHAPES,
  type Field,
  type LossModelName,
  type NetemKey,
} from "./netem-table.js";
import type { LossModel, NetemOptions, SlotOptions } from "./netem-model.js";

/** What a message of the library says about removing a top-level value. */
const REMOVE_WITH_NULL = "pass null to remove it";

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
    let diagonal = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length];
}

/** `did you mean "delay"? ` for a name close to one of `known`, else "". */
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

/**
 * Checks one value against its field of the tables. `removal` is how the
 * caller removes a value ("pass null to remove it"), for top-level options.
 */
function checkField(path: string, field: Field, value: unknown, removal?: string): unknown {
  switch (field.type) {
    case "boolean":
      if (typeof value !== "boolean") fail(path, value, "must be true or false");
      return value;
    case "enum":
      if (!field.values.includes(value as string)) {
        const close = typeof value === "string" ? suggestion(value, field.values).trimEnd() : "";
        fail(
          path,
          value,
          `must be one of ${field.values.join(", ")}${field.why ? ` (${field.why})` : ""}${close ? `; ${close}` : ""}`,
        );
      }
      return value;
    case "number": {
      if (field.zeroRemoves && value === 0) return 0;
      const ok =
        typeof value === "number" &&
        Number.isFinite(value) &&
        (field.exclusiveMin ? value > field.min : value >= field.min) &&
        value <= field.max &&
        (!field.integer || Number.isInteger(value));
      if (!ok) fail(path, value, `must be ${rangeInWords(field)}${removal ? `; ${removal}` : ""}`);
      return value;
    }
  }
}

function checkLoss(path: string, value: unknown, removal: string): LossModel {
  if (typeof value === "number") return checkField(path, LOSS_MODELS.random.fields.random, value, removal) as number;
  const names = Object.keys(LOSS_MODELS) as LossModelName[];
  if (!isPlainObject(value)) {
    fail(
      path,
      value,
      "must be a percent (random loss) or one of { random, correlation? }, { state: { p13, ... } }, { gemodel: { p, ... } }",
    );
  }
  const kinds = names.filter((name) => name in value);
  if (kinds.length !== 1) {
    fail(path, value, "must name exactly one loss model: random, state (4-state Markov) or gemodel (Gilbert-Elliott)");
  }
  const name = kinds[0];
  const model = LOSS_MODELS[name];
  const fieldNames = Object.keys(model.fields);
  // Random loss writes its fields beside the name ({ random, correlation }), the others inside it.
  const inside = name !== "random";
  rejectUnknownKeys(value, inside ? [name] : fieldNames, path);
  const fields = inside ? value[name] : value;
  const where = inside ? `${path}.${name}` : path;
  if (!isPlainObject(fields))
    fail(where, fields, `must be an object ${fieldShape(fieldNames, [model.required])} of percents`);
  if (inside) rejectUnknownKeys(fields, fieldNames, where);
  const checked: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(model.fields)) {
    if (key === model.required || fields[key] !== undefined)
      checked[key] = checkField(`${where}.${key}`, field, fields[key]);
  }
  return (inside ? { [name]: checked } : checked) as LossModel;
}

function checkSlot(path: string, value: unknown): SlotOptions {
  if (!isPlainObject(value)) {
    fail(path, value, `must be ${SLOT_SHAPES} (times in ms)`);
  }
  const kind = "distribution" in value ? SLOT_KINDS.distributed : SLOT_KINDS.fixed;
  rejectUnknownKeys(value, kind.fields, path);
  const slot: Record<string, unknown> = {};
  for (const key of kind.fields) {
    if ((kind.required as readonly string[]).includes(key) || value[key] !== undefined)
      slot[key] = checkField(`${path}.${key}`, SLOT_FIELDS[key], value[key]);
  }
  if (slot["max"] !== undefined && (slot["max"] as number) < (slot["min"] as number)) {
    fail(`${path}.max`, value["max"], `must not be less than slot.min (${String(slot["min"])} ms)`);
  }
  return slot as SlotOptions;
}

/**
 * Checks one option of the model; returns it (`null` stays: it removes the
 * value). `prefix` goes before the option's name in messages ("ingress.").
 */
export function checkOption(key: NetemKey, value: unknown, prefix = "", removal = REMOVE_WITH_NULL): unknown {
  const path = prefix + key;
  if (value === null) return null;
  const spec = NETEM_OPTIONS[key];
  if (spec.type === "loss") return checkLoss(path, value, removal);
  if (spec.type === "slot") return checkSlot(path, value);
  return checkField(path, spec, value, removal);
}

function validateNetemAt(
  options: unknown,
  prefix: string,
  extraKeys: readonly string[],
): Omit<NetemOptions, "ingress"> {
  if (options === undefined) return {};
  if (!isPlainObject(options)) {
    fail(
      prefix ? prefix.slice(0, -1) : "object",
      options,
      "must be an object such as { delay: 20, loss: 1 } (ms, percent, Mbit/s)",
    );
  }
  rejectUnknownKeys(options, [...NETEM_KEYS, ...extraKeys], prefix.slice(0, -1));
  const result: Record<string, unknown> = {};
  for (const key of NETEM_KEYS) {
    if (options[key] === undefined) continue;
    result[key] = checkOption(key, options[key], prefix);
  }
  // Random loss has two spellings: loss + lossCorrelation, or { random, correlation }.
  const loss = result["loss"];
  if (isPlainObject(loss) && "random" in loss) {
    if (loss["correlation"] !== undefined && result["lossCorrelation"] !== undefined) {
      fail(
        `${prefix}lossCorrelation`,
        result["lossCorrelation"],
        "is given twice (also as loss.correlation): give it once",
      );
    }
    result["loss"] = loss["random"];
    if (loss["correlation"] !== undefined) result["lossCorrelation"] = loss["correlation"];
  } else if (isPlainObject(loss) && typeof result["lossCorrelation"] === "number" && result["lossCorrelation"] !== 0) {
    fail(
      `${prefix}lossCorrelation`,
      result["lossCorrelation"],
      "only applies to random loss; the state and gemodel models have their own probabilities",
    );
  }
  return result;
}

/** Validates the netem options of one direction: `NetemOptions` without `ingress`. */
export function validateOneWayNetem(options: unknown): Omit<NetemOptions, "ingress"> {
  return validateNetemAt(options, "", []);
}

/**
 * Validates what `tc(iface, options)` accepts (types, ranges, names). Rules
 * that tie several values together are checked on the merged result by
 * `netemArguments`/`checkNetemCombination`, since a call may change one value.
 */
export function validateNetemOptions(options: unknown): NetemOptions {
  const result: NetemOptions = validateNetemAt(options, "", ["ingress"]);
  const ingress = isPlainObject(options) ? options["ingress"] : undefined;
  if (ingress === undefined) return result;
  if (ingress === null || typeof ingress === "boolean") result.ingress = ingress;
  else if (isPlainObject(ingress)) result.ingress = validateNetemAt(ingress, "ingress.", []);
  else
    fail(
      "ingress",
      ingress,
      "must be true (same options as outgoing traffic), an object of netem options, or null/false to remove ingress shaping",
    );
  return result;
}
