/**
 * The checker of the preloaded state (`--preload N`): after the run, every source read (the
 * leader linearizably, every node from its own state) holds exactly the N preloaded keys, each
 * with the value written before the workload started. Nothing writes under the prefix during the
 * run, so a key missing, a value changed, or a key nobody wrote is a violation: state lost or
 * corrupted on the way through snapshots, restarts and membership changes.
 *
 * @module
 */

import { PRELOAD_PREFIX, preloadKey, type PreloadReads, preloadValue } from "../preload.ts";

/**
 * The verdict of {@linkcode checkPreload}: `valid` is `"unknown"` when the final reads did not
 * happen (the run then failed before them and is judged an error anyway).
 *
 * @example
 * ```ts
 * import type { PreloadCheckResult } from "./preload_checker.ts";
 * const r: PreloadCheckResult = { valid: true, violations: [], keysChecked: 8000 };
 * ```
 */
export interface PreloadCheckResult {
  valid: boolean | "unknown";
  violations: string[];
  /** Keys compared, all sources together. */
  keysChecked: number;
}

const MAX_REPORTED = 20;

/**
 * Checks that every source in `reads` holds preloaded keys 0..count-1 with their values, and
 * nothing else under the prefix.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkPreload } from "./preload_checker.ts";
 * import { preloadKey, preloadValue } from "../preload.ts";
 * const all = new Map([[preloadKey(0), preloadValue(0)], [preloadKey(1), preloadValue(1)]]);
 * assert.equal(checkPreload(2, new Map([["node 1 (stale)", all]])).valid, true);
 * ```
 */
export function checkPreload(count: number, reads: PreloadReads): PreloadCheckResult {
  if (reads.size === 0) {
    return {
      valid: count === 0 ? true : "unknown",
      violations: [],
      keysChecked: 0,
    };
  }
  const violations: string[] = [];
  let problems = 0;
  const report = (line: string) => {
    problems++;
    if (violations.length < MAX_REPORTED) violations.push(line);
  };
  let keysChecked = 0;
  for (const [where, values] of reads) {
    let missing = 0;
    let changed = 0;
    for (let index = 0; index < count; index++) {
      const key = preloadKey(index);
      keysChecked++;
      const there = values.get(key);
      if (there === undefined) {
        missing++;
        report(`${where}: preloaded ${key} is gone`);
        continue;
      }
      const expected = JSON.stringify(preloadValue(index));
      if (JSON.stringify(there) !== expected) {
        changed++;
        report(
          `${where}: preloaded ${key} = ${JSON.stringify(there)}, but ${expected} was written`,
        );
      }
    }
    for (const key of values.keys()) {
      const index = Number(key.slice(PRELOAD_PREFIX.length));
      const ours = key.startsWith(PRELOAD_PREFIX) && Number.isSafeInteger(index) &&
        index >= 0 && index < count && preloadKey(index) === key;
      if (!ours) report(`${where}: ${key} is there, but the preload never wrote it`);
    }
    // The per-source tallies come first: with 100k keys the listed lines are only a sample.
    if (missing + changed > 0) {
      violations.unshift(`${where}: ${missing} preloaded keys missing, ${changed} changed`);
    }
  }
  if (problems > MAX_REPORTED) {
    violations.push(`(${problems - MAX_REPORTED} more preload findings not listed)`);
  }
  return { valid: problems === 0, violations, keysChecked };
}
