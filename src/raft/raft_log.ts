/**
 * The in-memory Raft log: a snapshot, the entries after it, and how far they are committed,
 * persisted and handed out for apply.
 *
 * @module
 */

import { EntryStore } from "./entry_store.ts";
import type { Entry, EntryType, Snapshot } from "./types.ts";

/** Thrown when the core is asked to break an invariant; it means a bug or corrupt storage. */
export class RaftInvariantError extends Error {
  override name = "RaftInvariantError";
}

/** The approximate encoded size of an entry, used for message byte limits. */
export function entrySize(e: Entry): number {
  return e.data.byteLength + 24;
}

/**
 * The log of one node. Indexes start at 1; index `offset` is covered by the snapshot (or is 0
 * for an empty log), and `store` holds the entries after it, outside V8's heap
 * (`entry_store.ts`).
 *
 * @example
 * ```ts
 * import { RaftLog } from "./raft_log.ts";
 * const log = new RaftLog();
 * log.append([{ term: 1, index: 1, type: "normal", data: new Uint8Array() }]);
 * console.log(log.lastIndex(), log.term(1)); // 1 1
 * ```
 */
export class RaftLog {
  /** The index covered by the latest snapshot (0 when there is none). */
  offset = 0;
  /** The term of the entry at `offset`. */
  offsetTerm = 0;
  /** The entries `offset + 1 ..= lastIndex()`; its offset moves with `offset`. */
  readonly store = new EntryStore(0);
  /**
   * The latest snapshot, kept to send to followers that are too far behind. Its data may have
   * been released (`snapshotDataHeld` false): the driver keeps it on disk and hands it back
   * when a follower needs it (see `RawNode.releaseSnapshotData`).
   */
  snapshot?: Snapshot;
  /** Whether `snapshot.data` is the snapshot's data, not an empty stand-in. */
  snapshotDataHeld = true;
  /** A snapshot received from a leader that the driver has not persisted yet. */
  pendingSnapshot?: Snapshot;
  committed = 0;
  /** The last index handed to the driver for apply. */
  applying = 0;
  /**
   * The last index the driver has applied (it said so with `RawNode.advance`): at most
   * `applying`. A membership change counts as pending until it is applied, not handed out.
   */
  applied = 0;
  /** The last index known to be on disk. */
  stabled = 0;
  /**
   * The last index handed to the driver to persist: entries up to it are not handed out again
   * while a write the driver did not wait for is in flight (`RawNode.advance` with
   * `entriesPersisted: false`, then `RawNode.persisted`).
   */
  inProgress = 0;

  /** Restores the log a node had on disk. */
  static restore(snapshot: Snapshot | undefined, entries: Entry[], commit: number): RaftLog {
    const log = new RaftLog();
    if (snapshot) {
      log.snapshot = snapshot;
      log.offset = snapshot.metadata.index;
      log.offsetTerm = snapshot.metadata.term;
      log.store.reset(log.offset);
    }
    let expected = log.offset + 1;
    for (const e of entries) {
      if (e.index < expected) continue; // covered by the snapshot
      if (e.index !== expected) {
        throw new RaftInvariantError(`raft log: stored entries have a hole at ${expected}`);
      }
      log.store.push(e);
      expected++;
    }
    log.stabled = log.lastIndex();
    log.inProgress = log.stabled;
    log.committed = Math.min(Math.max(commit, log.offset), log.lastIndex());
    log.applying = log.offset;
    log.applied = log.offset;
    return log;
  }

  firstIndex(): number {
    return this.offset + 1;
  }

  lastIndex(): number {
    return this.store.lastIndex;
  }

  lastTerm(): number {
    return this.term(this.lastIndex()) ?? 0;
  }

  /** The term of entry `index`, or undefined when it is compacted away or beyond the end. */
  term(index: number): number | undefined {
    if (index === this.offset) return this.offsetTerm;
    if (index < this.offset || index > this.lastIndex()) return undefined;
    return this.store.term(index);
  }

  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term;
  }

  /** Whether a log ending at (lastIndex, lastTerm) is at least as up to date (paper 5.4.1). */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const myTerm = this.lastTerm();
    return lastTerm > myTerm || (lastTerm === myTerm && lastIndex >= this.lastIndex());
  }

  /** The type of entry `index`, or undefined when it is compacted away or beyond the end. */
  entryType(index: number): EntryType | undefined {
    if (index <= this.offset || index > this.lastIndex()) return undefined;
    return this.store.type(index);
  }

  entry(index: number): Entry | undefined {
    if (index <= this.offset || index > this.lastIndex()) return undefined;
    return this.store.entry(index);
  }

  /** Entries in [lo, hi), at most `maxBytes` (but always at least one). */
  slice(lo: number, hi: number, maxBytes = Infinity): Entry[] {
    if (lo <= this.offset) throw new RaftInvariantError(`raft log: slice ${lo} is compacted`);
    hi = Math.min(hi, this.lastIndex() + 1);
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = lo; i < hi; i++) {
      bytes += this.store.size(i);
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(this.store.entry(i));
    }
    return out;
  }

  /** Appends entries, replacing any existing suffix that starts at the first one's index. */
  append(ents: Entry[]): void {
    if (ents.length === 0) return;
    const after = ents[0].index - 1;
    if (after < this.committed) {
      throw new RaftInvariantError(
        `raft log: append after ${after} would overwrite committed entries up to ${this.committed}`,
      );
    }
    if (after > this.lastIndex() || after < this.offset) {
      throw new RaftInvariantError(`raft log: append after ${after} leaves a hole`);
    }
    this.store.truncateAfter(after);
    for (const e of ents) this.store.push(e);
    if (this.stabled > after) this.stabled = after;
    if (this.inProgress > after) this.inProgress = after;
  }

  /**
   * The index of the first entry in `ents` that conflicts with the log (same index, other term)
   * or is new; 0 when every entry is already present. Only a real conflict truncates the log,
   * so an old or duplicated AppendEntries never deletes entries (a trap listed in
   * docs/architecture.md#traps-the-core-guards-against).
   */
  findConflict(ents: Entry[]): number {
    for (const e of ents) {
      if (e.index <= this.offset) continue;
      if (!this.matchTerm(e.index, e.term)) return e.index;
    }
    return 0;
  }

  /**
   * The follower's side of AppendEntries: if the entry at `prevIndex` has `prevTerm`, appends
   * what is new and returns the index of the last entry the message covered; else undefined.
   */
  maybeAppend(
    prevIndex: number,
    prevTerm: number,
    commit: number,
    ents: Entry[],
  ): number | undefined {
    if (!this.matchTerm(prevIndex, prevTerm)) return undefined;
    const lastNew = prevIndex + ents.length;
    const conflict = this.findConflict(ents);
    if (conflict !== 0) {
      if (conflict <= this.committed) {
        throw new RaftInvariantError(
          `raft log: entry ${conflict} conflicts with committed entries up to ${this.committed}`,
        );
      }
      this.append(ents.slice(conflict - ents[0].index));
    }
    this.commitTo(Math.min(commit, lastNew));
    return lastNew;
  }

  /**
   * For fast backtracking (thesis 5.3 optimisation): the largest index <= `index` whose term is
   * <= `term`, with that term. The leader skips a whole term of mismatching entries at once.
   */
  findConflictByTerm(index: number, term: number): [number, number] {
    let i = Math.min(index, this.lastIndex());
    while (i > this.offset) {
      const t = this.term(i)!;
      if (t <= term) return [i, t];
      i--;
    }
    return [this.offset, this.offsetTerm];
  }

  commitTo(index: number): void {
    if (index > this.committed) {
      if (index > this.lastIndex()) {
        throw new RaftInvariantError(`raft log: commit ${index} beyond last ${this.lastIndex()}`);
      }
      this.committed = index;
    }
  }

  /** Entries not yet on disk, nor on their way there. */
  unstableEntries(): Entry[] {
    return this.store.entries(this.#firstUnstable(), this.lastIndex() + 1);
  }

  /** Whether `unstableEntries()` has any, without making them. */
  hasUnstable(): boolean {
    return this.#firstUnstable() <= this.lastIndex();
  }

  #firstUnstable(): number {
    return Math.max(this.stabled, this.inProgress, this.offset) + 1;
  }

  /** Marks entries up to `index` as on disk, unless the log changed under them meanwhile. */
  stableTo(index: number, term: number): void {
    if (this.matchTerm(index, term) && index > this.stabled) this.stabled = index;
  }

  /** Committed entries that have not been handed out for apply yet. */
  nextCommitted(maxBytes = Infinity): Entry[] {
    const lo = Math.max(this.applying, this.offset) + 1;
    let hi = this.committed;
    if (hi < lo) return [];
    if (maxBytes !== Infinity) {
      // At least one entry, then as many as fit in `maxBytes`.
      let bytes = this.store.size(lo);
      let last = lo;
      while (last < hi) {
        bytes += this.store.size(last + 1);
        if (bytes > maxBytes) break;
        last++;
      }
      hi = last;
    }
    return this.store.entries(lo, hi + 1);
  }

  /**
   * Replaces the log with a snapshot received from the leader; returns false if the log already
   * has it (then it only fast-forwards the commit index).
   */
  restoreSnapshot(snap: Snapshot): boolean {
    const { index, term } = snap.metadata;
    if (index <= this.committed) return false;
    if (this.matchTerm(index, term)) {
      this.commitTo(index);
      return false;
    }
    this.offset = index;
    this.offsetTerm = term;
    this.store.reset(index);
    this.snapshot = snap;
    this.snapshotDataHeld = true;
    this.pendingSnapshot = snap;
    this.committed = index;
    this.applying = index;
    this.applied = index;
    this.stabled = index;
    this.inProgress = index;
    return true;
  }

  /** Drops the entries covered by a snapshot the driver took locally at `snap.metadata.index`. */
  compact(snap: Snapshot): void {
    const { index, term } = snap.metadata;
    if (index <= this.offset) return;
    if (index > this.applying || index > this.stabled) {
      throw new RaftInvariantError(`raft log: cannot compact ${index} before it is applied`);
    }
    if (this.term(index) !== term) {
      throw new RaftInvariantError(`raft log: snapshot term ${term} differs at ${index}`);
    }
    this.store.compactTo(index);
    this.offset = index;
    this.offsetTerm = term;
    this.snapshot = snap;
    this.snapshotDataHeld = true;
  }
}
