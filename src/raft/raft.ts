/**
 * The Raft protocol as one deterministic state machine: `step(message)` and `tick()` change
 * state and queue outgoing messages; nothing here does I/O or reads a clock.
 *
 * Roles are handled by the per-role step functions in `step_leader.ts` and
 * `step_follower.ts`; this file holds the state, role changes, elections and the handling of
 * terms that is common to all roles (Raft paper, figure 2 "Rules for all servers").
 *
 * @module
 */

import type { CampaignState } from "./campaign_log.ts";
import type { RaftConfig } from "./config.ts";
import { newMessage } from "./message.ts";
import { RaftInvariantError, RaftLog } from "./raft_log.ts";
import { ReadOnlyQueue } from "./read_only.ts";
import { stepCandidate, stepFollower } from "./step_follower.ts";
import { bcastAppend, stepLeader, transferLeader } from "./step_leader.ts";
import { ProgressTracker } from "./tracker/tracker.ts";
import {
  type ConfChange,
  type ConfState,
  type Entry,
  type HardState,
  type Message,
  type MessageType,
  type NodeId,
  NONE,
  type ReadState,
  type Role,
  type Snapshot,
  type SnapshotMetadata,
} from "./types.ts";

/** The context of a vote that a leadership transfer asked for: it may break a leader lease. */
export const TRANSFER_CONTEXT: Uint8Array = new TextEncoder().encode("transfer");

function isTransfer(ctx: Uint8Array | undefined): boolean {
  return ctx !== undefined && ctx.length === TRANSFER_CONTEXT.length &&
    ctx.every((b, i) => b === TRANSFER_CONTEXT[i]);
}

/** What a node had on disk when it started, plus the membership to boot with if it has none. */
export interface StoredState {
  hardState: HardState;
  snapshot?: Snapshot;
  entries: Entry[];
  /** The membership to start with when there is no snapshot (a new cluster's peers). */
  conf: ConfState;
}

/** A snapshot that is arriving in chunks from the leader. */
interface IncomingSnapshot {
  metadata: SnapshotMetadata;
  buf: Uint8Array;
  received: number;
}

/**
 * One node's Raft state. Drive it through {@linkcode RawNode}; the fields are public so that the
 * role step functions and tests can read them.
 *
 * @example
 * ```ts
 * import { Raft } from "./raft.ts";
 * import { withDefaults } from "./config.ts";
 * const r = new Raft(withDefaults({ id: 1, random: () => 0 }), {
 *   hardState: { term: 0, vote: 0, commit: 0 }, entries: [], conf: { voters: [1], learners: [] },
 * });
 * for (let i = 0; i < 40 && r.role !== "leader"; i++) r.tick();
 * console.log(r.role); // "leader"
 * ```
 */
export class Raft {
  readonly id: NodeId;
  term = 0;
  vote: NodeId = NONE;
  lead: NodeId = NONE;
  role: Role = "follower";
  readonly log: RaftLog;
  readonly tracker: ProgressTracker;
  /** Messages to send, drained by each Ready. */
  msgs: Message[] = [];
  /** Confirmed linearizable reads, drained by each Ready. */
  readStates: ReadState[] = [];
  readonly readOnly = new ReadOnlyQueue();
  /** Reads that arrived before this leader committed an entry of its own term. */
  pendingReadIndex: Message[] = [];
  electionElapsed = 0;
  heartbeatElapsed = 0;
  randomizedElectionTimeout = 0;
  /**
   * Doublings of the election timeout after consecutive failed campaigns (at most
   * `cfg.electionBackoffLimit`): 0 once a leader is heard of.
   */
  electionBackoff = 0;
  /** Campaigns (pre-votes and votes) this node started, for the driver's logs and metrics. */
  campaigns = 0;
  /**
   * Ticks a leader waits between its check-quorum rounds: the election timeout it won with,
   * so that a leader elected across round trips longer than the base timeout does not step
   * down before its followers' first answers can arrive.
   */
  quorumCheckTicks = 0;
  /** Whether the election timer started a campaign since a leader was last heard of. */
  #campaignedWithoutLeader = false;
  /** The node a leadership transfer is handing over to, or NONE. */
  leadTransferee: NodeId = NONE;
  /** The index of the last membership change proposed; a new one waits until it is applied. */
  pendingConfIndex = 0;
  /**
   * The highest commit index heard from the leader of this term (AppendEntries, heartbeats and
   * snapshots carry it); 0 until one is heard. A follower that lags, after a restart say,
   * learns its own commit index only as its log catches up, so this says how far behind it is.
   */
  leaderCommit = 0;
  /** All ticks since start; used to pace snapshot chunk resends. */
  ticks = 0;
  /**
   * The index of a snapshot the leader could not send for lack of its released data: the
   * driver reads it from disk and hands it back (`Ready.wantSnapshot`). 0: none wanted.
   */
  snapshotWanted = 0;
  incomingSnapshot?: IncomingSnapshot;

  constructor(readonly cfg: RaftConfig, stored: StoredState) {
    this.id = cfg.id;
    this.log = RaftLog.restore(stored.snapshot, stored.entries, stored.hardState.commit);
    this.tracker = new ProgressTracker(
      stored.snapshot?.metadata.conf ?? stored.conf,
      cfg.maxInflightMsgs,
    );
    this.term = stored.hardState.term;
    this.vote = stored.hardState.vote;
    this.becomeFollower(this.term, NONE);
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  /** Whether this node may become leader: only voters campaign. */
  promotable(): boolean {
    return this.tracker.isVoter(this.id);
  }

  // ---- role changes ------------------------------------------------------------------------

  #reset(term: number): void {
    if (term !== this.term) {
      this.term = term;
      this.vote = NONE;
      this.leaderCommit = 0;
    }
    this.lead = NONE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.#randomizeElectionTimeout();
    this.leadTransferee = NONE;
    this.tracker.resetVotes();
    this.readOnly.clear();
    this.pendingReadIndex = [];
  }

  /**
   * A new timeout in [base, 2 * base), base being the configured one doubled once per failed
   * campaign: random so that nodes which failed together do not campaign together again.
   */
  #randomizeElectionTimeout(): void {
    const base = this.cfg.electionTicks * 2 ** this.electionBackoff;
    this.randomizedElectionTimeout = base + Math.floor(this.cfg.random() * base);
  }

  /**
   * The transport lost its connection to this follower's leader. A process that is killed
   * closes its sockets at once, so this is usually the first sign of a crashed leader, an
   * election timeout before the silence would tell. The lease this node holds for the leader
   * ends (it grants other nodes' votes again) and it campaigns within a few ticks, at a random
   * one, so that followers who lost the leader together do not campaign together.
   *
   * Pre-vote keeps this harmless when only this node's connection dropped: a follower still in
   * touch with the leader keeps its lease and refuses, as does the leader, and the leader's
   * next message resets this node's timer (docs/architecture.md#failure-detection).
   */
  leaderDown(): void {
    const jitter = Math.max(2, Math.ceil(this.cfg.electionTicks / 2));
    this.electionElapsed = Math.max(this.electionElapsed, this.cfg.electionTicks);
    this.randomizedElectionTimeout = this.electionElapsed + 1 +
      Math.floor(this.cfg.random() * jitter);
  }

  /** A leader is known (heard from, or this node): the next campaign starts from scratch. */
  leaderKnown(): void {
    this.#campaignedWithoutLeader = false;
    if (this.electionBackoff === 0) return;
    this.electionBackoff = 0;
    // Notice the leader's failure as soon as a node that never backed off would.
    this.#randomizeElectionTimeout();
  }

  becomeFollower(term: number, lead: NodeId): void {
    this.#reset(term);
    this.role = "follower";
    this.lead = lead;
  }

  becomePreCandidate(): void {
    if (this.role === "leader") throw new RaftInvariantError("raft: leader cannot pre-campaign");
    // A pre-candidate changes neither term nor vote: losing must leave no trace (thesis 9.6).
    this.tracker.resetVotes();
    this.role = "preCandidate";
    this.lead = NONE;
  }

  becomeCandidate(): void {
    if (this.role === "leader") throw new RaftInvariantError("raft: leader cannot campaign");
    this.#reset(this.term + 1);
    this.vote = this.id;
    this.role = "candidate";
  }

  becomeLeader(): void {
    if (this.role === "follower") throw new RaftInvariantError("raft: follower cannot lead");
    // Check-quorum waits as long as the election this leader won did (see quorumCheckTicks).
    this.quorumCheckTicks = this.cfg.electionTicks * 2 ** this.electionBackoff;
    this.leaderKnown();
    this.#reset(this.term);
    this.role = "leader";
    this.lead = this.id;
    const last = this.log.lastIndex();
    this.tracker.resetProgress(last + 1, this.id, this.log.stabled);
    this.tracker.progress.get(this.id)?.becomeReplicate();
    // Membership changes wait until every entry this leader inherited is applied, as in
    // etcd-io/raft (docs/architecture.md#the-raft-core).
    this.pendingConfIndex = last;
    this.appendLeaderNoop();
  }

  /**
   * A new leader's first entry: an empty one of its own term, through which it commits what
   * earlier terms left (paper 5.4.2, figure 8) and which lets it serve reads (thesis 6.4).
   */
  protected appendLeaderNoop(): void {
    this.appendEntries([{ term: 0, index: 0, type: "normal", data: new Uint8Array() }]);
  }

  /** Appends new entries at the end of the leader's log, stamping term and index. */
  appendEntries(ents: Entry[]): void {
    let index = this.log.lastIndex();
    const stamped = ents.map((e) => ({ ...e, term: this.term, index: ++index }));
    this.log.append(stamped);
  }

  // ---- elections ---------------------------------------------------------------------------

  /**
   * Starts an election (or a pre-vote first), unless this node may not lead right now; returns
   * whether it did.
   */
  hup(transfer: boolean): boolean {
    if (this.role === "leader" || !this.promotable()) return false;
    if (this.#hasUnappliedConfChange()) return false;
    if (this.cfg.preVote && !transfer) this.campaign("preVote", false);
    else this.campaign("vote", transfer);
    return true;
  }

  #hasUnappliedConfChange(): boolean {
    for (let i = this.log.applied + 1; i <= this.log.committed; i++) {
      if (this.log.entryType(i) === "conf") return true;
    }
    return false;
  }

  campaign(kind: "preVote" | "vote", transfer: boolean): void {
    this.campaigns++;
    let term: number;
    if (kind === "preVote") {
      this.becomePreCandidate();
      term = this.term + 1; // the term it would campaign in; its own term is unchanged
    } else {
      this.becomeCandidate();
      term = this.term;
    }
    this.tracker.recordVote(this.id, true);
    if (this.tracker.tallyVotes() === "won") {
      // A one-voter cluster wins at once.
      if (kind === "preVote") this.campaign("vote", transfer);
      else {
        this.becomeLeader();
        bcastAppend(this); // learners, if any
      }
      return;
    }
    for (const to of this.tracker.voters) {
      if (to === this.id) continue;
      this.send({
        type: kind,
        to,
        term,
        index: this.log.lastIndex(),
        logTerm: this.log.lastTerm(),
        context: transfer ? TRANSFER_CONTEXT : undefined,
      });
    }
  }

  /**
   * How this node's elections go, for the driver's logs (`campaign_log.ts`).
   *
   * @example
   * ```ts
   * import { Raft } from "./raft.ts";
   * import { withDefaults } from "./config.ts";
   * const r = new Raft(withDefaults({ id: 1, random: () => 0 }), {
   *   hardState: { term: 0, vote: 0, commit: 0 }, entries: [], conf: { voters: [1], learners: [] },
   * });
   * console.log(r.campaignState().campaigns); // 0
   * ```
   */
  campaignState(): CampaignState {
    return {
      role: this.role,
      term: this.term,
      leader: this.lead,
      campaigns: this.campaigns,
      electionBackoff: this.electionBackoff,
      electionTimeoutTicks: this.randomizedElectionTimeout,
    };
  }

  /** Counts a vote answer; returns the election's state. */
  poll(from: NodeId, granted: boolean): "won" | "lost" | "pending" {
    this.tracker.recordVote(from, granted);
    return this.tracker.tallyVotes();
  }

  // ---- messages ----------------------------------------------------------------------------

  /** Queues a message, filling in `from`, the defaults, and the term where the type wants it. */
  send(m: Partial<Message> & { type: MessageType; to: NodeId }): void {
    const msg = newMessage({ from: this.id, ...m });
    const explicitTerm = msg.type === "vote" || msg.type === "voteResp" ||
      msg.type === "preVote" || msg.type === "preVoteResp";
    // Proposals and reads forwarded to the leader travel without a term, as local messages do.
    if (!explicitTerm && msg.type !== "prop" && msg.type !== "readIndex") msg.term = this.term;
    this.msgs.push(msg);
  }

  /** The entry point for every message, local or remote. */
  step(m: Message): void {
    if (m.term === 0) {
      // local message, or a forwarded proposal / read
    } else if (m.term > this.term) {
      if (m.type === "vote" || m.type === "preVote") {
        const inLease = this.cfg.checkQuorum && this.lead !== NONE &&
          this.electionElapsed < this.cfg.electionTicks;
        // A node that heard from a leader recently ignores campaigns: this keeps a node that
        // rejoins from a partition from deposing a healthy leader (thesis 4.2.3).
        if (inLease && !isTransfer(m.context)) return;
      }
      if (m.type === "preVote" || (m.type === "preVoteResp" && !m.reject)) {
        // A pre-vote does not change terms; a granted pre-vote carries the future term.
      } else if (m.type === "app" || m.type === "heartbeat" || m.type === "snap") {
        this.becomeFollower(m.term, m.from);
      } else {
        this.becomeFollower(m.term, NONE);
      }
    } else if (m.term < this.term) {
      this.stepStale(m);
      return;
    }

    switch (m.type) {
      case "hup":
        this.hup(false);
        return;
      case "vote":
      case "preVote":
        this.#decideVote(m);
        return;
    }
    if (this.role === "leader") stepLeader(this, m);
    else if (this.role === "follower") stepFollower(this, m);
    else stepCandidate(this, m);
  }

  /** A message of an older term: at most answered, so its sender learns the newer term. */
  protected stepStale(m: Message): void {
    if (
      (this.cfg.checkQuorum || this.cfg.preVote) && (m.type === "app" || m.type === "heartbeat")
    ) {
      // A stale leader cut off by a partition learns the new term from this answer and steps
      // down; without it, with pre-vote on, the two could stay stuck.
      this.send({ type: "appResp", to: m.from });
    } else if (m.type === "preVote") {
      this.send({ type: "preVoteResp", to: m.from, term: this.term, reject: true });
    }
  }

  #decideVote(m: Message): void {
    const respType = m.type === "vote" ? "voteResp" : "preVoteResp";
    if (this.mayVoteFor(m) && this.candidateUpToDate(m)) {
      // The vote answer carries the candidate's term so it counts in that election.
      this.send({ type: respType, to: m.from, term: m.term });
      if (m.type === "vote") {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      this.send({ type: respType, to: m.from, term: this.term, reject: true });
    }
  }

  /**
   * One vote per term (paper 5.2): again for the same candidate, or a first vote while no
   * leader is known; a pre-vote for a later term binds nothing.
   */
  protected mayVoteFor(m: Message): boolean {
    return this.vote === m.from ||
      (this.vote === NONE && this.lead === NONE) ||
      (m.type === "preVote" && m.term > this.term);
  }

  /** The election restriction (paper 5.4.1): the candidate's log is at least as up to date. */
  protected candidateUpToDate(m: Message): boolean {
    return this.log.isUpToDate(m.index, m.logTerm);
  }

  /**
   * Appends a leader's AppendEntries if its previous entry matches this log (paper 5.3, log
   * matching); returns the index of the last new entry, or undefined for a mismatch.
   */
  appendFromLeader(m: Message): number | undefined {
    return this.log.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
  }

  // ---- time --------------------------------------------------------------------------------

  tick(): void {
    this.ticks++;
    if (this.role === "leader") this.#tickLeader();
    else this.#tickElection();
  }

  #tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      // The last campaign ended with no leader heard of: when round trips approach the
      // timeout, each new term starts before the last one's votes arrive, so wait longer.
      if (this.#campaignedWithoutLeader) {
        this.electionBackoff = Math.min(this.electionBackoff + 1, this.cfg.electionBackoffLimit);
      }
      const before = this.#campaignedWithoutLeader;
      this.#campaignedWithoutLeader = true; // cleared at once if this campaign wins at once
      if (!this.hup(false)) this.#campaignedWithoutLeader = before;
      // A pre-candidate keeps its term, so nothing else has drawn its next timeout.
      this.#randomizeElectionTimeout();
    }
  }

  #tickLeader(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.quorumCheckTicks) {
      this.electionElapsed = 0;
      if (!this.tracker.isVoter(this.id)) {
        // A leader that applied its own removal neither steps down for want of a quorum nor
        // gives up handing over: as a follower it could not campaign, and a voter still
        // counting it might never get its vote (see handOverIfRemoved). It tries again.
        this.tracker.quorumActive(this.id); // clears the flags, as a check would
        this.leadTransferee = NONE;
        this.handOverIfRemoved();
      } else if (this.cfg.checkQuorum && !this.tracker.quorumActive(this.id)) {
        // Check-quorum (thesis 6.2): a leader cut off from a majority steps down, so that
        // clients stop waiting on it and its lease-based promises end.
        this.becomeFollower(this.term, NONE);
        return;
      } else {
        this.leadTransferee = NONE; // a transfer that did not finish in time is abandoned
      }
    }
    if (this.heartbeatElapsed >= this.cfg.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      this.bcastHeartbeat();
    }
  }

  /**
   * Sends heartbeats; they carry the newest pending read's round, so one answer from each of a
   * quorum confirms every read queued so far, even if the answers to its own round were lost.
   */
  bcastHeartbeat(context = this.readOnly.lastContext()): void {
    for (const [id, pr] of this.tracker.progress) {
      if (id === this.id) continue;
      this.send({
        type: "heartbeat",
        to: id,
        commit: Math.min(pr.match, this.log.committed),
        // The whole commit index, which `commit` may not say: for the follower's status only.
        index: this.log.committed,
        context,
      });
    }
  }

  // ---- commit and membership ---------------------------------------------------------------

  /**
   * Advances the commit index to what a majority has, but only through an entry of the current
   * term (Raft paper 5.4.2, figure 8): older entries are committed indirectly by it.
   */
  maybeCommit(): boolean {
    const index = this.tracker.committed();
    if (index <= this.log.committed) return false;
    if (!this.commitsThrough(index)) return false;
    this.log.commitTo(index);
    return true;
  }

  /** Whether a majority's `index` may be committed by counting: only in the current term. */
  protected commitsThrough(index: number): boolean {
    return this.log.term(index) === this.term;
  }

  /** Whether this leader has committed an entry of its own term (needed for ReadIndex). */
  committedInCurrentTerm(): boolean {
    return this.log.term(this.log.committed) === this.term;
  }

  /** Changes membership as a committed `conf` entry is applied; returns the new membership. */
  applyConfChange(cc: ConfChange): ConfState {
    const voters = new Set(this.tracker.voters);
    const learners = new Set(this.tracker.learners);
    switch (cc.type) {
      case "addVoter":
        learners.delete(cc.nodeId);
        voters.add(cc.nodeId);
        break;
      case "addLearner":
        voters.delete(cc.nodeId);
        learners.add(cc.nodeId);
        break;
      case "removeNode":
        voters.delete(cc.nodeId);
        learners.delete(cc.nodeId);
        break;
    }
    this.tracker.setConf({ voters: [...voters], learners: [...learners] });
    // A leader this node just removed only hands over now: it is no longer followed here, nor
    // holds a lease over this node's votes (see stepFollower).
    if (this.role !== "leader" && !this.tracker.isMember(this.lead)) this.lead = NONE;
    if (this.role === "leader") {
      for (const id of this.tracker.members()) {
        this.tracker.addProgress(id, this.log.lastIndex() + 1);
      }
      this.tracker.pruneProgress();
      if (!this.tracker.isMember(this.leadTransferee)) this.leadTransferee = NONE;
      if (this.maybeCommit()) bcastAppend(this);
      this.handOverIfRemoved();
    }
    return this.tracker.confState();
  }

  /**
   * A leader that is no voter of its configuration any more (it applied its own removal,
   * proposed before it led) goes on leading, without counting itself, as the thesis has a
   * removed leader do until the change commits (4.2.2) and as etcd-io/raft does by default: it
   * takes no new entries and hands leadership to the remaining voter with the longest log,
   * which it first catches up (thesis 3.10; etcd-io/raft leaves this hand-over as a TODO in
   * switchToConfig). Stepping down at once instead left the others stuck when they had not
   * yet learned that the removal committed: they still count this node's vote, which it
   * refuses to a candidate lacking entries of its own log, and as no voter it does not
   * campaign itself (simulator seeds 11 and 10143). It steps down when a newer term reaches
   * it (followers that applied its removal elect one without it: see `stepFollower`), or its
   * driver stops it. Returns whether it is handing over.
   */
  handOverIfRemoved(): boolean {
    if (this.role !== "leader" || this.tracker.isVoter(this.id)) return false;
    if (this.leadTransferee !== NONE) return true;
    let target = NONE;
    let best = -1;
    for (const id of this.tracker.voters) {
      const match = this.tracker.progress.get(id)?.match ?? 0;
      if (match > best) [target, best] = [id, match];
    }
    if (target === NONE) {
      this.becomeFollower(this.term, NONE); // no voter left to hand over to
      return false;
    }
    transferLeader(this, target);
    return true;
  }
}
