/**
 * The interface a driver uses to run the Raft core (modelled on etcd-io/raft's RawNode):
 * inputs are ticks, messages and requests; output is a {@linkcode Ready} to act on.
 *
 * @module
 */

import type { CampaignState } from "./campaign_log.ts";
import type { RaftConfig } from "./config.ts";
import { newMessage } from "./message.ts";
import { Raft, type StoredState } from "./raft.ts";
import { RaftInvariantError } from "./raft_log.ts";
import { bcastAppend, commitAndRelease, sendWaitingSnapshots } from "./step_leader.ts";
import type {
  ConfChange,
  ConfState,
  Entry,
  HardState,
  Message,
  MessageType,
  NodeId,
  Ready,
  Role,
  Snapshot,
  SoftState,
} from "./types.ts";
import { NONE } from "./types.ts";

/** Thrown by `propose` when the proposal cannot be taken now; the caller may retry elsewhere. */
export class ProposalDroppedError extends Error {
  override name = "ProposalDroppedError";
}

/** Message types that only the local driver may inject, never a peer. */
const LOCAL_ONLY: ReadonlySet<MessageType> = new Set([
  "hup",
  "beat",
  "unreachable",
  "peerDown",
  "snapStatus",
]);

/** A snapshot of a follower's replication progress, for status pages. */
export interface ProgressStatus {
  match: number;
  next: number;
  state: string;
  recentActive: boolean;
  isLearner: boolean;
}

/** What the node is doing, for `/v1/cluster` and logs. */
export interface Status {
  id: NodeId;
  term: number;
  vote: NodeId;
  commit: number;
  /**
   * The leader's commit index as last heard in this term (on the leader, its own; 0 while
   * none is known): how far this node must apply to have caught up.
   */
  leaderCommit: number;
  applied: number;
  lastIndex: number;
  leader: NodeId;
  role: Role;
  conf: ConfState;
  /** Only on the leader. */
  progress: Map<NodeId, ProgressStatus>;
}

/**
 * A read-only view of a core's role and log, for observers such as the simulator's safety
 * checks: they read what they need through these names, not through the core's fields.
 *
 * @example
 * ```ts
 * import type { CoreView } from "./raw_node.ts";
 * const isLeaderOf = (v: CoreView, term: number) => v.role === "leader" && v.term === term;
 * ```
 */
export interface CoreView {
  readonly role: string;
  readonly term: number;
  /** The leader this core knows of (0: none). */
  readonly leader: NodeId;
  /** The highest index known to be committed. */
  readonly committed: number;
  /** The index of the snapshot the log starts after (0: none). */
  readonly offset: number;
  /** The term of the entry at `offset`. */
  readonly offsetTerm: number;
  /** The highest index the driver has reported durable (`advance`, `persisted`). */
  readonly stabled: number;
  /** The highest index handed to the driver to persist (at least `stabled`). */
  readonly inProgress: number;
  /** The snapshot the log starts after, if it keeps one. */
  readonly snapshot: Snapshot | undefined;
  /** The membership now (a copy). */
  confState(): ConfState;
  /** The index of the last entry. */
  lastIndex(): number;
  /** The entry at `index`, undefined if compacted away or beyond the end. */
  entry(index: number): Entry | undefined;
  /** The term at `index`, undefined if unknown. */
  termAt(index: number): number | undefined;
}

/**
 * Runs one Raft node. The driver calls `tick()` on a timer, `step()` for each message from a
 * peer, and after any input drains `ready()`, acts on it in order, then calls `advance()`.
 *
 * @example
 * ```ts
 * import { RawNode } from "./raw_node.ts";
 * import { withDefaults } from "./config.ts";
 * const node = new RawNode(withDefaults({ id: 1, random: () => 0 }), {
 *   hardState: { term: 0, vote: 0, commit: 0 }, entries: [], conf: { voters: [1], learners: [] },
 * });
 * while (node.status().role !== "leader") {
 *   node.tick();
 *   if (node.hasReady()) node.advance(node.ready());
 * }
 * node.propose(new TextEncoder().encode("hello"));
 * ```
 */
export class RawNode {
  // Private: the driver reads the core through `view` and `status()`, and acts on it through
  // the methods below, as etcd-io/raft's RawNode does (docs/architecture.md#the-layers).
  readonly #raft: Raft;
  #prevHard: HardState;
  #prevSoft: SoftState;
  #outstanding = false;
  #view?: CoreView;

  /**
   * `newRaft` builds the core it runs; the default is the `Raft` class itself (the simulator's
   * mutation survey passes a subclass with a deliberate bug, defined in tests/sim/bugs.ts).
   */
  constructor(
    cfg: RaftConfig,
    stored: StoredState,
    newRaft: (cfg: RaftConfig, stored: StoredState) => Raft = (c, s) => new Raft(c, s),
  ) {
    this.#raft = newRaft(cfg, stored);
    this.#prevHard = { ...stored.hardState };
    this.#prevSoft = { leader: NONE, role: "follower" };
  }

  /** A live, read-only view of the core's role and log (see {@linkcode CoreView}). */
  get view(): CoreView {
    return this.#view ??= this.#makeView();
  }

  #makeView(): CoreView {
    const r = this.#raft;
    return {
      get role() {
        return r.role;
      },
      get term() {
        return r.term;
      },
      get leader() {
        return r.lead;
      },
      get committed() {
        return r.log.committed;
      },
      get offset() {
        return r.log.offset;
      },
      get offsetTerm() {
        return r.log.offsetTerm;
      },
      get stabled() {
        return r.log.stabled;
      },
      get inProgress() {
        return Math.max(r.log.inProgress, r.log.stabled);
      },
      get snapshot() {
        return r.log.snapshot;
      },
      confState: () => r.tracker.confState(),
      lastIndex: () => r.log.lastIndex(),
      entry: (index) => r.log.entry(index),
      termAt: (index) => r.log.term(index),
    };
  }

  /** Advances logical time by one tick. */
  tick(): void {
    this.#raft.tick();
  }

  /** Starts an election now (for tests and operators; elections normally follow timeouts). */
  campaign(): void {
    this.#raft.step(this.#local("hup"));
  }

  /**
   * Hands the core a message from a peer. Returns false, changing nothing, for kinds only the
   * driver may inject and for messages without a sender.
   */
  step(m: Message): boolean {
    if (LOCAL_ONLY.has(m.type) || m.from === NONE || m.to !== this.#raft.id) return false;
    this.#raft.step(m);
    return true;
  }

  /** Proposes a command for the log. Throws ProposalDroppedError when no leader can take it. */
  propose(data: Uint8Array): void {
    this.#propose("normal", data);
  }

  /** Proposes a membership change (one at a time; see `applyConfChange`). */
  proposeConfChange(cc: ConfChange): void {
    this.#propose("conf", new TextEncoder().encode(JSON.stringify(cc)));
  }

  #propose(type: "normal" | "conf", data: Uint8Array): void {
    const r = this.#raft;
    if (r.role === "leader" && r.leadTransferee !== NONE) {
      throw new ProposalDroppedError("leadership transfer in progress");
    }
    if (r.role !== "leader" && (r.role !== "follower" || r.lead === NONE)) {
      throw new ProposalDroppedError("no leader");
    }
    if (type === "conf" && r.role === "leader" && r.pendingConfIndex > r.log.applied) {
      throw new ProposalDroppedError("a membership change is still pending");
    }
    r.step({ ...this.#local("prop"), entries: [{ term: 0, index: 0, type, data }] });
  }

  /**
   * Asks for a linearizable read point. When confirmed, a `ReadState` with this `context`
   * appears in a Ready; serve the read once that index is applied. Use a context unique on this node: the
   * answer is matched by it (other nodes' contexts may be equal, the leader tells them apart).
   */
  readIndex(context: Uint8Array): void {
    this.#raft.step({ ...this.#local("readIndex"), context });
  }

  /** Asks the leader to hand leadership to `target` (thesis 3.10). */
  transferLeader(target: NodeId): void {
    this.#raft.step({ ...this.#local("transferLeader"), from: target });
  }

  /** Tells the core that `peer` could not be reached, so the leader goes back to probing it. */
  reportUnreachable(peer: NodeId): void {
    this.#raft.step({ ...this.#local("unreachable"), from: peer });
  }

  /**
   * Tells the core that the connection to `peer` was lost (a killed process's sockets close at
   * once). A follower whose leader that is campaigns within a few ticks instead of a whole
   * election timeout; see `Raft.leaderDown`.
   */
  reportPeerDown(peer: NodeId): void {
    this.#raft.step({ ...this.#local("peerDown"), from: peer });
  }

  /** Tells the leader whether sending a snapshot to `peer` failed. */
  reportSnapshot(peer: NodeId, ok: boolean): void {
    this.#raft.step({ ...this.#local("snapStatus"), from: peer, reject: !ok });
  }

  /** Applies a committed membership change; call it when the `conf` entry is applied. */
  applyConfChange(cc: ConfChange): ConfState {
    return this.#raft.applyConfChange(cc);
  }

  /**
   * Compacts the log up to `index` (already applied), keeping `data` as the state machine
   * snapshot at that index. Returns the snapshot for the driver to persist.
   */
  compact(index: number, data: Uint8Array): Snapshot {
    const r = this.#raft;
    const term = r.log.term(index);
    if (term === undefined) throw new RaftInvariantError(`raft: cannot compact at ${index}`);
    const snap: Snapshot = { metadata: { index, term, conf: r.tracker.confState() }, data };
    r.log.compact(snap);
    return snap;
  }

  /**
   * Drops the snapshot's data from memory, keeping its metadata: the driver has it on disk
   * (durably, at this index) and hands it back when the leader needs it to catch a follower
   * up (`Ready.wantSnapshot`, then `provideSnapshotData`). A snapshot of a large state is
   * ~100 MB that nothing else reads. Returns whether there was data to drop.
   */
  releaseSnapshotData(): boolean {
    const log = this.#raft.log;
    if (!log.snapshot || !log.snapshotDataHeld) return false;
    log.snapshot = { metadata: log.snapshot.metadata, data: new Uint8Array(0) };
    log.snapshotDataHeld = false;
    return true;
  }

  /**
   * Hands back the released data of the current snapshot (read from disk), and sends the next
   * chunk to each follower waiting for it. Returns false, changing nothing, when `snapshot` is
   * not the one the log starts after (a newer one replaced it meanwhile).
   */
  provideSnapshotData(snapshot: Snapshot): boolean {
    const r = this.#raft;
    const current = r.log.snapshot;
    if (
      !current || r.log.snapshotDataHeld || current.metadata.index !== snapshot.metadata.index ||
      current.metadata.term !== snapshot.metadata.term
    ) return false;
    r.log.snapshot = { metadata: current.metadata, data: snapshot.data };
    r.log.snapshotDataHeld = true;
    r.snapshotWanted = 0;
    sendWaitingSnapshots(r);
    return true;
  }

  /** Whether the snapshot's data is in memory (see `releaseSnapshotData`). */
  get snapshotDataHeld(): boolean {
    return this.#raft.log.snapshotDataHeld;
  }

  /** Whether this node leads and a follower is being sent the snapshot. */
  sendingSnapshot(): boolean {
    const r = this.#raft;
    if (r.role !== "leader") return false;
    for (const [id, pr] of r.tracker.progress) {
      if (id !== r.id && pr.state === "snapshot") return true;
    }
    return false;
  }

  #local(type: MessageType): Message {
    return newMessage({ type, from: this.#raft.id, to: this.#raft.id });
  }

  #softState(): SoftState {
    return { leader: this.#raft.lead, role: this.#raft.role };
  }

  /** Whether there is anything for the driver to do. */
  hasReady(): boolean {
    const r = this.#raft;
    const hs = r.hardState();
    const ss = this.#softState();
    return r.msgs.length > 0 || r.readStates.length > 0 ||
      r.log.pendingSnapshot !== undefined || r.snapshotWanted !== 0 ||
      r.log.hasUnstable() ||
      r.log.committed > Math.max(r.log.applying, r.log.offset) ||
      hs.term !== this.#prevHard.term || hs.vote !== this.#prevHard.vote ||
      hs.commit !== this.#prevHard.commit ||
      ss.leader !== this.#prevSoft.leader || ss.role !== this.#prevSoft.role;
  }

  /**
   * Collects what the driver must do now. Call `advance` with it before the next `ready`.
   * Entries and commits handed out here are never handed out again.
   */
  ready(): Ready {
    if (this.#outstanding) throw new RaftInvariantError("raft: ready() before advance()");
    this.#outstanding = true;
    const r = this.#raft;
    const hs = r.hardState();
    const ss = this.#softState();
    const rd: Ready = {
      entries: r.log.unstableEntries(),
      committedEntries: r.log.nextCommitted(r.cfg.maxCommittedSizePerReady),
      messages: r.msgs,
      readStates: r.readStates,
    };
    if (
      hs.term !== this.#prevHard.term || hs.vote !== this.#prevHard.vote ||
      hs.commit !== this.#prevHard.commit
    ) {
      rd.hardState = hs;
    }
    if (ss.leader !== this.#prevSoft.leader || ss.role !== this.#prevSoft.role) {
      rd.softState = ss;
      this.#prevSoft = ss;
    }
    if (r.log.pendingSnapshot) {
      rd.snapshot = r.log.pendingSnapshot;
      r.log.pendingSnapshot = undefined;
    }
    if (r.snapshotWanted !== 0) {
      rd.wantSnapshot = r.snapshotWanted;
      r.snapshotWanted = 0;
    }
    r.msgs = [];
    r.readStates = [];
    const lastCommitted = rd.committedEntries.at(-1);
    if (lastCommitted) r.log.applying = lastCommitted.index;
    const lastEntry = rd.entries.at(-1);
    if (lastEntry) r.log.inProgress = lastEntry.index;
    return rd;
  }

  /**
   * Tells the core that everything in `rd` was persisted and its committed entries applied. With
   * `entriesPersisted: false` the driver is still writing `rd.entries` (a leader that does not
   * wait for its own disk, etcd-io/raft's AsyncStorageWrites): they are not handed out again,
   * and count as on disk only once the driver calls `persisted`.
   */
  advance(rd: Ready, options: { entriesPersisted?: boolean } = {}): void {
    if (!this.#outstanding) throw new RaftInvariantError("raft: advance() without ready()");
    this.#outstanding = false;
    if (rd.hardState) this.#prevHard = rd.hardState;
    // The driver applied the Ready's committed entries before calling this: only now does a
    // membership change among them stop counting as pending (simulator seed 14657: a new
    // leader accepted a second change while its disk write held the first one unapplied).
    const lastCommitted = rd.committedEntries.at(-1);
    const log = this.#raft.log;
    if (lastCommitted && lastCommitted.index > log.applied) log.applied = lastCommitted.index;
    const last = rd.entries.at(-1);
    if (last && options.entriesPersisted !== false) this.#raft.log.stableTo(last.index, last.term);
    this.#countOwnCopy();
  }

  /**
   * Tells the core that its log up to `index` (whose entry has `term`) is on disk: a write the
   * driver did not wait for has ended. Ignored when the log changed under it meanwhile.
   */
  persisted(index: number, term: number): void {
    this.#raft.log.stableTo(index, term);
    this.#countOwnCopy();
  }

  #countOwnCopy(): void {
    const r = this.#raft;
    if (r.role === "leader") {
      // Thesis 10.2.1: the leader counts its own copy only once it is on disk.
      const self = r.tracker.progress.get(r.id);
      if (self && self.maybeUpdate(r.log.stabled) && commitAndRelease(r)) bcastAppend(r);
    }
  }

  /**
   * How this node's elections go (campaigns started, back-off, the timeout drawn), for the
   * driver's logs: `campaignEvents` (`campaign_log.ts`) turns two of these into log lines.
   */
  campaignState(): CampaignState {
    return this.#raft.campaignState();
  }

  /** A summary of the node's state. */
  status(): Status {
    const r = this.#raft;
    const progress = new Map<NodeId, ProgressStatus>();
    if (r.role === "leader") {
      for (const [id, p] of r.tracker.progress) {
        progress.set(id, {
          match: p.match,
          next: p.next,
          state: p.state,
          recentActive: p.recentActive,
          isLearner: p.isLearner,
        });
      }
    }
    return {
      id: r.id,
      term: r.term,
      vote: r.vote,
      commit: r.log.committed,
      leaderCommit: r.role === "leader" ? r.log.committed : r.leaderCommit,
      applied: r.log.applying,
      lastIndex: r.log.lastIndex(),
      leader: r.lead,
      role: r.role,
      conf: r.tracker.confState(),
      progress,
    };
  }
}
