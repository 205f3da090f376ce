/**
 * The contract between the node driver and durable storage of the Raft log, the hard state and
 * the latest snapshot. The Raft core keeps the whole uncompacted log in memory; storage is the
 * durable copy the node loads when it starts.
 *
 * Two implementations share this contract and one behavioural test suite: `KvStorage` (Deno KV on
 * disk) and `MemoryStorage` (for unit tests and the simulator).
 *
 * @module
 */

import type { Entry, HardState, Snapshot } from "../raft/types.ts";

/**
 * Everything storage holds, as loaded at start.
 *
 * @example
 * ```ts
 * import type { PersistedState } from "./raft_storage.ts";
 * const empty: PersistedState = { hardState: { term: 0, vote: 0, commit: 0 }, entries: [] };
 * ```
 */
export interface PersistedState {
  /** `{term: 0, vote: 0, commit: 0}` when nothing was ever stored. */
  hardState: HardState;
  /** The latest snapshot, absent until one was saved. */
  snapshot?: Snapshot;
  /** All stored entries after the snapshot index (or from index 1), in order, without holes. */
  entries: Entry[];
}

/**
 * One Ready's worth of things to persist.
 *
 * @example
 * ```ts
 * import type { AppendUpdate } from "./raft_storage.ts";
 * const u: AppendUpdate = {
 *   entries: [{ term: 1, index: 1, type: "normal", data: new Uint8Array() }],
 *   hardState: { term: 1, vote: 1, commit: 0 },
 * };
 * ```
 */
export interface AppendUpdate {
  /**
   * Contiguous entries. `entries[0].index` must lie in `[snapshotIndex + 1, lastIndex + 1]`;
   * every stored entry with an index at or above it is replaced or deleted.
   */
  entries: Entry[];
  /** Stored in the same commit as the entries (the last one, if they need several). */
  hardState?: HardState;
}

/**
 * Durable Raft storage.
 *
 * Compaction is part of `saveSnapshot` (the entries a snapshot covers are deleted in the same
 * atomic step that makes it current): a separate `compact` would only ever drop entries that
 * `load` no longer returns anyway.
 *
 * Calls may overlap; implementations run them one at a time in call order, with one exception:
 * `saveSnapshot` may write its (large) data while calls made after it run, so that the log is
 * not held up, and takes effect after every call made before it, in order with other
 * `saveSnapshot` calls. A call that needs the snapshot in place must wait for it.
 *
 * @example
 * ```ts
 * import type { RaftStorage } from "./raft_storage.ts";
 * import { MemoryStorage } from "./memory_storage.ts";
 * const storage: RaftStorage = new MemoryStorage();
 * await storage.append({ entries: [{ term: 1, index: 1, type: "normal", data: new Uint8Array() }] });
 * const { entries } = await storage.load();
 * storage.close();
 * ```
 */
export interface RaftStorage {
  /** Reads everything stored. */
  load(): Promise<PersistedState>;
  /**
   * Persists entries (possibly overwriting a stored suffix) and the hard state: durable when the
   * promise resolves, in ONE atomic commit (one fsync) whenever it fits the backend's limits.
   * When it does not, the commits are ordered so that a crash between them leaves a log without
   * holes or torn entries, and the stored commit index never points past the stored log.
   *
   * Throws `RangeError` when the entries are not contiguous or would leave a hole.
   */
  append(update: AppendUpdate): Promise<void>;
  /**
   * Stores a snapshot (its data may be many MB) and deletes the entries it covers. Stored entries
   * after the snapshot index are kept only when the stored entry at the snapshot index has the
   * snapshot's term (log matching then guarantees they continue it); otherwise the whole log is
   * dropped, as when a follower installs a leader's snapshot. The hard state is left alone.
   *
   * Crash-safe: after a crash either the old or the new snapshot is current, never a torn one.
   * Throws `RangeError` for a snapshot older than the stored one.
   */
  saveSnapshot(snapshot: Snapshot): Promise<void>;
  /**
   * Reads the current snapshot back (undefined when none is stored): the one the last
   * completed `saveSnapshot` made current, or a newer one. It need not wait for other calls.
   */
  loadSnapshot(): Promise<Snapshot | undefined>;
  /** Releases the storage (and its data-directory lock). Later calls throw. */
  close(): void;
}

/**
 * The hard state of a node that has never stored one.
 *
 * @example
 * ```ts
 * import { initialHardState } from "./raft_storage.ts";
 * const hs = initialHardState(); // { term: 0, vote: 0, commit: 0 }
 * ```
 */
export function initialHardState(): HardState {
  return { term: 0, vote: 0, commit: 0 };
}
