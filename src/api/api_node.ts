/**
 * What the API needs from a node: exactly the members it uses, so that the real `RaftNode`
 * satisfies it structurally and tests can pass an in-memory fake.
 *
 * @module
 */

import type { LockWaits } from "../node/lock_waits.ts";
import type { MemberInfo, MembershipAnswer, MembershipRequest } from "../node/membership.ts";
import type { RttSummary } from "../node/peer_rtt.ts";
import type { NodeCounters } from "../node/node_counters.ts";
import type { Submission } from "../node/raft_node.ts";
import type { NodeId } from "../raft/types.ts";
import type { KeyValue, ListOptions, ListPage } from "../state/config_store.ts";
import type { LockInfo } from "../state/lock_table.ts";
import type { ApplyOutcome } from "../state/results.ts";
import type { MemberDirectory } from "../state/member_directory.ts";
import type { WatchAnswer } from "../state/watch_history.ts";
import type { Backup } from "../storage/backup_file.ts";

/**
 * Membership as the API drives it (`RaftNode.membership`, src/node/membership.ts): the member
 * list, and the changes, which the node runs on the leader wherever they were asked. A refusal
 * is a `MembershipError` carrying its code and HTTP status.
 *
 * @example
 * ```ts ignore
 * import type { ApiMembership } from "./api_node.ts";
 * const promote = (m: ApiMembership) => m.change({ op: "promote", id: 4 });
 * ```
 */
export interface ApiMembership {
  list(): Promise<MemberInfo[]>;
  change(req: MembershipRequest): Promise<MembershipAnswer>;
}

/**
 * The part of the Raft status that `/v1/cluster`, `/readyz` and `/metrics` show.
 *
 * @example
 * ```ts
 * import type { NodeStatusView } from "./api_node.ts";
 * const s: NodeStatusView = {
 *   term: 2, commit: 9, applied: 9, leader: 1, role: "leader",
 *   conf: { voters: [1], learners: [] }, progress: new Map([[1, { match: 9 }]]),
 * };
 * ```
 */
export interface NodeStatusView {
  term: number;
  commit: number;
  /** The leader's commit index as last heard (its own on the leader); `/readyz` compares. */
  leaderCommit?: number;
  applied: number;
  /** The last index in this node's log (the leader's lag per peer is measured from it). */
  lastIndex?: number;
  leader: NodeId;
  role: string;
  conf: { voters: NodeId[]; learners: NodeId[] };
  /** Only on the leader: each member's replication progress. */
  progress: Map<NodeId, { match: number }>;
}

/**
 * A node as the API drives it. The applied state is read through the node's methods, never
 * held: a node replaces its state machine when it installs a leader's snapshot, and each call
 * reads the state as it is now. (The methods are etcd-io/raft's way: a driver asks its node, it
 * does not reach into it.)
 *
 * @example
 * ```ts ignore
 * import type { ApiNode } from "./api_node.ts";
 * import type { RaftNode } from "../node/raft_node.ts";
 * const asApiNode = (node: RaftNode): ApiNode => node;
 * ```
 */
export interface ApiNode {
  readonly id: NodeId;
  /** When this node last heard from a leader (ms since the epoch; 0: never). */
  readonly lastContact: number;
  /** Replicates a command; resolves with its outcome once it is applied on this node. */
  submit(sub: Submission, signal?: AbortSignal): Promise<ApplyOutcome>;
  /** Resolves when reading the applied state is linearizable (ReadIndex). */
  linearizableRead(): Promise<void>;
  /** Calls `listener` with every applied entry's outcome; returns the unsubscribe call. */
  onApply(listener: (outcome: ApplyOutcome) => void): () => void;
  /**
   * The node's lock waits, when it keeps them itself (and closes them when it stops); without
   * them the API makes its own over `onApply` and `submit`.
   */
  readonly lockWaits?: LockWaits;
  status(): NodeStatusView;
  leaderId(): NodeId;
  isLeader(): boolean;
  /** The index of the last entry applied here. */
  appliedIndex(): number;
  /** The config revision of the applied state (`X-Revision`). */
  revision(): number;
  /** The index of the snapshot the applied state was last restored from (0: none). */
  restoredFrom(): number;
  /** A key's value and revisions as applied here (frozen: shared with the state). */
  getValue(key: string): KeyValue | undefined;
  /** One page of the keys under a prefix, as applied here. */
  listValues(options?: ListOptions): ListPage;
  /** The config changes under `prefix` from `fromRevision` on, or the news they were compacted. */
  eventsSince(prefix: string, fromRevision: number, limit?: number): WatchAnswer;
  /** A lock's holder and queue, as applied here. */
  lockInfo(name: string): LockInfo;
  /** Every held lock with its queue, by name (the status page; a fake may leave it out). */
  listLocks?(): LockInfo[];
  /** The peers this node found unreachable and has not heard from since. */
  unreachablePeers?(): NodeId[];
  /** Round trips to each peer from this node's heartbeats (while it leads), for `/metrics`. */
  peerRtts?(): RttSummary[];
  /** What the node counts about itself (`/metrics`); a fake may leave it out. */
  readonly counters?: NodeCounters;
  /** Membership (`/v1/members`, `/v1/leader/transfer`); without it those routes answer 501. */
  readonly membership?: ApiMembership;
  /** A consistent backup of the applied state (`GET /v1/snapshot`; 501 without it). */
  backup?(): Promise<Backup>;
  /**
   * Every member's peer and client URL, replicated (the founding flags until the first change):
   * `/v1/cluster` and `X-Leader` name members that joined after this node started through it.
   */
  directory?(): MemberDirectory;
}
