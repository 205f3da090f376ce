/**
 * A small seeded pseudo-random number generator (xoshiro128**), so that a test or a simulation
 * run can be replayed exactly from its seed. Not for cryptography.
 *
 * @module
 */

/**
 * Seeded PRNG: the same seed always yields the same sequence, on every platform.
 *
 * @example Replay a choice from a seed
 * ```ts
 * import assert from "node:assert/strict";
 * import { Prng } from "./prng.ts";
 *
 * const a = new Prng(42);
 * const b = new Prng(42);
 * assert.equal(a.int(100), b.int(100));
 * assert.ok(["x", "y"].includes(a.pick(["x", "y"])));
 * ```
 */
export class Prng {
  /** The seed this generator started from; print it so a failing run can be replayed. */
  readonly seed: number;
  #s0: number;
  #s1: number;
  #s2: number;
  #s3: number;

  /**
   * Creates a generator from a 32-bit integer seed (other numbers are truncated to 32 bits).
   *
   * @example
   * ```ts
   * import { Prng } from "./prng.ts";
   * const prng = new Prng(7);
   * prng.next();
   * ```
   */
  constructor(seed: number) {
    this.seed = seed >>> 0;
    // splitmix32 spreads even small or similar seeds over the whole state; xoshiro must
    // never start from the all-zero state, which splitmix32 cannot produce four times over.
    let x = this.seed;
    const splitmix = (): number => {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.#s0 = splitmix();
    this.#s1 = splitmix();
    this.#s2 = splitmix();
    this.#s3 = splitmix();
  }

  /**
   * Returns the next 32-bit unsigned integer of the sequence.
   *
   * @example
   * ```ts
   * import { Prng } from "./prng.ts";
   * const word = new Prng(1).nextUint32(); // 0 <= word < 2 ** 32
   * ```
   */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.#s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (this.#s1 << 9) >>> 0;
    this.#s2 ^= this.#s0;
    this.#s3 ^= this.#s1;
    this.#s1 ^= this.#s2;
    this.#s0 ^= this.#s3;
    this.#s2 ^= t;
    this.#s3 = rotl(this.#s3 >>> 0, 11);
    this.#s0 >>>= 0;
    this.#s1 >>>= 0;
    this.#s2 >>>= 0;
    return result;
  }

  /**
   * Returns a float uniformly distributed in [0, 1).
   *
   * @example
   * ```ts
   * import { Prng } from "./prng.ts";
   * const x = new Prng(1).next(); // 0 <= x < 1
   * ```
   */
  next(): number {
    return this.nextUint32() / 0x1_0000_0000;
  }

  /**
   * Returns an integer uniformly distributed in [0, n).
   *
   * @example
   * ```ts
   * import { Prng } from "./prng.ts";
   * const die = new Prng(1).int(6) + 1; // 1..6
   * ```
   */
  int(n: number): number {
    if (!Number.isSafeInteger(n) || n <= 0) {
      throw new RangeError(`Prng.int needs a positive integer bound, got ${n}`);
    }
    return Math.floor(this.next() * n);
  }

  /**
   * Returns true with the given probability (0..1).
   *
   * @example
   * ```ts
   * import { Prng } from "./prng.ts";
   * const dropThisMessage = new Prng(1).chance(0.1);
   * ```
   */
  chance(probability: number): boolean {
    return this.next() < probability;
  }

  /**
   * Returns one element of a non-empty array, each equally likely.
   *
   * @example
   * ```ts
   * import { Prng } from "./prng.ts";
   * const f = new Prng(1).pick(["read", "write", "cas"]);
   * ```
   */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError("Prng.pick needs a non-empty array");
    return items[this.int(items.length)];
  }

  /**
   * Shuffles an array in place (Fisher-Yates) and returns it.
   *
   * @example
   * ```ts
   * import { Prng } from "./prng.ts";
   * const order = new Prng(1).shuffle([1, 2, 3]);
   * ```
   */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [items[i], items[j]] = [items[j], items[i]];
    }
    return items;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
