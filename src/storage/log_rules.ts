/**
 * The preconditions both storage implementations enforce, in one place so that they refuse the
 * same calls with the same errors.
 *
 * @module
 */

import type { Entry } from "../raft/types.ts";

/**
 * Throws `RangeError` unless `entries` are contiguous and start in
 * `[snapshotIndex + 1, lastIndex + 1]`: anything else would leave a hole in the stored log or
 * rewrite entries a snapshot already covers.
 *
 * @example
 * ```ts
 * import { checkAppendRange } from "./log_rules.ts";
 * const e = { term: 1, index: 5, type: "normal" as const, data: new Uint8Array() };
 * checkAppendRange([e], 0, 4); // ok: 5 follows 4
 * ```
 */
export function checkAppendRange(entries: Entry[], snapshotIndex: number, lastIndex: number): void {
  if (entries.length === 0) return;
  const first = entries[0].index;
  if (!Number.isSafeInteger(first) || first < 1) {
    throw new RangeError(`entry index ${first} is not a positive integer`);
  }
  if (first <= snapshotIndex) {
    throw new RangeError(`cannot append at ${first}: the snapshot covers up to ${snapshotIndex}`);
  }
  if (first > lastIndex + 1) {
    throw new RangeError(`cannot append at ${first}: the log ends at ${lastIndex}, leaving a hole`);
  }
  for (let i = 1; i < entries.length; i++) {
    if (entries[i].index !== first + i) {
      throw new RangeError(
        `entries are not contiguous: index ${entries[i].index} at position ${i} after ${first}`,
      );
    }
  }
}

/**
 * Throws `RangeError` when a snapshot at `index` would replace a newer stored one at
 * `storedIndex`: the entries between them are already deleted, so the log would have a hole.
 *
 * @example
 * ```ts
 * import { checkSnapshotNotOlder } from "./log_rules.ts";
 * checkSnapshotNotOlder(10, 5); // ok
 * ```
 */
export function checkSnapshotNotOlder(index: number, storedIndex: number): void {
  if (!Number.isSafeInteger(index) || index < 0) {
    throw new RangeError(`snapshot index ${index} is not a non-negative integer`);
  }
  if (index < storedIndex) {
    throw new RangeError(`snapshot at ${index} is older than the stored one at ${storedIndex}`);
  }
}
