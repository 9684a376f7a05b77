/**
 * The fewest prefixes that hold exactly a set of addresses of one family (no
 * address outside the set): a cut's senders as a handful of `from PREFIX`
 * rules instead of one rule per sender (hosts numbered in a row make a few
 * aligned blocks; scattered addresses stay one rule each).
 */
import { parseIp } from "../topology/addresses.js";

/** The prefixes, each "address/length", or the bare address for a single one (as the kernel lists a full-length prefix). */
export function exactPrefixes(addresses: Iterable<string>, family: 4 | 6): string[] {
  const bits = family === 4 ? 32 : 128;
  const values = [
    ...new Set(
      [...addresses].map((text) => {
        const parsed = parseIp(text);
        if (parsed?.family !== family) throw new Error(`internal error: ${text} is not an IPv${family} address`);
        return parsed.value;
      }),
    ),
  ].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const prefixes: string[] = [];
  let start = 0;
  while (start < values.length) {
    // A run of consecutive addresses, cut into the largest aligned blocks that fit in it.
    let end = start;
    while (end + 1 < values.length && values[end + 1] === values[end] + 1n) end++;
    let low = values[start];
    const high = values[end];
    while (low <= high) {
      let size = 0;
      while (size < bits && ((low >> BigInt(size)) & 1n) === 0n && low + (1n << BigInt(size + 1)) - 1n <= high) size++;
      prefixes.push(size === 0 ? format(low, family) : `${format(low, family)}/${bits - size}`);
      low += 1n << BigInt(size);
    }
    start = end + 1;
  }
  return prefixes;
}

/** Dotted quad, or all eight IPv6 groups (ip reads both; the kernel keeps the number, not the text). */
function format(value: bigint, family: 4 | 6): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 255n)).join(".");
  const groups: string[] = [];
  for (let shift = 112n; shift >= 0n; shift -= 16n) groups.push(((value >> shift) & 0xffffn).toString(16));
  return groups.join(":");
}
