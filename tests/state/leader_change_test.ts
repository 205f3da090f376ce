import assert from "node:assert/strict";
import { encodeCommand } from "../../src/state/commands.ts";
import { LogDriver, START_TIME as T } from "./log_driver.ts";

/** a holds "job" until T + 10 s, b waits until T + 20 s; the last stamp of term 1 is T + 4 s. */
function heldAtTermEnd(): LogDriver {
  const log = new LogDriver();
  log.run({ op: "acquire", name: "job", owner: "a", ttlMs: 10_000, waitMs: 0 });
  log.run({ op: "acquire", name: "job", owner: "b", ttlMs: 10_000, waitMs: 20_000 });
  log.tickAfter(4000);
  return log;
}

Deno.test("a leader change keeps each lease's remaining time, counted from the new term's first stamp", () => {
  const log = heldAtTermEnd();
  log.newLeader();
  assert.equal(log.sm.term, 2);
  // A long election: 56 s without any stamp. The lease had 6 s left, the wait 16 s.
  log.time = T + 60_000;
  const first = log.run({ op: "tick" });
  assert.deepEqual(first.events, [], "the gap does not eat into the lease");
  const info = log.sm.lockInfo("job");
  assert.equal(info.holder?.expiresAt, T + 66_000);
  assert.equal(info.waiters[0].deadline, T + 76_000);
  assert.equal(log.sm.nextDeadline(), T + 66_000);
  log.time = T + 65_999;
  assert.deepEqual(log.run({ op: "tick" }).events, []);
  log.time = T + 66_000;
  assert.deepEqual(log.run({ op: "tick" }).events, [
    { type: "lockExpired", name: "job", token: 1, owner: "a" },
    { type: "lockGranted", name: "job", waiterId: 2, token: 7, owner: "b", expiresAt: T + 76_000 },
  ]);
});

Deno.test("a new leader whose clock is behind never shortens a lease", () => {
  const log = heldAtTermEnd();
  log.newLeader();
  log.time = T + 1000; // 3 s behind the old leader's last stamp
  log.run({ op: "tick" });
  assert.equal(log.sm.now, T + 4000, "log time never goes backwards");
  assert.equal(log.sm.lockInfo("job").holder?.expiresAt, T + 10_000);
  log.time = T + 9999;
  assert.deepEqual(log.run({ op: "tick" }).events, []);
  log.time = T + 10_000;
  assert.equal(log.run({ op: "tick" }).events[0]?.type, "lockExpired");
});

Deno.test("until the new term stamps, nextDeadline asks for a tick now", () => {
  const log = heldAtTermEnd();
  assert.equal(log.sm.nextDeadline(), T + 10_000);
  log.newLeader();
  assert.equal(log.sm.nextDeadline(), T + 4000, "due at once: the sooner stamped the better");
  log.newLeader(); // another election before anyone stamped: still one shift, later
  assert.equal(log.sm.term, 3);
  log.time = T + 5000;
  log.run({ op: "tick" });
  assert.equal(log.sm.lockInfo("job").holder?.expiresAt, T + 11_000);
  assert.equal(log.sm.nextDeadline(), T + 11_000);
});

Deno.test("with nothing held a new term asks for no tick", () => {
  const log = new LogDriver();
  log.run({ op: "put", key: "k", value: 1 });
  log.newLeader();
  assert.equal(log.sm.nextDeadline(), undefined);
});

Deno.test("a stamped no-op is the new term's first stamp", () => {
  const log = heldAtTermEnd();
  const out = log.sm.applyNoop(++log.index, 2, T + 30_000);
  assert.deepEqual(out.result, { ok: true });
  assert.deepEqual(out.events, []);
  assert.equal(log.sm.lockInfo("job").holder?.expiresAt, T + 36_000);
  assert.equal(log.sm.now, T + 30_000);
  assert.throws(() => log.sm.applyNoop(++log.index, 2, -1), RangeError);
});

Deno.test("a renew after a leader change extends but never undoes the preserved time", () => {
  const log = heldAtTermEnd();
  log.newLeader();
  log.time = T + 60_000;
  log.run({ op: "tick" }); // expiresAt becomes T + 66 s
  const renew = log.run({ op: "renew", name: "job", token: 1 });
  assert.deepEqual(renew.result, { ok: true, name: "job", token: 1, expiresAt: T + 70_000 });
  log.time = T + 60_001;
  const early = log.sm.applyEntry(
    ++log.index,
    log.term,
    encodeCommand({ cmd: { op: "renew", name: "job", token: 1 }, time: T + 50_000 }),
  );
  assert.ok(early.result.ok && "expiresAt" in early.result);
  assert.equal(early.result.expiresAt, T + 70_000, "a stamp behind `now` does not shorten it");
});

Deno.test("within one term, a long gap between stamps is just time passing", () => {
  const log = heldAtTermEnd();
  log.time = T + 60_000;
  const out = log.run({ op: "tick" });
  assert.deepEqual(out.events, [
    { type: "lockExpired", name: "job", token: 1, owner: "a" },
    { type: "waitTimedOut", name: "job", waiterId: 2 },
  ]);
});

Deno.test("entries must come in index order and terms never go back", () => {
  const log = heldAtTermEnd();
  assert.throws(() => log.sm.applyNoop(log.index, 1), RangeError);
  log.newLeader();
  assert.throws(() => log.sm.applyNoop(log.index + 1, 1), RangeError);
  assert.throws(() => log.sm.applyNoop(log.index + 0.5, 2), RangeError);
  assert.equal(log.sm.applyNoop(log.index + 10, 2).index, log.index + 10, "gaps are allowed");
});
