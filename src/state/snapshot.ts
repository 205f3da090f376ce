/**
 * The byte format of a state machine snapshot: one msgpack map holding the whole state as
 * plain data. Records are tuples, and every collection is written in an order that depends
 * only on the log (keys in key order, locks and sessions in the order the log made them), so
 * two nodes that applied the same log write byte-identical snapshots.
 *
 * A snapshot of a large state is tens of MB, and a node that spends a few hundred ms on it at
 * once misses its heartbeats (issue 10, defect 3). So both directions also exist as generators
 * that do one record's worth of work per step: `encodeSnapshotSteps` writes the same bytes as
 * `encodeSnapshot` from a capture taken at one point in time, and `decodeSnapshotSteps` hands
 * out the state record by record. The driver runs them in slices between its other work.
 *
 * @module
 */

import { decode, Decoder, Encoder } from "@msgpack/msgpack";
import type { ConfigSnapshot, EncodedKeyTuple, KeyTuple } from "./config_store.ts";
import type { LockTuple } from "./lock_table.ts";
import type { DirectoryTuple } from "./member_directory.ts";
import { MsgpackCursor } from "./msgpack_cursor.ts";
import type { SessionsSnapshot } from "./sessions.ts";
import type { ChangeTuple } from "./watch_history.ts";

/**
 * The version of the format written by `encodeSnapshot`.
 *
 * @example
 * ```ts
 * import { SNAPSHOT_FORMAT } from "./snapshot.ts";
 * console.log(SNAPSHOT_FORMAT); // 3
 * ```
 *
 * 2: sessions and keys carry their principal, request fingerprint and lock wait. 3: a lock's
 * holder and waiters carry the attempts attached to them (`LockTable`), and sessions no longer
 * carry the last entry they answered. Formats 1 and 2 still decode (`Sessions.fromSnapshot` and
 * `LockTable.fromSnapshot` read their shorter tuples).
 */
export const SNAPSHOT_FORMAT = 3;

/**
 * Everything a state machine holds, as plain data.
 *
 * @example
 * ```ts
 * import type { SnapshotData } from "./snapshot.ts";
 * const empty: SnapshotData = {
 *   format: 1,
 *   options: [10_000, 3_600_000, 10_000, 10_000],
 *   clock: [0, 0, 0, false],
 *   config: [0, [], [0, []]],
 *   locks: [],
 *   sessions: [[], []],
 * };
 * ```
 */
export interface SnapshotData {
  format: number;
  /** [historyLimit, sessionIdleMs, maxSessions, maxIdempotencyKeys] */
  options: [number, number, number, number];
  /** [term, appliedIndex, now, awaitingStamp] */
  clock: [number, number, number, boolean];
  config: ConfigSnapshot;
  locks: LockTuple[];
  sessions: SessionsSnapshot;
  /** The member directory (`member_directory.ts`); absent until membership first changed. */
  members?: DirectoryTuple;
}

/**
 * Encodes a snapshot.
 *
 * @example
 * ```ts
 * import { decodeSnapshot, encodeSnapshot } from "./snapshot.ts";
 * const bytes = encodeSnapshot({
 *   format: 1, options: [1, 1, 1, 1], clock: [0, 0, 0, false],
 *   config: [0, [], [0, []]], locks: [], sessions: [[], []],
 * });
 * decodeSnapshot(bytes).format; // 1
 * ```
 */
export function encodeSnapshot(data: SnapshotData): Uint8Array {
  const [revision, keys, history] = data.config;
  return finishSteps(encodeSnapshotSteps({
    format: data.format,
    options: data.options,
    clock: data.clock,
    config: { revision, keyCount: keys.length, keys, history },
    locks: data.locks,
    sessions: data.sessions,
    members: data.members,
  }));
}

function isArrayOf(value: unknown, length: number): value is unknown[] {
  return Array.isArray(value) && value.length === length;
}

/**
 * Decodes a snapshot, checking its format and overall shape. Throws a `TypeError` when the
 * bytes are not a snapshot of this format.
 *
 * @example
 * ```ts
 * import { decodeSnapshot } from "./snapshot.ts";
 * try {
 *   decodeSnapshot(new Uint8Array([0x90]));
 * } catch (error) {
 *   console.log((error as Error).message); // "not a state machine snapshot"
 * }
 * ```
 */
export function decodeSnapshot(bytes: Uint8Array): SnapshotData {
  let data: Partial<Record<keyof SnapshotData, unknown>>;
  try {
    data = decode(bytes) as typeof data;
  } catch (error) {
    throw new TypeError("not a state machine snapshot", { cause: error });
  }
  if (typeof data !== "object" || data === null || Array.isArray(data)) {
    throw new TypeError("not a state machine snapshot");
  }
  checkShape(data);
  return data as SnapshotData;
}

/** Throws unless the format is one this code reads. */
function checkFormat(format: unknown): void {
  if (format !== SNAPSHOT_FORMAT && format !== 1 && format !== 2) {
    throw new TypeError(`snapshot format ${format} is not ${SNAPSHOT_FORMAT}`);
  }
}

/** The checks `decodeSnapshot` and `decodeSnapshotSteps` share. */
function checkShape(data: Partial<Record<keyof SnapshotData, unknown>>): void {
  checkFormat(data.format);
  const shapeOk = isArrayOf(data.options, 4) && data.options.every(Number.isSafeInteger) &&
    isArrayOf(data.clock, 4) && isArrayOf(data.config, 3) && Array.isArray(data.config[1]) &&
    isArrayOf(data.config[2], 2) && Array.isArray(data.locks) && isArrayOf(data.sessions, 2);
  if (!shapeOk) throw new TypeError("malformed state machine snapshot");
}

/**
 * A snapshot's content as `encodeSnapshotSteps` takes it: like `SnapshotData`, but the keys
 * may come from an iterable that produces them while the encoder runs (a capture's view of the
 * store as it was), with their count known up front for the array header.
 *
 * @example
 * ```ts
 * import type { SnapshotParts } from "./snapshot.ts";
 * const parts: SnapshotParts = {
 *   format: 2, options: [1, 1, 1, 1], clock: [0, 0, 0, false],
 *   config: { revision: 0, keyCount: 0, keys: [], history: [0, []] },
 *   locks: [], sessions: [[], []],
 * };
 * ```
 */
export interface SnapshotParts {
  format: number;
  options: SnapshotData["options"];
  clock: SnapshotData["clock"];
  config: {
    revision: number;
    /** How many tuples `keys` yields. */
    keyCount: number;
    /**
     * [key, value, revision, createRevision, version] in key order; the value may come as its
     * msgpack bytes, written as they are.
     */
    keys: Iterable<KeyTuple | EncodedKeyTuple>;
    /** [compactedRevision, changes], oldest change first. */
    history: [number, ChangeTuple[]];
  };
  locks: LockTuple[];
  sessions: SessionsSnapshot;
  members?: DirectoryTuple;
}

/**
 * A state captured for a snapshot at one point in time, cheaply, while the state machine goes
 * on applying entries: `encode()` produces the bytes in steps (run them in slices), and
 * `release()` stops the state machine from keeping the old values the capture still needs. Call
 * `release()` whether or not the encoding finished.
 *
 * @example
 * ```ts
 * import { finishSteps } from "./snapshot.ts";
 * import { StateMachine } from "./state_machine.ts";
 * const sm = new StateMachine();
 * const capture = sm.captureSnapshot();
 * try {
 *   const bytes = finishSteps(capture.encode());
 * } finally {
 *   capture.release();
 * }
 * ```
 */
export interface SnapshotCapture {
  /** The last entry the captured state includes. */
  readonly appliedIndex: number;
  /** The encoder: each step does about one record; the return value is the snapshot. */
  encode(): Generator<void, Uint8Array>;
  /** Lets go of what the capture holds. */
  release(): void;
}

/**
 * Runs steps to their end at once and returns their result (for callers that do not mind
 * holding the event loop: tests, the simulator, small states).
 *
 * @example
 * ```ts
 * import { finishSteps } from "./snapshot.ts";
 * function* count(): Generator<void, number> {
 *   yield;
 *   return 2;
 * }
 * finishSteps(count()); // 2
 * ```
 */
export function finishSteps<T>(steps: Iterator<unknown, T>): T {
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

/** The first page of output; pages double up to `MAX_PAGE`, so small snapshots stay small. */
const FIRST_PAGE = 4096;
const MAX_PAGE = 1 << 20;

/**
 * Values whose encoding is at least this long keep it (see `encodingCache`): below it, encoding
 * again costs less than the memory.
 */
const CACHE_MIN_BYTES = 1024;

/**
 * The msgpack bytes of large config values, by value. Values are frozen and never change, and a
 * state keeps its large values from one compaction to the next: the first snapshot that holds
 * one encodes it, the later ones only copy its bytes. Encoding a 200 KB document of small
 * records costs milliseconds of CPU and a burst of garbage; copying it, microseconds. The entry
 * goes when the value does (a weak map), and costs the encoded size while the value lives.
 */
const encodingCache = new WeakMap<object, Uint8Array>();

/**
 * Output kept as a list of segments: small writes are copied into pages, and large cached
 * encodings are referenced, not copied, until `join` copies everything once into a buffer of the
 * exact size. A compaction then allocates little more than the snapshot itself, which matters
 * as much as the CPU: V8 counts array buffers as external memory, and a burst of it forces a
 * full garbage collection, whose pause on a large heap is longer than an election timeout.
 */
class SegmentedOutput {
  #scratch = new Uint8Array(5);
  #scratchView = new DataView(this.#scratch.buffer);
  #segments: Uint8Array[] = [];
  #page = new Uint8Array(FIRST_PAGE);
  #pageStart = 0;
  #pos = 0;
  #total = 0;

  /** Copies `bytes` (its first `length` bytes) into the output. */
  write(bytes: Uint8Array, length = bytes.byteLength): void {
    const pos = this.#pos;
    const page = this.#page;
    if (length <= 16 && pos + length <= page.byteLength) {
      // Most writes are a few bytes (headers, numbers, short keys): a loop costs less than the
      // `subarray` and `set` below, a third of a snapshot's time when every write took them.
      for (let i = 0; i < length; i++) page[pos + i] = bytes[i];
      this.#pos = pos + length;
      this.#total += length;
      return;
    }
    let from = 0;
    while (from < length) {
      if (this.#pos === this.#page.byteLength) {
        this.#closeRun();
        this.#page = new Uint8Array(Math.min(MAX_PAGE, 2 * this.#page.byteLength));
        this.#pageStart = this.#pos = 0;
      }
      const n = Math.min(length - from, this.#page.byteLength - this.#pos);
      this.#page.set(bytes.subarray(from, from + n), this.#pos);
      this.#pos += n;
      from += n;
    }
    this.#total += length;
  }

  /** Adds `bytes`, which must never change, by reference. */
  refer(bytes: Uint8Array): void {
    this.#closeRun();
    this.#segments.push(bytes);
    this.#total += bytes.byteLength;
  }

  /**
   * A non-negative integer below 2^32 as msgpack writes it (the smallest form): revisions,
   * versions and counts are most of a snapshot's values, and the encoder's general path costs
   * several times this.
   */
  uint(n: number): void {
    const h = this.#scratch;
    if (n < 0x80) {
      h[0] = n;
      this.write(h, 1);
    } else if (n < 0x100) {
      h[0] = 0xcc;
      h[1] = n;
      this.write(h, 2);
    } else if (n < 0x10000) {
      h[0] = 0xcd;
      h[1] = n >> 8;
      h[2] = n & 0xff;
      this.write(h, 3);
    } else {
      h[0] = 0xce;
      this.#scratchView.setUint32(1, n);
      this.write(h, 5);
    }
  }

  /**
   * An array or map header as msgpack writes it: the smallest form for `length`. Written through
   * one scratch buffer: a new array per header was a million small buffers per snapshot of a
   * million keys, garbage whose collection stalled the event loop (issue 17).
   */
  header(kind: "array" | "map", length: number): void {
    const h = this.#scratch;
    const [fix, b16, b32] = kind === "array" ? [0x90, 0xdc, 0xdd] : [0x80, 0xde, 0xdf];
    if (length < 16) {
      h[0] = fix | length;
      this.write(h, 1);
    } else if (length < 0x10000) {
      h[0] = b16;
      h[1] = length >> 8;
      h[2] = length & 0xff;
      this.write(h, 3);
    } else {
      h[0] = b32;
      this.#scratchView.setUint32(1, length);
      this.write(h, 5);
    }
  }

  /** Joins the segments, about `MAX_PAGE` bytes per step. */
  *join(): Generator<void, Uint8Array> {
    this.#closeRun();
    const segments = this.#segments;
    this.#segments = [];
    const out = new Uint8Array(this.#total);
    let offset = 0;
    let sinceStep = 0;
    for (const segment of segments) {
      out.set(segment, offset);
      offset += segment.byteLength;
      sinceStep += segment.byteLength;
      if (sinceStep >= MAX_PAGE) {
        sinceStep = 0;
        yield;
      }
    }
    return out;
  }

  /** Ends the current run of copied bytes as a segment of its page. */
  #closeRun(): void {
    if (this.#pos === this.#pageStart) return;
    this.#segments.push(this.#page.subarray(this.#pageStart, this.#pos));
    this.#pageStart = this.#pos;
  }
}

/**
 * Encodes a snapshot one record per step: the same bytes `encodeSnapshot` writes for the same
 * content. The top-level map and the arrays of keys, changes, locks and session tables are
 * written as headers followed by their elements, each element encoded on its own; msgpack is a
 * plain concatenation, so the result equals encoding the whole at once.
 *
 * Keys are pulled from `parts.config.keys` between steps, so it may be a live view that stays
 * consistent while the state changes (see `StateMachine.captureSnapshot`).
 *
 * @example
 * ```ts
 * import { encodeSnapshot, encodeSnapshotSteps, finishSteps } from "./snapshot.ts";
 * const data = {
 *   format: 2, options: [1, 1, 1, 1] as [number, number, number, number],
 *   clock: [0, 0, 0, false] as [number, number, number, boolean],
 *   config: [0, [], [0, []]] as [number, [], [number, []]], locks: [],
 *   sessions: [[], []] as [[], []],
 * };
 * const parts = { ...data, config: { revision: 0, keyCount: 0, keys: [], history: [0, []] as [number, []] } };
 * finishSteps(encodeSnapshotSteps(parts)).length === encodeSnapshot(data).length; // true
 * ```
 */
export function* encodeSnapshotSteps(parts: SnapshotParts): Generator<void, Uint8Array> {
  // Values nest at most MAX_VALUE_DEPTH (64) levels below a snapshot's 6 levels of wrapping,
  // within msgpack's default depth limit of 100.
  const encoder = new Encoder();
  const out = new SegmentedOutput();
  // encodeSharedRef returns the encoder's own buffer, copied out before the next call.
  const item = (value: unknown) => {
    if (typeof value === "number" && value >= 0 && value <= 0xffffffff && Number.isInteger(value)) {
      out.uint(value);
    } else out.write(encoder.encodeSharedRef(value));
  };
  /** A config value: from the cache, or encoded (and cached when large). */
  const value = (v: unknown) => {
    const cacheable = typeof v === "object" && v !== null && Object.isFrozen(v);
    const cached = cacheable ? encodingCache.get(v) : undefined;
    if (cached) return out.refer(cached);
    const bytes = encoder.encodeSharedRef(v);
    if (!cacheable || bytes.byteLength < CACHE_MIN_BYTES) return out.write(bytes);
    const copy = bytes.slice();
    encodingCache.set(v, copy);
    out.refer(copy);
  };
  /** An array whose elements (down to `depth` levels) are written a step each. */
  function* array(v: unknown, depth: number): Generator<void> {
    if (depth === 0 || !Array.isArray(v)) {
      item(v);
      yield;
      return;
    }
    out.header("array", v.length);
    for (const element of v) yield* array(element, depth - 1);
  }

  // Without a directory the bytes are those older nodes write (and they skip the key).
  out.header("map", parts.members ? 7 : 6);
  item("format");
  item(parts.format);
  item("options");
  item(parts.options);
  item("clock");
  item(parts.clock);
  item("config");
  const { revision, keyCount, keys, history } = parts.config;
  out.header("array", 3);
  item(revision);
  out.header("array", keyCount);
  let written = 0;
  for (const tuple of keys) {
    if (++written > keyCount) break;
    const [key, v, rev, createRevision, version] = tuple;
    if (typeof v === "object" && v !== null) {
      out.header("array", 5);
      item(key);
      if (v instanceof Uint8Array) out.write(v); // already msgpack (see `ConfigCapture`)
      else value(v);
      item(rev);
      item(createRevision);
      item(version);
    } else {
      // A plain value has nothing to cache: the tuple in one call, the same bytes (msgpack is a
      // concatenation), a fifth of the calls and of the garbage.
      item(tuple);
    }
    yield;
  }
  if (written !== keyCount) {
    throw new Error(`the snapshot's keys were ${written}, not the ${keyCount} announced`);
  }
  const [compactedRevision, changes] = history;
  out.header("array", 2);
  item(compactedRevision);
  out.header("array", changes.length);
  for (const change of changes) {
    out.header("array", change.length);
    item(change[0]);
    item(change[1]);
    if (change.length === 5) {
      value(change[2]);
      item(change[3]);
      item(change[4]);
    }
    yield;
  }
  item("locks");
  yield* array(parts.locks, 1);
  item("sessions");
  yield* array(parts.sessions, 2);
  if (parts.members) {
    item("members");
    item(parts.members);
  }
  return yield* out.join();
}

/**
 * One record of a snapshot as `decodeSnapshotSteps` hands it out, in this order: `head`,
 * `config`, its `key`s, `history`, its `change`s, then `tail` once the whole snapshot has been
 * read and checked; `pause` records only give the caller a chance to stop for a while.
 *
 * @example
 * ```ts
 * import type { SnapshotRecord } from "./snapshot.ts";
 * const r: SnapshotRecord = { kind: "key", key: ["a", 1, 1, 1, 1] };
 * ```
 */
export type SnapshotRecord =
  | {
    kind: "head";
    format: number;
    options: SnapshotData["options"];
    clock: SnapshotData["clock"];
  }
  | { kind: "config"; revision: number; keyCount: number }
  | { kind: "key"; key: KeyTuple }
  | { kind: "history"; compactedRevision: number; changeCount: number }
  | { kind: "change"; change: ChangeTuple }
  | { kind: "tail"; locks: LockTuple[]; sessions: SessionsSnapshot; members?: DirectoryTuple }
  | { kind: "pause" };

const TOP_LEVEL = new Set([
  "format",
  "options",
  "clock",
  "config",
  "locks",
  "sessions",
  "members",
]);

/**
 * Decodes a snapshot a record at a time (see `SnapshotRecord`), with the checks of
 * `decodeSnapshot`: a `TypeError` for bytes that are not a snapshot of a known format. The
 * error may come after records were handed out, but always before `tail`: only a caller that
 * saw `tail` has the whole state.
 *
 * @example
 * ```ts
 * import { decodeSnapshotSteps, encodeSnapshot } from "./snapshot.ts";
 * const bytes = encodeSnapshot({
 *   format: 2, options: [1, 1, 1, 1], clock: [0, 0, 0, false],
 *   config: [1, [["a", 1, 1, 1, 1]], [0, []]], locks: [], sessions: [[], []],
 * });
 * const kinds = [...decodeSnapshotSteps(bytes)].map((r) => r.kind);
 * // ["head", "config", "key", "history", "tail"]
 * ```
 */
export function* decodeSnapshotSteps(bytes: Uint8Array): Generator<SnapshotRecord, void> {
  const cursor = new MsgpackCursor(bytes);
  const decoder = new Decoder();
  const item = (): unknown => {
    const span = cursor.skip();
    try {
      return decoder.decode(span);
    } catch (error) {
      throw new TypeError("not a state machine snapshot", { cause: error });
    }
  };
  const arrayOf = (length: number | undefined): number => {
    const n = cursor.arrayHeader();
    if (length !== undefined && n !== length) {
      throw new TypeError("malformed state machine snapshot");
    }
    return n;
  };
  /** Decodes an array (down to `depth` levels) an element per step. */
  function* array(depth: number): Generator<SnapshotRecord, unknown> {
    const type = bytes[cursor.pos];
    const isArray = (type >= 0x90 && type <= 0x9f) || type === 0xdc || type === 0xdd;
    if (depth === 0 || !isArray) return item();
    const elements: unknown[] = [];
    for (let n = arrayOf(undefined); n > 0; n--) {
      elements.push(yield* array(depth - 1));
      yield { kind: "pause" };
    }
    return elements;
  }

  let pairs: number;
  try {
    pairs = cursor.mapHeader();
  } catch (error) {
    throw new TypeError("not a state machine snapshot", { cause: error });
  }
  const seen: Partial<Record<keyof SnapshotData, unknown>> = {};
  for (let p = 0; p < pairs; p++) {
    const name = item();
    if (typeof name !== "string" || !TOP_LEVEL.has(name)) {
      item(); // not ours: skipped, as a whole decode would ignore it
      continue;
    }
    const field = name as keyof SnapshotData;
    if (field in seen) throw new TypeError(`malformed state machine snapshot: two ${field}`);
    if (field === "locks") seen.locks = yield* array(1);
    else if (field === "sessions") seen.sessions = yield* array(2);
    else if (field !== "config") seen[field] = item();
    else {
      // The store is rebuilt as it is read, which needs the options: they come first.
      checkFormat(seen.format);
      const { options, clock } = seen;
      if (!isArrayOf(options, 4) || !options.every(Number.isSafeInteger) || !isArrayOf(clock, 4)) {
        throw new TypeError("malformed state machine snapshot");
      }
      yield {
        kind: "head",
        format: seen.format as number,
        options: options as SnapshotData["options"],
        clock: clock as SnapshotData["clock"],
      };
      arrayOf(3);
      const revision = item() as number;
      const keyCount = arrayOf(undefined);
      yield { kind: "config", revision, keyCount };
      for (let n = 0; n < keyCount; n++) yield { kind: "key", key: item() as KeyTuple };
      arrayOf(2);
      const compactedRevision = item() as number;
      const changeCount = arrayOf(undefined);
      yield { kind: "history", compactedRevision, changeCount };
      for (let n = 0; n < changeCount; n++) {
        yield { kind: "change", change: item() as ChangeTuple };
      }
      seen.config = [revision, [], [compactedRevision, []]];
    }
  }
  if (!cursor.atEnd) throw new TypeError("not a state machine snapshot: bytes after its end");
  checkShape(seen);
  yield {
    kind: "tail",
    locks: seen.locks as LockTuple[],
    sessions: seen.sessions as SessionsSnapshot,
    members: seen.members as DirectoryTuple | undefined,
  };
}
