/**
 * A string-keyed map split over many small `Map`s, so that none of them ever grows large.
 *
 * A JavaScript `Map` keeps its entries in one table and, when the table is full, copies every
 * entry into one twice as large, in one go on the event loop. With a million config keys that copy
 * took 40-44 ms at 524,288 keys and 104-118 ms at 1,048,576 on an idle machine, and longer on a
 * busy one: longer than a heartbeat interval (issue 17,
 * docs/architecture.md#stalls-at-a-large-state). Split over {@linkcode SHARDS} maps, each copy is a
 * sixteenth of that: ~5 ms at 524,288 keys, ~10 ms at 1,048,576 (more shards would cut it further,
 * at the price of more `Map`s for the garbage collector to trace, for no gain measured).
 *
 * The shard is chosen by a hash of the whole key (FNV-1a), so keys that share a prefix or a
 * suffix still spread. Iteration order is not kept (callers that need an order keep their own, as
 * `ConfigStore` does with `SortedKeys`).
 *
 * @module
 */

/** How many `Map`s the keys are spread over (a power of two). */
export const SHARDS = 16;

/**
 * The shard of `key`: FNV-1a over its UTF-16 code units, folded to `0..SHARDS-1`.
 *
 * @example
 * ```ts
 * import { shardOf, SHARDS } from "./sharded_map.ts";
 * const s = shardOf("app/flags");
 * s >= 0 && s < SHARDS; // true
 * ```
 */
export function shardOf(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  // The low bits of FNV mix less than the high ones: fold them in before masking.
  return ((h >>> 16) ^ h) & (SHARDS - 1);
}

/**
 * A `Map<string, V>` in {@linkcode SHARDS} pieces: the same `get`/`set`/`has`/`delete`/`size`,
 * without one large table to copy when it grows.
 *
 * @example
 * ```ts
 * import { ShardedMap } from "./sharded_map.ts";
 * const m = new ShardedMap<number>();
 * m.set("a", 1);
 * m.get("a"); // 1
 * m.delete("a"); // true
 * m.size; // 0
 * ```
 */
export class ShardedMap<V> {
  readonly #shards: Map<string, V>[] = Array.from({ length: SHARDS }, () => new Map());
  #size = 0;

  /** How many keys hold a value. */
  get size(): number {
    return this.#size;
  }

  /** The value under `key`, or `undefined`. */
  get(key: string): V | undefined {
    return this.#shards[shardOf(key)].get(key);
  }

  /** Whether `key` holds a value (which may be `undefined`). */
  has(key: string): boolean {
    return this.#shards[shardOf(key)].has(key);
  }

  /** Puts `value` under `key`, replacing what was there. */
  set(key: string, value: V): this {
    const shard = this.#shards[shardOf(key)];
    const before = shard.size;
    shard.set(key, value);
    this.#size += shard.size - before;
    return this;
  }

  /** Removes `key`; true when it was there. */
  delete(key: string): boolean {
    const removed = this.#shards[shardOf(key)].delete(key);
    if (removed) this.#size--;
    return removed;
  }

  /** The largest shard's size: how evenly the keys spread (for tests and diagnostics). */
  largestShard(): number {
    let max = 0;
    for (const shard of this.#shards) max = Math.max(max, shard.size);
    return max;
  }
}
