/**
 * When a node compacts its log into a snapshot (docs/architecture.md#snapshots-and-compaction).
 *
 * The rule is the Raft thesis's (section 5.1): snapshot once the log since the last snapshot
 * holds a fixed fraction of the snapshot's own size in bytes. A snapshot costs about its size to
 * encode and write, and that cost is then spread over at least `logRatio` x its size of written
 * entries, so the cost per write stays the same whether the state holds a thousand keys or a
 * million. A fixed count of entries does not: at a million keys of 100 bytes, snapshotting every
 * 10,000 writes encoded ~120 MB per 10,000 writes of ~1.7 MB (issue 17).
 *
 * Two bounds keep the rule sane at the edges: at least `minEntries` entries between snapshots
 * (a tiny state is not re-snapshotted every few writes), unless the log has reached `maxLogBytes`
 * (a small state overwritten with large values would otherwise keep `minEntries` large entries
 * in memory).
 *
 * @module
 */

/**
 * The knobs of the rule (`--snapshot-entries`, `--snapshot-log-ratio`, `--snapshot-log-max-mb`).
 *
 * @example
 * ```ts
 * import { DEFAULT_SNAPSHOT_POLICY, type SnapshotPolicy } from "./snapshot_policy.ts";
 * const eager: SnapshotPolicy = { ...DEFAULT_SNAPSHOT_POLICY, minEntries: 100 };
 * ```
 */
export interface SnapshotPolicy {
  /** At least this many applied entries between two snapshots (unless `maxLogBytes`). */
  minEntries: number;
  /** Snapshot once the log since the last one holds this fraction of the snapshot's bytes. */
  logRatio: number;
  /** With this many bytes of log, `minEntries` no longer holds the snapshot back. */
  maxLogBytes: number;
}

/**
 * The defaults. A ratio of 0.5 keeps the log in memory at most about half the snapshot's size
 * (the core holds the uncompacted log in memory), while encoding at most ~2 bytes of snapshot
 * per byte written; bench/README.md "A million keys" has the measurements behind it.
 *
 * @example
 * ```ts
 * import { DEFAULT_SNAPSHOT_POLICY } from "./snapshot_policy.ts";
 * console.log(DEFAULT_SNAPSHOT_POLICY.minEntries); // 10000
 * ```
 */
export const DEFAULT_SNAPSHOT_POLICY: SnapshotPolicy = {
  minEntries: 10_000,
  logRatio: 0.5,
  maxLogBytes: 64 * 1024 * 1024,
};

/**
 * The log since the last snapshot, as the node counts it.
 *
 * @example
 * ```ts
 * import type { LogSinceSnapshot } from "./snapshot_policy.ts";
 * const log: LogSinceSnapshot = { entries: 12_000, bytes: 2_000_000, snapshotBytes: 3_000_000 };
 * ```
 */
export interface LogSinceSnapshot {
  /** Entries applied since the last snapshot. */
  entries: number;
  /** Their encoded bytes. */
  bytes: number;
  /** The size of the last snapshot (0 before the first). */
  snapshotBytes: number;
}

/**
 * Whether the log is due to be compacted.
 *
 * @example
 * ```ts
 * import { compactionDue, DEFAULT_SNAPSHOT_POLICY } from "./snapshot_policy.ts";
 * // 10,000 entries of ~170 bytes after a 100 MB snapshot: not yet.
 * compactionDue({ entries: 10_000, bytes: 1_700_000, snapshotBytes: 100e6 }, DEFAULT_SNAPSHOT_POLICY);
 * // false
 * ```
 */
export function compactionDue(log: LogSinceSnapshot, policy: SnapshotPolicy): boolean {
  if (log.bytes < policy.logRatio * log.snapshotBytes) return false;
  return log.entries >= policy.minEntries || log.bytes >= policy.maxLogBytes;
}

/**
 * The policy of node `id`, its ratio raised by 15 % per id (cycling every four ids): nodes that
 * applied the same log would otherwise all compact at the same index, and three nodes encoding
 * 100 MB at once on two cores, each collecting garbage, left a leader that heard from no
 * follower for an election timeout (issue 17, bench:scale at 14c5e0e). A ratio of 0 stays 0.
 *
 * @example
 * ```ts
 * import { DEFAULT_SNAPSHOT_POLICY, staggered } from "./snapshot_policy.ts";
 * staggered(DEFAULT_SNAPSHOT_POLICY, 3).logRatio; // 0.65
 * ```
 */
export function staggered(policy: SnapshotPolicy, id: number): SnapshotPolicy {
  const factor = 1 + 0.15 * ((Math.max(1, id) - 1) % 4);
  return { ...policy, logRatio: policy.logRatio * factor };
}
