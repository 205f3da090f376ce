/** The in-memory log: conflicts, commit, stability and compaction. */

import assert from "node:assert/strict";
import { RaftInvariantError, RaftLog } from "../../src/raft/raft_log.ts";
import type { Entry, Snapshot } from "../../src/raft/types.ts";

const e = (index: number, term: number): Entry => ({
  index,
  term,
  type: "normal",
  data: new Uint8Array(),
});

Deno.test("raft log: findConflict finds the first entry whose term differs", () => {
  const log = RaftLog.restore(undefined, [e(1, 1), e(2, 2), e(3, 3)], 0);
  assert.equal(log.findConflict([e(1, 1), e(2, 2)]), 0);
  assert.equal(log.findConflict([e(2, 2), e(3, 4)]), 3);
  assert.equal(log.findConflict([e(3, 3), e(4, 4)]), 4);
});

Deno.test("raft log: committed entries can never be overwritten", () => {
  const log = RaftLog.restore(undefined, [e(1, 1), e(2, 1)], 2);
  assert.throws(() => log.maybeAppend(0, 0, 0, [e(1, 2)]), RaftInvariantError);
});

Deno.test("raft log: a truncation below the stable index makes the new entries unstable", () => {
  const log = RaftLog.restore(undefined, [e(1, 1), e(2, 1), e(3, 1)], 1);
  log.maybeAppend(1, 1, 1, [e(2, 2)]);
  assert.equal(log.stabled, 1);
  assert.deepEqual(log.unstableEntries().map((x) => x.index), [2]);
  log.stableTo(2, 1); // an old Ready for a term that is gone: ignored
  assert.equal(log.stabled, 1);
  log.stableTo(2, 2);
  assert.equal(log.stabled, 2);
});

Deno.test("raft log: compaction keeps terms at the boundary and refuses unapplied indexes", () => {
  const log = RaftLog.restore(undefined, [e(1, 1), e(2, 1), e(3, 2)], 3);
  log.applying = 2;
  const snap = (index: number, term: number): Snapshot => ({
    metadata: { index, term, conf: { voters: [1], learners: [] } },
    data: new Uint8Array(),
  });
  assert.throws(() => log.compact(snap(3, 2)), RaftInvariantError);
  log.compact(snap(2, 1));
  assert.equal(log.firstIndex(), 3);
  assert.equal(log.term(2), 1);
  assert.equal(log.term(1), undefined);
  assert.deepEqual(log.slice(3, 4).map((x) => x.index), [3]);
});

Deno.test("raft log: restore refuses a log with a hole", () => {
  assert.throws(() => RaftLog.restore(undefined, [e(1, 1), e(3, 1)], 0), RaftInvariantError);
});

Deno.test("raft log: committed entries are handed out within a byte budget, at least one", () => {
  const big = (index: number): Entry => ({ ...e(index, 1), data: new Uint8Array(100) });
  const log = RaftLog.restore(undefined, [1, 2, 3, 4, 5, 6, 7].map(big), 7);
  // entrySize is the data plus 24: 124 bytes each.
  assert.deepEqual(log.nextCommitted(300).map((x) => x.index), [1, 2]);
  assert.deepEqual(log.nextCommitted(100).map((x) => x.index), [1]);
  log.applying = 2;
  assert.deepEqual(log.nextCommitted(372).map((x) => x.index), [3, 4, 5]);
  assert.deepEqual(log.nextCommitted().map((x) => x.index), [3, 4, 5, 6, 7]);
  log.applying = 7;
  assert.deepEqual(log.nextCommitted(1), []);
});

Deno.test("raft log: hasUnstable and entryType answer as the entries they skip making", () => {
  const log = RaftLog.restore(undefined, [e(1, 1), e(2, 1)], 2);
  const agrees = () => assert.equal(log.hasUnstable(), log.unstableEntries().length > 0);
  agrees();
  log.append([e(3, 2), { ...e(4, 2), type: "conf" }]);
  agrees();
  assert.equal(log.entryType(3), "normal");
  assert.equal(log.entryType(4), "conf");
  assert.equal(log.entryType(5), undefined);
  log.stableTo(4, 2);
  agrees();
  assert.equal(log.hasUnstable(), false);
});
