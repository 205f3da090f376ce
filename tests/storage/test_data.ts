/**
 * Deterministic entries and snapshots for the storage tests: their bytes follow from their index
 * and term, so a reader can tell an intact entry from a torn or misplaced one without knowing
 * which writer wrote it.
 *
 * @module
 */

import type { Entry, Snapshot } from "../../src/raft/types.ts";

/**
 * Bytes that depend on every argument.
 *
 * @example
 * ```ts
 * import { patternBytes } from "./test_data.ts";
 * patternBytes(1, 2, 3).length; // 3
 * ```
 */
export function patternBytes(index: number, term: number, size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  let x = (index * 2654435761 + term * 40503) >>> 0;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    bytes[i] = x >>> 24;
  }
  return bytes;
}

/**
 * An entry whose data is `patternBytes(index, term, size)`.
 *
 * @example
 * ```ts
 * import { makeEntry } from "./test_data.ts";
 * makeEntry(5, 1, 100).data.length; // 100
 * ```
 */
export function makeEntry(index: number, term: number, size = 100): Entry {
  return {
    term,
    index,
    type: index % 17 === 0 ? "conf" : "normal",
    data: patternBytes(index, term, size),
  };
}

/**
 * Entries `from..to` (inclusive) of one term.
 *
 * @example
 * ```ts
 * import { makeEntries } from "./test_data.ts";
 * makeEntries(1, 3, 1).map((e) => e.index); // [1, 2, 3]
 * ```
 */
export function makeEntries(from: number, to: number, term: number, size = 100): Entry[] {
  const entries: Entry[] = [];
  for (let index = from; index <= to; index++) entries.push(makeEntry(index, term, size));
  return entries;
}

/**
 * A snapshot at `index` whose data follows from the index.
 *
 * @example
 * ```ts
 * import { makeSnapshot } from "./test_data.ts";
 * makeSnapshot(10, 2, 1024).metadata.index; // 10
 * ```
 */
export function makeSnapshot(index: number, term: number, size: number): Snapshot {
  return {
    metadata: { index, term, conf: { voters: [1, 2, 3], learners: [4] } },
    data: patternBytes(index, -term, size),
  };
}

/**
 * The size the crash writer gives entry `index`: mostly small, some over one KV value (100 KiB),
 * a few over one KV commit (1 MiB), so that kills land inside multi-part and multi-commit writes.
 *
 * @example
 * ```ts
 * import { crashEntrySize } from "./test_data.ts";
 * crashEntrySize(97); // 1048579
 * ```
 */
export function crashEntrySize(index: number): number {
  if (index % 97 === 0) return 1024 * 1024 + 3;
  if (index % 23 === 0) return 100 * 1024 + 1;
  return 20 + (index * 37) % 400;
}

/**
 * The size of the crash writer's snapshot at `index` (several MB).
 *
 * @example
 * ```ts
 * import { crashSnapshotSize } from "./test_data.ts";
 * crashSnapshotSize(0); // 3145728
 * ```
 */
export function crashSnapshotSize(index: number): number {
  return 3 * 1024 * 1024 + (index % 1000);
}
