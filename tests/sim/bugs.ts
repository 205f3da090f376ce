/**
 * Deliberate bugs, for proving that each of the simulator's checks can fail: a subclass of the
 * core that breaks one rule, built through `RawNode`'s `newRaft` and `RaftNode`'s `core`
 * option. Nothing of this lives in src/raft; the core only names each rule as a method.
 *
 * @module
 */

import type { RaftConfig } from "../../src/raft/config.ts";
import { Raft, type StoredState } from "../../src/raft/raft.ts";
import { RaftInvariantError } from "../../src/raft/raft_log.ts";
import { RawNode } from "../../src/raft/raw_node.ts";
import { voteResult } from "../../src/raft/quorum/majority.ts";
import type { Entry, Message, MessageType, NodeId } from "../../src/raft/types.ts";

/** The rule each bug breaks, and the check expected to notice. */
export const BUGS = {
  /** Grant a vote after voting for someone else in the same term (election safety). */
  voteTwice: "election safety",
  /**
   * Commit entries of older terms by counting replicas, with no no-op of the leader's own term
   * to commit through (paper, figure 8: state machine safety).
   */
  commitOldTerm: "state machine safety",
  /** Grant votes without the log up-to-date check (leader completeness). */
  skipUpToDateCheck: "leader completeness",
  /** Accept AppendEntries without checking the previous entry's term (log matching). */
  skipPrevLogCheck: "log matching",
  /** A leader takes a stale leader's AppendEntries into its own log (leader append-only). */
  leaderAcceptsStaleAppend: "leader append-only",
  /**
   * A learner campaigns like a voter (the voters' votes elect it): a learner leads (election
   * safety across configurations; needs membership changes to have learners).
   */
  learnerCampaigns: "election safety",
  /**
   * A candidate asks the learners too and counts their votes as voters' (election safety: a
   * leader without a majority of the voters).
   */
  learnerVotes: "election safety",
} as const;

/** The name of a deliberate bug. */
export type BugName = keyof typeof BUGS;

/** Whether `name` names a deliberate bug. */
export function isBugName(name: string): name is BugName {
  return Object.hasOwn(BUGS, name);
}

/**
 * The core with one rule broken.
 *
 * @example
 * ```ts
 * import { BuggyRaft } from "./bugs.ts";
 * import { withDefaults } from "../../src/raft/config.ts";
 * const r = new BuggyRaft(withDefaults({ id: 1, random: () => 0 }), {
 *   hardState: { term: 0, vote: 0, commit: 0 }, entries: [], conf: { voters: [1], learners: [] },
 * }, "voteTwice");
 * console.log(r.bug); // "voteTwice"
 * ```
 */
export class BuggyRaft extends Raft {
  constructor(cfg: RaftConfig, stored: StoredState, readonly bug: BugName) {
    super(cfg, stored);
  }

  override send(m: Partial<Message> & { type: MessageType; to: NodeId }): void {
    super.send(m);
    const asking = m.type === "vote" || m.type === "preVote";
    if (this.bug !== "learnerVotes" || !asking) return;
    // Once per round: along with the request to the first other voter.
    if (m.to !== this.tracker.voters.find((v) => v !== this.id)) return;
    for (const to of this.tracker.learners) if (to !== this.id) super.send({ ...m, to });
  }

  override poll(from: NodeId, granted: boolean): "won" | "lost" | "pending" {
    if (this.bug !== "learnerVotes") return super.poll(from, granted);
    this.tracker.recordVote(from, granted);
    return voteResult([...this.tracker.voters, ...this.tracker.learners], this.tracker.votes);
  }

  override promotable(): boolean {
    return this.bug === "learnerCampaigns" || super.promotable();
  }

  protected override mayVoteFor(m: Message): boolean {
    if (this.bug === "voteTwice" && m.term === this.term && this.role === "follower") return true;
    return super.mayVoteFor(m);
  }

  protected override candidateUpToDate(m: Message): boolean {
    return this.bug === "skipUpToDateCheck" || super.candidateUpToDate(m);
  }

  protected override appendLeaderNoop(): void {
    if (this.bug !== "commitOldTerm") super.appendLeaderNoop();
  }

  protected override commitsThrough(index: number): boolean {
    return this.bug === "commitOldTerm" || super.commitsThrough(index);
  }

  override appendFromLeader(m: Message): number | undefined {
    const log = this.log;
    if (this.bug !== "skipPrevLogCheck" || m.index > log.lastIndex()) {
      return super.appendFromLeader(m);
    }
    // RaftLog.maybeAppend without its first line, the check of the previous entry's term.
    const lastNew = m.index + m.entries.length;
    const conflict = log.findConflict(m.entries);
    if (conflict !== 0) {
      if (conflict <= log.committed) {
        throw new RaftInvariantError(`raft log: entry ${conflict} conflicts with committed ones`);
      }
      log.append(m.entries.slice(conflict - m.entries[0].index));
    }
    log.commitTo(Math.min(m.commit, lastNew));
    return lastNew;
  }

  protected override stepStale(m: Message): void {
    if (this.bug !== "leaderAcceptsStaleAppend" || this.role !== "leader" || m.type !== "app") {
      return super.stepStale(m);
    }
    // Overwrite the leader's own log from the first differing entry, committed or not.
    const log = this.log;
    const conflict = log.findConflict(m.entries);
    if (conflict > log.offset && conflict <= log.lastIndex() + 1) {
      overwrite(this, m.entries.filter((e) => e.index >= conflict));
    }
  }
}

/** RaftLog.append without its guard against rewriting committed entries. */
function overwrite(r: Raft, ents: Entry[]): void {
  const log = r.log;
  if (ents.length === 0) return;
  const after = ents[0].index - 1;
  log.store.truncateAfter(after);
  for (const e of ents) log.store.push(e);
  if (log.stabled > after) log.stabled = after;
}

/**
 * A core factory for `RaftNode`'s `core` option: the real `RawNode` around a buggy core.
 *
 * @example
 * ```ts
 * import { buggyCore } from "./bugs.ts";
 * const core = buggyCore("voteTwice"); // RaftNode.start({ ..., core })
 * ```
 */
export function buggyCore(bug: BugName): (cfg: RaftConfig, stored: StoredState) => RawNode {
  return (cfg, stored) => new RawNode(cfg, stored, (c, s) => new BuggyRaft(c, s, bug));
}
