/**
 * The data types of the Raft core: log entries, hard state, snapshots, messages and the
 * `Ready` batch that the core hands to its driver.
 *
 * Everything here is plain data (numbers, strings, arrays, `Uint8Array`), so that storage can
 * encode it with msgpack and the transport can send it without conversion.
 *
 * @module
 */

/** A node id. `0` means "nobody" (no vote, no known leader). */
export type NodeId = number;

/** The id that stands for "no node". */
export const NONE: NodeId = 0;

/** What an entry carries: an application command, or a membership change. */
export type EntryType = "normal" | "conf";

/**
 * One entry of the replicated log.
 *
 * @example
 * ```ts
 * import type { Entry } from "./types.ts";
 * const e: Entry = { term: 2, index: 7, type: "normal", data: new Uint8Array([1, 2]) };
 * ```
 */
export interface Entry {
  term: number;
  index: number;
  type: EntryType;
  /** The command. An empty array is the no-op a new leader appends. */
  data: Uint8Array;
}

/**
 * The state that must be on disk before the node sends any message that depends on it
 * (Raft paper, figure 2: currentTerm and votedFor; commit is kept for a faster restart).
 *
 * @example
 * ```ts
 * import type { HardState } from "./types.ts";
 * const hs: HardState = { term: 3, vote: 1, commit: 10 };
 * ```
 */
export interface HardState {
  term: number;
  vote: NodeId;
  commit: number;
}

/**
 * The cluster membership: who votes, and who only receives the log.
 *
 * @example
 * ```ts
 * import type { ConfState } from "./types.ts";
 * const cs: ConfState = { voters: [1, 2, 3], learners: [] };
 * ```
 */
export interface ConfState {
  voters: NodeId[];
  learners: NodeId[];
}

/** A membership change, carried in a `conf` entry as msgpack (see `conf_change.ts`). */
export interface ConfChange {
  type: "addVoter" | "addLearner" | "removeNode";
  nodeId: NodeId;
  /** Where the new node listens for peer traffic; opaque to the core. */
  context?: string;
}

/** Identifies the log prefix a snapshot replaces, and the membership at that point. */
export interface SnapshotMetadata {
  index: number;
  term: number;
  conf: ConfState;
}

/**
 * A state machine snapshot: everything applied up to and including `metadata.index`.
 *
 * @example
 * ```ts
 * import type { Snapshot } from "./types.ts";
 * const s: Snapshot = {
 *   metadata: { index: 100, term: 4, conf: { voters: [1, 2, 3], learners: [] } },
 *   data: new Uint8Array(),
 * };
 * ```
 */
export interface Snapshot {
  metadata: SnapshotMetadata;
  data: Uint8Array;
}

/**
 * The kinds of message. The first group travels between nodes; `hup`, `beat`, `prop`,
 * `readIndex`, `transferLeader`, `unreachable`, `peerDown` and `snapStatus` may also be local
 * inputs.
 */
export type MessageType =
  | "hup" // local: start an election (after an election timeout)
  | "beat" // local: the leader should send heartbeats
  | "prop" // a proposal (forwarded by a follower to the leader)
  | "app" // AppendEntries
  | "appResp"
  | "vote" // RequestVote
  | "voteResp"
  | "preVote"
  | "preVoteResp"
  | "snap" // one chunk of InstallSnapshot
  | "snapResp"
  | "heartbeat"
  | "heartbeatResp"
  | "readIndex"
  | "readIndexResp"
  | "transferLeader"
  | "timeoutNow"
  | "unreachable" // local: the transport could not reach `from`
  | "peerDown" // local: the transport lost its connection to `from` (its process may be gone)
  | "snapStatus"; // local: the transport reports the outcome of a snapshot send

/**
 * A Raft message. One shape for all kinds, as in etcd-io/raft: fields a kind does not use are
 * left at their zero value, so the codec and validator stay simple.
 *
 * @example
 * ```ts
 * import type { Message } from "./types.ts";
 * const m: Message = {
 *   type: "heartbeat", from: 1, to: 2, term: 5, logTerm: 0, index: 0,
 *   entries: [], commit: 9, reject: false, rejectHint: 0,
 * };
 * ```
 */
export interface Message {
  type: MessageType;
  from: NodeId;
  to: NodeId;
  term: number;
  /** app: term of the entry before `entries`; vote: last log term; appResp: hint term. */
  logTerm: number;
  /**
   * app: index of the entry before `entries`; vote: last log index; appResp: matched index;
   * heartbeat: the leader's commit index (`commit` is capped at the follower's match).
   */
  index: number;
  entries: Entry[];
  commit: number;
  reject: boolean;
  /** appResp with reject: the follower's last index (or the conflict index) as a hint. */
  rejectHint: number;
  /** snap: the chunk being installed. */
  snapshot?: SnapshotChunk;
  /** readIndex / heartbeat: the read request context that this message carries. */
  context?: Uint8Array;
}

/**
 * One chunk of a snapshot being installed (Raft paper, figure 13: offset, data, done).
 * `metadata` is repeated in every chunk so that the follower can tell snapshots apart.
 */
export interface SnapshotChunk {
  metadata: SnapshotMetadata;
  offset: number;
  data: Uint8Array;
  done: boolean;
  /** Total size of the snapshot data, so the receiver can allocate once. */
  total: number;
}

/** The role a node plays in its current term. */
export type Role = "follower" | "preCandidate" | "candidate" | "leader";

/** A linearizable read that may now be served once `index` has been applied. */
export interface ReadState {
  index: number;
  context: Uint8Array;
}

/** What the leader, term and role are; changes of it go into `Ready.softState`. */
export interface SoftState {
  leader: NodeId;
  role: Role;
}

/**
 * What the driver must do, in this order, before it calls `advance()`:
 * 1. persist `snapshot` (if any), then `entries` and `hardState` (if any), in one atomic write;
 * 2. send `messages`;
 * 3. apply `committedEntries` (and restore `snapshot` into the state machine first);
 * 4. answer `readStates` once their index has been applied.
 */
export interface Ready {
  softState?: SoftState;
  hardState?: HardState;
  /** Entries to append to stable storage; they may overwrite a suffix of the stored log. */
  entries: Entry[];
  snapshot?: Snapshot;
  /**
   * The index of the snapshot whose released data the leader needs to send it: read it from
   * disk and hand it over with `RawNode.provideSnapshotData`. Absent: none wanted.
   */
  wantSnapshot?: number;
  committedEntries: Entry[];
  messages: Message[];
  readStates: ReadState[];
}
