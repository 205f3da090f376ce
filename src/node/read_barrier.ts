/**
 * Batched linearizable reads (ReadIndex, thesis 6.4): every read that arrives while a round is
 * being confirmed joins the next one, so a thousand concurrent reads cost one heartbeat round.
 * Only one round awaits its quorum at a time; overlapping rounds, one per turn of the node's
 * loop, cost a heartbeat exchange for every two or three reads (67 µs of CPU per read at 64
 * clients, bench/README.md).
 *
 * A round can be lost without anyone saying so: a read forwarded to a leader that just stepped
 * down, a follower's request or the leader's answer dropped with a connection, a read asked
 * while no leader is known. So a round unconfirmed after `retryMs` is asked again under a new
 * context, together with the reads queued since, and again after each further `retryMs`, until
 * it is confirmed or its reads' deadline passes: a read fails only if no quorum answered any of
 * the rounds it was in for `timeoutMs`. Should the old round's answer arrive late after all, it
 * still serves the reads that were in it.
 *
 * @module
 */

import { type NodeClock, systemClock, type TimerHandle } from "./clock.ts";

/** A read that could not be confirmed in time (no leader, or a partition). */
export class ReadTimeoutError extends Error {
  override name = "ReadTimeoutError";
}

interface Waiter {
  resolve: () => void;
  reject: (e: Error) => void;
}

/** Reads that joined a round together; they share a deadline, counted from their first round. */
interface Batch {
  waiters: Waiter[];
  timer?: TimerHandle;
  done: boolean;
}

interface Round {
  id: number;
  /** Its own batch first, then the batches of the lost rounds it asks again for. */
  batches: Batch[];
  index?: number;
  sentAt: number;
}

/**
 * Collects reads into rounds. The node calls `start` when it can issue a ReadIndex request
 * (and on every tick, so a lost round is asked again), `confirmed` when its ReadState arrives,
 * and `applied` after applying entries.
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
  #queued: Waiter[] = [];
  #open = new Map<number, Round>();
  /** The newest round still waiting for its ReadState (at most one: retries absorb the rest). */
  #awaiting?: Round;
  /**
   * Starts every context of this barrier: a node that restarts gets a new one, so an answer to
   * a round asked before the restart can never pass for a new round with the same number.
   */
  readonly #prefix: string;
  readonly #clock: NodeClock;

  /**
   * `timeoutMs`: how long a read may wait in all. `retryMs`: how long a round may go
   * unconfirmed before it is asked again (and holds back the next one). `clock`: the timers,
   * the monotonic time and the randomness of the context prefix (the simulator's, in tests).
   */
  constructor(
    readonly timeoutMs: number,
    readonly retryMs = 50,
    clock: NodeClock = systemClock,
  ) {
    this.#clock = clock;
    const word = () => Math.floor(clock.random() * 2 ** 32).toString(36);
    this.#prefix = `r${word()}${word()}.`;
  }

  /** Waits until a read started after this call is confirmed and applied. */
  wait(): Promise<void> {
    return new Promise((resolve, reject) => this.#queued.push({ resolve, reject }));
  }

  /** Whether reads are queued for a new round. */
  get pending(): boolean {
    return this.#queued.length > 0;
  }

  /**
   * Opens a round for the queued reads, or asks again for a round unconfirmed after `retryMs`,
   * and returns its ReadIndex context; undefined when there is nothing to ask yet. `now` in ms
   * (monotonic).
   */
  start(now: number = this.#clock.monotonic()): Uint8Array | undefined {
    const awaiting = this.#awaiting;
    if (awaiting && now - awaiting.sentAt < this.retryMs) return undefined;
    const batches: Batch[] = [];
    if (this.#queued.length > 0) {
      const batch: Batch = { waiters: this.#queued, done: false };
      batch.timer = this.#clock.setTimeout(() => this.#expire(batch), this.timeoutMs);
      this.#queued = [];
      batches.push(batch);
    }
    if (awaiting) {
      // Lost, or slow: the reads in it join a new round. Its own answer may still come.
      this.#awaiting = undefined;
      for (const b of awaiting.batches) if (!b.done) batches.push(b);
    }
    if (batches.length === 0) return undefined;
    const id = this.#next++;
    const round: Round = { id, batches, sentAt: now };
    this.#open.set(id, round);
    this.#awaiting = round;
    return new TextEncoder().encode(this.#prefix + id);
  }

  /** A ReadState arrived: the round's reads may be served once `index` is applied. */
  confirmed(context: Uint8Array, index: number): void {
    const ctx = new TextDecoder().decode(context);
    if (!ctx.startsWith(this.#prefix)) return; // a round of an earlier run of this node
    const round = this.#open.get(Number(ctx.slice(this.#prefix.length)));
    if (!round || round.index !== undefined) return;
    round.index = index;
    if (round === this.#awaiting) this.#awaiting = undefined;
  }

  /** Entries up to `appliedIndex` are applied: release the rounds that were waiting on them. */
  applied(appliedIndex: number): void {
    for (const [id, round] of this.#open) {
      if (round.index !== undefined && round.index <= appliedIndex) {
        this.#open.delete(id);
        for (const b of round.batches) {
          if (b.done) continue;
          b.done = true;
          this.#clock.clearTimeout(b.timer);
          for (const w of b.waiters) w.resolve();
        }
      } else if (round !== this.#awaiting && round.batches.every((b) => b.done)) {
        this.#open.delete(id); // asked again elsewhere and served there: its answer is moot
      }
    }
  }

  #expire(batch: Batch): void {
    if (batch.done) return;
    batch.done = true;
    const err = new ReadTimeoutError("the read could not be confirmed by a quorum in time");
    for (const w of batch.waiters) w.reject(err);
    for (const [id, round] of this.#open) {
      if (!round.batches.every((b) => b.done)) continue;
      this.#open.delete(id);
      if (round === this.#awaiting) this.#awaiting = undefined;
    }
  }

  /** Fails every read (the node is stopping). */
  close(): void {
    const err = new ReadTimeoutError("the node is stopping");
    for (const round of this.#open.values()) {
      for (const b of round.batches) {
        if (b.done) continue;
        b.done = true;
        this.#clock.clearTimeout(b.timer);
        for (const w of b.waiters) w.reject(err);
      }
    }
    this.#open.clear();
    this.#awaiting = undefined;
    for (const w of this.#queued) w.reject(err);
    this.#queued = [];
  }
}
