/**
 * Random config keys for model-based tests of key order: short keys over an alphabet that mixes
 * ASCII, the separator, NUL, and characters whose UTF-16 and UTF-8 orders differ.
 *
 * @module
 */

/** The characters keys are made of. */
export const KEY_ALPHABET = [
  "a",
  "b",
  "/",
  "\u0000",
  "~",
  "é",
  "\ue000",
  "\uffff",
  "😀",
  "\u{10ffff}",
  "中",
];

/**
 * A key of 1 to `maxLength` characters of `KEY_ALPHABET`.
 *
 * @example
 * ```ts
 * import { randomKey } from "./random_keys.ts";
 * import { seededRandom } from "./log_driver.ts";
 * randomKey(seededRandom(1)).length > 0; // true
 * ```
 */
export function randomKey(random: () => number, maxLength = 4): string {
  let key = "";
  const length = 1 + Math.floor(random() * maxLength);
  for (let i = 0; i < length; i++) key += KEY_ALPHABET[Math.floor(random() * KEY_ALPHABET.length)];
  return key;
}
