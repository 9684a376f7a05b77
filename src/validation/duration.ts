/**
 * Durations as people write them in topology files and on the command line:
 * a number of milliseconds (`1500`), or a number with a unit (`"500ms"`,
 * `"2s"`, `"1.5m"`). One parser for both, so that `faults:` in a file and
 * `dummynet fault --for` read the same text the same way.
 */
import { InvalidArgumentError } from "../errors.js";

/** The text form: a non-negative decimal number and an optional unit (no unit: milliseconds). */
const DURATION_PATTERN = /^\s*([0-9]+(?:\.[0-9]+)?)\s*(ms|s|m)?\s*$/;

const UNIT_MS: Partial<Record<string, number>> = { ms: 1, s: 1000, m: 60_000 };

/** What a duration may be, in words, for messages. */
const DURATION_RULE = 'must be a number of milliseconds or a time with a unit, e.g. 1500, "500ms", "2s", "1m"';

/**
 * Milliseconds of `value` (a number of milliseconds, or text such as "500ms", "2s", "1.5m"), rounded to whole
 * milliseconds; rejects negative, non-finite and malformed values.
 *
 * @throws InvalidArgumentError naming `argument`, the value and the rule.
 */
export function parseDuration(argument: string, value: unknown): number {
  if (typeof value === "number") {
    if (!Number.isFinite(value) || value < 0) throw new InvalidArgumentError(argument, value, DURATION_RULE);
    return Math.round(value);
  }
  const match = typeof value === "string" ? DURATION_PATTERN.exec(value) : null;
  if (!match) throw new InvalidArgumentError(argument, value, DURATION_RULE);
  const ms = Number(match[1]) * (UNIT_MS[match[2] || "ms"] ?? 1); // match[2] is undefined without a unit
  if (!Number.isFinite(ms)) throw new InvalidArgumentError(argument, value, DURATION_RULE);
  return Math.round(ms);
}
