// What each part of `npm test` returns, and how parts add up.
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/**
 * A part's result: its counts, everything that failed or was skipped (named, for the closing lists) and its costs.
 * @typedef {{ passed: number, failed: number, skipped: number, failures: string[], skips: string[],
 *   timings: string[] }} Outcome
 */

/** @returns {Outcome} */
export function outcome({ passed = 0, failed = 0, skipped = 0, failures = [], skips = [], timings = [] } = {}) {
  return { passed, failed, skipped, failures, skips, timings };
}

/** One failure, counted once. */
export function failure(message) {
  return outcome({ failed: 1, failures: [message] });
}

/** `parts` added into `total` (which is returned). */
export function add(total, ...parts) {
  for (const part of parts) {
    total.passed += part.passed;
    total.failed += part.failed;
    total.skipped += part.skipped;
    total.failures.push(...part.failures);
    total.skips.push(...part.skips);
    total.timings.push(...part.timings);
  }
  return total;
}

/** "label 1.2 s" since `t0`. */
export function timing(label, t0) {
  return `${label} ${((Date.now() - t0) / 1000).toFixed(1)} s`;
}

export function heading(text) {
  console.log(`\n== ${text} ==`);
}
