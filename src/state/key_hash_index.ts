/**
 * Finds a record by its key: open-addressing hash tables of record ids in `Int32Array`s (linear
 * probing, at most half full, deletion by shifting back, so no tombstones).
 *
 * It replaces a JavaScript `Map` for the same reason the records left the heap (see
 * `record_table.ts`), and for one more: a full `Map` copies all its entries into a new table in
 * one go, 104-118 ms at a million keys here. The ids are spread over 256 tables by the top byte
 * of the hash, and each doubles on its own, so a doubling moves a 256th of the keys: well under
 * a millisecond at a million keys.
 *
 * @module
 */

import type { KeyBytes, RecordTable } from "./record_table.ts";

/** Tables, chosen by the top byte of the hash. */
const TABLES = 256;
const FIRST_SLOTS = 16;

/**
 * Record ids by key.
 *
 * @example
 * ```ts
 * import { KeyHashIndex } from "./key_hash_index.ts";
 * import { KeyBytes, RecordTable } from "./record_table.ts";
 * const table = new RecordTable();
 * const index = new KeyHashIndex(table);
 * const key = new KeyBytes().set("a");
 * index.insert(table.create(key, new Uint8Array(), { revision: 1, createRevision: 1, version: 1 }));
 * index.find(key); // 0
 * ```
 */
export class KeyHashIndex {
  #records: RecordTable;
  /** Per table: id + 1 per slot; 0 is an empty slot. */
  #tables: Int32Array[] = Array.from({ length: TABLES }, () => new Int32Array(FIRST_SLOTS));
  #counts = new Int32Array(TABLES);
  #size = 0;

  constructor(records: RecordTable) {
    this.#records = records;
  }

  /** How many ids the index holds. */
  get size(): number {
    return this.#size;
  }

  /** The id of the record whose key is `key`, or -1. */
  find(key: KeyBytes): number {
    const slots = this.#tables[key.hash >>> 24];
    const mask = slots.length - 1;
    for (let s = key.hash & mask;; s = (s + 1) & mask) {
      const id = slots[s] - 1;
      if (id < 0) return -1;
      if (this.#records.equals(id, key)) return id;
    }
  }

  /** Adds a record whose key is not in the index. */
  insert(id: number): void {
    const t = this.#records.hash(id) >>> 24;
    if (2 * (this.#counts[t] + 1) > this.#tables[t].length) {
      const old = this.#tables[t];
      this.#tables[t] = new Int32Array(2 * old.length);
      for (let s = 0; s < old.length; s++) if (old[s] !== 0) this.#place(t, old[s] - 1);
    }
    this.#place(t, id);
    this.#counts[t]++;
    this.#size++;
  }

  /** Removes a record that is in the index. */
  remove(id: number): void {
    const hash = this.#records.hash(id);
    const t = hash >>> 24;
    const slots = this.#tables[t];
    const mask = slots.length - 1;
    let hole = hash & mask;
    while (slots[hole] - 1 !== id) hole = (hole + 1) & mask;
    // Shift back the entries after the hole that probed past it, so every probe still finds
    // its key before an empty slot.
    for (let s = (hole + 1) & mask; slots[s] !== 0; s = (s + 1) & mask) {
      const home = this.#records.hash(slots[s] - 1) & mask;
      const between = hole <= s ? hole < home && home <= s : hole < home || home <= s;
      if (between) continue;
      slots[hole] = slots[s];
      hole = s;
    }
    slots[hole] = 0;
    this.#counts[t]--;
    this.#size--;
  }

  #place(t: number, id: number): void {
    const slots = this.#tables[t];
    const mask = slots.length - 1;
    let s = this.#records.hash(id) & mask;
    while (slots[s] !== 0) s = (s + 1) & mask;
    slots[s] = id + 1;
  }
}
