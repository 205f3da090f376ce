/**
 * Batched linearizable reads (ReadIndex, thesis 6.4): every read that arrives while a round is
 * being confirmed joins the next one, so a thousand concurrent reads cost one heartbeat round.
 * Only one round awaits its quorum at a time; overlapping rounds, one per turn of the node's
 * loop, cost a heartbeat exchange for every two or three reads (67 µs of CPU per read at 64
 * clients, bench/README.md). A round unconfirmed after `retryMs` (its messages may be lost)
 * no longer holds the next one back.
 *
 * @module
 */

/** A read that could not be confirmed in time (no leader, or a partition). */
export class ReadTimeoutError extends Error {
  override name = "ReadTimeoutError";
}

interface Round {
  id: number;
  waiters: { resolve: () => void; reject: (e: Error) => void }[];
  index?: number;
  timer: ReturnType<typeof setTimeout>;
  startedAt: number;
}

/**
 * Collects reads into rounds. The node calls `start` when it can issue a ReadIndex request,
 * `confirmed` when its ReadState arrives, and `applied` after applying entries.
 *
 * @example
 * ```ts
 * import { ReadBarrier } from "./read_barrier.ts";
 * const b = new ReadBarrier(1000, 50);
 * const done = b.wait();
 * const ctx = b.start()!; // the node passes ctx to RawNode.readIndex
 * b.confirmed(ctx, 5);
 * b.applied(5);
 * await done;
 * ```
 */
export class ReadBarrier {
  #next = 1;
  #queued: Round["waiters"] = [];
  #open = new Map<number, Round>();
  /** The newest round still waiting for its ReadState. */
  #awaiting?: Round;

  /**
   * `timeoutMs`: how long a read may wait in all. `retryMs`: how long an unconfirmed round
   * holds back the next one.
   */
  constructor(readonly timeoutMs: number, readonly retryMs = 50) {}

  /** Waits until a read started after this call is confirmed and applied. */
  wait(): Promise<void> {
    return new Promise((resolve, reject) => this.#queued.push({ resolve, reject }));
  }

  /** Whether reads are queued for a new round. */
  get pending(): boolean {
    return this.#queued.length > 0;
  }

  /**
   * Opens a round for the queued reads and returns its ReadIndex context; undefined when no
   * read is queued or the previous round is still being confirmed. `now` in ms (monotonic).
   */
  start(now = performance.now()): Uint8Array | undefined {
    if (this.#queued.length === 0) return undefined;
    if (this.#awaiting && now - this.#awaiting.startedAt < this.retryMs) return undefined;
    const id = this.#next++;
    const round: Round = {
      id,
      waiters: this.#queued,
      timer: setTimeout(() => this.#fail(id), this.timeoutMs),
      startedAt: now,
    };
    this.#queued = [];
    this.#open.set(id, round);
    this.#awaiting = round;
    return new TextEncoder().encode(`r${id}`);
  }

  /** A ReadState arrived: the round's reads may be served once `index` is applied. */
  confirmed(context: Uint8Array, index: number): void {
    const id = Number(new TextDecoder().decode(context).slice(1));
    const round = this.#open.get(id);
    if (round) round.index = index;
    if (round && round === this.#awaiting) this.#awaiting = undefined;
  }

  /** Entries up to `appliedIndex` are applied: release the rounds that were waiting on them. */
  applied(appliedIndex: number): void {
    for (const [id, round] of this.#open) {
      if (round.index !== undefined && round.index <= appliedIndex) {
        clearTimeout(round.timer);
        this.#open.delete(id);
        for (const w of round.waiters) w.resolve();
      }
    }
  }

  #fail(id: number): void {
    const round = this.#open.get(id);
    if (!round) return;
    this.#open.delete(id);
    if (round === this.#awaiting) this.#awaiting = undefined;
    const err = new ReadTimeoutError("the read could not be confirmed by a quorum in time");
    for (const w of round.waiters) w.reject(err);
  }

  /** Fails every read (the node is stopping). */
  close(): void {
    for (const id of [...this.#open.keys()]) {
      clearTimeout(this.#open.get(id)!.timer);
      this.#fail(id);
    }
    const err = new ReadTimeoutError("the node is stopping");
    for (const w of this.#queued) w.reject(err);
    this.#queued = [];
  }
}
