import assert from "node:assert/strict";
import type { RaftNode } from "../../src/node/raft_node.ts";
import { poll } from "../process/poll.ts";
import { startSoloNode } from "./solo_node.ts";
import {
  type AcquireEnd,
  type LockWaitHost,
  LockWaits,
  type LockWaitTimers,
} from "../../src/node/lock_waits.ts";
import type { AcquireCommand } from "../../src/state/commands.ts";
import type { ApplyOutcome } from "../../src/state/results.ts";
import { StateMachine } from "../../src/state/state_machine.ts";
import { FakeNode } from "../api/fake_node.ts";
import { makeApp, send } from "../api/harness.ts";

const acquire = (name: string, owner: string, waitMs = 30_000, ttlMs = 5000): AcquireCommand => ({
  op: "acquire",
  name,
  owner,
  ttlMs,
  waitMs,
});

/** A node with `name` held by "holder"; resolves with the holder's token. */
async function held(node: FakeNode, name: string, ttlMs = 60_000): Promise<number> {
  const { result } = await node.submit({ cmd: acquire(name, "holder", 0, ttlMs) });
  assert.ok(result.ok && "queued" in result && !result.queued);
  return result.token;
}

async function release(node: FakeNode, name: string, token: number): Promise<ApplyOutcome> {
  return await node.submit({ cmd: { op: "release", name, token } });
}

/** Runs queued microtasks and timers due now. */
const turn = () => new Promise((resolve) => setTimeout(resolve, 0));

/** Timers the test fires by hand. */
class ManualTimers implements LockWaitTimers {
  readonly #due = new Map<number, () => void>();
  #next = 1;
  setTimeout(fn: () => void): number {
    this.#due.set(this.#next, fn);
    return this.#next++;
  }
  clearTimeout(handle: unknown): void {
    this.#due.delete(handle as number);
  }
  get pending(): number {
    return this.#due.size;
  }
  fireAll(): void {
    const due = [...this.#due.values()];
    this.#due.clear();
    for (const fn of due) fn();
  }
}

Deno.test("lock waits: many waiters on one lock are handed the lock in line order, tokens increasing", async () => {
  const node = new FakeNode();
  const waits = node.lockWaits;
  let token = await held(node, "q");
  const n = 200;
  const ends = Array.from({ length: n }, (_, i) => waits.acquire(acquire("q", `w${i}`)));
  await turn();
  assert.equal(waits.waiting, n);
  assert.equal(node.sm.lockInfo("q").waiters.length, n);
  assert.equal(node.listeners, 1, "one apply listener for all waits");
  for (let i = 0; i < n; i++) {
    await release(node, "q", token);
    const { end } = await ends[i];
    assert.equal(end.type, "granted");
    assert.ok(end.type === "granted" && end.token > token);
    token = (end as { token: number }).token;
    assert.equal(node.sm.lockInfo("q").holder?.owner, `w${i}`);
    assert.equal(waits.waiting, n - i - 1);
  }
  assert.equal(waits.locks, 0);
  assert.equal(node.listeners, 0, "no listener once nobody waits");
});

Deno.test("lock waits: a grant on one lock wakes only its own waiter among many locks", async () => {
  const node = new FakeNode();
  const waits = node.lockWaits;
  const n = 300;
  const tokens: number[] = [];
  for (let i = 0; i < n; i++) tokens.push(await held(node, `l${i}`));
  const ends: (AcquireEnd | undefined)[] = new Array(n);
  const all = Array.from(
    { length: n },
    (_, i) => waits.acquire(acquire(`l${i}`, `w${i}`)).then(({ end }) => ends[i] = end),
  );
  await turn();
  assert.equal(waits.waiting, n);
  assert.equal(waits.locks, n);
  // Release every other lock, from the last one back.
  for (let i = n - 1; i >= 0; i -= 2) await release(node, `l${i}`, tokens[i]);
  await turn();
  for (let i = 0; i < n; i++) {
    if (i % 2 === 1) {
      const end = ends[i];
      assert.equal(end?.type, "granted", `l${i}`);
      assert.equal(end?.type === "granted" && end.token, node.sm.lockInfo(`l${i}`).holder?.token);
    } else {
      assert.equal(ends[i], undefined, `l${i} still waits`);
    }
  }
  assert.equal(waits.waiting, n / 2);
  for (let i = 0; i < n; i += 2) await release(node, `l${i}`, tokens[i]);
  await Promise.all(all);
  assert.ok(ends.every((end) => end?.type === "granted"));
  assert.equal(waits.locks, 0);
  assert.equal(node.listeners, 0);
});

Deno.test("lock waits: a wait that runs out ends with the holder, and leaves nothing to withdraw", async () => {
  const node = new FakeNode();
  const token = await held(node, "w");
  const waiting = node.lockWaits.acquire(acquire("w", "late", 2000));
  await turn();
  node.clock.advance(2000);
  await node.tick();
  const { end } = await waiting;
  assert.deepEqual(end, {
    type: "ended",
    holder: { token, owner: "holder", expiresAt: node.sm.lockInfo("w").holder!.expiresAt },
    expiresAt: node.sm.lockInfo("w").holder!.expiresAt,
    replayed: false,
  });
  assert.ok(!node.submissions.some((s) => s.cmd.op === "abandonWait"));
});

Deno.test("lock waits: a try-lock on a held lock is the refusal; a replay of a wait that ran out is its end", async () => {
  const node = new FakeNode();
  await held(node, "t");
  const tryLock = await node.lockWaits.acquire(acquire("t", "x", 0));
  assert.equal(tryLock.end.type, "refused");
  assert.ok(tryLock.end.type === "refused" && tryLock.end.failure.reason === "held");
  const keyed = acquire("t", "k", 300);
  const propose = () => node.submit({ cmd: keyed, idempotencyKey: "k1" });
  const first = node.lockWaits.acquire(keyed, { propose });
  await turn();
  node.clock.advance(300);
  await node.tick();
  const ended = (await first).end;
  assert.equal(ended.type, "ended");
  const replay = await node.lockWaits.acquire(keyed, { propose });
  assert.equal(replay.outcome.duplicate, true);
  assert.deepEqual(replay.end, { ...ended, replayed: true });
});

Deno.test("lock waits: a grant applied before the caller learns its waiter id is not missed", async () => {
  const node = new FakeNode();
  const token = await held(node, "r");
  // The acquire is queued, then the lock is released and granted to it, all before the
  // proposal's promise resolves (one Ready batch; or a follower hearing back late).
  const propose = async () => {
    const outcome = await node.submit({ cmd: acquire("r", "racer") });
    await release(node, "r", token);
    return outcome;
  };
  const { end } = await node.lockWaits.acquire(acquire("r", "racer"), { propose });
  assert.equal(end.type, "granted");
  assert.equal(end.type === "granted" && end.token, node.sm.lockInfo("r").holder?.token);
  assert.equal(node.lockWaits.locks, 0);
  assert.equal(node.listeners, 0);
});

Deno.test("lock waits: a grant then an expiry before the caller learns its waiter id reads as the grant", async () => {
  // The grant is what the wait became (a retry with its key would be told the same); the
  // state alone would say the wait ended.
  const node = new FakeNode();
  const token = await held(node, "x");
  let grant = 0;
  const propose = async () => {
    const outcome = await node.submit({ cmd: acquire("x", "racer", 30_000, 1000) });
    grant = (await release(node, "x", token)).index;
    node.clock.advance(1000);
    await node.tick();
    return outcome;
  };
  const { end } = await node.lockWaits.acquire(acquire("x", "racer", 30_000, 1000), { propose });
  assert.equal(node.sm.lockInfo("x").holder, null);
  assert.equal(end.type, "granted");
  assert.equal(end.type === "granted" && end.token, grant);
});

Deno.test("lock waits: a caller that goes away withdraws its own attempt", async () => {
  const node = new FakeNode();
  const token = await held(node, "d");
  const controller = new AbortController();
  const waiting = node.lockWaits.acquire(acquire("d", "gone"), { signal: controller.signal });
  await turn();
  const [{ waiterId }] = node.sm.lockInfo("d").waiters;
  controller.abort();
  assert.deepEqual((await waiting).end, { type: "abandoned" });
  await turn();
  const abandon = node.submissions.find((s) => s.cmd.op === "abandonWait");
  assert.deepEqual(abandon?.cmd, { op: "abandonWait", name: "d", waiterId, at: waiterId });
  assert.equal(node.sm.lockInfo("d").waiters.length, 0);
  assert.equal(node.sm.lockInfo("d").holder?.token, token);
  assert.equal(node.listeners, 0);
});

Deno.test("lock waits: an immediate grant whose caller already left is let go of", async () => {
  const node = new FakeNode();
  const controller = new AbortController();
  controller.abort();
  const { end } = await node.lockWaits.acquire(acquire("g", "gone"), { signal: controller.signal });
  assert.equal(end.type, "granted");
  await turn();
  assert.equal(node.sm.lockInfo("g").holder, null, "released by its abandonWait");
});

Deno.test("lock waits: no decision within waitMs + grace is a timeout, and withdraws", async () => {
  const node = new FakeNode();
  const timers = new ManualTimers();
  const waits = new LockWaits(node, { timers, graceMs: 5000 });
  await held(node, "n");
  const gauge: number[] = [];
  const waiting = waits.acquire(acquire("n", "slow", 1000), { onWait: (d) => gauge.push(d) });
  await turn();
  assert.equal(timers.pending, 1);
  timers.fireAll();
  assert.deepEqual((await waiting).end, { type: "timeout" });
  assert.deepEqual(gauge, [1, -1]);
  await turn();
  assert.equal(node.sm.lockInfo("n").waiters.length, 0);
  assert.equal(timers.pending, 0);
});

Deno.test("lock waits: close() ends every wait with stopped", async () => {
  const node = new FakeNode();
  const timers = new ManualTimers();
  const waits = new LockWaits(node, { timers });
  await held(node, "s1");
  await held(node, "s2");
  const all = Promise.all(
    ["s1", "s1", "s2"].map((name, i) => waits.acquire(acquire(name, `${i}`))),
  );
  await turn();
  waits.close();
  assert.deepEqual((await all).map((a) => a.end.type), ["stopped", "stopped", "stopped"]);
  assert.equal(timers.pending, 0);
  assert.equal(node.listeners, 0);
  assert.ok(!node.submissions.some((s) => s.cmd.op === "abandonWait"), "nothing is withdrawn");
});

Deno.test("lock waits: two callers on one wait (a retry with its key) both get the grant", async () => {
  const node = new FakeNode();
  const token = await held(node, "k");
  const cmd = acquire("k", "twice");
  const propose = () => node.submit({ cmd, idempotencyKey: "same" });
  const first = node.lockWaits.acquire(cmd, { propose });
  const second = node.lockWaits.acquire(cmd, { propose });
  await turn();
  assert.equal(node.sm.lockInfo("k").waiters.length, 1);
  assert.equal(node.lockWaits.waiting, 2);
  await release(node, "k", token);
  const [a, b] = await Promise.all([first, second]);
  assert.deepEqual(a.end, b.end);
  assert.equal(a.end.type, "granted");
  assert.equal(b.outcome.duplicate, true);
});

Deno.test("lock waits: a wait decided inside a snapshot is settled by the next applied entry", async () => {
  const node = new FakeNode();
  const token = await held(node, "p");
  const waiting = node.lockWaits.acquire(acquire("p", "w"));
  await turn();
  // A leader's snapshot in which the lock was released (and so granted to the waiter) replaces
  // the state: no event of it comes by.
  const ahead = StateMachine.restore(node.sm.snapshot());
  ahead.apply(++node.index, node.term, {
    cmd: { op: "release", name: "p", token },
    time: node.clock.now(),
  });
  node.sm = ahead;
  let settled = false;
  void waiting.then(() => settled = true);
  await turn();
  assert.equal(settled, false);
  await node.tick();
  const { end } = await waiting;
  assert.equal(end.type, "granted");
  assert.equal(end.type === "granted" && end.token, ahead.lockInfo("p").holder?.token);
});

Deno.test("lock waits: entries without lock events cost no lock lookups, however many wait", async () => {
  const node = new FakeNode();
  const token = await held(node, "busy");
  const waiting = Array.from(
    { length: 1000 },
    (_, i) => node.lockWaits.acquire(acquire("busy", `${i}`)),
  );
  await turn();
  let lookups = 0;
  const lockInfo = node.sm.lockInfo.bind(node.sm);
  node.sm.lockInfo = (name: string) => (lookups++, lockInfo(name));
  for (let i = 0; i < 100; i++) await node.submit({ cmd: { op: "put", key: `k${i}`, value: i } });
  assert.equal(lookups, 0);
  await release(node, "busy", token);
  assert.equal((await waiting[0]).end.type, "granted");
  assert.equal(lookups, 0, "a grant is read from its event");
  node.lockWaits.close();
  await Promise.all(waiting);
});

Deno.test("lock waits: decisions are kept only for callers that announced themselves before them", async () => {
  // Acquires on a hot lock overlap without end: some caller is always between proposing and
  // learning its waiter id. Each decision is dropped once the callers older than it are done.
  const node = new FakeNode();
  const waits = node.lockWaits;
  let previous: { gate: PromiseWithResolvers<void>; answer: Promise<void> } | undefined;
  let maxKept = 0;
  for (let i = 0; i < 100; i++) {
    const gate = Promise.withResolvers<void>();
    const cmd = acquire("hot", `c${i}`, 0);
    const answer = waits.acquire(cmd, {
      propose: async () => (await gate.promise, await node.submit({ cmd })),
    }).then(async ({ end }) => {
      assert.equal(end.type, "granted");
      if (end.type === "granted") await release(node, "hot", end.token);
    });
    // Caller i is announced; the previous one is applied now (its grant is recorded for i).
    if (previous) {
      previous.gate.resolve();
      await previous.answer;
    }
    maxKept = Math.max(maxKept, waits.kept);
    previous = { gate, answer };
  }
  previous!.gate.resolve();
  await previous!.answer;
  assert.ok(maxKept <= 2, `kept ${maxKept}`);
  assert.equal(waits.kept, 0);
  assert.equal(waits.locks, 0);
});

Deno.test("lock waits: a RaftNode is a host as it is (the simulator's nodes use the same class)", () => {
  const asHost = (node: RaftNode): LockWaitHost => node;
  assert.equal(typeof asHost, "function");
});

Deno.test("lock waits: many waits that run out in one entry all end, with the holder after it", async () => {
  const node = new FakeNode();
  const token = await held(node, "many");
  const n = 500;
  const all = Promise.all(
    Array.from({ length: n }, (_, i) => node.lockWaits.acquire(acquire("many", `${i}`, 1000))),
  );
  await turn();
  node.clock.advance(1000);
  await node.tick();
  const ends = await all;
  const holder = node.sm.lockInfo("many").holder!;
  assert.equal(holder.token, token);
  for (const { end } of ends) {
    assert.deepEqual(end, {
      type: "ended",
      holder: { token, owner: "holder", expiresAt: holder.expiresAt },
      expiresAt: holder.expiresAt,
      replayed: false,
    });
  }
  assert.equal(node.lockWaits.locks, 0);
});

Deno.test("lock waits: a RaftNode's own waits are granted through the log, and end with stopped when it stops", async () => {
  const node = await startSoloNode({ tickMs: 5 });
  try {
    await poll(() => node.isLeader() || undefined, { what: "a leader" });
    const first = await node.lockWaits.acquire(acquire("job", "a", 0));
    assert.equal(first.end.type, "granted");
    const token = first.end.type === "granted" ? first.end.token : 0;
    const [second, third] = [
      node.lockWaits.acquire(acquire("job", "b")),
      node.lockWaits.acquire(acquire("job", "c")),
    ];
    await poll(() => node.lockInfo("job").waiters.length === 2 || undefined, {
      what: "two waiters",
    });
    await node.submit({ cmd: { op: "release", name: "job", token } });
    const granted = (await second).end;
    assert.equal(granted.type, "granted");
    assert.ok(granted.type === "granted" && granted.token > token);
    await node.stop();
    assert.deepEqual((await third).end, { type: "stopped" });
  } finally {
    await node.stop();
  }
});

Deno.test("lock waits: the acquire route answers a wait ended by a stopping node with 504 (outcome unknown)", async () => {
  const { app, node } = makeApp();
  await send(app, "POST", "/v1/locks/st/acquire", { json: { ttlMs: 60_000 } });
  const waiting = send(app, "POST", "/v1/locks/st/acquire", {
    json: { ttlMs: 5000, waitMs: 30_000 },
  });
  await poll(() => node.sm.lockInfo("st").waiters.length === 1 || undefined, { what: "a waiter" });
  node.lockWaits.close();
  const answer = await waiting;
  assert.equal(answer.status, 504);
  assert.equal(answer.body.type, "urn:edgeraft:problem:timeout");
});
