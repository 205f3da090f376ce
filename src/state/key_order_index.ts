/**
 * The config store's records in key order, for prefix listing and snapshots: sorted chunks of
 * record ids (as `SortedKeys` keeps strings), each chunk an `Int32Array`, compared through the
 * records' key bytes (see `record_table.ts`). A new key costs a binary search over the chunks'
 * last keys, one inside a chunk, and a shift of at most `2 * CHUNK` ids.
 *
 * @module
 */

import type { KeyBytes, RecordTable } from "./record_table.ts";

const CHUNK = 512;

/**
 * Record ids sorted by key.
 *
 * @example
 * ```ts
 * import { KeyOrderIndex } from "./key_order_index.ts";
 * import { KeyBytes, RecordTable } from "./record_table.ts";
 * const table = new RecordTable();
 * const order = new KeyOrderIndex(table);
 * const meta = { revision: 1, createRevision: 1, version: 1 };
 * for (const k of ["b", "a"]) {
 *   const key = new KeyBytes().set(k);
 *   order.insert(table.create(key, new Uint8Array(), meta), key);
 * }
 * [...order.scan(new KeyBytes().set(""), false)].map((id) => table.key(id)); // ["a", "b"]
 * ```
 */
export class KeyOrderIndex {
  #table: RecordTable;
  /** Non-empty chunks; the first `#lengths[c]` ids of chunk c are in use. */
  #chunks: Int32Array[] = [];
  #lengths: number[] = [];

  constructor(table: RecordTable) {
    this.#table = table;
  }

  /** Adds record `id`, whose key is `key` and is not in the index yet. */
  insert(id: number, key: KeyBytes): void {
    if (this.#chunks.length === 0) {
      this.#chunks.push(new Int32Array(2 * CHUNK + 1));
      this.#lengths.push(0);
    }
    // A key beyond the last one goes to the end: checked first, as keys often come in order.
    const lastChunk = this.#chunks.length - 1;
    const lastLength = this.#lengths[lastChunk];
    const atEnd = lastLength === 0 ||
      this.#table.compare(this.#chunks[lastChunk][lastLength - 1], key) < 0;
    const c = atEnd ? lastChunk : Math.min(this.#chunkOf(key, false), lastChunk);
    const chunk = this.#chunks[c];
    const length = this.#lengths[c];
    const at = atEnd ? length : this.#lowerBound(chunk, length, key, false);
    chunk.copyWithin(at + 1, at, length);
    chunk[at] = id;
    this.#lengths[c] = length + 1;
    if (length + 1 > 2 * CHUNK) {
      const upper = new Int32Array(2 * CHUNK + 1);
      upper.set(chunk.subarray(CHUNK, length + 1));
      this.#chunks.splice(c + 1, 0, upper);
      this.#lengths.splice(c, 1, CHUNK, length + 1 - CHUNK);
    }
  }

  /** Removes record `id`, whose key is `key`. */
  remove(id: number, key: KeyBytes): void {
    const c = this.#chunkOf(key, false);
    const chunk = this.#chunks[c];
    const length = this.#lengths[c];
    const at = this.#lowerBound(chunk, length, key, false);
    if (chunk[at] !== id) throw new Error("key order index: the record is not where its key sorts");
    chunk.copyWithin(at, at + 1, length);
    if (length === 1) {
      this.#chunks.splice(c, 1);
      this.#lengths.splice(c, 1);
    } else {
      this.#lengths[c] = length - 1;
    }
  }

  /**
   * The ids from `start` on, in key order: keys >= `start`, or > `start` when `exclusive`.
   * The index must not change while the iterator is in use.
   */
  *scan(start: KeyBytes, exclusive: boolean): Generator<number> {
    let c = this.#chunkOf(start, exclusive);
    if (c === this.#chunks.length) return;
    let at = this.#lowerBound(this.#chunks[c], this.#lengths[c], start, exclusive);
    for (; c < this.#chunks.length; c++, at = 0) {
      const chunk = this.#chunks[c];
      const length = this.#lengths[c];
      for (; at < length; at++) yield chunk[at];
    }
  }

  /** The first chunk whose last key is >= `key` (> when `exclusive`), or the chunk count. */
  #chunkOf(key: KeyBytes, exclusive: boolean): number {
    let lo = 0;
    let hi = this.#chunks.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const c = this.#table.compare(this.#chunks[mid][this.#lengths[mid] - 1], key);
      if (c < 0 || (exclusive && c === 0)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The first position in `chunk` whose key is >= `key` (> when `exclusive`). */
  #lowerBound(chunk: Int32Array, length: number, key: KeyBytes, exclusive: boolean): number {
    let lo = 0;
    let hi = length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const c = this.#table.compare(chunk[mid], key);
      if (c < 0 || (exclusive && c === 0)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
