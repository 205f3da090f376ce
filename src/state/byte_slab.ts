/**
 * Blocks of bytes kept outside V8's heap, in a few large `ArrayBuffer`s, for a state that holds
 * a million records.
 *
 * Why: a record kept as JavaScript objects (a key string, a record object, its value) is three
 * or more objects for V8's garbage collector to mark on every full collection. At a million
 * keys that marking, done on a busy 2-core machine, paused the event loop for 100-450 ms
 * (docs/architecture.md, "Stalls at a large state"). The bytes of an `ArrayBuffer` are not
 * objects; the collector never looks inside them.
 *
 * How: a block is rounded up to a size class (16-byte steps to 256, then four steps per power
 * of two, so at most ~19 % is lost to rounding). Blocks are cut from 1 MiB pages in turn, and a
 * freed block goes on its class's free list for the next block of that class. Blocks larger
 * than `LARGE` get a page of their own, dropped when they are freed. Memory freed into a class
 * stays with the slab (as with malloc's bins) until a block of that class reuses it.
 *
 * An address is `page * PAGE_SPAN + offset`: a plain number, so a table of addresses is a
 * `Float64Array`, itself one object however many records it holds.
 *
 * @module
 */

/** Bytes per shared page. */
const PAGE = 1 << 20;
/** Addresses reserve this much per page index, so the offset fits below it. */
const PAGE_SPAN = 1 << 21;
/** Blocks above this size get a page of their own. */
const LARGE = PAGE / 8;

/**
 * The size class of a block of `n` bytes: 16-byte steps up to 256, then 4 steps per doubling.
 *
 * @example
 * ```ts
 * import { classSize } from "./byte_slab.ts";
 * classSize(100); // 112
 * classSize(300); // 320
 * ```
 */
export function classSize(n: number): number {
  if (n <= 256) return Math.max(16, (n + 15) & ~15);
  const power = 2 ** Math.floor(Math.log2(n - 1));
  const step = power / 4;
  return Math.ceil(n / step) * step;
}

/** The largest class size that fits in `n` bytes (n >= 16). */
function largestClassAtMost(n: number): number {
  if (n <= 256) return n & ~15;
  const step = 2 ** Math.floor(Math.log2(n)) / 4;
  return Math.floor(n / step) * step;
}

/**
 * A slab of byte blocks outside the V8 heap.
 *
 * @example
 * ```ts
 * import { ByteSlab } from "./byte_slab.ts";
 * const slab = new ByteSlab();
 * const at = slab.alloc(3);
 * slab.page(at).set([1, 2, 3], slab.offset(at));
 * slab.free(at, 3);
 * ```
 */
export class ByteSlab {
  /** Pages by index; a freed large page leaves `undefined` until its index is reused. */
  #pages: (Uint8Array | undefined)[] = [];
  /** The shared page blocks are cut from, and how far. */
  #current = -1;
  #top = PAGE;
  /** Free block addresses per class size. */
  #free = new Map<number, number[]>();
  /** Indexes of dropped large pages, to reuse. */
  #freePages: number[] = [];
  #bytesInUse = 0;

  /** Bytes of the blocks in use, as rounded up to their class. */
  get bytesInUse(): number {
    return this.#bytesInUse;
  }

  /** A block of at least `n` bytes; its address. Zero-length blocks are valid. */
  alloc(n: number): number {
    const size = classSize(n);
    this.#bytesInUse += size;
    if (size > LARGE) return this.#newPage(size) * PAGE_SPAN;
    const free = this.#free.get(size);
    if (free !== undefined && free.length > 0) return free.pop()!;
    if (this.#top + size > PAGE) {
      // What is left of the page (less than one block of this class) is given to the classes
      // below, so nothing is lost but the last few bytes.
      this.#spill();
      this.#current = this.#newPage(PAGE);
      this.#top = 0;
    }
    const at = this.#current * PAGE_SPAN + this.#top;
    this.#top += size;
    return at;
  }

  /** Frees the block at `at`, allocated for `n` bytes. */
  free(at: number, n: number): void {
    const size = classSize(n);
    this.#bytesInUse -= size;
    if (size > LARGE) {
      const index = at / PAGE_SPAN;
      this.#pages[index] = undefined;
      this.#freePages.push(index);
      return;
    }
    this.#freeBlock(at, size);
  }

  /** Whether a block of `n` bytes can grow to `m` bytes in place (same class). */
  sameClass(n: number, m: number): boolean {
    return classSize(n) === classSize(m);
  }

  /** The page holding the block at `at`. */
  page(at: number): Uint8Array {
    return this.#pages[Math.floor(at / PAGE_SPAN)]!;
  }

  /** The block's offset in its page. */
  offset(at: number): number {
    return at % PAGE_SPAN;
  }

  #freeBlock(at: number, size: number): void {
    let list = this.#free.get(size);
    if (list === undefined) this.#free.set(size, list = []);
    list.push(at);
  }

  #spill(): void {
    while (this.#current >= 0 && PAGE - this.#top >= 16) {
      const size = largestClassAtMost(PAGE - this.#top);
      this.#freeBlock(this.#current * PAGE_SPAN + this.#top, size);
      this.#top += size;
    }
  }

  #newPage(bytes: number): number {
    const page = new Uint8Array(bytes);
    const index = this.#freePages.pop();
    if (index !== undefined) {
      this.#pages[index] = page;
      return index;
    }
    this.#pages.push(page);
    return this.#pages.length - 1;
  }
}
