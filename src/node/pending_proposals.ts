/**
 * The proposals this node made and is waiting to see applied, by sequence number.
 *
 * @module
 */

import type { ApplyOutcome } from "../state/results.ts";

/** The proposal was sent but its outcome is unknown (it may still be applied). */
export class ProposalTimeoutError extends Error {
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
  #seq = 0;
  readonly #waiting = new Map<number, (o: ApplyOutcome) => void>();

  constructor(readonly timeoutMs: number) {}

  /** A fresh sequence number for the next proposal. */
  next(): number {
    return ++this.#seq;
  }

  /** Resolves with the outcome of proposal `seq` once it is applied. */
  wait(seq: number): Promise<ApplyOutcome> {
    return new Promise<ApplyOutcome>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(seq);
        reject(new ProposalTimeoutError("the proposal was not applied in time; it may still be"));
      }, this.timeoutMs);
      this.#waiting.set(seq, (o) => {
        clearTimeout(timer);
        resolve(o);
      });
    });
  }

  /** Proposal `seq` was applied with this outcome. */
  settle(seq: number, outcome: ApplyOutcome): void {
    this.#waiting.get(seq)?.(outcome);
    this.#waiting.delete(seq);
  }
}
