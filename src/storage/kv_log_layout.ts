/**
 * The in-memory map of the log as stored in Deno KV: which blocks exist, and the entries of the
 * last one. It turns an append or a compaction into an ordered list of mutations without reading
 * the KV on the hot path (a read happens only when a conflicting suffix starts inside an older
 * block).
 *
 * Crash safety rests on the order of the mutations plus the reader's rule (`kv_scan.ts`): the log
 * is the longest run of complete, contiguous blocks from the snapshot on. An append therefore
 * deletes every stale block first, newest first (each intermediate state is a prefix of the old
 * log), then writes its blocks oldest first (each intermediate state is the kept prefix plus a
 * prefix of the new entries). Never can new entries be followed by old ones.
 *
 * @module
 */

import type { Entry } from "../raft/types.ts";
import type { KvMutation } from "./kv_commits.ts";
import { logPartKey } from "./kv_keys.ts";
import { encodeBlockParts, estimatedEntryBytes, packIntoBlocks } from "./log_block_codec.ts";

/**
 * Appends rewrite the last block together with new entries while it is smaller than this.
 *
 * @example
 * ```ts
 * import { MERGE_LIMIT_BYTES } from "./kv_log_layout.ts";
 * const merges = 512 < MERGE_LIMIT_BYTES; // true: a 512-byte last block takes the next entries
 * ```
 */
export const MERGE_LIMIT_BYTES = 1024;

/**
 * Where one stored block sits.
 *
 * @example
 * ```ts
 * import type { BlockInfo } from "./kv_log_layout.ts";
 * const b: BlockInfo = { first: 1, last: 40, parts: 1 };
 * ```
 */
export interface BlockInfo {
  /** The index of its first entry; part of its key. */
  first: number;
  /** The index of its last entry. */
  last: number;
  /** How many KV values it spans. */
  parts: number;
}

/**
 * Mutations to commit in order, and what to do in memory once they all are durable.
 *
 * @example
 * ```ts
 * import type { LogWritePlan } from "./kv_log_layout.ts";
 * const nothing: LogWritePlan = { mutations: [], durableThrough: [], apply: () => {} };
 * ```
 */
export interface LogWritePlan {
  /** In the order they must become durable. */
  mutations: KvMutation[];
  /**
   * For each mutation: a log index that is durable (complete and contiguous) once that mutation
   * and all before it are committed. Bounds the commit index of intermediate commits.
   */
  durableThrough: number[];
  /** Updates the layout; call only after every mutation committed. */
  apply(): void;
}

/**
 * Reads the entries of a stored block (the layout asks only when they are not in memory).
 *
 * @example
 * ```ts
 * import type { BlockReader } from "./kv_log_layout.ts";
 * const never: BlockReader = () => Promise.reject(new Error("not expected to read"));
 * ```
 */
export type BlockReader = (generation: number, block: BlockInfo) => Promise<Entry[]>;

/**
 * The layout of one log generation.
 *
 * @example
 * ```ts
 * import { KvLogLayout } from "./kv_log_layout.ts";
 * const layout = new KvLogLayout(0, 0, [], undefined);
 * const e = { term: 1, index: 1, type: "normal" as const, data: new Uint8Array(3) };
 * const plan = await layout.planAppend([e], () => Promise.reject(new Error("no read needed")));
 * plan.apply();
 * layout.lastIndex; // 1
 * ```
 */
export class KvLogLayout {
  #generation: number;
  /** Entries at or below it are covered by the snapshot (blocks may still hold dead ones). */
  #floor: number;
  #blocks: BlockInfo[];
  /** The entries of the last block when it is a single part; undefined otherwise. */
  #tail: Entry[] | undefined;

  /** Takes over `blocks` (sorted, contiguous) and the entries of the last one, if known. */
  constructor(generation: number, floor: number, blocks: BlockInfo[], tail: Entry[] | undefined) {
    this.#generation = generation;
    this.#floor = floor;
    this.#blocks = blocks;
    this.#tail = tail;
  }

  /** The log generation whose keys this layout describes. */
  get generation(): number {
    return this.#generation;
  }

  /** The index of the last stored entry (the snapshot index when the log is empty). */
  get lastIndex(): number {
    const last = this.#blocks.at(-1)?.last ?? 0;
    return Math.max(last, this.#floor);
  }

  /** The term of the stored entry at `index` (above the floor), or undefined if not stored. */
  async termAt(index: number, read: BlockReader): Promise<number | undefined> {
    if (index <= this.#floor || index > this.lastIndex) return undefined;
    const position = this.#positionOfBlockContaining(index);
    const block = this.#blocks[position];
    const entries = await this.#entriesOf(position, read);
    return entries[index - block.first].term;
  }

  /**
   * Plans storing contiguous `entries` (already checked against the log's range), replacing
   * every stored entry at or after `entries[0].index`.
   */
  async planAppend(entries: Entry[], read: BlockReader): Promise<LogWritePlan> {
    const start = entries[0].index;
    const mutations: KvMutation[] = [];
    const durableThrough: number[] = [];
    const push = (mutation: KvMutation, durable: number) => {
      mutations.push(mutation);
      durableThrough.push(durable);
    };

    // 1. Stale blocks, newest first.
    let keep = this.#positionOfFirstBlockFrom(start);
    for (let p = this.#blocks.length - 1; p >= keep; p--) {
      const block = this.#blocks[p];
      for (let part = block.parts - 1; part >= 0; part--) {
        push({ type: "delete", key: this.#key(block.first, part) }, start - 1);
      }
    }

    // 2. The block before `start` is rewritten when it holds stale entries or is worth merging.
    const previous = this.#blocks[keep - 1];
    let head: Entry[] = [];
    if (previous && previous.last >= start) {
      head = (await this.#entriesOf(keep - 1, read)).slice(0, start - previous.first);
    } else if (previous && keep === this.#blocks.length && this.#tail) {
      head = this.#tail;
    }
    const merge = sumBytes(head) < MERGE_LIMIT_BYTES;
    const mustRewrite = previous !== undefined && previous.last >= start;
    const blocks = merge
      ? packIntoBlocks([...head, ...entries])
      : [...(mustRewrite ? packIntoBlocks(head) : []), ...packIntoBlocks(entries)];
    const replacesPrevious = head.length > 0 && (merge || mustRewrite);
    if (replacesPrevious) keep--;

    // 3. New blocks, oldest first; then parts a rewritten block no longer has.
    const written: BlockInfo[] = [];
    let lastParts: Uint8Array[] = [];
    for (const block of blocks) {
      const info = { first: block[0].index, last: block[block.length - 1].index, parts: 0 };
      lastParts = encodeBlockParts(block);
      info.parts = lastParts.length;
      lastParts.forEach((value, part) => {
        // Until its last part lands, a block is torn and the log ends just before it.
        const durable = part === lastParts.length - 1 ? info.last : info.first - 1;
        push({ type: "set", key: this.#key(info.first, part), value }, durable);
      });
      written.push(info);
    }
    const rewritten = this.#blocks[keep];
    if (replacesPrevious) {
      for (let part = written[0].parts; part < rewritten.parts; part++) {
        push({ type: "delete", key: this.#key(rewritten.first, part) }, written.at(-1)!.last);
      }
    }

    const lastBlock = blocks[blocks.length - 1];
    return {
      mutations,
      durableThrough,
      apply: () => {
        this.#blocks.splice(keep, this.#blocks.length - keep, ...written);
        this.#tail = lastParts.length === 1 ? lastBlock.map(copyEntry) : undefined;
      },
    };
  }

  /**
   * Plans the log side of making a snapshot at `index` current: with `keepLog`, deleting the
   * blocks it fully covers; without, abandoning this generation for the next (the caller's
   * pointer write makes that switch; the old blocks' deletions are only garbage collection).
   */
  planSnapshot(index: number, keepLog: boolean): LogWritePlan {
    const covered = keepLog ? this.#blocks.filter((b) => b.last <= index) : this.#blocks;
    const mutations: KvMutation[] = [];
    for (const block of covered) {
      for (let part = block.parts - 1; part >= 0; part--) {
        mutations.push({ type: "delete", key: this.#key(block.first, part) });
      }
    }
    return {
      mutations,
      durableThrough: mutations.map(() => index),
      apply: () => {
        this.#floor = index;
        if (keepLog) {
          this.#blocks = this.#blocks.filter((b) => b.last > index);
        } else {
          this.#generation++;
          this.#blocks = [];
        }
        if (this.#blocks.length === 0) this.#tail = undefined;
      },
    };
  }

  #key(first: number, part: number): Deno.KvKey {
    return logPartKey(this.#generation, first, part);
  }

  async #entriesOf(position: number, read: BlockReader): Promise<Entry[]> {
    if (position === this.#blocks.length - 1 && this.#tail) return this.#tail;
    return await read(this.#generation, this.#blocks[position]);
  }

  /** The position of the first block whose first index is at or after `index`. */
  #positionOfFirstBlockFrom(index: number): number {
    let low = 0;
    let high = this.#blocks.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (this.#blocks[mid].first < index) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  #positionOfBlockContaining(index: number): number {
    return this.#positionOfFirstBlockFrom(index + 1) - 1;
  }
}

function sumBytes(entries: Entry[]): number {
  return entries.reduce((sum, e) => sum + estimatedEntryBytes(e), 0);
}

function copyEntry(entry: Entry): Entry {
  return { term: entry.term, index: entry.index, type: entry.type, data: entry.data.slice() };
}
