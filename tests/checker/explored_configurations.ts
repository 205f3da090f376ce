/**
 * Memory of the configurations a linearizability search has already explored, so that it never
 * explores one twice (Lowe's memoization), extended with subsumption for operations of unknown
 * outcome.
 *
 * @module
 */

/** Marks a (completed set, state) seen with no unknown-outcome operation linearized. */
const NONE_USED = 0;

/**
 * Explored configurations (completed operations linearized, unknown-outcome operations
 * linearized, model state).
 *
 * A configuration is the set of completed ("ok") operations linearized, the set of
 * unknown-outcome ("info") operations linearized, and the model state. Unknown-outcome operations
 * may be left out of a linearization, so a configuration that used fewer of them, with the same
 * completed operations and state, can do everything one that used more can: the second is
 * skipped. Without this, every subset of the pending unknown-outcome operations would be explored
 * separately, exponential in their number.
 *
 * Completed operations are indexed in call order, and the search only linearizes an operation
 * whose call precedes the return of every operation not yet linearized. So all linearized
 * operations past the first unlinearized one, `m`, were called before `m` returned: the set is
 * `m` plus a bitset of that window, exact and small while few operations overlap.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ExploredConfigurations } from "./explored_configurations.ts";
 *
 * // Two completed operations (called at 0 and 5, returning at 10 and 20), one of unknown outcome.
 * const explored = new ExploredConfigurations([0, 5], [10, 20], 1);
 * explored.linearizeCompleted(0);
 * assert.equal(explored.visit("state A"), true);
 * assert.equal(explored.visit("state A"), false); // already explored
 * explored.linearizeUnknown(0);
 * assert.equal(explored.visit("state A"), false); // subsumed: same, but one fewer option left
 * ```
 */
export class ExploredConfigurations {
  readonly #calls: readonly number[];
  readonly #returns: readonly number[];
  readonly #completed: Uint32Array;
  readonly #unknown: Uint32Array;
  /** Index of the first completed operation not linearized (`calls.length` when none). */
  #firstUnlinearized = 0;
  #unknownUsed = 0;
  /**
   * Per (completed set, state): the unknown-outcome sets seen, as sorted indices, none a subset
   * of another; or NONE_USED, which subsumes all (the common case, so it costs no array).
   */
  readonly #seen = new Map<string, number[][] | typeof NONE_USED>();

  /**
   * Starts with nothing linearized.
   *
   * @param calls call times of the completed operations, ascending
   * @param returns return times of the completed operations, in the same order
   * @param unknownCount number of operations of unknown outcome
   *
   * @example
   * ```ts
   * import { ExploredConfigurations } from "./explored_configurations.ts";
   * const explored = new ExploredConfigurations([0], [10], 0);
   * ```
   */
  constructor(calls: readonly number[], returns: readonly number[], unknownCount: number) {
    this.#calls = calls;
    this.#returns = returns;
    this.#completed = new Uint32Array(Math.ceil(calls.length / 32));
    this.#unknown = new Uint32Array(Math.ceil(unknownCount / 32));
  }

  /**
   * Marks completed operation `index` linearized.
   *
   * @example
   * ```ts
   * import { ExploredConfigurations } from "./explored_configurations.ts";
   * new ExploredConfigurations([0], [10], 0).linearizeCompleted(0);
   * ```
   */
  linearizeCompleted(index: number): void {
    this.#completed[index >>> 5] |= 1 << (index & 31);
    if (index === this.#firstUnlinearized) this.#advanceFirstUnlinearized();
  }

  /**
   * Undoes {@linkcode ExploredConfigurations.prototype.linearizeCompleted}.
   *
   * @example
   * ```ts
   * import { ExploredConfigurations } from "./explored_configurations.ts";
   * const explored = new ExploredConfigurations([0], [10], 0);
   * explored.linearizeCompleted(0);
   * explored.unlinearizeCompleted(0);
   * ```
   */
  unlinearizeCompleted(index: number): void {
    this.#completed[index >>> 5] &= ~(1 << (index & 31));
    if (index < this.#firstUnlinearized) this.#firstUnlinearized = index;
  }

  /**
   * Marks unknown-outcome operation `index` linearized.
   *
   * @example
   * ```ts
   * import { ExploredConfigurations } from "./explored_configurations.ts";
   * new ExploredConfigurations([], [], 1).linearizeUnknown(0);
   * ```
   */
  linearizeUnknown(index: number): void {
    this.#unknown[index >>> 5] |= 1 << (index & 31);
    this.#unknownUsed++;
  }

  /**
   * Undoes {@linkcode ExploredConfigurations.prototype.linearizeUnknown}.
   *
   * @example
   * ```ts
   * import { ExploredConfigurations } from "./explored_configurations.ts";
   * const explored = new ExploredConfigurations([], [], 1);
   * explored.linearizeUnknown(0);
   * explored.unlinearizeUnknown(0);
   * ```
   */
  unlinearizeUnknown(index: number): void {
    this.#unknown[index >>> 5] &= ~(1 << (index & 31));
    this.#unknownUsed--;
  }

  /**
   * Records the current configuration with model state `stateKey`; returns false if it (or one
   * that subsumes it) was recorded before, i.e. it need not be explored.
   *
   * @example
   * ```ts
   * import { ExploredConfigurations } from "./explored_configurations.ts";
   * const explored = new ExploredConfigurations([], [], 0);
   * explored.visit("1"); // true
   * ```
   */
  visit(stateKey: string): boolean {
    const key = `${this.#completedKey()}#${stateKey}`;
    const earlier = this.#seen.get(key);
    if (earlier === NONE_USED) return false;
    if (this.#unknownUsed === 0) {
      this.#seen.set(key, NONE_USED);
      return true;
    }
    const current = this.#usedUnknown();
    if (earlier === undefined) {
      this.#seen.set(key, [current]);
      return true;
    }
    if (earlier.some((used) => isSubset(used, current))) return false;
    // Configurations this one subsumes need not be remembered any more.
    const kept = earlier.filter((used) => !isSubset(current, used));
    kept.push(current);
    this.#seen.set(key, kept);
    return true;
  }

  #usedUnknown(): number[] {
    const used: number[] = [];
    for (let word = 0; word < this.#unknown.length; word++) {
      let bits = this.#unknown[word];
      while (bits !== 0) {
        const lowest = 31 - Math.clz32(bits & -bits);
        used.push(word * 32 + lowest);
        bits &= bits - 1;
      }
    }
    return used;
  }

  #advanceFirstUnlinearized(): void {
    const n = this.#calls.length;
    let i = this.#firstUnlinearized;
    while (i < n) {
      const word = this.#completed[i >>> 5];
      if (word === 0xffff_ffff && (i & 31) === 0) {
        i += 32;
        continue;
      }
      if ((word & (1 << (i & 31))) === 0) break;
      i++;
    }
    this.#firstUnlinearized = Math.min(i, n);
  }

  #completedKey(): string {
    const m = this.#firstUnlinearized;
    const n = this.#calls.length;
    if (m === n) return "all";
    // Operations linearized past m were all called no later than m returned.
    const end = upperBound(this.#calls, this.#returns[m]);
    let key = String(m);
    for (let word = m >>> 5; word <= (end - 1) >>> 5; word++) key += `,${this.#completed[word]}`;
    return key;
  }
}

/** Whether sorted `small` is a subset of sorted `large`. */
function isSubset(small: readonly number[], large: readonly number[]): boolean {
  if (small.length > large.length) return false;
  let j = 0;
  for (const value of small) {
    while (j < large.length && large[j] < value) j++;
    if (j === large.length || large[j] !== value) return false;
    j++;
  }
  return true;
}

/** The number of elements of the ascending `sorted` that are <= `value`. */
function upperBound(sorted: readonly number[], value: number): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (sorted[mid] <= value) low = mid + 1;
    else high = mid;
  }
  return low;
}
