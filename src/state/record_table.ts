/**
 * The config store's records outside V8's heap: a record is a number (its id); its key and
 * value bytes sit in one block of a `ByteSlab`, and its revisions in typed-array columns.
 * However many records the table holds, V8 sees a dozen objects (docs/architecture.md, "Stalls
 * at a large state").
 *
 * Keys are stored as UTF-8, so comparing their bytes orders them by code point, the order of
 * `compareKeys`, etcd and Deno KV. Values are stored as their msgpack encoding, the bytes a
 * snapshot holds, so a snapshot copies them instead of encoding them again.
 *
 * @module
 */

import { ByteSlab } from "./byte_slab.ts";

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder();

/**
 * A key's UTF-8 bytes in a buffer that the next call reuses: `bytes.subarray(0, length)`.
 *
 * @example
 * ```ts
 * import { KeyBytes } from "./record_table.ts";
 * const k = new KeyBytes();
 * k.set("é").length; // 2
 * ```
 */
export class KeyBytes {
  bytes = new Uint8Array(256);
  length = 0;
  /** FNV-1a of the bytes, for the hash index. */
  hash = 0;

  /** Encodes `key` (well-formed: a lone surrogate would become U+FFFD). */
  set(key: string): this {
    if (key.length * 3 > this.bytes.length) this.bytes = new Uint8Array(key.length * 3);
    const n = utf8.encodeInto(key, this.bytes).written;
    const b = this.bytes;
    let h = 0x811c9dc5;
    for (let i = 0; i < n; i++) h = Math.imul(h ^ b[i], 0x01000193);
    this.length = n;
    this.hash = h | 0;
    return this;
  }
}

/** A record's revisions, as `put` and `setValue` take them. */
export interface RecordMeta {
  revision: number;
  createRevision: number;
  version: number;
}

/**
 * Records by id, their bytes in a slab.
 *
 * @example
 * ```ts
 * import { KeyBytes, RecordTable } from "./record_table.ts";
 * const table = new RecordTable();
 * const id = table.create(new KeyBytes().set("a"), new Uint8Array([1]), {
 *   revision: 1, createRevision: 1, version: 1,
 * });
 * table.key(id); // "a"
 * ```
 */
export class RecordTable {
  #slab = new ByteSlab();
  /** The columns, in pages of `COLUMN_PAGE` ids: they grow by a page, never by a copy. */
  #pages: ColumnPage[] = [];
  #freeIds: number[] = [];
  #next = 0;

  /** A new record; its id. */
  create(key: KeyBytes, value: Uint8Array, meta: RecordMeta): number {
    const id = this.#freeIds.pop() ?? this.#grow();
    const at = this.#slab.alloc(key.length + value.length);
    const page = this.#slab.page(at);
    const offset = this.#slab.offset(at);
    page.set(key.bytes.subarray(0, key.length), offset);
    page.set(value, offset + key.length);
    const c = this.#pages[id >>> PAGE_BITS];
    const i = id & PAGE_MASK;
    c.at[i] = at;
    c.keyLength[i] = key.length;
    c.valueLength[i] = value.length;
    c.hash[i] = key.hash;
    setMeta(c, i, meta);
    return id;
  }

  /** Replaces the record's value and revisions; the key stays. */
  setValue(id: number, value: Uint8Array, meta: RecordMeta): void {
    const c = this.#pages[id >>> PAGE_BITS];
    const i = id & PAGE_MASK;
    const kl = c.keyLength[i];
    const old = kl + c.valueLength[i];
    let at = c.at[i];
    if (!this.#slab.sameClass(old, kl + value.length)) {
      const moved = this.#slab.alloc(kl + value.length);
      const from = this.#slab.offset(at);
      this.#slab.page(moved).set(
        this.#slab.page(at).subarray(from, from + kl),
        this.#slab.offset(moved),
      );
      this.#slab.free(at, old);
      c.at[i] = at = moved;
    }
    this.#slab.page(at).set(value, this.#slab.offset(at) + kl);
    c.valueLength[i] = value.length;
    setMeta(c, i, meta);
  }

  /** Frees the record; its id may be reused. */
  remove(id: number): void {
    const c = this.#pages[id >>> PAGE_BITS];
    const i = id & PAGE_MASK;
    this.#slab.free(c.at[i], c.keyLength[i] + c.valueLength[i]);
    this.#freeIds.push(id);
  }

  /** The key's FNV-1a hash (see `KeyBytes`). */
  hash(id: number): number {
    return this.#pages[id >>> PAGE_BITS].hash[id & PAGE_MASK];
  }

  /** The key. */
  key(id: number): string {
    const c = this.#pages[id >>> PAGE_BITS];
    const i = id & PAGE_MASK;
    const from = this.#slab.offset(c.at[i]);
    return utf8Decoder.decode(this.#slab.page(c.at[i]).subarray(from, from + c.keyLength[i]));
  }

  /** The value's msgpack bytes: a view that the next change of the table may overwrite. */
  value(id: number): Uint8Array {
    const c = this.#pages[id >>> PAGE_BITS];
    const i = id & PAGE_MASK;
    const from = this.#slab.offset(c.at[i]) + c.keyLength[i];
    return this.#slab.page(c.at[i]).subarray(from, from + c.valueLength[i]);
  }

  /** The record's revisions. */
  meta(id: number): RecordMeta {
    const c = this.#pages[id >>> PAGE_BITS];
    const i = id & PAGE_MASK;
    return {
      revision: c.revision[i],
      createRevision: c.createRevision[i],
      version: c.version[i],
    };
  }

  /** The revision of the record's last put. */
  revision(id: number): number {
    return this.#pages[id >>> PAGE_BITS].revision[id & PAGE_MASK];
  }

  /** Compares the record's key with `key` by bytes: negative when the record's sorts first. */
  compare(id: number, key: KeyBytes): number {
    const c = this.#pages[id >>> PAGE_BITS];
    const i = id & PAGE_MASK;
    const page = this.#slab.page(c.at[i]);
    const from = this.#slab.offset(c.at[i]);
    const n = c.keyLength[i];
    const m = key.length;
    const b = key.bytes;
    const common = n < m ? n : m;
    for (let j = 0; j < common; j++) {
      const d = page[from + j] - b[j];
      if (d !== 0) return d;
    }
    return n - m;
  }

  /** Whether the record's key is `key`. */
  equals(id: number, key: KeyBytes): boolean {
    const c = this.#pages[id >>> PAGE_BITS];
    const i = id & PAGE_MASK;
    return c.hash[i] === key.hash && c.keyLength[i] === key.length && this.compare(id, key) === 0;
  }

  /** Whether the record's key starts with `prefix`. */
  startsWith(id: number, prefix: KeyBytes): boolean {
    const c = this.#pages[id >>> PAGE_BITS];
    const i = id & PAGE_MASK;
    const n = prefix.length;
    if (c.keyLength[i] < n) return false;
    const page = this.#slab.page(c.at[i]);
    const from = this.#slab.offset(c.at[i]);
    const b = prefix.bytes;
    for (let j = 0; j < n; j++) if (page[from + j] !== b[j]) return false;
    return true;
  }

  /** A fresh id, adding a page of columns when the last one is full. */
  #grow(): number {
    if ((this.#next & PAGE_MASK) === 0) this.#pages.push(newColumnPage());
    return this.#next++;
  }
}

/** Ids per page of columns. */
const PAGE_BITS = 16;
const COLUMN_PAGE = 1 << PAGE_BITS;
const PAGE_MASK = COLUMN_PAGE - 1;

/** One page of the columns: the slab address of each record's block, lengths, hash, meta. */
interface ColumnPage {
  at: Float64Array;
  keyLength: Int32Array;
  valueLength: Int32Array;
  hash: Int32Array;
  revision: Float64Array;
  createRevision: Float64Array;
  version: Float64Array;
}

function newColumnPage(): ColumnPage {
  return {
    at: new Float64Array(COLUMN_PAGE),
    keyLength: new Int32Array(COLUMN_PAGE),
    valueLength: new Int32Array(COLUMN_PAGE),
    hash: new Int32Array(COLUMN_PAGE),
    revision: new Float64Array(COLUMN_PAGE),
    createRevision: new Float64Array(COLUMN_PAGE),
    version: new Float64Array(COLUMN_PAGE),
  };
}

function setMeta(c: ColumnPage, i: number, meta: RecordMeta): void {
  c.revision[i] = meta.revision;
  c.createRevision[i] = meta.createRevision;
  c.version[i] = meta.version;
}
