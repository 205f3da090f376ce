/**
 * How log entries become Deno KV values.
 *
 * Entries are packed into blocks (a block is the msgpack of `[firstIndex, [[term, type, data],
 * ...]]`, at most ~60 KiB of entries): one small KV value per append would waste a row and a
 * B-tree slot per entry, and one value per batch keeps appends at a single `set`. A block whose
 * encoding exceeds one KV value (only ever a block holding one large entry) is cut into parts.
 * Every part carries the block's last index and its part count, so that a reader can tell a
 * complete block from a torn one without any other record.
 *
 * @module
 */

import { Decoder, Encoder } from "@msgpack/msgpack";
import type { Entry, EntryType } from "../raft/types.ts";
import { KV_MAX_VALUE_BYTES } from "./kv_commits.ts";

// Shared across calls: building an encoder per call was a visible share of a write's CPU.
const encoder = new Encoder();
const decoder = new Decoder();

/**
 * Blocks are filled up to this many (estimated) bytes of entries.
 *
 * @example
 * ```ts
 * import { BLOCK_TARGET_BYTES } from "./log_block_codec.ts";
 * const entriesPerBlock = Math.floor(BLOCK_TARGET_BYTES / 124); // of 100-byte entries
 * ```
 */
export const BLOCK_TARGET_BYTES = 60 * 1024;
/**
 * Payload per part: a KV value minus room for the part header.
 *
 * @example
 * ```ts
 * import { PART_CHUNK_BYTES } from "./log_block_codec.ts";
 * const parts = Math.ceil(1_000_000 / PART_CHUNK_BYTES); // 16
 * ```
 */
export const PART_CHUNK_BYTES = KV_MAX_VALUE_BYTES - 32;

/** Upper bound of msgpack's framing per entry tuple: array, term, type, bin header. */
const ENTRY_FRAMING_BYTES = 24;

const TYPE_CODES: Record<EntryType, number> = { normal: 0, conf: 1 };
const TYPES_BY_CODE: EntryType[] = ["normal", "conf"];

/**
 * One stored part of a block, as read back.
 *
 * @example
 * ```ts
 * import type { BlockPart } from "./log_block_codec.ts";
 * const p: BlockPart = { last: 9, count: 1, chunk: new Uint8Array() };
 * ```
 */
export interface BlockPart {
  /** The index of the block's last entry. */
  last: number;
  /** How many parts the block has. */
  count: number;
  /** This part's slice of the encoded block. */
  chunk: Uint8Array;
}

/**
 * The encoded size of an entry, rounded up; used to fill blocks without encoding twice.
 *
 * @example
 * ```ts
 * import { estimatedEntryBytes } from "./log_block_codec.ts";
 * estimatedEntryBytes({ term: 1, index: 1, type: "normal", data: new Uint8Array(100) }); // 124
 * ```
 */
export function estimatedEntryBytes(entry: Entry): number {
  return entry.data.byteLength + ENTRY_FRAMING_BYTES;
}

/**
 * Groups contiguous entries into blocks of at most `BLOCK_TARGET_BYTES` (an entry larger than
 * that gets a block of its own).
 *
 * @example
 * ```ts
 * import { packIntoBlocks } from "./log_block_codec.ts";
 * const e = (index: number) => ({ term: 1, index, type: "normal" as const, data: new Uint8Array(40_000) });
 * packIntoBlocks([e(1), e(2)]).length; // 2
 * ```
 */
export function packIntoBlocks(entries: Entry[]): Entry[][] {
  const blocks: Entry[][] = [];
  let current: Entry[] = [];
  let bytes = 0;
  for (const entry of entries) {
    const size = estimatedEntryBytes(entry);
    if (current.length > 0 && bytes + size > BLOCK_TARGET_BYTES) {
      blocks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(entry);
    bytes += size;
  }
  if (current.length > 0) blocks.push(current);
  return blocks;
}

/**
 * Encodes one block of contiguous entries into the values of its parts, in part order.
 *
 * @example
 * ```ts
 * import { encodeBlockParts } from "./log_block_codec.ts";
 * const big = { term: 1, index: 1, type: "normal" as const, data: new Uint8Array(100_000) };
 * encodeBlockParts([big]).length; // 2
 * ```
 */
export function encodeBlockParts(entries: Entry[]): Uint8Array[] {
  const first = entries[0].index;
  const last = entries[entries.length - 1].index;
  const block = encoder.encode([first, entries.map((e) => [e.term, TYPE_CODES[e.type], e.data])]);
  const count = Math.max(1, Math.ceil(block.byteLength / PART_CHUNK_BYTES));
  const parts: Uint8Array[] = [];
  for (let part = 0; part < count; part++) {
    const chunk = block.subarray(part * PART_CHUNK_BYTES, (part + 1) * PART_CHUNK_BYTES);
    parts.push(encoder.encode([last, count, chunk]));
  }
  return parts;
}

/**
 * Reads the header of a stored part. Throws on anything that is not one.
 *
 * @example
 * ```ts
 * import { decodeBlockPart, encodeBlockParts } from "./log_block_codec.ts";
 * const e = { term: 1, index: 3, type: "normal" as const, data: new Uint8Array() };
 * decodeBlockPart(encodeBlockParts([e])[0]).last; // 3
 * ```
 */
export function decodeBlockPart(value: Uint8Array): BlockPart {
  const decoded = decoder.decode(value);
  if (!Array.isArray(decoded) || decoded.length !== 3) throw new Error("malformed block part");
  const [last, count, chunk] = decoded;
  if (!isIndex(last) || !isIndex(count) || count < 1 || !(chunk instanceof Uint8Array)) {
    throw new Error("malformed block part");
  }
  return { last, count, chunk };
}

/**
 * Decodes a block from its parts' chunks, checking that it holds exactly `first..last`.
 * Throws on a torn or foreign block.
 *
 * @example
 * ```ts
 * import { decodeBlock, decodeBlockPart, encodeBlockParts } from "./log_block_codec.ts";
 * const e = { term: 2, index: 5, type: "conf" as const, data: new Uint8Array([1]) };
 * const chunks = encodeBlockParts([e]).map((v) => decodeBlockPart(v).chunk);
 * decodeBlock(chunks, 5, 5)[0].type; // "conf"
 * ```
 */
export function decodeBlock(chunks: Uint8Array[], first: number, last: number): Entry[] {
  const decoded = decoder.decode(concat(chunks));
  if (!Array.isArray(decoded) || decoded.length !== 2 || decoded[0] !== first) {
    throw new Error(`block ${first} is malformed`);
  }
  const tuples: unknown = decoded[1];
  if (!Array.isArray(tuples) || tuples.length !== last - first + 1) {
    throw new Error(`block ${first} does not hold entries ${first}..${last}`);
  }
  return tuples.map((tuple: unknown, offset) => {
    if (!Array.isArray(tuple) || tuple.length !== 3) throw new Error(`block ${first} is malformed`);
    const [term, code, data] = tuple;
    const type = TYPES_BY_CODE[code];
    if (!isIndex(term) || type === undefined || !(data instanceof Uint8Array)) {
      throw new Error(`block ${first} holds a malformed entry`);
    }
    return { term, index: first + offset, type, data };
  });
}

function isIndex(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

function concat(chunks: Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  const total = chunks.reduce((sum, chunk) => sum + chunk.byteLength, 0);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}
