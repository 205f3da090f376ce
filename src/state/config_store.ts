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

/** What a mutating command did: its answer, and the change it made when it made one. */
export interface StoreOutcome<T> {
  result: T | Failure;
  change: ChangeEvent | null;
}

interface KeyRecord extends KeyMeta {
  value: JsonValue;
}

function metaOf(record: KeyRecord | undefined): KeyMeta | null {
  if (record === undefined) return null;
  const { revision, createRevision, version } = record;
  return { revision, createRevision, version };
}

/**
 * The config values with their revisions and change history.
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
  #records = new Map<string, KeyRecord>();
  #keys = new SortedKeys();
  #revision = 0;
  #history: WatchHistory;

  constructor(historyCapacity: number) {
    this.#history = new WatchHistory(historyCapacity);
  }

  /** The revision of the latest change (0 before the first). */
  get revision(): number {
    return this.#revision;
  }

  /** How many keys hold a value. */
  get size(): number {
    return this.#records.size;
  }

  /** The newest revision the watch history no longer holds. */
  get compactedRevision(): number {
    return this.#history.compactedRevision;
  }

  /** The key's value and revisions, or `undefined` when it has none. */
  get(key: string): KeyValue | undefined {
    const record = this.#records.get(key);
    if (record === undefined) return undefined;
    const { value, revision, createRevision, version } = record;
    return { key, value, revision, createRevision, version };
  }

  /** One page of the keys under a prefix, in key order (see `compareKeys`). */
  list({ prefix = "", after, limit = 100 }: ListOptions = {}): ListPage {
    if (!Number.isSafeInteger(limit) || limit < 1) {
      throw new RangeError(`limit must be an integer >= 1, got ${limit}`);
    }
    const resume = after !== undefined && compareKeys(after, prefix) >= 0;
    const items: KeyValue[] = [];
    let next: string | null = null;
    for (const key of this.#keys.scan(resume ? after : prefix, resume)) {
      if (!key.startsWith(prefix)) break;
      if (items.length === limit) {
        next = items[items.length - 1].key;
        break;
      }
      items.push(this.get(key)!);
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
    const current = this.#records.get(key);
    if (cmd.ifRevision !== undefined && (current?.revision ?? 0) !== cmd.ifRevision) {
      return {
        result: { ok: false, reason: "revision_mismatch", key, current: metaOf(current) },
        change: null,
      };
    }
    if (cmd.ifAbsent === true && current !== undefined) {
      return {
        result: { ok: false, reason: "exists", key, current: metaOf(current)! },
        change: null,
      };
    }
    const revision = ++this.#revision;
    const value = deepFreeze(cmd.value);
    const createRevision = current?.createRevision ?? revision;
    const version = (current?.version ?? 0) + 1;
    this.#records.set(key, { value, revision, createRevision, version });
    if (current === undefined) this.#keys.insert(key);
    const change = putEvent(revision, key, value, createRevision, version);
    this.#history.append(change);
    const prevRevision = current?.revision ?? 0;
    return { result: { ok: true, key, revision, createRevision, version, prevRevision }, change };
  }

  /** Applies a delete. */
  delete(cmd: DeleteCommand): StoreOutcome<DeleteResult> {
    const { key } = cmd;
    const current = this.#records.get(key);
    if (current === undefined) {
      return { result: { ok: false, reason: "not_found", key }, change: null };
    }
    if (cmd.ifRevision !== undefined && current.revision !== cmd.ifRevision) {
      return {
        result: { ok: false, reason: "revision_mismatch", key, current: metaOf(current) },
        change: null,
      };
    }
    const revision = ++this.#revision;
    this.#records.delete(key);
    this.#keys.delete(key);
    const change = deleteEvent(revision, key);
    this.#history.append(change);
    return { result: { ok: true, key, revision, prevRevision: current.revision }, change };
  }

  /** The store as plain data. */
  toSnapshot(): ConfigSnapshot {
    const keys: KeyTuple[] = [];
    for (const key of this.#keys) {
      const r = this.#records.get(key)!;
      keys.push([key, r.value, r.revision, r.createRevision, r.version]);
    }
    return [this.#revision, keys, this.#history.toSnapshot()];
  }

  /** Rebuilds a store from `toSnapshot()`'s data. */
  static fromSnapshot(historyCapacity: number, [revision, keys, history]: ConfigSnapshot) {
    const store = new ConfigStore(historyCapacity);
    store.#revision = revision;
    store.#history = WatchHistory.fromSnapshot(historyCapacity, history);
    for (const [key, value, rev, createRevision, version] of keys) {
      store.#records.set(key, { value: deepFreeze(value), revision: rev, createRevision, version });
      store.#keys.insert(key);
    }
    return store;
  }
}
