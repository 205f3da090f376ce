/**
 * The byte format of a state machine snapshot: one msgpack map holding the whole state as
 * plain data. Records are tuples, and every collection is written in an order that depends
 * only on the log (keys in key order, locks and sessions in the order the log made them), so
 * two nodes that applied the same log write byte-identical snapshots.
 *
 * @module
 */

import { decode, encode } from "@msgpack/msgpack";
import type { ConfigSnapshot } from "./config_store.ts";
import type { LockTuple } from "./lock_table.ts";
import type { SessionsSnapshot } from "./sessions.ts";

/**
 * The version of the format written by `encodeSnapshot`.
 *
 * @example
 * ```ts
 * import { SNAPSHOT_FORMAT } from "./snapshot.ts";
 * console.log(SNAPSHOT_FORMAT); // 2
 * ```
 *
 * 2: sessions and keys carry their principal, request fingerprint and lock wait. Format 1 still
 * decodes (`Sessions.fromSnapshot` reads its shorter tuples).
 */
export const SNAPSHOT_FORMAT = 2;

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
  // Values nest at most MAX_VALUE_DEPTH (64) levels below a snapshot's 6 levels of wrapping,
  // within msgpack's default depth limit of 100.
  return encode(data, { initialBufferSize: 64 * 1024 });
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
  if (data.format !== SNAPSHOT_FORMAT && data.format !== 1) {
    throw new TypeError(`snapshot format ${data.format} is not ${SNAPSHOT_FORMAT}`);
  }
  const shapeOk = isArrayOf(data.options, 4) && data.options.every(Number.isSafeInteger) &&
    isArrayOf(data.clock, 4) && isArrayOf(data.config, 3) && Array.isArray(data.config[1]) &&
    isArrayOf(data.config[2], 2) && Array.isArray(data.locks) && isArrayOf(data.sessions, 2);
  if (!shapeOk) throw new TypeError("malformed state machine snapshot");
  return data as SnapshotData;
}
