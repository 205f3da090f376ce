/**
 * Reading `raft.kv` back at start, and deciding what of it counts.
 *
 * The rule that makes multi-commit writes crash-safe: the log is the longest run of complete,
 * contiguous blocks of the current generation, starting at or before the snapshot index + 1.
 * A block is complete when parts `0..count-1` are all present and agree on `(last, count)` (part
 * 0 is authoritative; parts at or beyond its count are leftovers). Everything else — blocks after
 * a hole or a torn block, blocks the snapshot covers, other generations, chunks of other
 * snapshots — is garbage that the caller deletes.
 *
 * @module
 */

import type { Entry, Snapshot } from "../raft/types.ts";
import { KvLogLayout } from "./kv_log_layout.ts";
import type { BlockInfo } from "./kv_log_layout.ts";
import {
  HARD_STATE_KEY,
  LOG_PREFIX,
  SNAPSHOT_CHUNK_PREFIX,
  SNAPSHOT_POINTER_KEY,
} from "./kv_keys.ts";
import { decodeHardState, decodeSnapshotPointer, type SnapshotPointer } from "./kv_records.ts";
import { type BlockPart, decodeBlock, decodeBlockPart } from "./log_block_codec.ts";
import { initialHardState, type PersistedState } from "./raft_storage.ts";

/**
 * What a scan found: the state to hand to the node, the layout to continue writing from, and the
 * keys to delete.
 *
 * @example
 * ```ts
 * import { scanKv } from "./kv_scan.ts";
 * const kv = await Deno.openKv(":memory:");
 * const scan = await scanKv(kv);
 * scan.state.entries.length; // 0
 * kv.close();
 * ```
 */
export interface ScanResult {
  /** What `load()` returns. */
  state: PersistedState;
  /** The current snapshot's pointer, if there is a snapshot. */
  pointer: SnapshotPointer | undefined;
  /** The stored log as appends continue it. */
  layout: KvLogLayout;
  /** Greater than every snapshot id present, current or garbage. */
  nextSnapshotId: number;
  /** Keys that are not part of the state: leftovers of interrupted writes. */
  garbage: Deno.KvKey[];
}

interface StoredBlock {
  first: number;
  parts: Map<number, BlockPart | undefined>;
  keys: Deno.KvKey[];
}

/**
 * Reads everything in `kv`. Throws when a record that is never written torn (the hard state, the
 * snapshot pointer, a current snapshot's chunks) does not read back: that is damage, not a crash.
 *
 * @example
 * ```ts
 * import { scanKv } from "./kv_scan.ts";
 * const kv = await Deno.openKv(":memory:");
 * const { state, garbage } = await scanKv(kv);
 * kv.close();
 * ```
 */
export async function scanKv(kv: Deno.Kv): Promise<ScanResult> {
  const [hardStateEntry, pointerEntry] = await kv.getMany<[Uint8Array, Uint8Array]>([
    HARD_STATE_KEY,
    SNAPSHOT_POINTER_KEY,
  ]);
  const hardState = readRecord(hardStateEntry.value, decodeHardState) ?? initialHardState();
  const pointer = readRecord(pointerEntry.value, decodeSnapshotPointer);
  const garbage: Deno.KvKey[] = [];

  const { snapshot, maxId } = await readSnapshot(kv, pointer, garbage);
  const floor = pointer?.metadata.index ?? 0;
  const generation = pointer?.logGeneration ?? 0;
  const stored = await readBlocks(kv, generation, garbage);

  const blocks: BlockInfo[] = [];
  const entries: Entry[] = [];
  let lastEntries: Entry[] | undefined;
  let intact = true;
  for (const block of stored) {
    const anyPart = [...block.parts.values()].find((part) => part !== undefined);
    if (anyPart && anyPart.last <= floor) {
      garbage.push(...block.keys); // covered by the snapshot, whole or partly deleted already
      continue;
    }
    const head = block.parts.get(0);
    const expected = (blocks.at(-1)?.last ?? floor) + 1;
    const decoded = intact && head
      ? decodeComplete(block, head, expected, blocks.length === 0)
      : undefined;
    if (!decoded || !head) {
      intact = false; // a torn block or a hole ends the log; what follows was never acknowledged
      garbage.push(...block.keys);
      continue;
    }
    garbage.push(...block.keys.filter((key) => (key[3] as number) >= head.count));
    blocks.push({ first: block.first, last: head.last, parts: head.count });
    for (const entry of decoded) if (entry.index > floor) entries.push(entry);
    lastEntries = head.count === 1 ? decoded : undefined;
  }

  const tail = lastEntries?.map((e) => ({ ...e, data: e.data.slice() }));
  const state: PersistedState = { hardState, entries };
  if (snapshot) state.snapshot = snapshot;
  return {
    state,
    pointer,
    layout: new KvLogLayout(generation, floor, blocks, tail),
    nextSnapshotId: Math.max(maxId, pointer?.id ?? 0) + 1,
    garbage,
  };
}

/** The block's entries if it is complete and starts where the log continues, else undefined. */
function decodeComplete(
  block: StoredBlock,
  head: BlockPart,
  expected: number,
  isFirst: boolean,
): Entry[] | undefined {
  // The first block may start before the snapshot index + 1: its older entries are dead.
  if (isFirst ? block.first > expected : block.first !== expected) return undefined;
  const chunks: Uint8Array[] = [];
  for (let part = 0; part < head.count; part++) {
    const stored = block.parts.get(part);
    if (!stored || stored.last !== head.last || stored.count !== head.count) return undefined;
    chunks.push(stored.chunk);
  }
  try {
    return decodeBlock(chunks, block.first, head.last);
  } catch {
    return undefined;
  }
}

async function readSnapshot(
  kv: Deno.Kv,
  pointer: SnapshotPointer | undefined,
  garbage: Deno.KvKey[],
): Promise<{ snapshot: Snapshot | undefined; maxId: number }> {
  const chunks: Uint8Array[] = [];
  let maxId = 0;
  for await (const entry of kv.list<Uint8Array>({ prefix: SNAPSHOT_CHUNK_PREFIX })) {
    const [, id, n] = entry.key as [string, number, number];
    maxId = Math.max(maxId, id);
    if (pointer && id === pointer.id && n < pointer.chunks && entry.value instanceof Uint8Array) {
      chunks[n] = entry.value;
    } else {
      garbage.push(entry.key);
    }
  }
  if (!pointer) return { snapshot: undefined, maxId };
  return { snapshot: assembleSnapshot(pointer, chunks), maxId };
}

/**
 * Reads back the snapshot `pointer` names (its chunks only). Throws when a chunk is missing,
 * as when a newer snapshot replaced it and its chunks were collected meanwhile.
 *
 * @example
 * ```ts ignore
 * import { readSnapshotOf } from "./kv_scan.ts";
 * const snapshot = await readSnapshotOf(kv, pointer);
 * ```
 */
export async function readSnapshotOf(kv: Deno.Kv, pointer: SnapshotPointer): Promise<Snapshot> {
  const chunks: Uint8Array[] = [];
  const prefix = [...SNAPSHOT_CHUNK_PREFIX, pointer.id];
  for await (const entry of kv.list<Uint8Array>({ prefix }, { batchSize: 100 })) {
    const n = entry.key[2] as number;
    if (n < pointer.chunks && entry.value instanceof Uint8Array) chunks[n] = entry.value;
  }
  return assembleSnapshot(pointer, chunks);
}

/** The snapshot `pointer` names, from its chunks; throws when they do not add up. */
function assembleSnapshot(pointer: SnapshotPointer, chunks: Uint8Array[]): Snapshot {
  const data = new Uint8Array(pointer.size);
  let offset = 0;
  for (let n = 0; n < pointer.chunks; n++) {
    const chunk = chunks[n];
    if (!chunk || offset + chunk.byteLength > pointer.size) {
      throw new Error(`snapshot ${pointer.id} is damaged: chunk ${n} is missing or oversized`);
    }
    data.set(chunk, offset);
    offset += chunk.byteLength;
  }
  if (offset !== pointer.size) {
    throw new Error(`snapshot ${pointer.id} is damaged: ${offset} of ${pointer.size} bytes`);
  }
  const { index, term, conf } = pointer.metadata;
  return { metadata: { index, term, conf }, data };
}

/** The blocks of `generation` in key order; keys of other generations go to `garbage`. */
async function readBlocks(
  kv: Deno.Kv,
  generation: number,
  garbage: Deno.KvKey[],
): Promise<StoredBlock[]> {
  const blocks: StoredBlock[] = [];
  for await (const entry of kv.list<Uint8Array>({ prefix: LOG_PREFIX })) {
    const [, gen, first, part] = entry.key as [string, number, number, number];
    if (gen !== generation) {
      garbage.push(entry.key);
      continue;
    }
    let block = blocks.at(-1);
    if (block?.first !== first) {
      block = { first, parts: new Map(), keys: [] };
      blocks.push(block);
    }
    block.keys.push(entry.key);
    block.parts.set(part, readRecord(entry.value, decodeBlockPartOrUndefined));
  }
  return blocks;
}

function decodeBlockPartOrUndefined(value: Uint8Array): BlockPart | undefined {
  try {
    return decodeBlockPart(value);
  } catch {
    return undefined; // a torn part makes its block torn, which the walk handles
  }
}

function readRecord<T>(value: unknown, decodeValue: (v: Uint8Array) => T): T | undefined {
  if (value === null || value === undefined) return undefined;
  if (!(value instanceof Uint8Array)) throw new Error("raft.kv holds a value it never wrote");
  return decodeValue(value);
}
