/**
 * What a leader knows about one follower's log, and how it sends to it (thesis 10.2.1:
 * probe, replicate and snapshot states).
 *
 * @module
 */

import { Inflights } from "./inflights.ts";

/**
 * - `probe`: the leader does not know where the follower's log ends; it sends one
 *   AppendEntries at a time and backs off on rejection.
 * - `replicate`: the logs agree; the leader streams entries optimistically, bounded by the
 *   inflight window.
 * - `snapshot`: the follower needs entries the leader has compacted; a snapshot is being sent.
 */
export type ProgressState = "probe" | "replicate" | "snapshot";

/**
 * A leader's view of one follower.
 *
 * @example
 * ```ts
 * import { Progress } from "./progress.ts";
 * const p = new Progress(11, 256, false);
 * p.maybeUpdate(10); // the follower acknowledged up to 10
 * p.becomeReplicate();
 * console.log(p.state, p.next); // "replicate" 11
 * ```
 */
export class Progress {
  /** The highest index known to be in the follower's log. */
  match = 0;
  state: ProgressState = "probe";
  /** In probe state: an AppendEntries is out and unanswered, so wait (or for a heartbeat). */
  probeSent = false;
  /** In snapshot state: the index of the snapshot being sent. */
  pendingSnapshot = 0;
  /** In snapshot state: how many bytes of the snapshot the follower has acknowledged. */
  snapshotOffset = 0;
  /** In snapshot state: the leader tick when the current chunk was sent (for resending). */
  snapshotSentAt = 0;
  /** Whether the follower was heard from since the last check-quorum round. */
  recentActive = true;
  readonly inflights: Inflights;

  constructor(
    /** The next index to send. */
    public next: number,
    maxInflight: number,
    public isLearner: boolean,
  ) {
    this.inflights = new Inflights(maxInflight);
  }

  becomeProbe(): void {
    if (this.state === "snapshot") {
      // After a snapshot the follower has at least the snapshot's index.
      this.next = Math.max(this.match + 1, this.pendingSnapshot + 1);
    } else {
      this.next = this.match + 1;
    }
    this.#reset("probe");
  }

  becomeReplicate(): void {
    this.next = this.match + 1;
    this.#reset("replicate");
  }

  becomeSnapshot(snapshotIndex: number): void {
    this.#reset("snapshot");
    this.pendingSnapshot = snapshotIndex;
  }

  #reset(state: ProgressState): void {
    this.state = state;
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.snapshotOffset = 0;
    this.snapshotSentAt = 0;
    this.inflights.reset();
  }

  /** Records an acknowledgement of `index`; returns whether it told the leader anything new. */
  maybeUpdate(index: number): boolean {
    let updated = false;
    if (this.match < index) {
      this.match = index;
      updated = true;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, index + 1);
    return updated;
  }

  /** Optimistically moves `next` past entries just sent in the replicate state. */
  optimisticUpdate(lastSent: number): void {
    this.next = lastSent + 1;
  }

  /**
   * Handles a rejected AppendEntries whose previous index was `rejected`; `hint` is the
   * highest index the follower might still agree on. Returns false for a stale rejection.
   */
  maybeDecrTo(rejected: number, hint: number): boolean {
    if (this.state === "replicate") {
      // A rejection at or below match is a late duplicate: ignore it.
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    // In probe state only the answer to the probe just sent counts.
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, hint + 1), this.match + 1, 1);
    this.probeSent = false;
    return true;
  }

  /** Whether the leader must hold back AppendEntries to this follower for now. */
  isPaused(): boolean {
    switch (this.state) {
      case "probe":
        return this.probeSent;
      case "replicate":
        return this.inflights.full();
      case "snapshot":
        return true;
    }
  }
}
