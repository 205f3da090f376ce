/**
 * The window of AppendEntries in flight to one follower (etcd-io/raft's Inflights).
 *
 * @module
 */

/**
 * A bounded FIFO of the last index (and byte size) of each AppendEntries sent but not yet
 * acknowledged; the leader stops sending to a follower whose window is full.
 *
 * @example
 * ```ts
 * import { Inflights } from "./inflights.ts";
 * const w = new Inflights(2);
 * w.add(5, 100);
 * w.add(9, 100);
 * console.log(w.full()); // true
 * w.freeLE(5);
 * console.log(w.count); // 1
 * ```
 */
export class Inflights {
  #indexes: number[] = [];
  #sizes: number[] = [];
  #bytes = 0;

  constructor(readonly capacity: number, readonly maxBytes = Infinity) {}

  /** Records a message whose last entry has `index`. */
  add(index: number, bytes: number): void {
    this.#indexes.push(index);
    this.#sizes.push(bytes);
    this.#bytes += bytes;
  }

  /** Frees every message up to and including `index` (they were acknowledged). */
  freeLE(index: number): void {
    let n = 0;
    while (n < this.#indexes.length && this.#indexes[n] <= index) {
      this.#bytes -= this.#sizes[n];
      n++;
    }
    if (n > 0) {
      this.#indexes.splice(0, n);
      this.#sizes.splice(0, n);
    }
  }

  /** Frees the oldest message, so that one more may be sent (a heartbeat got through). */
  freeFirstOne(): void {
    if (this.#indexes.length > 0) this.freeLE(this.#indexes[0]);
  }

  /** Whether no more messages may be sent. */
  full(): boolean {
    return this.#indexes.length >= this.capacity || this.#bytes >= this.maxBytes;
  }

  get count(): number {
    return this.#indexes.length;
  }

  reset(): void {
    this.#indexes = [];
    this.#sizes = [];
    this.#bytes = 0;
  }
}
