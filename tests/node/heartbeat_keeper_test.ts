import assert from "node:assert/strict";
import {
  countRoundSent,
  keeperShouldBeat,
  MainSilence,
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

Deno.test("heartbeat keeper: the main thread's silence is timed on the worker's clock, whatever the main clock says", () => {
  // The main thread's clock is 10 s ahead of the worker's (two isolates' clocks from two
  // readings of the wall clock, or a start-up delay folded into an offset): only when its word
  // last changed counts. Before, a measured offset that took in the worker's 200 ms start-up
  // made the keeper send 200 ms late, after the followers' election timeout.
  const silence = new MainSilence();
  const heartbeatMs = 50;
  let lastSentAt = 0;
  const beat = (mainWord: number, now: number) => {
    const s = { aliveAt: silence.aliveAt(mainWord, now), leaderTerm: 3, lastSentAt };
    const yes = keeperShouldBeat(s, now, heartbeatMs, 2000);
    if (yes) lastSentAt = now;
    return yes;
  };
  let now = 1_000;
  for (let tick = 0; tick < 10; tick++, now += 10) {
    assert.equal(beat(now + 10_000, now), false, "alive: ticks keep changing the word");
  }
  // The main thread stalls after its last tick: its word stays put.
  const lastTick = now - 10;
  const stalledWord = lastTick + 10_000;
  const sent: number[] = [];
  for (let t = now; t < lastTick + 300; t += 10) {
    if (beat(stalledWord, t)) sent.push(t - lastTick);
  }
  assert.deepEqual(sent, [50, 100, 150, 200, 250], "a round 50 ms after the last tick, and on");
});
