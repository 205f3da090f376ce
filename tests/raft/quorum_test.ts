/** Majorities: commit index and vote tallies, for odd and even clusters. */

import assert from "node:assert/strict";
import { committedIndex, quorumSize, voteResult } from "../../src/raft/quorum/majority.ts";
import { Inflights } from "../../src/raft/tracker/inflights.ts";

Deno.test("quorum: sizes and commit index", () => {
  assert.deepEqual([1, 2, 3, 4, 5].map(quorumSize), [1, 2, 2, 3, 3]);
  const match = new Map([[1, 10], [2, 8], [3, 2], [4, 9]]);
  assert.equal(committedIndex([1, 2, 3], (id) => match.get(id)!), 8);
  assert.equal(committedIndex([1, 2, 3, 4], (id) => match.get(id)!), 8);
  assert.equal(committedIndex([1, 2, 3, 4, 5], (id) => match.get(id) ?? 0), 8);
});

Deno.test("quorum: a vote is won or lost only by a majority", () => {
  assert.equal(voteResult([1, 2, 3], new Map([[1, true]])), "pending");
  assert.equal(voteResult([1, 2, 3], new Map([[1, true], [2, false]])), "pending");
  assert.equal(voteResult([1, 2, 3], new Map([[2, false], [3, false]])), "lost");
  assert.equal(voteResult([1, 2, 3, 4], new Map([[1, true], [2, true]])), "pending");
});

Deno.test("inflights: the window fills, frees by index, and can free its oldest", () => {
  const w = new Inflights(3);
  w.add(1, 10);
  w.add(2, 10);
  w.add(5, 10);
  assert.ok(w.full());
  w.freeLE(2);
  assert.equal(w.count, 1);
  w.freeFirstOne();
  assert.equal(w.count, 0);
});
