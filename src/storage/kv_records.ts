/**
 * The two small records of `raft.kv`: the hard state and the pointer to the current snapshot.
 * Both are msgpack and checked on the way in, because a node that starts from a misread term or
 * vote breaks Raft's safety silently.
 *
 * @module
 */

import { Decoder, Encoder } from "@msgpack/msgpack";
import type { HardState, SnapshotMetadata } from "../raft/types.ts";

// Shared across calls: building an encoder per call was a visible share of a write's CPU.
const encoder = new Encoder();
const decoder = new Decoder();

/**
 * Which snapshot is current, where its chunks are, and which log generation goes with it.
 *
 * @example
 * ```ts
 * import type { SnapshotPointer } from "./kv_records.ts";
 * const p: SnapshotPointer = {
 *   metadata: { index: 10, term: 2, conf: { voters: [1], learners: [] } },
 *   id: 1, chunks: 1, size: 5, logGeneration: 0,
 * };
 * ```
 */
export interface SnapshotPointer {
  /** The snapshot's own metadata, as given to `saveSnapshot`. */
  metadata: SnapshotMetadata;
  /** Names the chunks: `["snapshotChunk", id, 0..chunks-1]`. */
  id: number;
  /** How many chunks hold the data. */
  chunks: number;
  /** Total bytes of the snapshot data, checked on load. */
  size: number;
  /** The log generation whose blocks continue this snapshot. */
  logGeneration: number;
}

/**
 * Encodes a hard state as msgpack `[term, vote, commit]`.
 *
 * @example
 * ```ts
 * import { decodeHardState, encodeHardState } from "./kv_records.ts";
 * decodeHardState(encodeHardState({ term: 1, vote: 2, commit: 3 })).vote; // 2
 * ```
 */
export function encodeHardState(hardState: HardState): Uint8Array {
  return encoder.encode([hardState.term, hardState.vote, hardState.commit]);
}

/**
 * Decodes what `encodeHardState` wrote; throws on anything else.
 *
 * @example
 * ```ts
 * import { decodeHardState, encodeHardState } from "./kv_records.ts";
 * decodeHardState(encodeHardState({ term: 4, vote: 0, commit: 9 })); // { term: 4, vote: 0, commit: 9 }
 * ```
 */
export function decodeHardState(value: Uint8Array): HardState {
  const decoded = decoder.decode(value);
  if (!Array.isArray(decoded) || decoded.length !== 3 || !decoded.every(isCount)) {
    throw new Error("the stored hard state is corrupt");
  }
  const [term, vote, commit] = decoded;
  return { term, vote, commit };
}

/**
 * Encodes a snapshot pointer as msgpack.
 *
 * @example
 * ```ts
 * import { decodeSnapshotPointer, encodeSnapshotPointer } from "./kv_records.ts";
 * const metadata = { index: 3, term: 1, conf: { voters: [1], learners: [] } };
 * const p = { metadata, id: 1, chunks: 1, size: 2, logGeneration: 0 };
 * decodeSnapshotPointer(encodeSnapshotPointer(p)).id; // 1
 * ```
 */
export function encodeSnapshotPointer(pointer: SnapshotPointer): Uint8Array {
  const { index, term, conf } = pointer.metadata;
  return encoder.encode([
    index,
    term,
    conf.voters,
    conf.learners,
    pointer.id,
    pointer.chunks,
    pointer.size,
    pointer.logGeneration,
  ]);
}

/**
 * Decodes what `encodeSnapshotPointer` wrote; throws on anything else.
 *
 * @example
 * ```ts
 * import { decodeSnapshotPointer, encodeSnapshotPointer } from "./kv_records.ts";
 * const metadata = { index: 3, term: 1, conf: { voters: [1, 2], learners: [3] } };
 * const p = { metadata, id: 7, chunks: 0, size: 0, logGeneration: 2 };
 * decodeSnapshotPointer(encodeSnapshotPointer(p)).metadata.conf.learners; // [3]
 * ```
 */
export function decodeSnapshotPointer(value: Uint8Array): SnapshotPointer {
  const decoded = decoder.decode(value);
  const corrupt = () => new Error("the stored snapshot pointer is corrupt");
  if (!Array.isArray(decoded) || decoded.length !== 8) throw corrupt();
  const [index, term, voters, learners, id, chunks, size, logGeneration] = decoded;
  const numbers = [index, term, id, chunks, size, logGeneration];
  if (!numbers.every(isCount) || !isIdList(voters) || !isIdList(learners)) throw corrupt();
  return {
    metadata: { index, term, conf: { voters, learners } },
    id,
    chunks,
    size,
    logGeneration,
  };
}

function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

function isIdList(value: unknown): value is number[] {
  return Array.isArray(value) && value.every(isCount);
}
