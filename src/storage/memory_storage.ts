/**
 * An in-memory `RaftStorage` with the same semantics as `KvStorage`, for unit tests of the node
 * driver and for the simulator. It deep-copies whatever goes in and out, so a caller that mutates
 * its own objects afterwards cannot change what is "on disk".
 *
 * @module
 */

import type { Entry, HardState, Snapshot } from "../raft/types.ts";
import { checkAppendRange, checkSnapshotNotOlder } from "./log_rules.ts";
import {
  type AppendUpdate,
  initialHardState,
  type PersistedState,
  type RaftStorage,
} from "./raft_storage.ts";

/**
 * Raft storage held in memory. A simulated crash is `load()` on the same instance: it returns
 * exactly what every resolved call stored.
 *
 * @example
 * ```ts
 * import { MemoryStorage } from "./memory_storage.ts";
 * const storage = new MemoryStorage();
 * await storage.append({
 *   entries: [{ term: 1, index: 1, type: "normal", data: new Uint8Array([7]) }],
 *   hardState: { term: 1, vote: 1, commit: 0 },
 * });
 * const state = await storage.load(); // state.entries[0].data is a copy
 * storage.close();
 * ```
 */
export class MemoryStorage implements RaftStorage {
  #hardState: HardState = initialHardState();
  #snapshot: Snapshot | undefined;
  /** Entries after the snapshot index, contiguous. */
  #entries: Entry[] = [];
  #closed = false;

  /** Returns a deep copy of everything stored. */
  load(): Promise<PersistedState> {
    return settle(() => this.#load());
  }

  /** Stores copies of the entries (replacing any stored suffix) and of the hard state. */
  append(update: AppendUpdate): Promise<void> {
    return settle(() => this.#append(update));
  }

  /** Stores a copy of the snapshot and drops the entries it covers (or the whole log). */
  saveSnapshot(snapshot: Snapshot): Promise<void> {
    return settle(() => this.#saveSnapshot(snapshot));
  }

  /**
   * The same stored data in a new, open instance, as a process restart would find it. Use it
   * after `close()`; the closed instance stays closed, so the two never share writes.
   */
  reopen(): MemoryStorage {
    const again = new MemoryStorage();
    again.#hardState = this.#hardState;
    again.#snapshot = this.#snapshot;
    again.#entries = [...this.#entries];
    return again;
  }

  /** Reads the current snapshot back (a copy). */
  loadSnapshot(): Promise<Snapshot | undefined> {
    return settle(() => {
      this.#checkOpen();
      return this.#snapshot && copySnapshot(this.#snapshot);
    });
  }

  /** Makes later calls throw. */
  close(): void {
    this.#closed = true;
  }

  #load(): PersistedState {
    this.#checkOpen();
    const state: PersistedState = {
      hardState: { ...this.#hardState },
      entries: this.#entries.map(copyEntry),
    };
    if (this.#snapshot) state.snapshot = copySnapshot(this.#snapshot);
    return state;
  }

  #append(update: AppendUpdate): void {
    this.#checkOpen();
    const { entries, hardState } = update;
    const snapshotIndex = this.#snapshotIndex();
    checkAppendRange(entries, snapshotIndex, snapshotIndex + this.#entries.length);
    if (entries.length > 0) {
      this.#entries.length = entries[0].index - snapshotIndex - 1;
      for (const entry of entries) this.#entries.push(copyEntry(entry));
    }
    if (hardState) this.#hardState = { ...hardState };
  }

  #saveSnapshot(snapshot: Snapshot): void {
    this.#checkOpen();
    const { index, term } = snapshot.metadata;
    const snapshotIndex = this.#snapshotIndex();
    checkSnapshotNotOlder(index, snapshotIndex);
    const keepLog = this.#termAt(index) === term;
    this.#entries = keepLog ? this.#entries.slice(index - snapshotIndex) : [];
    this.#snapshot = copySnapshot(snapshot);
  }

  #snapshotIndex(): number {
    return this.#snapshot?.metadata.index ?? 0;
  }

  #termAt(index: number): number | undefined {
    const snapshotIndex = this.#snapshotIndex();
    if (index === snapshotIndex) return this.#snapshot?.metadata.term ?? 0;
    return this.#entries[index - snapshotIndex - 1]?.term;
  }

  #checkOpen(): void {
    if (this.#closed) throw new Error("MemoryStorage is closed");
  }
}

/** Runs `work` now (so copies are taken before the caller continues) and reports as a promise. */
function settle<T>(work: () => T): Promise<T> {
  try {
    return Promise.resolve(work());
  } catch (error) {
    return Promise.reject(error);
  }
}

function copyEntry(entry: Entry): Entry {
  return { term: entry.term, index: entry.index, type: entry.type, data: entry.data.slice() };
}

function copySnapshot(snapshot: Snapshot): Snapshot {
  const { index, term, conf } = snapshot.metadata;
  return {
    metadata: { index, term, conf: { voters: [...conf.voters], learners: [...conf.learners] } },
    data: snapshot.data.slice(),
  };
}
