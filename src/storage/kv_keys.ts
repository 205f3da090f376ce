/**
 * The key layout of `raft.kv`:
 *
 * - `["hardState"]`: msgpack `[term, vote, commit]`;
 * - `["snapshot"]`: the pointer to the current snapshot (see `kv_records.ts`);
 * - `["snapshotChunk", id, n]`: chunk `n` of snapshot `id`, raw bytes;
 * - `["log", generation, firstIndex, part]`: part of the block of entries starting at
 *   `firstIndex` (see `log_block_codec.ts`).
 *
 * The log generation lives in the snapshot pointer; a snapshot that replaces the whole log bumps
 * it, so the old log stops counting in the same commit that makes the snapshot current, however
 * many keys it has. Keys of other generations and snapshot ids are garbage, removed on open.
 *
 * @module
 */

/**
 * Where the hard state lives.
 *
 * @example
 * ```ts
 * import { HARD_STATE_KEY } from "./kv_keys.ts";
 * const kv = await Deno.openKv(":memory:");
 * const stored = await kv.get(HARD_STATE_KEY);
 * kv.close();
 * ```
 */
export const HARD_STATE_KEY: Deno.KvKey = ["hardState"];
/**
 * Where the pointer to the current snapshot lives.
 *
 * @example
 * ```ts
 * import { SNAPSHOT_POINTER_KEY } from "./kv_keys.ts";
 * const kv = await Deno.openKv(":memory:");
 * const pointer = await kv.get(SNAPSHOT_POINTER_KEY);
 * kv.close();
 * ```
 */
export const SNAPSHOT_POINTER_KEY: Deno.KvKey = ["snapshot"];
/**
 * The prefix of all snapshot chunks.
 *
 * @example
 * ```ts
 * import { SNAPSHOT_CHUNK_PREFIX } from "./kv_keys.ts";
 * const kv = await Deno.openKv(":memory:");
 * for await (const chunk of kv.list({ prefix: SNAPSHOT_CHUNK_PREFIX })) console.log(chunk.key);
 * kv.close();
 * ```
 */
export const SNAPSHOT_CHUNK_PREFIX: Deno.KvKey = ["snapshotChunk"];
/**
 * The prefix of all log blocks.
 *
 * @example
 * ```ts
 * import { LOG_PREFIX } from "./kv_keys.ts";
 * const kv = await Deno.openKv(":memory:");
 * for await (const part of kv.list({ prefix: LOG_PREFIX })) console.log(part.key);
 * kv.close();
 * ```
 */
export const LOG_PREFIX: Deno.KvKey = ["log"];

/**
 * The key of chunk `chunk` of snapshot `id`.
 *
 * @example
 * ```ts
 * import { snapshotChunkKey } from "./kv_keys.ts";
 * snapshotChunkKey(3, 0); // ["snapshotChunk", 3, 0]
 * ```
 */
export function snapshotChunkKey(id: number, chunk: number): Deno.KvKey {
  return ["snapshotChunk", id, chunk];
}

/**
 * The key of part `part` of the block starting at `first` in log generation `generation`.
 *
 * @example
 * ```ts
 * import { logPartKey } from "./kv_keys.ts";
 * logPartKey(0, 1, 0); // ["log", 0, 1, 0]
 * ```
 */
export function logPartKey(generation: number, first: number, part: number): Deno.KvKey {
  return ["log", generation, first, part];
}
