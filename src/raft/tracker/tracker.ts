/**
 * The membership of the cluster and, on a leader, the progress of every member.
 *
 * @module
 */

import { committedIndex, type VoteResult, voteResult } from "../quorum/majority.ts";
import type { ConfState, NodeId } from "../types.ts";
import { Progress } from "./progress.ts";

/**
 * Tracks voters, learners, their replication progress and the votes of an election.
 *
 * @example
 * ```ts
 * import { ProgressTracker } from "./tracker.ts";
 * const t = new ProgressTracker({ voters: [1, 2, 3], learners: [] }, 256);
 * t.resetProgress(11, 1, 10);
 * console.log(t.committed()); // 0: only the leader has its entries
 * ```
 */
export class ProgressTracker {
  voters: NodeId[] = [];
  learners: NodeId[] = [];
  readonly progress = new Map<NodeId, Progress>();
  readonly votes = new Map<NodeId, boolean>();

  constructor(conf: ConfState, readonly maxInflight: number) {
    this.setConf(conf);
  }

  setConf(conf: ConfState): void {
    this.voters = [...new Set(conf.voters)].sort((a, b) => a - b);
    const voterSet = new Set(this.voters);
    this.learners = [...new Set(conf.learners)].filter((id) => !voterSet.has(id)).sort((a, b) =>
      a - b
    );
  }

  confState(): ConfState {
    return { voters: [...this.voters], learners: [...this.learners] };
  }

  isVoter(id: NodeId): boolean {
    return this.voters.includes(id);
  }

  isMember(id: NodeId): boolean {
    return this.voters.includes(id) || this.learners.includes(id);
  }

  members(): NodeId[] {
    return [...this.voters, ...this.learners];
  }

  /** Starts tracking every member afresh, as a new leader does (thesis 3.5). */
  resetProgress(next: number, self: NodeId, selfMatch: number): void {
    this.progress.clear();
    for (const id of this.members()) this.addProgress(id, next);
    const me = this.progress.get(self);
    if (me) {
      me.match = selfMatch;
      me.next = next;
    }
  }

  /** Adds progress for a member that has none yet; keeps existing progress. */
  addProgress(id: NodeId, next: number): void {
    const existing = this.progress.get(id);
    if (existing) {
      existing.isLearner = !this.isVoter(id);
      return;
    }
    const p = new Progress(next, this.maxInflight, !this.isVoter(id));
    this.progress.set(id, p);
  }

  /** Drops the progress of nodes that are no longer members. */
  pruneProgress(): void {
    for (const id of [...this.progress.keys()]) {
      if (!this.isMember(id)) this.progress.delete(id);
    }
  }

  /** The highest index that a majority of voters has in its log. */
  committed(): number {
    return committedIndex(this.voters, (id) => this.progress.get(id)?.match ?? 0);
  }

  /** Whether a majority of voters was heard from recently; clears the flags for next time. */
  quorumActive(self: NodeId): boolean {
    const active = new Map<NodeId, boolean>();
    for (const id of this.voters) {
      const p = this.progress.get(id);
      active.set(id, id === self || (p?.recentActive ?? false));
    }
    for (const [id, p] of this.progress) if (id !== self) p.recentActive = false;
    return voteResult(this.voters, active) === "won";
  }

  resetVotes(): void {
    this.votes.clear();
  }

  recordVote(id: NodeId, granted: boolean): void {
    if (!this.votes.has(id)) this.votes.set(id, granted);
  }

  tallyVotes(): VoteResult {
    return voteResult(this.voters, this.votes);
  }
}
