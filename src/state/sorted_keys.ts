/**
 * The set of config keys in key order, for prefix listing with paging.
 *
 * Keys are ordered by Unicode code point, which is the byte order of their UTF-8 encoding: the
 * order etcd and Deno KV use, so a client paging through either sees the same sequence. (Plain
 * `<` on JS strings compares UTF-16 code units and puts U+10000.. before U+E000..U+FFFF.)
 *
 * The set is a list of sorted chunks (as in Python's `sortedcontainers`): a new key costs a
 * binary search over the chunks and a splice inside one chunk of at most `2 * CHUNK` keys, so
 * inserting 100,000 keys in random order stays far from the O(n) per insert of one flat array.
 *
 * @module
 */

const CHUNK = 512;

/**
 * Compares two keys by Unicode code point (the byte order of their UTF-8 encoding).
 *
 * @example
 * ```ts
 * import { compareKeys } from "./sorted_keys.ts";
 * compareKeys("a", "b"); // negative
 * compareKeys("\uffff", "\u{10000}"); // negative, although "\uffff" > "\u{10000}" in JS
 * ```
 */
export function compareKeys(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 && y >= 0xd800) return codePointRank(x) - codePointRank(y);
    return x - y;
  }
  return a.length - b.length;
}

/** Surrogates stand for code points above U+FFFF, so they rank above U+E000..U+FFFF. */
function codePointRank(unit: number): number {
  return unit >= 0xe000 ? unit - 0x800 : unit + 0x2000;
}

/** Index of the first element of `sorted` that is >= `key` (or > `key` when `exclusive`). */
function lowerBound(sorted: string[], key: string, exclusive: boolean): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const c = compareKeys(sorted[mid], key);
    if (c < 0 || (exclusive && c === 0)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * A sorted set of strings in code point order.
 *
 * @example
 * ```ts
 * import { SortedKeys } from "./sorted_keys.ts";
 * const keys = new SortedKeys();
 * keys.insert("b");
 * keys.insert("a");
 * [...keys.scan("a", true)]; // ["b"]
 * ```
 */
export class SortedKeys {
  /** Non-empty sorted chunks; every key of chunk i sorts before every key of chunk i + 1. */
  #chunks: string[][] = [];
  /** The last key of each chunk, to find a chunk by binary search. */
  #lasts: string[] = [];
  #size = 0;

  /** How many keys the set holds. */
  get size(): number {
    return this.#size;
  }

  /** Adds `key`; returns false when it was already there. */
  insert(key: string): boolean {
    if (this.#chunks.length === 0) {
      this.#chunks.push([key]);
      this.#lasts.push(key);
      this.#size = 1;
      return true;
    }
    // A key beyond every chunk's last key goes to the end of the last chunk. Checked first, with
    // one comparison: keys often come in order (a restore from a snapshot, sequential names).
    const lastChunk = this.#chunks.length - 1;
    const c = compareKeys(key, this.#lasts[lastChunk]) > 0
      ? lastChunk
      : Math.min(lowerBound(this.#lasts, key, false), lastChunk);
    const chunk = this.#chunks[c];
    const at = c === lastChunk && compareKeys(key, chunk[chunk.length - 1]) > 0
      ? chunk.length
      : lowerBound(chunk, key, false);
    if (at < chunk.length && chunk[at] === key) return false;
    chunk.splice(at, 0, key);
    if (at === chunk.length - 1) this.#lasts[c] = key;
    this.#size++;
    if (chunk.length > 2 * CHUNK) {
      const upper = chunk.splice(CHUNK);
      this.#chunks.splice(c + 1, 0, upper);
      this.#lasts.splice(c, 1, chunk[chunk.length - 1], upper[upper.length - 1]);
    }
    return true;
  }

  /** Removes `key`; returns false when it was not there. */
  delete(key: string): boolean {
    const c = lowerBound(this.#lasts, key, false);
    if (c === this.#chunks.length) return false;
    const chunk = this.#chunks[c];
    const at = lowerBound(chunk, key, false);
    if (at === chunk.length || chunk[at] !== key) return false;
    chunk.splice(at, 1);
    this.#size--;
    if (chunk.length === 0) {
      this.#chunks.splice(c, 1);
      this.#lasts.splice(c, 1);
    } else if (at === chunk.length) {
      this.#lasts[c] = chunk[chunk.length - 1];
    }
    return true;
  }

  /** Whether `key` is in the set. */
  has(key: string): boolean {
    const c = lowerBound(this.#lasts, key, false);
    if (c === this.#chunks.length) return false;
    const chunk = this.#chunks[c];
    const at = lowerBound(chunk, key, false);
    return at < chunk.length && chunk[at] === key;
  }

  /**
   * The keys from `start` on, in order: those >= `start`, or > `start` when `exclusive`.
   * The set must not change while the iterator is in use.
   */
  *scan(start: string, exclusive: boolean): Generator<string> {
    let c = lowerBound(this.#lasts, start, exclusive);
    if (c === this.#chunks.length) return;
    let at = lowerBound(this.#chunks[c], start, exclusive);
    for (; c < this.#chunks.length; c++, at = 0) {
      const chunk = this.#chunks[c];
      for (; at < chunk.length; at++) yield chunk[at];
    }
  }

  /** All keys, in order. */
  [Symbol.iterator](): Generator<string> {
    return this.scan("", false);
  }
}
