import assert from "node:assert/strict";
import type { AcquireCommand } from "../../src/state/commands.ts";
import type { CommandResult, LockEvent } from "../../src/state/results.ts";
import { LogDriver, seededRandom, START_TIME as T } from "./log_driver.ts";

function acquire(owner: string, ttlMs: number, waitMs = 0, name = "job"): AcquireCommand {
  return { op: "acquire", name, owner, ttlMs, waitMs };
}

function tokenOf(result: CommandResult): number {
  assert.ok("token" in result, `expected a grant, got ${JSON.stringify(result)}`);
  return result.token;
}

Deno.test("a free lock is granted at once: token = the entry's index", () => {
  const log = new LogDriver();
  log.run({ op: "put", key: "unrelated", value: 0 });
  const out = log.run(acquire("a", 1000));
  assert.deepEqual(out.result, {
    ok: true,
    queued: false,
    name: "job",
    token: 2,
    owner: "a",
    ttlMs: 1000,
    expiresAt: T + 1000,
  });
  assert.deepEqual(out.events, [
    { type: "lockGranted", name: "job", waiterId: 2, token: 2, owner: "a", expiresAt: T + 1000 },
  ]);
  assert.deepEqual(log.sm.lockInfo("job"), {
    name: "job",
    holder: { token: 2, owner: "a", ttlMs: 1000, expiresAt: T + 1000, waiterId: 2 },
    waiters: [],
  });
  assert.equal(log.sm.nextDeadline(), T + 1000);
  assert.deepEqual(log.sm.lockInfo("other"), { name: "other", holder: null, waiters: [] });
});

Deno.test("a held lock refuses a try-lock with who holds it until when", () => {
  const log = new LogDriver();
  log.run(acquire("a", 1000));
  log.time += 10;
  const out = log.run(acquire("b", 5000));
  assert.deepEqual(out.result, {
    ok: false,
    reason: "held",
    name: "job",
    holder: { token: 1, owner: "a", expiresAt: T + 1000 },
    expiresAt: T + 1000,
  });
  assert.deepEqual(out.events, []);
});

Deno.test("waiters get the lock in FIFO order; later requests never jump the queue", () => {
  const log = new LogDriver();
  let token = tokenOf(log.result(acquire("a", 60_000)));
  for (const owner of ["b", "c", "d"]) {
    const r = log.result(acquire(owner, 60_000, 30_000));
    assert.deepEqual(r, {
      ok: true,
      queued: true,
      name: "job",
      waiterId: log.index,
      deadline: T + 30_000,
    });
  }
  assert.equal(log.result(acquire("e", 60_000)).ok, false, "a try-lock does not jump the queue");
  log.result(acquire("f", 60_000, 30_000));
  assert.deepEqual(log.sm.lockInfo("job").waiters.map((w) => w.owner), ["b", "c", "d", "f"]);
  const order: string[] = [];
  for (let round = 0; round < 4; round++) {
    log.time += 100;
    // A newcomer between releases queues behind everyone already waiting.
    if (round === 1) log.result(acquire("g", 60_000, 30_000));
    const out = log.run({ op: "release", name: "job", token });
    assert.equal(out.result.ok, true);
    assert.ok(out.result.ok && "grantedTo" in out.result && out.result.grantedTo !== null);
    const grant = out.result.grantedTo;
    assert.equal(grant.token, log.index, "the release entry's index is the new token");
    assert.ok(grant.token > token, "tokens strictly increase across holders");
    assert.equal(grant.expiresAt, log.time + 60_000);
    assert.deepEqual(out.events, [
      { type: "lockReleased", name: "job", token },
      { type: "lockGranted", name: "job", ...grant },
    ]);
    assert.equal(log.sm.lockInfo("job").holder?.owner, grant.owner);
    order.push(grant.owner);
    token = grant.token;
  }
  assert.deepEqual(order, ["b", "c", "d", "f"]);
  const last = log.run({ op: "release", name: "job", token });
  assert.equal(last.result.ok && "grantedTo" in last.result && last.result.grantedTo?.owner, "g");
  const gToken = log.index;
  const end = log.run({ op: "release", name: "job", token: gToken });
  assert.deepEqual(end.result, { ok: true, name: "job", token: gToken, grantedTo: null });
  assert.deepEqual(log.sm.lockInfo("job"), { name: "job", holder: null, waiters: [] });
  assert.equal(log.sm.nextDeadline(), undefined);
});

Deno.test("a lease expires at its expiresAt and the lock passes to the first waiter", () => {
  const log = new LogDriver();
  log.run(acquire("a", 1000));
  log.run(acquire("b", 2000, 5000));
  assert.deepEqual(log.tickAfter(999).events, []);
  const out = log.tickAfter(1);
  assert.deepEqual(out.events, [
    { type: "lockExpired", name: "job", token: 1, owner: "a" },
    { type: "lockGranted", name: "job", waiterId: 2, token: 4, owner: "b", expiresAt: T + 3000 },
  ]);
  assert.deepEqual(log.result({ op: "renew", name: "job", token: 1 }), {
    ok: false,
    reason: "not_holder",
    name: "job",
  });
  assert.deepEqual(log.result({ op: "release", name: "job", token: 1 }), {
    ok: false,
    reason: "not_holder",
    name: "job",
  });
  assert.equal(log.sm.lockInfo("job").holder?.token, 4);
  assert.deepEqual(log.tickAfter(2000).events, [
    { type: "lockExpired", name: "job", token: 4, owner: "b" },
  ]);
  assert.deepEqual(log.sm.lockInfo("job"), { name: "job", holder: null, waiters: [] });
});

Deno.test("renew extends from now by the ttl; a renew that arrives after expiry is refused", () => {
  const log = new LogDriver();
  const token = tokenOf(log.result(acquire("a", 1000)));
  log.time += 600;
  assert.deepEqual(log.result({ op: "renew", name: "job", token }), {
    ok: true,
    name: "job",
    token,
    expiresAt: T + 1600,
  });
  assert.equal(log.sm.nextDeadline(), T + 1600);
  assert.deepEqual(log.tickAfter(900).events, [], "the old expiry passed: still held");
  log.time += 100; // T + 1600: the renew entry itself expires the lease first
  const late = log.run({ op: "renew", name: "job", token });
  assert.deepEqual(late.events, [{ type: "lockExpired", name: "job", token, owner: "a" }]);
  assert.deepEqual(late.result, { ok: false, reason: "not_holder", name: "job" });
  assert.deepEqual(log.result({ op: "renew", name: "nothing", token }), {
    ok: false,
    reason: "not_holder",
    name: "nothing",
  });
});

Deno.test("a stale token cannot release or renew the next holder's lock", () => {
  const log = new LogDriver();
  const old = tokenOf(log.result(acquire("a", 1000)));
  log.time += 1000;
  const current = tokenOf(log.result(acquire("b", 1000)));
  assert.ok(current > old);
  assert.equal(log.result({ op: "release", name: "job", token: old }).ok, false);
  assert.equal(log.result({ op: "renew", name: "job", token: old }).ok, false);
  assert.equal(log.result({ op: "release", name: "job", token: current + 1 }).ok, false);
  assert.equal(log.sm.lockInfo("job").holder?.token, current);
});

Deno.test("a token granted by the very same entry cannot release it (tokens stay unique)", () => {
  const log = new LogDriver();
  log.run(acquire("a", 1000));
  log.run(acquire("b", 1000, 60_000));
  log.run(acquire("c", 1000, 60_000));
  log.time += 1000;
  const guessed = log.index + 1; // the index this release entry will get
  const out = log.run({ op: "release", name: "job", token: guessed });
  assert.deepEqual(out.result, { ok: false, reason: "not_holder", name: "job" });
  const info = log.sm.lockInfo("job");
  assert.equal(info.holder?.owner, "b");
  assert.equal(info.holder?.token, guessed);
  assert.deepEqual(info.waiters.map((w) => w.owner), ["c"]);
  assert.equal(log.result({ op: "renew", name: "job", token: guessed + 1 }).ok, false);
  assert.equal(log.result({ op: "renew", name: "job", token: guessed }).ok, true);
});

Deno.test("waiters time out at their deadline, wherever they are in the queue", () => {
  const log = new LogDriver();
  log.run(acquire("a", 10_000));
  log.run(acquire("b", 1000, 1000)); // deadline T + 1000
  log.run(acquire("c", 1000, 3000)); // deadline T + 3000
  log.run(acquire("d", 1000, 1000)); // deadline T + 1000
  assert.equal(log.sm.nextDeadline(), T + 1000);
  assert.deepEqual(log.tickAfter(999).events, []);
  assert.deepEqual(log.tickAfter(1).events, [
    { type: "waitTimedOut", name: "job", waiterId: 2 },
    { type: "waitTimedOut", name: "job", waiterId: 4 },
  ]);
  assert.deepEqual(log.sm.lockInfo("job").waiters, [
    { waiterId: 3, owner: "c", ttlMs: 1000, deadline: T + 3000 },
  ]);
  assert.equal(log.sm.nextDeadline(), T + 3000);
  assert.deepEqual(log.tickAfter(2000).events, [{
    type: "waitTimedOut",
    name: "job",
    waiterId: 3,
  }]);
  assert.equal(log.sm.lockInfo("job").holder?.owner, "a");
  assert.equal(log.sm.nextDeadline(), T + 10_000);
});

Deno.test("a waiter whose deadline comes with the holder's expiry does not get the lock", () => {
  const log = new LogDriver();
  log.run(acquire("a", 1000));
  log.run(acquire("b", 1000, 1000));
  assert.deepEqual(log.tickAfter(1000).events, [
    { type: "lockExpired", name: "job", token: 1, owner: "a" },
    { type: "waitTimedOut", name: "job", waiterId: 2 },
  ]);
  assert.deepEqual(log.sm.lockInfo("job"), { name: "job", holder: null, waiters: [] });
});

Deno.test("cancelWait takes a waiter out of line; cancelling twice is not_waiting", () => {
  const log = new LogDriver();
  const token = tokenOf(log.result(acquire("a", 10_000)));
  log.run(acquire("b", 1000, 5000));
  log.run(acquire("c", 1000, 5000));
  assert.deepEqual(log.result({ op: "cancelWait", name: "job", waiterId: 2 }), {
    ok: true,
    name: "job",
    waiterId: 2,
  });
  assert.deepEqual(log.result({ op: "cancelWait", name: "job", waiterId: 2 }), {
    ok: false,
    reason: "not_waiting",
    name: "job",
    waiterId: 2,
  });
  assert.deepEqual(log.result({ op: "cancelWait", name: "nope", waiterId: 3 }), {
    ok: false,
    reason: "not_waiting",
    name: "nope",
    waiterId: 3,
  });
  const out = log.result({ op: "release", name: "job", token });
  assert.equal(out.ok && "grantedTo" in out && out.grantedTo?.owner, "c");
});

Deno.test("locks of different names are independent; tick answers ok", () => {
  const log = new LogDriver();
  log.run(acquire("a", 1000, 0, "x"));
  log.time += 500;
  log.run(acquire("b", 1000, 0, "y"));
  assert.equal(log.sm.nextDeadline(), T + 1000);
  const out = log.tickAfter(500);
  assert.deepEqual(out.result, { ok: true });
  assert.deepEqual(out.events, [{ type: "lockExpired", name: "x", token: 1, owner: "a" }]);
  assert.equal(log.sm.lockInfo("y").holder?.owner, "b");
  assert.equal(log.sm.nextDeadline(), T + 1500);
});

Deno.test("random traffic: one holder at a time, tokens of each lock strictly increase", () => {
  const random = seededRandom(7);
  const log = new LogDriver();
  const names = ["p", "q", "r"];
  const lastToken = new Map<string, number>();
  const tokens: number[] = [];
  let grants = 0;
  for (let step = 0; step < 3000; step++) {
    log.time += Math.floor(random() * 300);
    const name = names[Math.floor(random() * names.length)];
    const dice = random();
    const token = dice < 0.5 ? 1 + Math.floor(random() * log.index) : tokens.at(-1) ?? 1;
    const out = log.run(
      dice < 0.4
        ? acquire(
          `o${step}`,
          100 + Math.floor(random() * 2000),
          Math.floor(random() * 3) * 700,
          name,
        )
        : dice < 0.7
        ? { op: "release", name, token }
        : dice < 0.85
        ? { op: "renew", name, token }
        : { op: "tick" },
    );
    for (const event of out.events as LockEvent[]) {
      if (event.type !== "lockGranted") continue;
      grants++;
      assert.equal(event.token, log.index);
      assert.ok(event.token > (lastToken.get(event.name) ?? 0));
      assert.ok(event.expiresAt > log.sm.now);
      lastToken.set(event.name, event.token);
      tokens.push(event.token);
    }
    for (const n of names) {
      const { holder, waiters } = log.sm.lockInfo(n);
      if (holder === null) assert.deepEqual(waiters, [], "a free lock has nobody waiting");
      else assert.ok(holder.expiresAt > log.sm.now, "no expired holder survives an apply");
      for (const w of waiters) assert.ok(w.deadline > log.sm.now);
    }
  }
  assert.ok(grants > 300, `enough grants to mean something: ${grants}`);
});
