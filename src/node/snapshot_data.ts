/**
 * Keeping the latest snapshot's data on disk only. The Raft core keeps the snapshot its log
 * starts after, to send to a follower too far behind; at a million keys that is ~120 MB per
 * node that nothing else reads (issue 17: settled RSS). So once the snapshot is durable and no
 * follower is being sent it, the node drops the core's copy; when the leader needs it again,
 * the core says so in `Ready.wantSnapshot`, this reads it back from storage, and hands it over
 * on the loop (etcd-io/raft does the same with `ErrSnapshotTemporarilyUnavailable`).
 * docs/architecture.md#snapshots-and-compaction.
 *
 * @module
 */

import type { Snapshot } from "../raft/types.ts";
import type { NodeClock } from "./clock.ts";

/** What {@linkcode SnapshotDataKeeper} needs of the Raft core (a `RawNode`). */
export interface SnapshotDataCore {
  readonly view: { readonly snapshot: Snapshot | undefined };
  readonly snapshotDataHeld: boolean;
  sendingSnapshot(): boolean;
  releaseSnapshotData(): boolean;
  provideSnapshotData(snapshot: Snapshot): boolean;
}

/** Settings of {@linkcode SnapshotDataKeeper}. */
export interface SnapshotDataOptions {
  core: SnapshotDataCore;
  /** Reads the stored snapshot (`RaftStorage.loadSnapshot`). */
  load: () => Promise<Snapshot | undefined>;
  clock: NodeClock;
  /** Runs the loop soon, when a snapshot has been read back. */
  kick: () => void;
  /** Told when a read failed (the core asks again at its next try). */
  onError: (error: unknown) => void;
  /** Told when a snapshot read back was handed to the core, with how long the read took. */
  onReadBack?: (snapshot: Snapshot, readMs: number) => void;
  /**
   * How long the data stays after a follower was last sent it: a follower that fails half-way
   * goes back to probing and soon needs it again. Default 10 s.
   */
  holdMs?: number;
}

/**
 * Drops the core's copy of the snapshot's data when nothing needs it, and reads it back from
 * storage when the leader does. The driver calls `durable` when a snapshot is on disk, `want`
 * for `Ready.wantSnapshot`, and `onLoop` between two Readies (where the core may change).
 *
 * @example
 * ```ts
 * import { SnapshotDataKeeper } from "./snapshot_data.ts";
 * import { MemoryStorage } from "../storage/memory_storage.ts";
 * import { RawNode } from "../raft/raw_node.ts";
 * import { systemClock } from "./clock.ts";
 * const storage = new MemoryStorage();
 * const core = new RawNode({ id: 1 }, { hardState: { term: 0, vote: 0, commit: 0 }, entries: [], conf: { voters: [1], learners: [] } });
 * const keeper = new SnapshotDataKeeper({
 *   core, load: () => storage.loadSnapshot(), clock: systemClock, kick: () => {}, onError: () => {},
 * });
 * keeper.onLoop(); // nothing to drop yet
 * ```
 */
export class SnapshotDataKeeper {
  readonly #o: SnapshotDataOptions;
  readonly #holdMs: number;
  /** The newest snapshot index known to be on disk. */
  #durableIndex = 0;
  #reading = false;
  /** A snapshot read back, for the next `onLoop` to hand over. */
  #read: Snapshot | undefined;
  #readMs = 0;
  #lastSentAt = Number.NEGATIVE_INFINITY;
  /** Times the data was dropped and read back (for tests and metrics). */
  releases = 0;
  reads = 0;

  constructor(options: SnapshotDataOptions) {
    this.#o = options;
    this.#holdMs = options.holdMs ?? 10_000;
  }

  /** Notes that the snapshot at `index` is durably stored. */
  durable(index: number): void {
    this.#durableIndex = Math.max(this.#durableIndex, index);
  }

  /** The core wants the data of the snapshot at `index`: reads it unless a read is running. */
  want(index: number): void {
    if (this.#reading || this.#read || index > this.#durableIndex) return;
    this.#reading = true;
    const started = this.#o.clock.monotonic();
    this.#o.load().then((snapshot) => {
      this.#read = snapshot;
      this.#readMs = this.#o.clock.monotonic() - started;
      if (snapshot) this.#o.kick();
    }, this.#o.onError).finally(() => {
      this.#reading = false;
    });
  }

  /** Between two Readies: hands over what was read back, or drops the data nothing needs. */
  onLoop(): void {
    const core = this.#o.core;
    const read = this.#read;
    this.#read = undefined;
    if (read && core.provideSnapshotData(read)) {
      this.reads++;
      this.#o.onReadBack?.(read, this.#readMs);
    }
    if (!core.snapshotDataHeld) return;
    const now = this.#o.clock.monotonic();
    if (core.sendingSnapshot()) {
      this.#lastSentAt = now;
      return;
    }
    const index = core.view.snapshot?.metadata.index ?? 0;
    if (index === 0 || index > this.#durableIndex || now - this.#lastSentAt < this.#holdMs) return;
    if (core.releaseSnapshotData()) this.releases++;
  }
}
