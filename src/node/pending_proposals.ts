/**
 * The proposals this node made and is waiting to see applied, by sequence number.
 *
 * @module
 */

import type { ApplyOutcome } from "../state/results.ts";
import { type NodeClock, systemClock, type TimerHandle } from "./clock.ts";
import { OutcomeUnknownError } from "./errors.ts";

/** The proposal was sent but not applied in time: its outcome is unknown (it may still be). */
export class ProposalTimeoutError extends OutcomeUnknownError {
  override name = "ProposalTimeoutError";
}

/**
 * Hands out sequence numbers and settles each with its entry's outcome, or with a
 * {@linkcode ProposalTimeoutError} when it is not applied in time.
 *
 * @example
 * ```ts
 * import { PendingProposals } from "./pending_proposals.ts";
 * const pending = new PendingProposals(1000);
 * const seq = pending.next();
 * const done = pending.wait(seq);
 * pending.settle(seq, { index: 1, result: { ok: true }, events: [], revision: 1, duplicate: false });
 * await done;
 * ```
 */
export class PendingProposals {
  /**
   * Starts at random, not at 0: the log may still hold entries a previous run of this node
   * proposed, which are applied after a restart. Had both runs counted from 0, such an entry
   * would settle this run's proposal of the same number with someone else's outcome (an
   * acknowledged write that never happened; found by the simulator, seed 255). Two runs'
   * ranges of 2^52 overlap with odds of about (proposals / 2^52).
   */
  #seq: number;
  /** In the order proposed, which is also the order of their deadlines. */
  readonly #waiting = new Map<number, Waiter>();
  #sweeper?: TimerHandle;
  readonly #clock: NodeClock;

  /** `clock`: where the deadlines and the sweeping timer come from. */
  constructor(readonly timeoutMs: number, clock: NodeClock = systemClock) {
    this.#clock = clock;
    this.#seq = Math.floor(clock.random() * 2 ** 52);
  }

  /** A fresh sequence number for the next proposal. */
  next(): number {
    return ++this.#seq;
  }

  /** Resolves with the outcome of proposal `seq` once it is applied. */
  wait(seq: number): Promise<ApplyOutcome> {
    const { promise, resolve, reject } = Promise.withResolvers<ApplyOutcome>();
    this.#waiting.set(seq, { resolve, reject, deadline: this.#clock.monotonic() + this.timeoutMs });
    // One timer for all, not one per proposal: timers were a visible share of a write's CPU.
    this.#sweeper ??= this.#clock.setInterval(
      () => this.#sweep(),
      Math.max(1, this.timeoutMs / 20),
    );
    return promise;
  }

  /** Proposal `seq` was applied with this outcome. */
  settle(seq: number, outcome: ApplyOutcome): void {
    const waiter = this.#waiting.get(seq);
    if (!waiter) return;
    this.#waiting.delete(seq);
    waiter.resolve(outcome);
    this.#stopWhenIdle();
  }

  /** Rejects every waiting proposal with `error` (the node is stopping). */
  close(error: Error): void {
    for (const waiter of this.#waiting.values()) waiter.reject(error);
    this.#waiting.clear();
    this.#stopWhenIdle();
  }

  #sweep(): void {
    const now = this.#clock.monotonic();
    for (const [seq, waiter] of this.#waiting) {
      if (waiter.deadline > now) break;
      this.#waiting.delete(seq);
      waiter.reject(
        new ProposalTimeoutError("the proposal was not applied in time; it may still be"),
      );
    }
    this.#stopWhenIdle();
  }

  #stopWhenIdle(): void {
    if (this.#waiting.size > 0 || this.#sweeper === undefined) return;
    this.#clock.clearTimeout(this.#sweeper);
    this.#sweeper = undefined;
  }
}

interface Waiter {
  resolve(outcome: ApplyOutcome): void;
  reject(error: Error): void;
  deadline: number;
}
