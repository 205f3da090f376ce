/**
 * Config values: JSON values under string keys, with etcd's revision arithmetic.
 *
 * - The store's `revision` grows by one with every successful put or delete (one revision per
 *   mutating command; lock commands do not touch it).
 * - Each key has `revision` (the revision of its last put), `createRevision` (of the put that
 *   created it) and `version` (puts since it was created, starting at 1). A delete forgets all
 *   three; putting the key again starts over.
 * - `ifRevision` compares with the key's `revision`, where an absent key has revision 0.
 *
 * @module
 */

import type { DeleteCommand, PutCommand } from "./commands.ts";
import { deepFreeze, type JsonValue } from "./json_value.ts";
import { Decoder, Encoder } from "@msgpack/msgpack";
import { KeyHashIndex } from "./key_hash_index.ts";
import { KeyOrderIndex } from "./key_order_index.ts";
import { KeyBytes, RecordTable } from "./record_table.ts";
import type { ChangeEvent, DeleteResult, Failure, KeyMeta, PutResult } from "./results.ts";
import { compareKeys, SortedKeys } from "./sorted_keys.ts";
import {
  type ChangeTuple,
  deleteEvent,
  putEvent,
  type WatchAnswer,
  WatchHistory,
} from "./watch_history.ts";

/**
 * A key with its value and revisions, as `GET /v1/config/{key}` answers it.
 *
 * @example
 * ```ts
 * import type { KeyValue } from "./config_store.ts";
 * const kv: KeyValue = { key: "k", value: 1, revision: 3, createRevision: 2, version: 2 };
 * ```
 */
export interface KeyValue extends KeyMeta {
  key: string;
  value: JsonValue;
}

/**
 * Which keys to list: those starting with `prefix`, after the key `after` (the previous page's
 * `next`), at most `limit` (default 100).
 *
 * @example
 * ```ts
 * import type { ListOptions } from "./config_store.ts";
 * const o: ListOptions = { prefix: "app/", limit: 50 };
 * ```
 */
export interface ListOptions {
  prefix?: string;
  after?: string;
  limit?: number;
}

/**
 * One page of a listing. `next` is the cursor for the following page, `null` on the last one.
 *
 * @example
 * ```ts
 * import type { ListPage } from "./config_store.ts";
 * const p: ListPage = { items: [], revision: 0, next: null };
 * ```
 */
export interface ListPage {
  items: KeyValue[];
  revision: number;
  next: string | null;
}

/** A key in a snapshot: [key, value, revision, createRevision, version]. */
export type KeyTuple = [string, JsonValue, number, number, number];

/** The store in a snapshot: [revision, keys in key order, [compactedRevision, changes]]. */
export type ConfigSnapshot = [number, KeyTuple[], [number, ChangeTuple[]]];

/**
 * A key in a snapshot as a capture yields it: the value as its msgpack bytes, which the
 * snapshot encoder copies as they are.
 */
export type EncodedKeyTuple = [string, Uint8Array, number, number, number];

/**
 * The store as it was when `ConfigStore.capture()` was called, readable while the store goes on
 * changing: a snapshot is encoded from it in slices between applied entries.
 *
 * @example
 * ```ts
 * import { ConfigStore } from "./config_store.ts";
 * const store = new ConfigStore(100);
 * store.put({ op: "put", key: "a", value: 1 });
 * const capture = store.capture();
 * store.put({ op: "put", key: "a", value: 2 });
 * [...capture.keys()][0][1]; // Uint8Array [1]: msgpack for 1
 * capture.release();
 * ```
 */
export interface ConfigCapture {
  /** The store's revision then. */
  readonly revision: number;
  /** How many keys `keys()` yields. */
  readonly size: number;
  /** The watch history then (its events are immutable, so this is a copy of references). */
  readonly history: [number, ChangeTuple[]];
  /**
   * The keys then, in key order, as snapshot tuples. Iterate it once, and use each tuple
   * before the store changes: its value bytes may be a view of the store's memory.
   */
  keys(): Generator<EncodedKeyTuple>;
  /** Stops keeping old records for this capture; `keys()` must not be resumed after it. */
  release(): void;
}

/** A record as a capture keeps it: a copy of its value bytes and its revisions. */
interface SavedRecord extends KeyMeta {
  value: Uint8Array;
}

/**
 * What a capture keeps of the keys that changed after it was taken: their record then
 * (`undefined` when the key did not exist), and the ones deleted since, which the live key set
 * no longer lists.
 */
interface CaptureState {
  before: Map<string, SavedRecord | undefined>;
  deleted: SortedKeys;
}

/**
 * A store being rebuilt from a snapshot one record at a time (see
 * `ConfigStore.restoreBuilder`), so that a large one never holds the event loop for long.
 *
 * @example
 * ```ts
 * import { ConfigStore } from "./config_store.ts";
 * const builder = ConfigStore.restoreBuilder(100, 1);
 * builder.key(["a", 1, 1, 1, 1]);
 * builder.history(0);
 * builder.change([1, "a", 1, 1, 1]);
 * builder.done().get("a")?.value; // 1
 * ```
 */
export interface ConfigRestore {
  /** The next key, in key order (its value decoded, or as msgpack bytes). */
  key(tuple: KeyTuple | EncodedKeyTuple): void;
  /** Starts the history: its compacted revision. */
  history(compactedRevision: number): void;
  /** The next change of the history, oldest first. */
  change(tuple: ChangeTuple): void;
  /** The store. */
  done(): ConfigStore;
}

/** What a mutating command did: its answer, and the change it made when it made one. */
export interface StoreOutcome<T> {
  result: T | Failure;
  change: ChangeEvent | null;
}

/** One msgpack encoder and decoder for the values of all stores: the store is single-threaded. */
const valueEncoder = new Encoder();
const valueDecoder = new Decoder();
const utf8Decoder = new TextDecoder();

/**
 * A value from its msgpack bytes. Small integers, `null`, booleans and strings (most config
 * values) are read directly: the generic decoder sets itself up per call, which made a read of a
 * 100-byte string value cost ~2x. The bytes are the store's own encoding of a checked value
 * (well-formed strings), so both ways give the same value.
 */
function decodeValue(bytes: Uint8Array): JsonValue {
  const type = bytes[0];
  const n = bytes.length;
  if (n === 1) {
    if (type <= 0x7f) return type;
    if (type >= 0xe0) return type - 0x100;
    if (type === 0xc0) return null;
    if (type === 0xc2) return false;
    if (type === 0xc3) return true;
  }
  if (type >= 0xa0 && type <= 0xbf && n === 1 + (type & 0x1f)) return text(bytes, 1);
  if (type === 0xd9 && n === 2 + bytes[1]) return text(bytes, 2);
  if (type === 0xda && n === 3 + ((bytes[1] << 8) | bytes[2])) return text(bytes, 3);
  return valueDecoder.decode(bytes) as JsonValue;
}

function text(bytes: Uint8Array, from: number): string {
  return utf8Decoder.decode(bytes.subarray(from));
}

/**
 * The config values with their revisions and change history.
 *
 * The records live outside V8's heap (`RecordTable`, `KeyHashIndex`, `KeyOrderIndex`), so a
 * million of them cost the garbage collector nothing to mark; a value is decoded from its
 * msgpack bytes for each read (docs/architecture.md, "Stalls at a large state").
 *
 * @example
 * ```ts
 * import { ConfigStore } from "./config_store.ts";
 * const store = new ConfigStore(10_000);
 * store.put({ op: "put", key: "a", value: 1 });
 * store.get("a"); // { key: "a", value: 1, revision: 1, createRevision: 1, version: 1 }
 * ```
 */
export class ConfigStore {
  #table = new RecordTable();
  #byKey = new KeyHashIndex(this.#table);
  #order = new KeyOrderIndex(this.#table);
  /** The key being looked up or changed (reused: one per store). */
  #key = new KeyBytes();
  #revision = 0;
  #history: WatchHistory;
  /** Captures being read (see `capture`): each keeps the records that changed after it. */
  #captures = new Set<CaptureState>();
  /** Counts changes of the key set, so a capture's reader knows when to find its place again. */
  #keySetVersion = 0;

  constructor(historyCapacity: number) {
    this.#history = new WatchHistory(historyCapacity);
  }

  /** The revision of the latest change (0 before the first). */
  get revision(): number {
    return this.#revision;
  }

  /** How many keys hold a value. */
  get size(): number {
    return this.#byKey.size;
  }

  /** The newest revision the watch history no longer holds. */
  get compactedRevision(): number {
    return this.#history.compactedRevision;
  }

  /** The key's value and revisions, or `undefined` when it has none. */
  get(key: string): KeyValue | undefined {
    const id = this.#byKey.find(this.#key.set(key));
    return id < 0 ? undefined : this.#keyValue(id, key);
  }

  /** One page of the keys under a prefix, in key order (see `compareKeys`). */
  list({ prefix = "", after, limit = 100 }: ListOptions = {}): ListPage {
    if (!Number.isSafeInteger(limit) || limit < 1) {
      throw new RangeError(`limit must be an integer >= 1, got ${limit}`);
    }
    const resume = after !== undefined && compareKeys(after, prefix) >= 0;
    const prefixBytes = new KeyBytes().set(prefix);
    const items: KeyValue[] = [];
    let next: string | null = null;
    const start = new KeyBytes().set(resume ? after : prefix);
    for (const id of this.#order.scan(start, resume)) {
      if (!this.#table.startsWith(id, prefixBytes)) break;
      if (items.length === limit) {
        next = items[items.length - 1].key;
        break;
      }
      items.push(this.#keyValue(id, this.#table.key(id)));
    }
    return { items, revision: this.#revision, next };
  }

  /** The changes under `prefix` since `fromRevision` (see `WatchHistory.eventsSince`). */
  eventsSince(prefix: string, fromRevision: number, limit?: number): WatchAnswer {
    return this.#history.eventsSince(prefix, fromRevision, limit);
  }

  /** Applies a put. */
  put(cmd: PutCommand): StoreOutcome<PutResult> {
    const { key } = cmd;
    const id = this.#byKey.find(this.#key.set(key));
    const current = id < 0 ? undefined : this.#table.meta(id);
    if (cmd.ifRevision !== undefined && (current?.revision ?? 0) !== cmd.ifRevision) {
      return {
        result: { ok: false, reason: "revision_mismatch", key, current: current ?? null },
        change: null,
      };
    }
    if (cmd.ifAbsent === true && current !== undefined) {
      return { result: { ok: false, reason: "exists", key, current }, change: null };
    }
    const revision = ++this.#revision;
    const value = deepFreeze(cmd.value);
    const createRevision = current?.createRevision ?? revision;
    const version = (current?.version ?? 0) + 1;
    if (this.#captures.size > 0) this.#keepForCaptures(key, id, false);
    const bytes = valueEncoder.encodeSharedRef(value);
    const meta = { revision, createRevision, version };
    if (id >= 0) {
      this.#table.setValue(id, bytes, meta);
    } else {
      const created = this.#table.create(this.#key, bytes, meta);
      this.#byKey.insert(created);
      this.#order.insert(created, this.#key);
      this.#keySetVersion++;
    }
    const change = putEvent(revision, key, value, createRevision, version);
    this.#history.append(change);
    const prevRevision = current?.revision ?? 0;
    return { result: { ok: true, key, revision, createRevision, version, prevRevision }, change };
  }

  /** Applies a delete. */
  delete(cmd: DeleteCommand): StoreOutcome<DeleteResult> {
    const { key } = cmd;
    const id = this.#byKey.find(this.#key.set(key));
    if (id < 0) {
      return { result: { ok: false, reason: "not_found", key }, change: null };
    }
    const prevRevision = this.#table.revision(id);
    if (cmd.ifRevision !== undefined && prevRevision !== cmd.ifRevision) {
      return {
        result: { ok: false, reason: "revision_mismatch", key, current: this.#table.meta(id) },
        change: null,
      };
    }
    const revision = ++this.#revision;
    if (this.#captures.size > 0) this.#keepForCaptures(key, id, true);
    this.#byKey.remove(id);
    this.#order.remove(id, this.#key);
    this.#table.remove(id);
    this.#keySetVersion++;
    const change = deleteEvent(revision, key);
    this.#history.append(change);
    return { result: { ok: true, key, revision, prevRevision }, change };
  }

  /** The store as plain data. */
  toSnapshot(): ConfigSnapshot {
    const keys: KeyTuple[] = [];
    for (const id of this.#order.scan(new KeyBytes().set(""), false)) {
      const { key, value, revision, createRevision, version } = this.#keyValue(
        id,
        this.#table.key(id),
      );
      keys.push([key, value, revision, createRevision, version]);
    }
    return [this.#revision, keys, this.#history.toSnapshot()];
  }

  /**
   * Captures the store as it is now, for a snapshot encoded while it goes on changing. Taking
   * it costs the history's size, not the store's: instead of copying the keys, the store keeps,
   * from now until `release()`, the old record of each key it changes (copy on write).
   */
  capture(): ConfigCapture {
    const state: CaptureState = { before: new Map(), deleted: new SortedKeys() };
    this.#captures.add(state);
    const release = () => {
      this.#captures.delete(state);
      state.before.clear();
    };
    const keys = this.#capturedKeys(state);
    return {
      revision: this.#revision,
      size: this.size,
      history: this.#history.toSnapshot(),
      keys: () => keys,
      release,
    };
  }

  #keyValue(id: number, key: string): KeyValue {
    const value = decodeValue(this.#table.value(id));
    const { revision, createRevision, version } = this.#table.meta(id);
    return { key, value, revision, createRevision, version };
  }

  /** Saves the record `id` (-1: none) of `key` for each capture that has not saved it yet. */
  #keepForCaptures(key: string, id: number, deleting: boolean): void {
    let saved: SavedRecord | undefined;
    for (const state of this.#captures) {
      if (!state.before.has(key)) {
        if (id >= 0) saved ??= { value: this.#table.value(id).slice(), ...this.#table.meta(id) };
        state.before.set(key, id >= 0 ? saved : undefined);
      }
      if (deleting && state.before.get(key) !== undefined) state.deleted.insert(key);
    }
  }

  /**
   * The captured keys in order: the merge of the live key set and the keys deleted since the
   * capture, each read as it was then (keys created since are skipped). Entries may be applied
   * between two steps, so the scans restart after the last key whenever the key set changed.
   */
  *#capturedKeys(state: CaptureState): Generator<EncodedKeyTuple> {
    const next = <T>(scan: Generator<T>) => {
      const step = scan.next();
      return step.done ? undefined : step.value;
    };
    const table = this.#table;
    let last: string | undefined;
    let version = -1;
    // Both scans start in the first round: `version` differs from the key set's.
    let live!: Generator<number>;
    let deleted!: Generator<string>;
    let l: number | undefined;
    let lKey: string | undefined;
    let d: string | undefined;
    try {
      for (;;) {
        if (version !== this.#keySetVersion) {
          version = this.#keySetVersion;
          live = this.#order.scan(new KeyBytes().set(last ?? ""), last !== undefined);
          deleted = state.deleted.scan(last ?? "", last !== undefined);
          l = next(live);
          lKey = l === undefined ? undefined : table.key(l);
          d = next(deleted);
        }
        if (lKey === undefined && d === undefined) return;
        const order = lKey === undefined ? 1 : d === undefined ? -1 : compareKeys(lKey, d);
        let key: string;
        let id = -1;
        if (order <= 0) {
          key = lKey!;
          id = l!;
          l = next(live);
          lKey = l === undefined ? undefined : table.key(l);
          if (order === 0) d = next(deleted); // deleted, then created again
        } else {
          key = d!;
          d = next(deleted);
        }
        last = key;
        if (state.before.has(key)) {
          const r = state.before.get(key);
          if (r === undefined) continue; // created after the capture
          yield [key, r.value, r.revision, r.createRevision, r.version];
        } else {
          const { revision, createRevision, version } = table.meta(id);
          yield [key, table.value(id), revision, createRevision, version];
        }
      }
    } finally {
      this.#captures.delete(state);
      state.before.clear();
    }
  }
  /** Rebuilds a store from `toSnapshot()`'s data. */
  static fromSnapshot(
    historyCapacity: number,
    [revision, keys, [compactedRevision, changes]]: ConfigSnapshot,
  ): ConfigStore {
    const builder = ConfigStore.restoreBuilder(historyCapacity, revision);
    for (const tuple of keys) builder.key(tuple);
    builder.history(compactedRevision);
    for (const change of changes) builder.change(change);
    return builder.done();
  }

  /**
   * Rebuilds a store from a snapshot's records one at a time: `fromSnapshot` in steps. Keys
   * must come in key order.
   */
  static restoreBuilder(historyCapacity: number, revision: number): ConfigRestore {
    const store = new ConfigStore(historyCapacity);
    store.#revision = revision;
    let compacted = 0;
    const changes: ChangeTuple[] = [];
    return {
      key([key, value, rev, createRevision, version]) {
        const bytes = value instanceof Uint8Array ? value : valueEncoder.encodeSharedRef(value);
        const meta = { revision: rev, createRevision, version };
        const id = store.#table.create(store.#key.set(key), bytes, meta);
        store.#byKey.insert(id);
        store.#order.insert(id, store.#key);
      },
      history(compactedRevision) {
        compacted = compactedRevision;
      },
      change(tuple) {
        if (tuple.length === 2) {
          changes.push(tuple);
          return;
        }
        const [rev, key, value, createRevision, version] = tuple;
        changes.push([rev, key, deepFreeze(value), createRevision, version]);
      },
      done() {
        // The values are frozen already, so this pass over the history is cheap.
        store.#history = WatchHistory.fromSnapshot(historyCapacity, [compacted, changes]);
        return store;
      },
    };
  }
}
