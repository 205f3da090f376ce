/**
 * A lock wait or grant is withdrawn only when every attempt attached to it let go: the race the
 * API model found (tests/api/model/README.md, "A race it found"), replayed entry by entry.
 *
 * A try-lock with an Idempotency-Key is sent, its fetch aborted, and retried with the same key.
 * The retry B reaches the log first (fresh, granted, answered 200); the dropped attempt A comes
 * after it and is answered as a duplicate with B's grant; A's handler sees its client gone and
 * proposes `abandonWait` in the name of its own entry. The log order says nothing about which
 * attempt's client is still there: only B's detaching may release the grant.
 */

import assert from "node:assert/strict";
import { encode } from "@msgpack/msgpack";
import type { AcquireCommand, Envelope } from "../../src/state/commands.ts";
import { MAX_ATTEMPTS } from "../../src/state/lock_table.ts";
import { decodeSnapshot } from "../../src/state/snapshot.ts";
import { StateMachine } from "../../src/state/state_machine.ts";
import { LogDriver, START_TIME as T } from "./log_driver.ts";

const FP = "f".repeat(64);
const KEY = { idempotencyKey: "race", fingerprint: FP } satisfies Omit<Envelope, "cmd" | "time">;

function acquire(owner: string, waitMs = 0, ttlMs = 30_000): AcquireCommand {
  return { op: "acquire", name: "job", owner, ttlMs, waitMs };
}

/** A driver whose next entry is index `next`. */
function logAt(next: number): LogDriver {
  const log = new LogDriver();
  while (log.index < next - 1) log.run({ op: "tick" });
  return log;
}

function abandon(log: LogDriver, waiterId: number, at: number) {
  return log.run({ op: "abandonWait", name: "job", waiterId, at });
}

Deno.test("the retry B granted at 10, the dropped A answered at 11: A letting go leaves B's grant", () => {
  const log = logAt(10);
  const b = log.run(acquire("edge"), KEY);
  assert.equal(b.index, 10);
  assert.equal(b.duplicate, false);
  assert.ok(b.result.ok && "token" in b.result && b.result.token === 10);
  const a = log.run(acquire("edge"), KEY);
  assert.equal(a.index, 11);
  assert.equal(a.duplicate, true);
  assert.deepEqual(a.result, b.result);

  // A's client is gone: its handler withdraws in the name of its own entry, 11.
  const gone = abandon(log, 10, 11);
  assert.equal(gone.result.ok, false, "B still holds the grant: nothing is withdrawn");
  assert.deepEqual(gone.events, []);
  assert.equal(log.sm.lockInfo("job").holder?.token, 10);
  // Every form the model saw: B's renew goes through, another acquire is refused, and a later
  // replay of the key is B's grant, not a fresh one.
  assert.equal(log.result({ op: "renew", name: "job", token: 10 }).ok, true);
  const other = log.result(acquire("other"));
  assert.equal(!other.ok && other.reason, "held");
  const replay = log.run(acquire("edge"), KEY);
  assert.equal(replay.duplicate, true);
  assert.ok(replay.result.ok && "token" in replay.result && replay.result.token === 10);

  // Once B and the replay let go too, no attempt is left: the grant is released, and the key
  // applies afresh.
  assert.equal(abandon(log, 10, 10).result.ok, false, "the replay is still attached");
  const last = abandon(log, 10, replay.index);
  assert.deepEqual(last.result, { ok: true, name: "job", waiterId: 10, released: 10 });
  assert.equal(log.sm.lockInfo("job").holder, null);
  const fresh = log.run(acquire("edge"), KEY);
  assert.equal(fresh.duplicate, false);
  assert.ok(fresh.result.ok && "token" in fresh.result && fresh.result.token === fresh.index);
});

Deno.test("the same race on a queued wait: A letting go leaves B in line, and B is granted", () => {
  const log = logAt(9);
  const held = log.result(acquire("holder"));
  assert.ok(held.ok && "token" in held);
  const b = log.run(acquire("edge", 60_000), KEY);
  assert.equal(b.index, 10);
  const a = log.run(acquire("edge", 60_000), KEY);
  assert.equal(a.duplicate, true);
  assert.equal(abandon(log, 10, 11).result.ok, false);
  assert.deepEqual(log.sm.lockInfo("job").waiters.map((w) => w.waiterId), [10]);
  const release = log.result({ op: "release", name: "job", token: held.token });
  assert.ok(release.ok && "grantedTo" in release && release.grantedTo?.waiterId === 10);
  assert.equal(log.sm.lockInfo("job").holder?.waiterId, 10);
  // B detaches too: nobody is left, and what B's wait was granted is released.
  const last = abandon(log, 10, 10);
  assert.equal(last.result.ok && "released" in last.result && last.result.released > 0, true);
  assert.equal(log.sm.lockInfo("job").holder, null);
});

Deno.test("defect 2's order: the only attempt letting go withdraws at once; a retry first keeps the wait", () => {
  // Alone: the dropped attempt withdraws its wait, and its retry joins the end of the line.
  const log = logAt(9);
  log.result(acquire("holder"));
  const w = log.run(acquire("edge", 60_000), KEY);
  log.run(acquire("c", 60_000));
  const gone = abandon(log, w.index, w.index);
  assert.deepEqual(gone.result, { ok: true, name: "job", waiterId: w.index, released: 0 });
  const retry = log.run(acquire("edge", 60_000), KEY);
  assert.equal(retry.duplicate, false);
  assert.deepEqual(log.sm.lockInfo("job").waiters.map((x) => x.owner), ["c", "edge"]);

  // A retry answered before the withdrawal takes the wait over: the first attempt's leaving
  // changes nothing, and the retry, which got its answer, never lets go.
  const log2 = logAt(9);
  log2.result(acquire("holder"));
  const first = log2.run(acquire("edge", 60_000), KEY);
  const again = log2.run(acquire("edge", 60_000), KEY);
  assert.equal(again.duplicate, true);
  assert.equal(abandon(log2, first.index, first.index).result.ok, false);
  assert.deepEqual(log2.sm.lockInfo("job").waiters.map((x) => x.waiterId), [first.index]);
});

Deno.test("a keyless acquire is its only attempt; an abandon naming no attempt of the wait is refused", () => {
  const log = logAt(5);
  const g = log.run(acquire("solo"));
  assert.equal(abandon(log, g.index, g.index + 7).result.ok, false, "not an attempt of it");
  assert.equal(log.sm.lockInfo("job").holder?.token, g.index);
  assert.equal(abandon(log, g.index, g.index).result.ok, true);
  assert.equal(log.sm.lockInfo("job").holder, null);
});

Deno.test("the attached attempts survive a snapshot, in a new format; the bytes stay equal", () => {
  const log = logAt(10);
  log.run(acquire("edge"), KEY);
  log.run(acquire("edge"), KEY);
  const bytes = log.sm.snapshot();
  assert.equal(decodeSnapshot(bytes).format, 3);
  const copy = StateMachine.restore(bytes);
  assert.deepEqual(copy.snapshot(), bytes);
  const tick = (index: number, cmd: Envelope["cmd"]) =>
    copy.apply(index, 1, { cmd, time: log.time });
  assert.equal(tick(12, { op: "abandonWait", name: "job", waiterId: 10, at: 11 }).result.ok, false);
  assert.equal(copy.lockInfo("job").holder?.token, 10);
  assert.equal(tick(13, { op: "abandonWait", name: "job", waiterId: 10, at: 10 }).result.ok, true);
  assert.equal(copy.lockInfo("job").holder, null);
});

Deno.test(`beyond ${MAX_ATTEMPTS} attempts a wait is kept until it ends by itself`, () => {
  const log = logAt(10);
  const attempts = [log.run(acquire("edge", 0, 5000), KEY).index];
  for (let i = 0; i < MAX_ATTEMPTS; i++) {
    attempts.push(log.run(acquire("edge", 0, 5000), KEY).index);
  }
  for (const at of attempts) assert.equal(abandon(log, 10, at).result.ok, false);
  assert.equal(log.sm.lockInfo("job").holder?.token, 10, "kept: some attempt may still hold it");
  log.tickAfter(5000);
  assert.equal(log.sm.lockInfo("job").holder, null, "the lease ends it");
  // Up to the bound, every attempt counts.
  const log2 = logAt(10);
  const some = [log2.run(acquire("edge", 0, 5000), KEY).index];
  while (some.length < MAX_ATTEMPTS) some.push(log2.run(acquire("edge", 0, 5000), KEY).index);
  for (const at of some.slice(1)) assert.equal(abandon(log2, 10, at).result.ok, false);
  assert.equal(abandon(log2, 10, some[0]).result.ok, true);
});

Deno.test("an older node's cancelWait withdraws a wait only when it has one attempt", () => {
  const log = logAt(9);
  log.result(acquire("holder"));
  const w = log.run(acquire("edge", 60_000), KEY);
  log.run(acquire("edge", 60_000), KEY);
  const cancel = log.run({ op: "cancelWait", name: "job", waiterId: w.index });
  assert.equal(cancel.result.ok, false, "two attempts: which one left is unknown");
  assert.deepEqual(log.sm.lockInfo("job").waiters.map((x) => x.waiterId), [w.index]);
  const replay = log.run(acquire("edge", 60_000), KEY);
  assert.equal(replay.duplicate, true, "the key still answers the wait");

  const log2 = logAt(9);
  log2.result(acquire("holder"));
  const one = log2.run(acquire("edge", 60_000), KEY);
  assert.equal(log2.result({ op: "cancelWait", name: "job", waiterId: one.index }).ok, true);
  assert.deepEqual(log2.sm.lockInfo("job").waiters, []);
  assert.equal(log2.run(acquire("edge", 60_000), KEY).duplicate, false);
});

Deno.test("a format 2 snapshot restores; its waits, whose attempts it does not name, are kept", () => {
  const queued = { ok: true, queued: false, name: "job", token: 4, owner: "edge", ttlMs: 5000 };
  const bytes = encode({
    format: 2,
    options: [10_000, 3_600_000, 10_000, 10_000],
    clock: [1, 5, T, false],
    config: [0, [], [0, []]],
    locks: [["job", [4, "edge", 5000, T + 5000, 4], [[5, "w", 5000, T + 60_000]]]],
    sessions: [[], [["", "race", { ...queued, expiresAt: T + 5000 }, T, FP, 4, 4]]],
  });
  const sm = StateMachine.restore(bytes);
  const run = (index: number, cmd: Envelope["cmd"]) => sm.apply(index, 1, { cmd, time: T });
  assert.equal(run(6, { op: "abandonWait", name: "job", waiterId: 4, at: 4 }).result.ok, false);
  assert.equal(run(7, { op: "abandonWait", name: "job", waiterId: 5, at: 5 }).result.ok, false);
  assert.equal(sm.lockInfo("job").holder?.token, 4);
  assert.deepEqual(sm.lockInfo("job").waiters.map((w) => w.waiterId), [5]);
  const replay = sm.apply(8, 1, { cmd: acquire("edge", 0, 5000), time: T, ...KEY });
  assert.equal(replay.duplicate, true);
  // Written again in the current format, and read back the same.
  const again = sm.snapshot();
  assert.equal(decodeSnapshot(again).format, 3);
  assert.deepEqual(StateMachine.restore(again).snapshot(), again);
});
