import assert from "node:assert/strict";
import {
  countRoundSent,
  keeperShouldBeat,
  readMainWord,
  sharedNow,
} from "../../src/node/heartbeat_keeper.ts";

const HEARTBEAT = 50;
const MAX_STALL = 2000;

Deno.test("heartbeat keeper: speaks for a leader silent for a heartbeat interval", () => {
  const leading = { aliveAt: 10_000, leaderTerm: 4, lastSentAt: 0 };
  assert.equal(keeperShouldBeat(leading, 10_049, HEARTBEAT, MAX_STALL), false, "on time");
  assert.equal(keeperShouldBeat(leading, 10_050, HEARTBEAT, MAX_STALL), true, "one interval");
  assert.equal(
    keeperShouldBeat({ ...leading, lastSentAt: 10_060 }, 10_100, HEARTBEAT, MAX_STALL),
    false,
    "at most one heartbeat per interval",
  );
  assert.equal(
    keeperShouldBeat({ ...leading, lastSentAt: 10_060 }, 10_110, HEARTBEAT, MAX_STALL),
    true,
  );
});

Deno.test("heartbeat keeper: silent for a follower, before the first word, and past the bound", () => {
  const at = 10_000;
  assert.equal(
    keeperShouldBeat({ aliveAt: at, leaderTerm: 0, lastSentAt: 0 }, at + 500, 50, 2000),
    false,
  );
  assert.equal(keeperShouldBeat({ aliveAt: 0, leaderTerm: 3, lastSentAt: 0 }, at, 50, 2000), false);
  // A main thread stuck for good: the followers must be able to elect another leader.
  assert.equal(
    keeperShouldBeat({ aliveAt: at, leaderTerm: 3, lastSentAt: 0 }, at + 1999, 50, 2000),
    true,
  );
  assert.equal(
    keeperShouldBeat({ aliveAt: at, leaderTerm: 3, lastSentAt: 0 }, at + 2000, 50, 2000),
    false,
  );
});

Deno.test("heartbeat keeper: the shared word reads back what was written", () => {
  const shared = new Float64Array(new SharedArrayBuffer(24));
  assert.deepEqual(readMainWord(shared), { aliveAt: 0, leaderTerm: 0 });
  shared[0] = sharedNow();
  shared[1] = 7;
  assert.equal(readMainWord(shared).leaderTerm, 7);
  assert.ok(Math.abs(readMainWord(shared).aliveAt - Date.now()) < 1000);
  countRoundSent(shared);
  countRoundSent(shared);
  assert.equal(shared[2], 2, "the worker's rounds, beside the main thread's word");
  assert.equal(readMainWord(shared).leaderTerm, 7);
});
