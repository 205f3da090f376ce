/**
 * The checker of the config + watch workload: every acknowledged write is seen by every
 * watcher, in revision order, with no gaps and no duplicates, and all watchers agree on what
 * happened at each revision.
 *
 * The watchers watch a prefix that every write of the run falls under, and every revision is
 * exactly one change (src/state/watch_history.ts), so a watcher's events must carry
 * consecutive revisions from where it started to the final revision. The one allowed break is
 * an explicit `compacted` event (the history before it is gone); the watcher then starts over
 * from the compacted revision, and the revisions in between are not held against it.
 *
 * @module
 */

import type { JsonValue } from "../../checker/history.ts";

/**
 * A change a watcher received.
 *
 * @example
 * ```ts
 * import type { SeenChange } from "./watch_checker.ts";
 * const c: SeenChange = { revision: 4, type: "put", key: "w/a", value: 17 };
 * ```
 */
export interface SeenChange {
  revision: number;
  type: "put" | "delete";
  key: string;
  value?: JsonValue;
}

/**
 * Everything one watcher saw, in the order it saw it.
 *
 * @example
 * ```ts
 * import type { WatcherLog } from "./watch_checker.ts";
 * const w: WatcherLog = { watcher: 1, fromRevision: 1, entries: [] };
 * ```
 */
export interface WatcherLog {
  watcher: number;
  /** The revision its first stream started from. */
  fromRevision: number;
  /** Changes, and `compacted` markers with the revision the watcher resumed from. */
  entries: (SeenChange | { compacted: true; resumeFrom: number })[];
}

/**
 * A write whose success the client saw, with the revision the answer named.
 *
 * @example
 * ```ts
 * import type { AckedChange } from "./watch_checker.ts";
 * const a: AckedChange = { revision: 4, type: "put", key: "w/a", value: 17 };
 * ```
 */
export type AckedChange = SeenChange;

/**
 * The verdict of {@linkcode checkWatches}.
 *
 * @example
 * ```ts
 * import type { WatchCheckResult } from "./watch_checker.ts";
 * const say = (r: WatchCheckResult) => r.valid ? "ok" : r.violations[0];
 * ```
 */
export interface WatchCheckResult {
  valid: boolean;
  violations: string[];
  /** Changes delivered to watchers, all watchers together. */
  eventsChecked: number;
}

const MAX_REPORTED = 20;

/**
 * Checks what the watchers saw against the acknowledged writes and each other. `finalRevision`
 * is the cluster's revision after the run: every watcher must have reached it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkWatches } from "./watch_checker.ts";
 *
 * const put = (revision: number, value: number) =>
 *   ({ revision, type: "put" as const, key: "w/a", value });
 * const result = checkWatches({
 *   acked: [put(1, 10), put(2, 20)],
 *   watchers: [{ watcher: 1, fromRevision: 1, entries: [put(2, 20)] }], // missed revision 1
 *   finalRevision: 2,
 * });
 * assert.equal(result.valid, false);
 * ```
 */
export function checkWatches(input: {
  acked: readonly AckedChange[];
  watchers: readonly WatcherLog[];
  finalRevision: number;
}): WatchCheckResult {
  const violations: string[] = [];
  const report = (text: string) => {
    if (violations.length < MAX_REPORTED) violations.push(text);
    else if (violations.length === MAX_REPORTED) violations.push("(more violations left out)");
  };
  /** revision -> the change as the first watcher (or acknowledgement) to report it said. */
  const truth = new Map<number, { change: SeenChange; who: string }>();
  const agree = (change: SeenChange, who: string) => {
    const known = truth.get(change.revision);
    if (!known) {
      truth.set(change.revision, { change, who });
      return;
    }
    if (!sameChange(known.change, change)) {
      report(
        `revision ${change.revision}: ${who} has ${describe(change)} but ${known.who} has ` +
          describe(known.change),
      );
    }
  };
  for (const ack of input.acked) agree(ack, "the write's answer");

  let eventsChecked = 0;
  for (const log of input.watchers) {
    const who = `watcher ${log.watcher}`;
    let expected = log.fromRevision;
    const seen = new Set<number>();
    for (const entry of log.entries) {
      if ("compacted" in entry) {
        if (entry.resumeFrom < expected) {
          report(`${who}: compaction made it resume at ${entry.resumeFrom}, behind ${expected}`);
        }
        expected = Math.max(expected, entry.resumeFrom);
        continue;
      }
      eventsChecked++;
      if (seen.has(entry.revision)) report(`${who}: revision ${entry.revision} delivered twice`);
      else if (entry.revision < expected) {
        report(`${who}: revision ${entry.revision} after ${expected - 1} (out of order)`);
      } else if (entry.revision > expected) {
        report(`${who}: gap, revisions ${expected}..${entry.revision - 1} never delivered`);
      }
      seen.add(entry.revision);
      expected = Math.max(expected, entry.revision + 1);
      agree(entry, who);
    }
    if (expected <= input.finalRevision) {
      report(
        `${who}: stopped at revision ${expected - 1}, the cluster reached ${input.finalRevision}`,
      );
    }
    for (const ack of input.acked) {
      if (ack.revision >= log.fromRevision && !seen.has(ack.revision) && !skipped(log, ack)) {
        report(`${who}: never saw the acknowledged ${describe(ack)}`);
      }
    }
  }
  return { valid: violations.length === 0, violations, eventsChecked };
}

/** Whether a compaction let the watcher skip this revision. */
function skipped(log: WatcherLog, change: SeenChange): boolean {
  let from = log.fromRevision;
  for (const entry of log.entries) {
    if ("compacted" in entry) {
      if (change.revision >= from && change.revision < entry.resumeFrom) return true;
      from = entry.resumeFrom;
    } else {
      from = entry.revision + 1;
    }
  }
  return false;
}

function sameChange(a: SeenChange, b: SeenChange): boolean {
  return a.type === b.type && a.key === b.key &&
    (a.type === "delete" || JSON.stringify(a.value) === JSON.stringify(b.value));
}

function describe(change: SeenChange): string {
  const what = change.type === "put" ? `put ${JSON.stringify(change.value)}` : "delete";
  return `${what} of ${change.key} at revision ${change.revision}`;
}
