/**
 * The fault checkers are tested themselves: hand-written histories with a known flaw must be
 * caught, and their sound twins must pass.
 */

import assert from "node:assert/strict";
import type { HistoryEvent, JsonValue } from "../checker/history.ts";
import { pairOperations } from "../checker/history.ts";
import { checkHistory } from "../checker/linearizability.ts";
import { registerModel } from "../checker/register_model.ts";
import { checkLocks } from "./checkers/lock_checker.ts";
import { checkWatches, type SeenChange, type WatcherLog } from "./checkers/watch_checker.ts";
import { checkPreload } from "./checkers/preload_checker.ts";
import { preloadKey, preloadValue } from "./preload.ts";

const MS = 1e6;
const RECKONING = { maxDrift: 0.01, renewMarginMs: 100 };

/** Builds events from [process, type, f, key, value, time in ms] rows. */
function events(
  rows: [number, HistoryEvent["type"], HistoryEvent["f"], string, JsonValue, number][],
): HistoryEvent[] {
  return rows.map(([process, type, f, key, value, ms]) => ({
    process,
    type,
    f,
    key,
    value,
    time: ms * MS,
  }));
}

// ---- register (tests/checker) ---------------------------------------------------------------

Deno.test("register: a read of an overwritten value after the overwrite is not linearizable", () => {
  const history = events([
    [1, "invoke", "write", "k", 1, 0],
    [1, "ok", "write", "k", 1, 1],
    [2, "invoke", "write", "k", 2, 2],
    [2, "ok", "write", "k", 2, 3],
    [3, "invoke", "read", "k", null, 4],
    [3, "ok", "read", "k", 1, 5],
  ]);
  const result = checkHistory(pairOperations(history), registerModel);
  assert.equal(result.verdict, "violation");
  assert.equal(result.key, "k");
});

Deno.test("register: two successful cas from the same expected value are not linearizable", () => {
  const history = events([
    [1, "invoke", "write", "k", 1, 0],
    [1, "ok", "write", "k", 1, 1],
    [2, "invoke", "cas", "k", [1, 2], 2],
    [3, "invoke", "cas", "k", [1, 3], 2.5],
    [2, "ok", "cas", "k", [1, 2], 3],
    [3, "ok", "cas", "k", [1, 3], 4],
  ]);
  assert.equal(checkHistory(pairOperations(history), registerModel).verdict, "violation");
});

Deno.test("register: an acknowledged write lost after a crash is not linearizable", () => {
  const history = events([
    [1, "invoke", "write", "k", 7, 0],
    [1, "ok", "write", "k", 7, 1],
    [2, "invoke", "read", "k", null, 10],
    [2, "ok", "read", "k", null, 11],
  ]);
  assert.equal(checkHistory(pairOperations(history), registerModel).verdict, "violation");
});

Deno.test("register: a write of unknown outcome may show up later, or never", () => {
  const history = events([
    [1, "invoke", "write", "k", 7, 0],
    [1, "info", "write", "k", 7, 1],
    [2, "invoke", "read", "k", null, 2],
    [2, "ok", "read", "k", null, 3],
    [2, "invoke", "read", "k", null, 4],
    [2, "ok", "read", "k", 7, 5],
  ]);
  assert.equal(checkHistory(pairOperations(history), registerModel).verdict, "linearizable");
});

// ---- locks ----------------------------------------------------------------------------------

const acquire = (ttlMs = 1000) => ({ ttlMs, waitMs: 0 });

Deno.test("locks: a sound history passes", () => {
  const result = checkLocks(
    events([
      [1, "invoke", "acquire", "l", acquire(), 0],
      [1, "ok", "acquire", "l", 5, 1],
      [1, "invoke", "write", "fenced/l", 5, 2],
      [1, "ok", "write", "fenced/l", 5, 3],
      [2, "invoke", "acquire", "l", { ttlMs: 1000, waitMs: 500 }, 4],
      [1, "invoke", "release", "l", 5, 5],
      [1, "ok", "release", "l", 5, 6],
      [2, "ok", "acquire", "l", 9, 7],
      [2, "invoke", "write", "fenced/l", 9, 8],
      [2, "ok", "write", "fenced/l", 9, 9],
    ]),
    RECKONING,
  );
  assert.deepEqual(result.violations, []);
  assert.equal(result.grants, 2);
});

Deno.test("locks: two clients holding at once by their own reckoning are caught", () => {
  const result = checkLocks(
    events([
      [1, "invoke", "acquire", "l", acquire(), 0],
      [1, "ok", "acquire", "l", 5, 1],
      // Client 1 may work until 0 + 1000 * 0.99 - 100 = 890 ms; client 2 is granted at 500.
      [2, "invoke", "acquire", "l", acquire(), 400],
      [2, "ok", "acquire", "l", 9, 500],
    ]),
    RECKONING,
  );
  assert.equal(result.valid, false);
  assert.match(result.violations.join("\n"), /held from 500\.0 ms while process 1/);
});

Deno.test("locks: a grant after the previous lease ran out by the holder's reckoning is fine", () => {
  const result = checkLocks(
    events([
      [1, "invoke", "acquire", "l", acquire(), 0],
      [1, "ok", "acquire", "l", 5, 1],
      [2, "invoke", "acquire", "l", acquire(), 880],
      [2, "ok", "acquire", "l", 9, 895], // after 890: client 1 had stopped
      [1, "invoke", "release", "l", 5, 1200], // late release: it had stopped working anyway
      [1, "fail", "release", "l", 5, 1201],
    ]),
    RECKONING,
  );
  assert.deepEqual(result.violations, []);
});

Deno.test("locks: a later grant with a lower or equal token is caught", () => {
  const lower = checkLocks(
    events([
      [1, "invoke", "acquire", "l", acquire(), 0],
      [1, "ok", "acquire", "l", 9, 1],
      [1, "invoke", "release", "l", 9, 2],
      [1, "ok", "release", "l", 9, 3],
      [2, "invoke", "acquire", "l", acquire(), 4],
      [2, "ok", "acquire", "l", 7, 5],
    ]),
    RECKONING,
  );
  assert.equal(lower.valid, false);
  assert.match(lower.violations.join("\n"), /token 7 .* is not above token 9/);
  const twice = checkLocks(
    events([
      [1, "invoke", "acquire", "l", acquire(), 0],
      [1, "ok", "acquire", "l", 9, 1],
      [1, "invoke", "release", "l", 9, 2],
      [1, "ok", "release", "l", 9, 3],
      [2, "invoke", "acquire", "l", acquire(), 4],
      [2, "ok", "acquire", "l", 9, 5],
    ]),
    RECKONING,
  );
  assert.match(twice.violations.join("\n"), /token 9 granted twice/);
});

Deno.test("locks: a fenced resource that accepts a lower token after a higher one is caught", () => {
  const result = checkLocks(
    events([
      [1, "invoke", "write", "fenced/l", 9, 0],
      [1, "ok", "write", "fenced/l", 9, 1],
      [2, "invoke", "write", "fenced/l", 5, 2],
      [2, "ok", "write", "fenced/l", 5, 3],
    ]),
    RECKONING,
  );
  assert.equal(result.valid, false);
  assert.match(result.violations.join("\n"), /accepted token 5 after it had accepted 9/);
});

Deno.test("locks: a resource refusal must be explained by a higher accepted token", () => {
  const unexplained = checkLocks(
    events([
      [1, "invoke", "write", "fenced/l", 5, 0],
      [1, "fail", "write", "fenced/l", 5, 1],
    ]),
    RECKONING,
  );
  assert.match(unexplained.violations.join("\n"), /refused token 5 without a higher one/);
  // A paused holder (its lease long gone) is turned away because a later holder wrote first.
  const paused = checkLocks(
    events([
      [1, "invoke", "acquire", "l", acquire(), 0],
      [1, "ok", "acquire", "l", 5, 1],
      [2, "invoke", "acquire", "l", acquire(), 2000],
      [2, "ok", "acquire", "l", 9, 2001],
      [2, "invoke", "write", "fenced/l", 9, 2002],
      [2, "ok", "write", "fenced/l", 9, 2003],
      [1, "invoke", "write", "fenced/l", 5, 2004],
      [1, "fail", "write", "fenced/l", 5, 2005],
    ]),
    RECKONING,
  );
  assert.deepEqual(paused.violations, []);
  assert.equal(paused.resourceRefusals, 1);
});

// ---- watches --------------------------------------------------------------------------------

const put = (revision: number, value: number, key = "w/a"): SeenChange => ({
  revision,
  type: "put",
  key,
  value,
});
const watcher = (id: number, entries: WatcherLog["entries"], fromRevision = 1): WatcherLog => ({
  watcher: id,
  fromRevision,
  entries,
});

Deno.test("watches: complete, ordered, agreeing watchers pass", () => {
  const acked = [put(1, 10), put(2, 20), put(3, 30, "w/b")];
  const result = checkWatches({
    acked,
    watchers: [watcher(1, acked), watcher(2, acked), watcher(3, acked.slice(1), 2)],
    finalRevision: 3,
  });
  assert.deepEqual(result.violations, []);
  assert.equal(result.eventsChecked, 8);
});

Deno.test("watches: a gap, a duplicate and a reordering are each caught", () => {
  const acked = [put(1, 10), put(2, 20), put(3, 30)];
  const gap = checkWatches({
    acked,
    watchers: [watcher(1, [put(1, 10), put(3, 30)])],
    finalRevision: 3,
  });
  assert.match(gap.violations.join("\n"), /gap, revisions 2\.\.2/);
  assert.match(gap.violations.join("\n"), /never saw the acknowledged put 20/);
  const duplicate = checkWatches({
    acked,
    watchers: [watcher(1, [put(1, 10), put(2, 20), put(2, 20), put(3, 30)])],
    finalRevision: 3,
  });
  assert.match(duplicate.violations.join("\n"), /revision 2 delivered twice/);
  const reordered = checkWatches({
    acked,
    watchers: [watcher(1, [put(1, 10), put(3, 30), put(2, 20)])],
    finalRevision: 3,
  });
  assert.match(reordered.violations.join("\n"), /revision 2 after 3 \(out of order\)/);
});

Deno.test("watches: watchers that disagree with each other or with the writer are caught", () => {
  const result = checkWatches({
    acked: [put(1, 10)],
    watchers: [watcher(1, [put(1, 10), put(2, 20)]), watcher(2, [put(1, 10), put(2, 21)])],
    finalRevision: 2,
  });
  assert.match(result.violations.join("\n"), /revision 2: watcher 2 has put 21/);
  const wrongValue = checkWatches({
    acked: [put(1, 10)],
    watchers: [watcher(1, [put(1, 11)])],
    finalRevision: 1,
  });
  assert.match(wrongValue.violations.join("\n"), /watcher 1 has put 11 .* the write's answer/);
});

Deno.test("watches: a watcher that stops short of the final revision is caught", () => {
  const result = checkWatches({
    acked: [put(1, 10), put(2, 20)],
    watchers: [watcher(1, [put(1, 10)])],
    finalRevision: 2,
  });
  assert.match(result.violations.join("\n"), /stopped at revision 1, the cluster reached 2/);
});

Deno.test("watches: an explicit compaction excuses the revisions it skipped, and only those", () => {
  const acked = [put(1, 10), put(2, 20), put(3, 30), put(4, 40)];
  const result = checkWatches({
    acked,
    watchers: [
      watcher(1, [put(1, 10), { compacted: true, resumeFrom: 3 }, put(3, 30), put(4, 40)]),
    ],
    finalRevision: 4,
  });
  assert.deepEqual(result.violations, []);
  const silent = checkWatches({
    acked,
    watchers: [watcher(1, [put(1, 10), { compacted: true, resumeFrom: 3 }, put(4, 40)])],
    finalRevision: 4,
  });
  assert.match(silent.violations.join("\n"), /gap, revisions 3\.\.3/);
});

// ---- preloaded state ------------------------------------------------------------------------

/** What a node that kept the preload intact lists: keys 0..count-1 with their values. */
const intactPreload = (count: number) =>
  new Map<string, unknown>(
    Array.from({ length: count }, (_, i) => [preloadKey(i), preloadValue(i)]),
  );

Deno.test("preload: every key on every node with its value passes", () => {
  const result = checkPreload(
    50,
    new Map([["the leader, node 1 (linearizable)", intactPreload(50)], [
      "node 2 (stale)",
      intactPreload(50),
    ]]),
  );
  assert.deepEqual(result.violations, []);
  assert.equal(result.valid, true);
  assert.equal(result.keysChecked, 100);
  assert.equal(JSON.stringify(preloadValue(99_999)).length, 100);
});

Deno.test("preload: a missing key, a changed value and a key nobody wrote are violations", () => {
  const lost = intactPreload(50);
  lost.delete(preloadKey(17));
  const changed = intactPreload(50);
  changed.set(preloadKey(3), preloadValue(4));
  const extra = intactPreload(50);
  extra.set(preloadKey(50), preloadValue(50));
  const result = checkPreload(
    50,
    new Map([
      ["the leader, node 1 (linearizable)", intactPreload(50)],
      ["node 2 (stale)", lost],
      ["node 3 (stale)", changed],
      ["node 4 (stale)", extra],
    ]),
  );
  assert.equal(result.valid, false);
  const text = result.violations.join("\n");
  assert.match(text, /node 2 \(stale\): 1 preloaded keys missing, 0 changed/);
  assert.match(text, /node 2 \(stale\): preloaded preload\/0000017 is gone/);
  assert.match(text, /node 3 \(stale\): preloaded preload\/0000003 = \{"i":4,.* but \{"i":3,/);
  assert.match(text, /node 4 \(stale\): preload\/0000050 is there, but the preload never wrote/);
  assert.doesNotMatch(text, /node 1/);
});

Deno.test("preload: a wholesale loss is counted, and only a sample is listed", () => {
  const result = checkPreload(1000, new Map([["node 2 (stale)", new Map()]]));
  assert.equal(result.valid, false);
  assert.equal(result.violations[0], "node 2 (stale): 1000 preloaded keys missing, 0 changed");
  assert.ok(result.violations.length <= 22, `${result.violations.length} lines`);
  assert.match(result.violations.at(-1)!, /980 more preload findings not listed/);
});

Deno.test("preload: no final reads is no verdict, unless nothing was preloaded", () => {
  assert.equal(checkPreload(10, new Map()).valid, "unknown");
  assert.equal(checkPreload(0, new Map()).valid, true);
});
