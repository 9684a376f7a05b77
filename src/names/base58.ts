/** Bitcoin base58 without padding, as the reference library encodes uids. */
export const BASE58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/**
 * A non-negative safe integer in base58, e.g. `4242` -> `"2G9"`.
 *
 * @throws RangeError when `num` is not a non-negative safe integer.
 * @example
 * ```ts
 * intToBase58(4242); // "2G9", as in the names d-2G9-*
 * ```
 */
export function intToBase58(num: number): string {
  if (!Number.isSafeInteger(num) || num < 0) throw new RangeError(`base58: ${num} is not a non-negative integer`);
  if (num === 0) return BASE58_ALPHABET[0];
  let out = "";
  while (num > 0) {
    out = BASE58_ALPHABET[num % 58] + out;
    num = Math.floor(num / 58);
  }
  return out;
}

/**
 * The integer a base58 text stands for (the inverse of `intToBase58`).
 *
 * @throws RangeError when `text` has a character that is not a base58 digit.
 * @example
 * ```ts
 * base58ToInt("2G9"); // 4242
 * ```
 */
export function base58ToInt(text: string): number {
  let num = 0;
  for (const char of text) {
    const digit = BASE58_ALPHABET.indexOf(char);
    if (digit < 0) throw new RangeError(`base58: ${JSON.stringify(char)} is not a base58 digit`);
    num = num * 58 + digit;
  }
  return num;
}
