/**
 * The recent history of config changes, for watches that resume from a revision (SSE
 * `Last-Event-ID`). Every revision is exactly one change, so the ring holds consecutive
 * revisions and finding where to resume is arithmetic, not a search.
 *
 * @module
 */

import { deepFreeze, type JsonValue } from "./json_value.ts";
import type { ChangeEvent } from "./results.ts";

/**
 * The answer to a watch that resumes from a revision: the changes since then, or the news that
 * some of them are gone (the client must re-read the keys and watch from the current revision).
 *
 * @example
 * ```ts
 * import type { WatchAnswer } from "./watch_history.ts";
 * const a: WatchAnswer = { compacted: true, compactedRevision: 120 };
 * ```
 */
export type WatchAnswer =
  | { compacted: false; events: ChangeEvent[] }
  | { compacted: true; compactedRevision: number };

/** A change in a snapshot: [revision, key] for a delete, plus the put's value and meta. */
export type ChangeTuple =
  | [revision: number, key: string]
  | [revision: number, key: string, value: JsonValue, createRevision: number, version: number];

/**
 * A put event with its fields in one fixed order, so that snapshots encode identically.
 *
 * @example
 * ```ts
 * import { putEvent } from "./watch_history.ts";
 * putEvent(9, "k", 1, 9, 1).type; // "put"
 * ```
 */
export function putEvent(
  revision: number,
  key: string,
  value: JsonValue,
  createRevision: number,
  version: number,
): ChangeEvent {
  return Object.freeze({ type: "put", revision, key, value, createRevision, version });
}

/**
 * A delete event, built like `putEvent`.
 *
 * @example
 * ```ts
 * import { deleteEvent } from "./watch_history.ts";
 * deleteEvent(10, "k").type; // "delete"
 * ```
 */
export function deleteEvent(revision: number, key: string): ChangeEvent {
  return Object.freeze({ type: "delete", revision, key });
}

/**
 * A bounded ring of the latest `capacity` changes.
 *
 * @example
 * ```ts
 * import { putEvent, WatchHistory } from "./watch_history.ts";
 * const history = new WatchHistory(2);
 * for (let r = 1; r <= 3; r++) history.append(putEvent(r, "k", r, 1, r));
 * history.eventsSince("", 1); // { compacted: true, compactedRevision: 1 }
 * ```
 */
export class WatchHistory {
  readonly capacity: number;
  #ring: ChangeEvent[] = [];
  #start = 0;
  #compactedRevision = 0;

  constructor(capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) {
      throw new RangeError(`history capacity must be an integer >= 1, got ${capacity}`);
    }
    this.capacity = capacity;
  }

  /** The newest revision dropped from the history (0 while nothing was dropped). */
  get compactedRevision(): number {
    return this.#compactedRevision;
  }

  /** How many changes the history holds. */
  get size(): number {
    return this.#ring.length;
  }

  /** Records the change of the next revision, dropping the oldest one when full. */
  append(event: ChangeEvent): void {
    const expected = this.#compactedRevision + this.#ring.length + 1;
    if (event.revision !== expected) {
      throw new RangeError(`history expects revision ${expected}, got ${event.revision}`);
    }
    if (this.#ring.length < this.capacity) {
      this.#ring.push(event);
      return;
    }
    this.#ring[this.#start] = event;
    this.#start = (this.#start + 1) % this.capacity;
    this.#compactedRevision++;
  }

  /**
   * The changes with revision >= `fromRevision` to keys that start with `prefix`, oldest first,
   * at most `limit` of them; or `compacted` when a change at or after `fromRevision` is gone.
   */
  eventsSince(prefix: string, fromRevision: number, limit = Infinity): WatchAnswer {
    if (!Number.isSafeInteger(fromRevision) || fromRevision < 0) {
      throw new RangeError(`fromRevision must be an integer >= 0, got ${fromRevision}`);
    }
    // Revision 0 is before the first change: asking from it means "from the first one".
    const first = Math.max(fromRevision, 1);
    if (first <= this.#compactedRevision) {
      return { compacted: true, compactedRevision: this.#compactedRevision };
    }
    const events: ChangeEvent[] = [];
    const size = this.#ring.length;
    for (let i = first - this.#compactedRevision - 1; i < size; i++) {
      if (events.length >= limit) break;
      const event = this.#ring[(this.#start + i) % size];
      if (event.key.startsWith(prefix)) events.push(event);
    }
    return { compacted: false, events };
  }

  /** The history as plain data, oldest change first. */
  toSnapshot(): [compactedRevision: number, changes: ChangeTuple[]] {
    const changes: ChangeTuple[] = [];
    const size = this.#ring.length;
    for (let i = 0; i < size; i++) {
      const e = this.#ring[(this.#start + i) % size];
      changes.push(
        e.type === "put"
          ? [e.revision, e.key, e.value, e.createRevision, e.version]
          : [e.revision, e.key],
      );
    }
    return [this.#compactedRevision, changes];
  }

  /** Rebuilds a history from `toSnapshot()`'s data. */
  static fromSnapshot(
    capacity: number,
    [compactedRevision, changes]: [number, ChangeTuple[]],
  ): WatchHistory {
    const history = new WatchHistory(capacity);
    history.#compactedRevision = compactedRevision;
    for (const c of changes) {
      history.#ring.push(
        c.length === 2
          ? deleteEvent(c[0], c[1])
          : putEvent(c[0], c[1], deepFreeze(c[2]), c[3], c[4]),
      );
    }
    return history;
  }
}
