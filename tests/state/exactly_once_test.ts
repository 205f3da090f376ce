import assert from "node:assert/strict";
import { Sessions } from "../../src/state/sessions.ts";
import { LogDriver, START_TIME as T } from "./log_driver.ts";

const HOUR = 3_600_000;

Deno.test("a retried clientId + seq gets the first answer and is not applied again", () => {
  const log = new LogDriver();
  const first = log.run({ op: "put", key: "k", value: 1 }, { clientId: "c", seq: 1 });
  assert.equal(first.duplicate, false);
  const retry = log.run({ op: "put", key: "k", value: 1 }, { clientId: "c", seq: 1 });
  assert.deepEqual(retry.result, first.result);
  assert.equal(retry.duplicate, true);
  assert.deepEqual(retry.events, []);
  assert.equal(log.sm.revision, 1);
  assert.equal(log.sm.get("k")?.version, 1);
});

Deno.test("the first answer holds even when it was a failure or a grant", () => {
  const log = new LogDriver();
  const cas = log.result({ op: "put", key: "k", value: 1, ifRevision: 9 }, {
    clientId: "c",
    seq: 1,
  });
  assert.equal(cas.ok, false);
  log.run({ op: "put", key: "k", value: 0 });
  assert.deepEqual(
    log.result({ op: "put", key: "k", value: 1, ifRevision: 9 }, { clientId: "c", seq: 1 }),
    cas,
  );
  const acquire = { op: "acquire", name: "l", owner: "c", ttlMs: 5000, waitMs: 0 } as const;
  const grant = log.result(acquire, { clientId: "c", seq: 2 });
  assert.equal(grant.ok, true);
  assert.deepEqual(log.result(acquire, { clientId: "c", seq: 2 }), grant, "not 'held' by itself");
});

Deno.test("a lower seq is stale; a higher one applies; stale answers are not remembered", () => {
  const log = new LogDriver();
  log.run({ op: "put", key: "k", value: 1 }, { clientId: "c", seq: 5 });
  const second = log.result({ op: "put", key: "k", value: 2 }, { clientId: "c", seq: 7 });
  assert.equal(second.ok, true);
  const stale = log.run({ op: "put", key: "k", value: 3 }, { clientId: "c", seq: 6 });
  assert.deepEqual(stale.result, {
    ok: false,
    reason: "stale_sequence",
    clientId: "c",
    seq: 6,
    lastSeq: 7,
  });
  assert.equal(stale.duplicate, false, "refused, not a replay of a first answer");
  assert.deepEqual(log.result({ op: "tick" }, { clientId: "c", seq: 7 }), second);
  assert.equal(log.sm.get("k")?.value, 2);
  // Sessions are per client.
  assert.equal(
    log.run({ op: "put", key: "k", value: 4 }, { clientId: "d", seq: 1 }).duplicate,
    false,
  );
});

Deno.test("an idempotency key answers every later use with the first answer", () => {
  const log = new LogDriver();
  const first = log.result({ op: "put", key: "k", value: 1 }, { idempotencyKey: "req-1" });
  const again = log.run({ op: "put", key: "k", value: 2 }, { idempotencyKey: "req-1" });
  assert.deepEqual(again.result, first);
  assert.equal(again.duplicate, true);
  assert.equal(log.sm.get("k")?.value, 1);
  assert.equal(
    log.run({ op: "put", key: "k", value: 2 }, { idempotencyKey: "req-2" }).duplicate,
    false,
  );
});

Deno.test("a key seen under one session is remembered by the next session that sends it", () => {
  const log = new LogDriver();
  const first = log.result({ op: "put", key: "k", value: 1 }, {
    clientId: "c",
    seq: 1,
    idempotencyKey: "x",
  });
  const other = log.run({ op: "put", key: "k", value: 1 }, {
    clientId: "d",
    seq: 1,
    idempotencyKey: "x",
  });
  assert.deepEqual(other.result, first);
  assert.equal(other.duplicate, true);
  assert.deepEqual(log.result({ op: "tick" }, { clientId: "d", seq: 1 }), first);
  assert.equal(log.sm.revision, 1);
});

Deno.test("a duplicate still moves the clock: its stamp expires leases", () => {
  const log = new LogDriver();
  log.run({ op: "acquire", name: "l", owner: "a", ttlMs: 1000, waitMs: 0 }, {
    clientId: "c",
    seq: 1,
  });
  log.time += 1000;
  const retry = log.run({ op: "acquire", name: "l", owner: "a", ttlMs: 1000, waitMs: 0 }, {
    clientId: "c",
    seq: 1,
  });
  assert.equal(retry.duplicate, true);
  assert.deepEqual(retry.events, [{ type: "lockExpired", name: "l", token: 1, owner: "a" }]);
  assert.equal(log.sm.lockInfo("l").holder, null);
});

Deno.test("sessions and keys idle for an hour of log time are forgotten", () => {
  const log = new LogDriver();
  log.run({ op: "put", key: "k", value: 1 }, { clientId: "c", seq: 1 });
  log.run({ op: "put", key: "k", value: 1 }, { idempotencyKey: "x" });
  log.time = T + HOUR - 1;
  assert.equal(log.run({ op: "tick" }, { clientId: "c", seq: 1 }).duplicate, true);
  assert.equal(log.run({ op: "tick" }, { idempotencyKey: "x" }).duplicate, true);
  // Both were just used, so they live another hour from now.
  log.time += HOUR - 1;
  assert.equal(log.run({ op: "tick" }, { clientId: "c", seq: 1 }).duplicate, true);
  log.time += HOUR;
  const late = log.run({ op: "put", key: "k", value: 9 }, { clientId: "c", seq: 1 });
  assert.equal(late.duplicate, false, "forgotten: applied again");
  assert.equal(log.sm.get("k")?.value, 9);
  assert.equal(log.run({ op: "tick" }, { idempotencyKey: "x" }).duplicate, false);
});

Deno.test("beyond the caps the least recently used session and key go first", () => {
  const log = new LogDriver({ maxSessions: 3, maxIdempotencyKeys: 2 });
  for (const c of ["c1", "c2", "c3"]) log.run({ op: "tick" }, { clientId: c, seq: 1 });
  assert.equal(log.run({ op: "tick" }, { clientId: "c1", seq: 1 }).duplicate, true); // c1 is fresh
  log.run({ op: "tick" }, { clientId: "c4", seq: 1 }); // c2 goes
  assert.equal(log.run({ op: "tick" }, { clientId: "c3", seq: 1 }).duplicate, true);
  assert.equal(log.run({ op: "tick" }, { clientId: "c1", seq: 1 }).duplicate, true);
  assert.equal(log.run({ op: "tick" }, { clientId: "c2", seq: 1 }).duplicate, false);
  for (const k of ["k1", "k2", "k3"]) log.run({ op: "tick" }, { idempotencyKey: k });
  assert.equal(log.run({ op: "tick" }, { idempotencyKey: "k1" }).duplicate, false);
  assert.equal(log.run({ op: "tick" }, { idempotencyKey: "k3" }).duplicate, true);
});

Deno.test("Sessions refuses limits below 1", () => {
  assert.throws(
    () => new Sessions({ idleMs: 0, maxSessions: 1, maxIdempotencyKeys: 1 }),
    RangeError,
  );
  const sessions = new Sessions({ idleMs: 1, maxSessions: 1, maxIdempotencyKeys: 1 });
  assert.deepEqual(sessions.size, { clients: 0, keys: 0 });
});
