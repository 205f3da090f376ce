/**
 * The call and return entries of the completed operations not yet linearized, in time order:
 * what a just-in-time linearizability search needs to know which operations may go next.
 *
 * @module
 */

/**
 * A doubly linked list of call and return entries in time order, from which linearized
 * operations are unlinked and, on backtracking, relinked (in LIFO order, as in Knuth's dancing
 * links). A call sorts before a return at the same time: equal times count as overlapping.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PendingOperations } from "./pending_operations.ts";
 *
 * // Operation 0 runs over [0, 10], operation 1 over [20, 30]: only 0 may go first.
 * const pending = new PendingOperations([0, 20], [10, 30]);
 * assert.deepEqual(pending.nextChoices(), { candidates: [0], firstToReturn: 0 });
 * pending.remove(0);
 * assert.deepEqual(pending.nextChoices(), { candidates: [1], firstToReturn: 1 });
 * pending.restore(0);
 * ```
 */
export class PendingOperations {
  readonly #n: number;
  readonly #next: Int32Array;
  readonly #prev: Int32Array;
  readonly #head: number;
  readonly #tail: number;

  /**
   * Lists operations `0..calls.length - 1` with their call and return times.
   *
   * @example
   * ```ts
   * import { PendingOperations } from "./pending_operations.ts";
   * const pending = new PendingOperations([0], [10]);
   * ```
   */
  constructor(calls: readonly number[], returns: readonly number[]) {
    // Entries 0..n-1 are calls, n..2n-1 returns, 2n the head and 2n+1 the tail.
    const n = calls.length;
    this.#n = n;
    this.#head = 2 * n;
    this.#tail = 2 * n + 1;
    this.#next = new Int32Array(2 * n + 2);
    this.#prev = new Int32Array(2 * n + 2);
    const time = (entry: number) => (entry < n ? calls[entry] : returns[entry - n]);
    const order = Array.from({ length: 2 * n }, (_, entry) => entry).sort((a, b) => {
      const ta = time(a);
      const tb = time(b);
      if (ta !== tb) return ta < tb ? -1 : 1;
      return (a < n ? 0 : 1) - (b < n ? 0 : 1);
    });
    let last = this.#head;
    for (const entry of order) {
      this.#next[last] = entry;
      this.#prev[entry] = last;
      last = entry;
    }
    this.#next[last] = this.#tail;
    this.#prev[this.#tail] = last;
  }

  /**
   * True when every operation has been removed.
   *
   * @example
   * ```ts
   * import { PendingOperations } from "./pending_operations.ts";
   * new PendingOperations([], []).isEmpty(); // true
   * ```
   */
  isEmpty(): boolean {
    return this.#next[this.#head] === this.#tail;
  }

  /**
   * The operations that may be linearized next (called before the earliest pending return), in
   * call order, and the operation with that earliest return. Must not be called when empty.
   *
   * @example
   * ```ts
   * import { PendingOperations } from "./pending_operations.ts";
   * const { candidates, firstToReturn } = new PendingOperations([0, 5], [10, 8]).nextChoices();
   * // candidates [0, 1], firstToReturn 1
   * ```
   */
  nextChoices(): { candidates: number[]; firstToReturn: number } {
    const candidates: number[] = [];
    let entry = this.#next[this.#head];
    for (; entry < this.#n; entry = this.#next[entry]) candidates.push(entry);
    return { candidates, firstToReturn: entry - this.#n };
  }

  /**
   * Removes operation `op` (it has been linearized).
   *
   * @example
   * ```ts
   * import { PendingOperations } from "./pending_operations.ts";
   * new PendingOperations([0], [10]).remove(0);
   * ```
   */
  remove(op: number): void {
    this.#unlink(op);
    this.#unlink(op + this.#n);
  }

  /**
   * Puts back operation `op`; operations must be restored in the reverse order of removal.
   *
   * @example
   * ```ts
   * import { PendingOperations } from "./pending_operations.ts";
   * const pending = new PendingOperations([0], [10]);
   * pending.remove(0);
   * pending.restore(0);
   * ```
   */
  restore(op: number): void {
    this.#relink(op + this.#n);
    this.#relink(op);
  }

  #unlink(entry: number): void {
    this.#next[this.#prev[entry]] = this.#next[entry];
    this.#prev[this.#next[entry]] = this.#prev[entry];
  }

  #relink(entry: number): void {
    this.#next[this.#prev[entry]] = entry;
    this.#prev[this.#next[entry]] = entry;
  }
}
