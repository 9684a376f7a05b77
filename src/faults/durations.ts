/** Times in fault arguments and plans: milliseconds, finite and not negative, checked before anything changes. */
import { InvalidArgumentError } from "../errors.js";

/** A `for` (how long a fault lasts): a finite number of ms > 0, or undefined. */
export function checkFor(argument: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
    throw new InvalidArgumentError(
      argument,
      value,
      "must be a finite number of milliseconds > 0 (how long the fault lasts); omit it to keep the fault until heal()",
    );
  }
  return value;
}

/** A point in time or a period (`at`, `every`): a finite number of ms >= 0 (> 0 when `positive`). */
export function checkTime(argument: string, value: unknown, options: { positive?: boolean } = {}): number {
  const low = options.positive ? value !== undefined && typeof value === "number" && value <= 0 : false;
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0 || low) {
    throw new InvalidArgumentError(
      argument,
      value,
      `must be a finite number of milliseconds ${options.positive ? "> 0" : ">= 0"}, e.g. 500`,
    );
  }
  return value;
}
