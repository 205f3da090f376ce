import assert from "node:assert/strict";
import { StateMachine } from "../../src/state/state_machine.ts";
import { deleteEvent, putEvent, WatchHistory } from "../../src/state/watch_history.ts";
import { LogDriver } from "./log_driver.ts";

Deno.test("each put and delete is one event of its revision, also in the apply outcome", () => {
  const log = new LogDriver();
  const put = log.run({ op: "put", key: "app/a", value: { x: 1 } });
  assert.deepEqual(put.events, [
    { type: "put", revision: 1, key: "app/a", value: { x: 1 }, createRevision: 1, version: 1 },
  ]);
  assert.equal(put.revision, 1);
  log.run({ op: "put", key: "other", value: 2 });
  log.run({ op: "put", key: "app/a", value: 3 });
  const del = log.run({ op: "delete", key: "app/a" });
  assert.deepEqual(del.events, [{ type: "delete", revision: 4, key: "app/a" }]);
  assert.deepEqual(log.sm.eventsSince("", 0), {
    compacted: false,
    events: [
      { type: "put", revision: 1, key: "app/a", value: { x: 1 }, createRevision: 1, version: 1 },
      { type: "put", revision: 2, key: "other", value: 2, createRevision: 2, version: 1 },
      { type: "put", revision: 3, key: "app/a", value: 3, createRevision: 1, version: 2 },
      { type: "delete", revision: 4, key: "app/a" },
    ],
  });
});

Deno.test("eventsSince filters by prefix, starts at fromRevision and honours a limit", () => {
  const log = new LogDriver();
  for (let i = 1; i <= 10; i++) {
    log.run({ op: "put", key: i % 2 ? `odd/${i}` : `even/${i}`, value: i });
  }
  const revisions = (answer: ReturnType<StateMachine["eventsSince"]>) =>
    answer.compacted ? "compacted" : answer.events.map((e) => e.revision);
  assert.deepEqual(revisions(log.sm.eventsSince("odd/", 1)), [1, 3, 5, 7, 9]);
  assert.deepEqual(revisions(log.sm.eventsSince("odd/", 4)), [5, 7, 9]);
  assert.deepEqual(revisions(log.sm.eventsSince("", 10)), [10]);
  assert.deepEqual(revisions(log.sm.eventsSince("", 11)), [], "the future: nothing yet");
  assert.deepEqual(revisions(log.sm.eventsSince("", 500)), []);
  assert.deepEqual(revisions(log.sm.eventsSince("even/", 1, 2)), [2, 4]);
  assert.deepEqual(revisions(log.sm.eventsSince("none/", 1)), []);
  assert.throws(() => log.sm.eventsSince("", -1), RangeError);
  assert.throws(() => log.sm.eventsSince("", 1.5), RangeError);
});

Deno.test("a full history drops the oldest change and says when a watch asks for it", () => {
  const log = new LogDriver({ historyLimit: 3 });
  for (let i = 1; i <= 5; i++) log.run({ op: "put", key: "k", value: i });
  assert.equal(log.sm.compactedRevision, 2);
  assert.deepEqual(log.sm.eventsSince("k", 2), { compacted: true, compactedRevision: 2 });
  assert.deepEqual(log.sm.eventsSince("k", 0), { compacted: true, compactedRevision: 2 });
  const kept = log.sm.eventsSince("k", 3);
  assert.equal(kept.compacted, false);
  assert.deepEqual(!kept.compacted && kept.events.map((e) => e.revision), [3, 4, 5]);
  // A prefix that matches nothing is still compacted: the history cannot vouch for it.
  assert.deepEqual(log.sm.eventsSince("x", 1), { compacted: true, compactedRevision: 2 });
  log.run({ op: "delete", key: "k" });
  assert.equal(log.sm.compactedRevision, 3);
  assert.deepEqual(log.sm.eventsSince("", 6), {
    compacted: false,
    events: [{ type: "delete", revision: 6, key: "k" }],
  });
});

Deno.test("the ring wraps many times and survives a snapshot at any position", () => {
  const log = new LogDriver({ historyLimit: 7 });
  for (let i = 1; i <= 40; i++) {
    log.run(i % 5 === 0 ? { op: "delete", key: "k" } : { op: "put", key: "k", value: i });
    const copy = StateMachine.restore(log.sm.snapshot());
    for (const from of [i - 8, i - 6, i - 1, i, i + 1]) {
      if (from < 0) continue;
      assert.deepEqual(copy.eventsSince("", from), log.sm.eventsSince("", from), `at ${i}`);
    }
    assert.equal(copy.compactedRevision, log.sm.compactedRevision);
  }
});

Deno.test("WatchHistory refuses a gap in revisions and a capacity below 1", () => {
  const history = new WatchHistory(2);
  history.append(putEvent(1, "k", 1, 1, 1));
  assert.throws(() => history.append(deleteEvent(3, "k")), RangeError);
  assert.throws(() => new WatchHistory(0), RangeError);
  assert.equal(history.size, 1);
});
