/**
 * The entries of the in-memory log, kept outside V8's heap: terms and types in typed-array
 * columns, the commands' bytes copied into shared pages. An `Entry` object is made only when
 * one is read, and dies young.
 *
 * Why: the core holds every entry since the last snapshot, and at a million keys the snapshot
 * policy lets that be ~500,000 entries. As objects (an `Entry`, its `Uint8Array` and its
 * `ArrayBuffer`) 400,000 of them took 107 MB of V8's heap, and a full collection of that heap
 * held the thread for ~100 ms, twice the heartbeat interval (issue 17; docs/architecture.md,
 * "Stalls at a large state").
 *
 * Command bytes are only ever appended to a page, never written over: an entry handed out
 * (to the disk, to a message, to the state machine) keeps its bytes even after the log drops
 * or replaces it, because its `data` is a view that keeps its page alive.
 *
 * @module
 */

import type { Entry, EntryType } from "./types.ts";

/** Entries per column chunk. */
const CHUNK = 8192;
/** The size of a page of command bytes; a larger command gets a page of its own size. */
const PAGE_BYTES = 64 * 1024;
const EMPTY = new Uint8Array(0);

const TYPE_CODES: Record<EntryType, number> = { normal: 0, conf: 1 };
const TYPES: readonly EntryType[] = ["normal", "conf"];

/** The columns of `CHUNK` consecutive indexes. */
interface Chunk {
  terms: Float64Array;
  types: Uint8Array;
  /** The serial number of the page holding the command. */
  pages: Float64Array;
  starts: Uint32Array;
  lengths: Uint32Array;
}

/** The chunk of `index` (division, not a shift: indexes may pass 2^31). */
function chunkOf(index: number): number {
  return Math.floor(index / CHUNK);
}

/** Where `index` sits in its chunk (the low bits survive ToInt32 up to 2^53). */
function slotOf(index: number): number {
  return index & (CHUNK - 1);
}

function newChunk(): Chunk {
  return {
    terms: new Float64Array(CHUNK),
    types: new Uint8Array(CHUNK),
    pages: new Float64Array(CHUNK),
    starts: new Uint32Array(CHUNK),
    lengths: new Uint32Array(CHUNK),
  };
}

/**
 * The log entries with indexes `offset + 1 ..= lastIndex`.
 *
 * @example
 * ```ts
 * import { EntryStore } from "./entry_store.ts";
 * const store = new EntryStore(0);
 * store.push({ term: 2, index: 1, type: "normal", data: new Uint8Array([7]) });
 * store.term(1); // 2
 * store.entry(1).data; // Uint8Array [ 7 ]
 * ```
 */
export class EntryStore {
  #offset: number;
  #last: number;
  /** Chunk k holds indexes [k * CHUNK, (k + 1) * CHUNK); `#chunks[0]` is chunk `#firstChunk`. */
  #chunks: Chunk[] = [];
  #firstChunk: number;
  /** Pages of command bytes; `#pages[0]` has serial number `#firstPage`. */
  #pages: Uint8Array[] = [];
  #firstPage = 0;
  /** Where the next command's bytes go in the last page. */
  #cursor = 0;

  /** An empty store after index `offset`. */
  constructor(offset: number) {
    this.#offset = offset;
    this.#last = offset;
    this.#firstChunk = chunkOf(offset + 1);
  }

  /** The index before the first entry held. */
  get offset(): number {
    return this.#offset;
  }

  /** The index of the last entry held (`offset` when empty). */
  get lastIndex(): number {
    return this.#last;
  }

  /** How many entries are held. */
  get length(): number {
    return this.#last - this.#offset;
  }

  /** How many pages of command bytes the store holds (what compaction lets go of). */
  get pagesHeld(): number {
    return this.#pages.length;
  }

  /** The term of entry `index`, which must be held. */
  term(index: number): number {
    const c = this.#chunk(index);
    return c.terms[slotOf(index)];
  }

  /** The type of entry `index`, which must be held. */
  type(index: number): EntryType {
    const c = this.#chunk(index);
    return TYPES[c.types[slotOf(index)]];
  }

  /** The approximate encoded size of entry `index` (as `entrySize`), which must be held. */
  size(index: number): number {
    const c = this.#chunk(index);
    return c.lengths[slotOf(index)] + 24;
  }

  /** Entry `index`, which must be held, as a new object whose `data` views the page. */
  entry(index: number): Entry {
    const c = this.#chunk(index);
    const i = slotOf(index);
    const length = c.lengths[i];
    const start = c.starts[i];
    const data = length === 0
      ? EMPTY
      : this.#pages[c.pages[i] - this.#firstPage].subarray(start, start + length);
    return { term: c.terms[i], index, type: TYPES[c.types[i]], data };
  }

  /** Entries `lo` to `hi - 1`, all held. */
  entries(lo: number, hi: number): Entry[] {
    const out: Entry[] = [];
    for (let i = lo; i < hi; i++) out.push(this.entry(i));
    return out;
  }

  /** Appends `e`, whose index must be `lastIndex + 1`; its bytes are copied. */
  push(e: Entry): void {
    if (e.index !== this.#last + 1) {
      throw new RangeError(`entry store: push of ${e.index} after ${this.#last}`);
    }
    const chunkNo = chunkOf(e.index);
    while (this.#firstChunk + this.#chunks.length <= chunkNo) this.#chunks.push(newChunk());
    const c = this.#chunks[chunkNo - this.#firstChunk];
    const i = slotOf(e.index);
    c.terms[i] = e.term;
    c.types[i] = TYPE_CODES[e.type];
    c.lengths[i] = e.data.byteLength;
    if (e.data.byteLength > 0) {
      const page = this.#roomFor(e.data.byteLength);
      page.set(e.data, this.#cursor);
      c.pages[i] = this.#firstPage + this.#pages.length - 1;
      c.starts[i] = this.#cursor;
      this.#cursor += e.data.byteLength;
    }
    this.#last = e.index;
  }

  /** Drops the entries after `index` (a follower's conflicting suffix). */
  truncateAfter(index: number): void {
    if (index < this.#offset || index > this.#last) {
      throw new RangeError(
        `entry store: truncate after ${index} outside ${this.#offset}..${this.#last}`,
      );
    }
    // The columns are written over by the next pushes; the bytes stay where they are (see the
    // module comment), so that entries handed out keep theirs.
    this.#last = index;
  }

  /** Drops the entries up to `index` (covered by a snapshot), and the pages only they used. */
  compactTo(index: number): void {
    if (index <= this.#offset) return;
    if (index >= this.#last) {
      this.#reset(index);
      return;
    }
    this.#offset = index;
    const firstChunk = chunkOf(index + 1);
    if (firstChunk > this.#firstChunk) {
      this.#chunks.splice(0, firstChunk - this.#firstChunk);
      this.#firstChunk = firstChunk;
    }
    // Pages are filled in index order, so every page before the first held command's is free;
    // when no entry left has a command, every page but the one being filled is.
    let firstUsed = this.#firstPage + this.#pages.length - 1;
    for (let i = index + 1; i <= this.#last; i++) {
      const c = this.#chunk(i);
      const k = slotOf(i);
      if (c.lengths[k] === 0) continue;
      firstUsed = c.pages[k];
      break;
    }
    if (firstUsed > this.#firstPage) {
      this.#pages.splice(0, firstUsed - this.#firstPage);
      this.#firstPage = firstUsed;
    }
  }

  /** Empties the store; the next entry is `offset + 1`. */
  reset(offset: number): void {
    this.#reset(offset);
  }

  #reset(offset: number): void {
    this.#offset = offset;
    this.#last = offset;
    this.#chunks = [];
    this.#firstChunk = chunkOf(offset + 1);
    this.#firstPage += this.#pages.length;
    this.#pages = [];
    this.#cursor = 0;
  }

  #chunk(index: number): Chunk {
    if (index <= this.#offset || index > this.#last) {
      throw new RangeError(`entry store: ${index} is not in ${this.#offset + 1}..${this.#last}`);
    }
    return this.#chunks[chunkOf(index) - this.#firstChunk];
  }

  /** The last page, after making sure it has `bytes` free at the cursor. */
  #roomFor(bytes: number): Uint8Array {
    const last = this.#pages.at(-1);
    if (last && this.#cursor + bytes <= last.byteLength) return last;
    const page = new Uint8Array(Math.max(PAGE_BYTES, bytes));
    this.#pages.push(page);
    this.#cursor = 0;
    return page;
  }
}
