/**
 * Durable Raft storage in Deno KV (the local SQLite backend), in `<dataDir>/raft.kv`.
 *
 * Every `commit()` is one fsync and Deno KV has no group commit, so each call here writes with
 * as few commits as the KV limits allow: an append of a Ready is normally exactly one, and the
 * appends that queue up behind a running write go to disk together in one (group commit). The hot
 * path does not read: the layout of the stored log, including the entries of its last block, is
 * kept in memory (`kv_log_layout.ts`). What the keys hold is described in `kv_keys.ts`, and the
 * rule that makes multi-commit writes crash-safe in `kv_scan.ts`.
 *
 * @module
 */

import { join } from "node:path";
import type { Entry, HardState, Snapshot } from "../raft/types.ts";
import { DataDirLock } from "./data_dir_lock.ts";
import {
  commitAtomically,
  commitInBatches,
  KV_MAX_VALUE_BYTES,
  type KvMutation,
  splitIntoCommits,
} from "./kv_commits.ts";
import {
  HARD_STATE_KEY,
  logPartKey,
  SNAPSHOT_CHUNK_PREFIX,
  SNAPSHOT_POINTER_KEY,
  snapshotChunkKey,
} from "./kv_keys.ts";
import type { BlockInfo, KvLogLayout } from "./kv_log_layout.ts";
import { encodeHardState, encodeSnapshotPointer, type SnapshotPointer } from "./kv_records.ts";
import { readSnapshotOf, scanKv, type ScanResult } from "./kv_scan.ts";
import { decodeBlock, decodeBlockPart } from "./log_block_codec.ts";
import { checkAppendRange, checkSnapshotNotOlder } from "./log_rules.ts";
import type { AppendUpdate, PersistedState, RaftStorage } from "./raft_storage.ts";

/**
 * The file name of the KV database inside the data directory.
 *
 * @example
 * ```ts
 * import { join } from "node:path";
 * import { KV_FILE_NAME } from "./kv_storage.ts";
 * const path = join("/var/lib/edgeraft", KV_FILE_NAME);
 * ```
 */
export const KV_FILE_NAME = "raft.kv";

/** Room for the hard state in every commit of an append: one small `set`. */
const HARD_STATE_RESERVE = { mutations: 1, bytes: 256 };
/** Snapshot chunks (64 KiB each) per commit while a snapshot is written (see `saveSnapshot`). */
const SNAPSHOT_CHUNKS_PER_COMMIT = 4;
/** Deletions per commit when collecting what a snapshot replaced (values up to 64 KiB). */
const GARBAGE_DELETES_PER_COMMIT = 32;
/** The longest rest between two commits of background writing (see `#inBackground`). */
const BACKGROUND_REST_MS = 50;
/** Deno KV answers at most this many keys per `getMany`. */
const GET_MANY_LIMIT = 10;

/**
 * Raft storage on disk. Holds the data directory's lock from `open` to `close`.
 *
 * Calls run one at a time in call order, except that a snapshot's chunks are written between
 * later calls (see `saveSnapshot`); consecutive appends that wait in the queue run as one (see
 * `append`). Do not mutate entry or snapshot data passed in until its
 * call resolved. If a write fails half-way, the instance refuses further calls (the disk is
 * still consistent; reopen to continue from what is durable).
 *
 * @example
 * ```ts
 * import { KvStorage } from "./kv_storage.ts";
 * const dir = await Deno.makeTempDir();
 * const storage = await KvStorage.open(dir);
 * await storage.append({
 *   entries: [{ term: 1, index: 1, type: "normal", data: new Uint8Array([1]) }],
 *   hardState: { term: 1, vote: 1, commit: 0 },
 * });
 * const { entries, hardState } = await storage.load();
 * storage.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class KvStorage implements RaftStorage {
  readonly #kv: Deno.Kv;
  readonly #lock: DataDirLock;
  readonly #dataDir: string;
  #layout: KvLogLayout;
  #pointer: SnapshotPointer | undefined;
  #nextSnapshotId: number;
  /** What `open` read, handed out by the first `load` so that it does not read twice. */
  #opened: PersistedState | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  /** The appends at the tail of the queue that have not started: a new append joins them. */
  #openGroup: QueuedAppend[] | undefined;
  /** The switch of the last snapshot save: switches happen in the order of the calls. */
  #lastSwitch: Promise<unknown> = Promise.resolve();
  /** Ids of snapshots whose chunks are being written: not garbage, whatever a scan says. */
  #writing = new Set<number>();
  #closed = false;
  #failure: unknown;

  private constructor(kv: Deno.Kv, lock: DataDirLock, dataDir: string, scan: ScanResult) {
    this.#kv = kv;
    this.#lock = lock;
    this.#dataDir = dataDir;
    this.#layout = scan.layout;
    this.#pointer = scan.pointer;
    this.#nextSnapshotId = scan.nextSnapshotId;
    this.#opened = scan.state;
  }

  /**
   * Locks `dataDir` (creating it if needed; throws `DataDirLockedError` if another process or
   * instance owns it), opens its KV, reads it and clears the leftovers of an interrupted write.
   */
  static async open(dataDir: string): Promise<KvStorage> {
    const lock = await DataDirLock.acquire(dataDir);
    let kv: Deno.Kv | undefined;
    try {
      kv = await Deno.openKv(join(dataDir, KV_FILE_NAME));
      const scan = await scanKv(kv);
      await deleteKeys(kv, scan.garbage);
      return new KvStorage(kv, lock, dataDir, scan);
    } catch (error) {
      kv?.close();
      lock.release();
      throw error;
    }
  }

  /** The data directory this storage owns. */
  get dataDir(): string {
    return this.#dataDir;
  }

  /** Reads everything stored (the first call returns what `open` already read). */
  load(): Promise<PersistedState> {
    return this.#serialize(async () => {
      const opened = this.#opened;
      this.#opened = undefined;
      if (opened) return opened;
      const scan = await scanKv(this.#kv);
      const saving = (key: Deno.KvKey) =>
        key[0] === SNAPSHOT_CHUNK_PREFIX[0] && this.#writing.has(key[1] as number);
      await deleteKeys(this.#kv, scan.garbage.filter((key) => !saving(key)));
      this.#layout = scan.layout;
      this.#pointer = scan.pointer;
      this.#nextSnapshotId = Math.max(this.#nextSnapshotId, scan.nextSnapshotId);
      return scan.state;
    });
  }

  /**
   * Stores entries and hard state in one atomic commit when it fits the KV limits.
   *
   * Group commit: an append called while the last queued call is an append that has not started
   * yet joins it, and the group is written as one append (what the updates give applied in
   * order), so a pipelined caller pays one commit per turn of the queue, not one per call. Each
   * update is still checked against the log the ones before it leave: a wrong one is refused
   * alone, as if called separately. Every member resolves when the group's write is durable, or
   * rejects with its error.
   */
  append(update: AppendUpdate): Promise<void> {
    const entries = [...update.entries];
    const hardState = update.hardState && { ...update.hardState };
    return new Promise((resolve, reject) => {
      const call = { entries, hardState, resolve, reject };
      if (this.#openGroup) {
        this.#openGroup.push(call);
        return;
      }
      const group = [call];
      const started = () => {
        if (this.#openGroup === group) this.#openGroup = undefined;
      };
      this.#serialize(() => this.#appendGroup(group), started)
        .catch((error) => group.forEach((member) => member.reject(error)));
      this.#openGroup = group;
    });
  }

  /**
   * Stores the snapshot in chunks, then makes it current and compacts in one commit.
   *
   * The chunks of a large snapshot take many commits (one per ~800 KB). Each is a call of its
   * own in the queue, so appends called meanwhile run between them instead of waiting for the
   * whole snapshot: a 50 MB snapshot must not hold up the log (issue 10, defect 3). The chunks
   * are invisible until the pointer names them, so that order is as crash-safe as one block.
   * The switches of several saves happen in the order they were called.
   */
  saveSnapshot(snapshot: Snapshot): Promise<void> {
    const { index, term, conf } = snapshot.metadata;
    const metadata = {
      index,
      term,
      conf: { voters: [...conf.voters], learners: [...conf.learners] },
    };
    this.#openGroup = undefined; // an append called after this must not join one called before
    const previous = this.#lastSwitch;
    const saved = this.#saveSnapshot({ metadata, data: snapshot.data }, previous);
    this.#lastSwitch = saved.catch(() => {});
    return saved;
  }

  /**
   * Reads the current snapshot back, outside the queue: appends do not wait for its many MB.
   * Its chunks never change once written, so a read that finds them all is the snapshot; one
   * that a newer snapshot overtook (its chunks collected meanwhile) tries the newer one.
   */
  async loadSnapshot(): Promise<Snapshot | undefined> {
    for (;;) {
      if (this.#closed) throw new Error("KvStorage is closed");
      const pointer = this.#pointer;
      if (!pointer) return undefined;
      try {
        return await readSnapshotOf(this.#kv, pointer);
      } catch (error) {
        if (this.#pointer === pointer) throw error;
      }
    }
  }

  /** Closes the KV and releases the data directory. Calls still queued will fail. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#opened = undefined;
    this.#kv.close();
    this.#lock.release();
  }

  /**
   * Writes a group of appends as one: checks each against the log the accepted ones before it
   * leave (refusing it alone), merges the accepted ones and resolves them once that is durable.
   */
  async #appendGroup(group: QueuedAppend[]): Promise<void> {
    const floor = this.#pointer?.metadata.index ?? 0;
    let entries: Entry[] = [];
    let hardState: HardState | undefined;
    const accepted: QueuedAppend[] = [];
    for (const call of group) {
      try {
        checkAppendRange(call.entries, floor, entries.at(-1)?.index ?? this.#layout.lastIndex);
      } catch (error) {
        call.reject(error);
        continue;
      }
      entries = mergeEntries(entries, call.entries);
      hardState = call.hardState ?? hardState;
      accepted.push(call);
    }
    if (accepted.length === 0) return;
    await this.#append(entries, hardState);
    for (const call of accepted) call.resolve();
  }

  async #append(entries: Entry[], hardState: HardState | undefined): Promise<void> {
    this.#opened = undefined; // stale from now on
    const floor = this.#pointer?.metadata.index ?? 0;
    checkAppendRange(entries, floor, this.#layout.lastIndex);
    if (entries.length === 0 && !hardState) return;
    const plan = entries.length > 0
      ? await this.#layout.planAppend(entries, this.#readBlock)
      : { mutations: [], durableThrough: [], apply: () => {} };
    const groups = splitIntoCommits(plan.mutations, hardState ? HARD_STATE_RESERVE : undefined);
    if (groups.length === 0) groups.push([]);
    await this.#writeOrFail(async () => {
      let done = 0;
      for (const [i, group] of groups.entries()) {
        done += group.length;
        const mutations = [...group];
        if (hardState) {
          // An intermediate commit must not claim a commit index past what is durable so far.
          const isLast = i === groups.length - 1;
          const commit = isLast ? hardState.commit : Math.min(
            hardState.commit,
            plan.durableThrough[done - 1],
          );
          const value = encodeHardState({ ...hardState, commit });
          mutations.push({ type: "set", key: HARD_STATE_KEY, value });
        }
        await commitAtomically(this.#kv, mutations);
      }
    });
    plan.apply();
  }

  async #saveSnapshot(snapshot: Snapshot, previous: Promise<unknown>): Promise<void> {
    this.#opened = undefined; // stale from now on
    // Refused before writing anything when it is already older than the current one.
    checkSnapshotNotOlder(snapshot.metadata.index, this.#pointer?.metadata.index ?? 0);

    // Chunks first, under a fresh id: until the pointer names them they are invisible.
    const id = this.#nextSnapshotId++;
    const chunks: KvMutation[] = [];
    for (let offset = 0; offset < snapshot.data.byteLength; offset += KV_MAX_VALUE_BYTES) {
      const value = snapshot.data.subarray(offset, offset + KV_MAX_VALUE_BYTES);
      chunks.push({ type: "set", key: snapshotChunkKey(id, chunks.length), value });
    }
    this.#writing.add(id);
    let garbage: KvMutation[];
    try {
      // A few chunks per commit: an append called meanwhile waits for one small commit, not
      // for 800 KB of them (the log and the chunks share one SQLite writer).
      for (let n = 0; n < chunks.length; n += SNAPSHOT_CHUNKS_PER_COMMIT) {
        const group = chunks.slice(n, n + SNAPSHOT_CHUNKS_PER_COMMIT);
        await this.#inBackground(() => commitAtomically(this.#kv, group));
      }
      await previous;
      garbage = await this.#serialize(() => this.#switchSnapshot(snapshot, id, chunks.length));
    } finally {
      this.#writing.delete(id);
    }
    // What the switch made unreachable, deleted in small commits for the same reason (a crash
    // before they are done leaves garbage that `open` removes).
    for (let n = 0; n < garbage.length; n += GARBAGE_DELETES_PER_COMMIT) {
      const group = garbage.slice(n, n + GARBAGE_DELETES_PER_COMMIT);
      await this.#inBackground(() => this.#writeOrFail(() => commitAtomically(this.#kv, group)));
    }
  }

  /**
   * Runs one commit of a snapshot's background writing in the queue, then rests as long as it
   * took (up to `BACKGROUND_REST_MS`): when the disk is slow, it is slow for the log's appends
   * too, and they must get at least half of it.
   */
  async #inBackground(commit: () => Promise<void>): Promise<void> {
    const started = performance.now();
    await this.#serialize(commit);
    const rest = Math.min(BACKGROUND_REST_MS, performance.now() - started);
    if (rest >= 1) await new Promise((resolve) => setTimeout(resolve, rest));
  }

  /**
   * Makes snapshot `id` current in one commit and returns the deletions of what it replaced
   * (the log it covers, the old chunks).
   */
  async #switchSnapshot(
    snapshot: Snapshot,
    id: number,
    chunkCount: number,
  ): Promise<KvMutation[]> {
    this.#opened = undefined;
    const { index, term } = snapshot.metadata;
    const floor = this.#pointer?.metadata.index ?? 0;
    checkSnapshotNotOlder(index, floor); // (its chunks are garbage the next open removes)
    // Decided now, not when the chunks began: appends may have changed the log since.
    const storedTerm = index === floor
      ? (this.#pointer?.metadata.term ?? 0)
      : await this.#layout.termAt(index, this.#readBlock);
    const keepLog = storedTerm === term;

    const pointer: SnapshotPointer = {
      metadata: snapshot.metadata,
      id,
      chunks: chunkCount,
      size: snapshot.data.byteLength,
      logGeneration: this.#layout.generation + (keepLog ? 0 : 1),
    };
    const logPlan = this.#layout.planSnapshot(index, keepLog);
    const old = this.#pointer;
    const oldChunks: KvMutation[] = old
      ? Array.from({ length: old.chunks }, (_, n) => ({
        type: "delete",
        key: snapshotChunkKey(old.id, n),
      }))
      : [];
    // The pointer's commit is the switch; the deletions after it only collect what it made
    // unreachable. Appends may run between them: they never write a key being deleted (the
    // blocks deleted end at or before `index`, or belong to the old log generation).
    await this.#writeOrFail(() =>
      commitAtomically(this.#kv, [
        { type: "set", key: SNAPSHOT_POINTER_KEY, value: encodeSnapshotPointer(pointer) },
      ])
    );
    logPlan.apply();
    this.#pointer = pointer;
    return [...logPlan.mutations, ...oldChunks];
  }

  #readBlock = async (generation: number, block: BlockInfo): Promise<Entry[]> => {
    const keys = Array.from(
      { length: block.parts },
      (_, p) => logPartKey(generation, block.first, p),
    );
    const chunks: Uint8Array[] = [];
    for (let i = 0; i < keys.length; i += GET_MANY_LIMIT) {
      const found = await this.#kv.getMany<Uint8Array[]>(keys.slice(i, i + GET_MANY_LIMIT));
      for (const { key, value } of found) {
        if (!(value instanceof Uint8Array)) throw new Error(`log block part ${key} is missing`);
        chunks.push(decodeBlockPart(value).chunk);
      }
    }
    return decodeBlock(chunks, block.first, block.last);
  };

  /** Runs a write; if it fails, the memory no longer matches the disk, so stop serving. */
  async #writeOrFail(write: () => Promise<void>): Promise<void> {
    try {
      await write();
    } catch (error) {
      this.#failure = error;
      throw error;
    }
  }

  /** Queues `operation`; `started` runs when its turn comes, even if it is then refused. */
  #serialize<T>(operation: () => Promise<T>, started?: () => void): Promise<T> {
    this.#openGroup = undefined; // the queue's tail is this operation now
    const run = () => {
      started?.();
      if (this.#closed) throw new Error(`KvStorage for ${this.#dataDir} is closed`);
      if (this.#failure !== undefined) {
        throw new Error(`KvStorage for ${this.#dataDir} failed a write; reopen it`, {
          cause: this.#failure,
        });
      }
      return operation();
    };
    const result = this.#queue.then(run, run);
    this.#queue = result.catch(() => {});
    return result;
  }
}

/** One caller's append waiting in a group. */
interface QueuedAppend {
  entries: Entry[];
  hardState: HardState | undefined;
  resolve(): void;
  reject(error: unknown): void;
}

/**
 * The entries that appending `later` after `earlier` (both contiguous, `later` checked against
 * the log `earlier` leaves) writes from the first index either starts at: `later` replaces
 * `earlier` from its own first index on, as it would replace a stored suffix.
 */
function mergeEntries(earlier: Entry[], later: Entry[]): Entry[] {
  if (later.length === 0) return earlier;
  if (earlier.length === 0) return later;
  const keep = later[0].index - earlier[0].index;
  if (keep <= 0) return later;
  if (keep === earlier.length) {
    for (const entry of later) earlier.push(entry);
    return earlier;
  }
  return [...earlier.slice(0, keep), ...later];
}

async function deleteKeys(kv: Deno.Kv, keys: Deno.KvKey[]): Promise<void> {
  await commitInBatches(kv, keys.map((key) => ({ type: "delete", key })));
}
