/**
 * Exactly once, tried the way a stranger would (issue 10, defects 1 and 2): the same
 * `Idempotency-Key` on another path, route, body, conditional header or token; the same
 * `X-Client-Id` + `X-Client-Seq` on another request; keys reused after they expire; and lock
 * acquires retried after their connection dropped mid-wait.
 */

import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import type { Submission } from "../../src/node/raft_node.ts";
import { type Answer, makeApp, send } from "./harness.ts";

/** Polls `check` until it holds, failing after `ms`. */
async function until(check: () => boolean, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await sleep(1);
  }
}

function assertReused(a: Answer, kind = "idempotency-key-reused"): void {
  assert.equal(a.status, 422, a.text);
  assert.equal(a.headers.get("content-type"), "application/problem+json");
  assert.equal(a.body.type, `urn:edgeraft:problem:${kind}`);
  assert.match(a.body.detail, /different request/);
  assert.equal(a.headers.get("idempotent-replayed"), null, "a refusal is no replay");
}

const key = (k: string) => ({ "idempotency-key": k });

Deno.test("a key reused on another path is refused with 422, and nothing is written", async () => {
  const { app, node } = makeApp();
  const a = await send(app, "PUT", "/v1/config/idA", { json: 1, headers: key("k1") });
  assert.equal(a.status, 200);
  const b = await send(app, "PUT", "/v1/config/idB", { json: 1, headers: key("k1") });
  assertReused(b);
  assert.equal((await send(app, "GET", "/v1/config/idB")).status, 404);
  assert.equal(node.sm.revision, 1);
  // The identical retry still replays the first answer.
  const retry = await send(app, "PUT", "/v1/config/idA", { json: 1, headers: key("k1") });
  assert.equal(retry.status, 200);
  assert.equal(retry.headers.get("idempotent-replayed"), "true");
  assert.deepEqual(retry.body, a.body);
});

Deno.test("a key reused with another body or another condition is refused", async () => {
  const { app, node } = makeApp();
  await send(app, "PUT", "/v1/config/a", { json: { v: 1 }, headers: key("k") });
  assertReused(await send(app, "PUT", "/v1/config/a", { json: { v: 2 }, headers: key("k") }));
  assert.deepEqual(node.sm.get("a")?.value, { v: 1 }, "the new body is not silently dropped");
  const cas = await send(app, "PUT", "/v1/config/a", {
    json: { v: 1 },
    headers: { ...key("k"), "if-match": '"1"' },
  });
  assertReused(cas);
  const create = await send(app, "PUT", "/v1/config/a", {
    json: { v: 1 },
    headers: { ...key("k"), "if-none-match": "*" },
  });
  assertReused(create);
  assert.equal(node.sm.get("a")?.version, 1);
});

Deno.test("a key reused on another route (acquire, DELETE) is refused: no lock, no delete", async () => {
  const { app, node } = makeApp();
  await send(app, "PUT", "/v1/config/a", { json: 1, headers: key("k") });
  const lock = await send(app, "POST", "/v1/locks/job/acquire", {
    json: { ttlMs: 5000 },
    headers: key("k"),
  });
  assertReused(lock);
  assert.equal(node.sm.lockInfo("job").holder, null);
  const del = await send(app, "DELETE", "/v1/config/a", { headers: key("k") });
  assertReused(del);
  assert.equal(node.sm.get("a")?.value, 1);
  // And the other way round: a lock's key does not make a PUT a no-op.
  const grant = await send(app, "POST", "/v1/locks/l/acquire", {
    json: { ttlMs: 5000 },
    headers: key("lk"),
  });
  assert.equal(grant.status, 200);
  assertReused(await send(app, "PUT", "/v1/config/b", { json: 1, headers: key("lk") }));
  assertReused(
    await send(app, "POST", "/v1/locks/l/release", {
      json: { token: grant.body.token },
      headers: key("lk"),
    }),
  );
  assert.equal(node.sm.lockInfo("l").holder?.token, grant.body.token);
});

Deno.test("keys and client sessions of one token are invisible to another", async () => {
  const tokens = [
    { name: "a", token: "token-a-token-a-token-a", scopes: ["admin" as const] },
    { name: "b", token: "token-b-token-b-token-b", scopes: ["admin" as const] },
  ];
  const { app, node } = makeApp({ tokens });
  const as = (t: string, h: Record<string, string> = {}) => ({
    ...h,
    authorization: `Bearer ${t}`,
  });
  const a = await send(app, "PUT", "/v1/config/x", {
    json: "a",
    headers: as(tokens[0].token, key("k")),
  });
  const b = await send(app, "PUT", "/v1/config/x", {
    json: "a",
    headers: as(tokens[1].token, key("k")),
  });
  assert.equal(a.status, 200);
  assert.equal(b.status, 200);
  assert.equal(b.headers.get("idempotent-replayed"), null, "not a replay of token a's write");
  assert.equal(node.sm.get("x")?.version, 2);
  // Another token's key with another body is not "reused" either: it is another namespace.
  const c = await send(app, "PUT", "/v1/config/y", {
    json: 1,
    headers: as(tokens[1].token, key("only-a")),
  });
  await send(app, "PUT", "/v1/config/z", { json: 1, headers: as(tokens[0].token, key("only-a")) });
  assert.equal(c.status, 200);
  assert.equal(node.sm.get("z")?.value, 1);
  // Sessions: token b's client "c" at seq 1 is not stale behind token a's "c" at seq 9.
  const session = (seq: number) => ({ "x-client-id": "c", "x-client-seq": String(seq) });
  await send(app, "PUT", "/v1/config/s", { json: 1, headers: as(tokens[0].token, session(9)) });
  const other = await send(app, "PUT", "/v1/config/s", {
    json: 2,
    headers: as(tokens[1].token, session(1)),
  });
  assert.equal(other.status, 200);
  assert.equal(node.sm.get("s")?.value, 2);
});

Deno.test("a retried X-Client-Seq with another request is refused, not replayed", async () => {
  const { app, node } = makeApp();
  const session = { "x-client-id": "c1", "x-client-seq": "5" };
  const a = await send(app, "PUT", "/v1/config/p", { json: 1, headers: session });
  assert.equal(a.status, 200);
  assertReused(
    await send(app, "PUT", "/v1/config/q", { json: 1, headers: session }),
    "client-seq-reused",
  );
  assertReused(
    await send(app, "PUT", "/v1/config/p", { json: 2, headers: session }),
    "client-seq-reused",
  );
  assert.equal(node.sm.get("q"), undefined);
  assert.equal(node.sm.get("p")?.value, 1);
  const retry = await send(app, "PUT", "/v1/config/p", { json: 1, headers: session });
  assert.equal(retry.headers.get("idempotent-replayed"), "true");
  const next = await send(app, "PUT", "/v1/config/q", {
    json: 1,
    headers: { ...session, "x-client-seq": "6" },
  });
  assert.equal(next.status, 200);
  // A stale sequence is refused, and not marked as the replay of an answer it never had.
  const stale = await send(app, "PUT", "/v1/config/p", { json: 1, headers: session });
  assert.equal(stale.status, 409);
  assert.equal(stale.body.type, "urn:edgeraft:problem:stale-sequence");
  assert.equal(stale.headers.get("idempotent-replayed"), null);
});

Deno.test("a key reused after it expired (idle for sessionIdleMs of log time) applies afresh", async () => {
  const { app, node, clock } = makeApp({}, { sessionIdleMs: 60_000 });
  await send(app, "PUT", "/v1/config/a", { json: 1, headers: key("k") });
  clock.advance(59_999);
  await node.tick();
  assertReused(await send(app, "PUT", "/v1/config/b", { json: 1, headers: key("k") }));
  clock.advance(60_000);
  await node.tick();
  const later = await send(app, "PUT", "/v1/config/b", { json: 1, headers: key("k") });
  assert.equal(later.status, 200);
  assert.equal(later.headers.get("idempotent-replayed"), null);
  assert.equal(node.sm.get("b")?.value, 1);
});

// ---- defect 2: lock acquires retried after a dropped connection -------------------------

/** Holds the node's `abandonWait` submissions until `open()`: the window between a client's
 * disconnect and the withdrawal reaching the log. */
function gateAbandons(node: ReturnType<typeof makeApp>["node"]) {
  const submit = node.submit.bind(node);
  const gate = Promise.withResolvers<void>();
  let held = 0;
  node.submit = async (sub: Submission, signal?: AbortSignal) => {
    if (sub.cmd.op === "abandonWait") {
      held++;
      await gate.promise;
    }
    return await submit(sub, signal);
  };
  return { open: () => gate.resolve(), held: () => held };
}

Deno.test("a queued acquire whose connection dropped is retried with its key: it waits in line and is granted", async () => {
  const { app, node } = makeApp();
  const holder = await send(app, "POST", "/v1/locks/j/acquire", { json: { ttlMs: 60_000 } });
  const json = { ttlMs: 5000, waitMs: 30_000, owner: "w" };
  const controller = new AbortController();
  const first = send(app, "POST", "/v1/locks/j/acquire", {
    json,
    headers: key("acq"),
    signal: controller.signal,
  }).catch((e) => e);
  await until(() => node.sm.lockInfo("j").waiters.length === 1);
  controller.abort();
  await first;
  await until(() => node.sm.lockInfo("j").waiters.length === 0);
  // The retry is not told "stayed held for waitMs" at once: it waits in line again.
  const retry = send(app, "POST", "/v1/locks/j/acquire", { json, headers: key("acq") });
  await until(() => node.sm.lockInfo("j").waiters.length === 1);
  await send(app, "POST", "/v1/locks/j/release", { json: { token: holder.body.token } });
  const granted = await retry;
  assert.equal(granted.status, 200, granted.text);
  assert.equal(granted.body.owner, "w");
  assert.equal(node.sm.lockInfo("j").holder?.token, granted.body.token);
  // Its next retry replays that grant.
  const again = await send(app, "POST", "/v1/locks/j/acquire", { json, headers: key("acq") });
  assert.equal(again.headers.get("idempotent-replayed"), "true");
  assert.equal(again.body.token, granted.body.token);
  assert.equal(node.listeners, 0);
});

Deno.test("a retry after a dropped wait, once the lock is free, gets the lock (not 409 holder: null)", async () => {
  const { app, node } = makeApp();
  const holder = await send(app, "POST", "/v1/locks/f/acquire", { json: { ttlMs: 60_000 } });
  const json = { ttlMs: 5000, waitMs: 30_000, owner: "w" };
  const controller = new AbortController();
  const first = send(app, "POST", "/v1/locks/f/acquire", {
    json,
    headers: key("acq"),
    signal: controller.signal,
  }).catch((e) => e);
  await until(() => node.sm.lockInfo("f").waiters.length === 1);
  controller.abort();
  await first;
  await until(() => node.sm.lockInfo("f").waiters.length === 0);
  await send(app, "POST", "/v1/locks/f/release", { json: { token: holder.body.token } });
  const retry = await send(app, "POST", "/v1/locks/f/acquire", { json, headers: key("acq") });
  assert.equal(retry.status, 200, retry.text);
  assert.equal(node.sm.lockInfo("f").holder?.token, retry.body.token);
});

Deno.test("a wait granted after its client left is released, and the retry never gets that token", async () => {
  const { app, node } = makeApp();
  const holder = await send(app, "POST", "/v1/locks/g/acquire", { json: { ttlMs: 60_000 } });
  const gate = gateAbandons(node);
  const json = { ttlMs: 5000, waitMs: 30_000, owner: "w" };
  const controller = new AbortController();
  const first = send(app, "POST", "/v1/locks/g/acquire", {
    json,
    headers: key("acq"),
    signal: controller.signal,
  }).catch((e) => e);
  await until(() => node.sm.lockInfo("g").waiters.length === 1);
  controller.abort();
  await first;
  await until(() => gate.held() === 1);
  // Granted while the withdrawal is on its way to the log.
  await send(app, "POST", "/v1/locks/g/release", { json: { token: holder.body.token } });
  const ghost = node.sm.lockInfo("g").holder!.token;
  gate.open();
  await until(() => node.sm.lockInfo("g").holder === null);
  const retry = await send(app, "POST", "/v1/locks/g/acquire", { json, headers: key("acq") });
  assert.equal(retry.status, 200, retry.text);
  assert.notEqual(retry.body.token, ghost, "not the token the node released");
  assert.equal(node.sm.lockInfo("g").holder?.token, retry.body.token);
});

Deno.test("a retry that arrives before the withdrawal keeps the wait: its grant is not released under it", async () => {
  const { app, node } = makeApp();
  const holder = await send(app, "POST", "/v1/locks/h/acquire", { json: { ttlMs: 60_000 } });
  const gate = gateAbandons(node);
  const json = { ttlMs: 5000, waitMs: 30_000, owner: "w" };
  const controller = new AbortController();
  const first = send(app, "POST", "/v1/locks/h/acquire", {
    json,
    headers: key("acq"),
    signal: controller.signal,
  }).catch((e) => e);
  await until(() => node.sm.lockInfo("h").waiters.length === 1);
  const waiterId = node.sm.lockInfo("h").waiters[0].waiterId;
  controller.abort();
  await first;
  await until(() => gate.held() === 1);
  // The retry rejoins its place in line (it is still first) ...
  const before = node.submissions.length;
  const retry = send(app, "POST", "/v1/locks/h/acquire", { json, headers: key("acq") });
  await until(() => node.submissions.length > before);
  gate.open();
  await until(() => node.submissions.some((s) => s.cmd.op === "abandonWait"));
  assert.deepEqual(node.sm.lockInfo("h").waiters.map((w) => w.waiterId), [waiterId]);
  // ... and gets the lock when it is released.
  await send(app, "POST", "/v1/locks/h/release", { json: { token: holder.body.token } });
  const granted = await retry;
  assert.equal(granted.status, 200, granted.text);
  assert.equal(node.sm.lockInfo("h").holder?.token, granted.body.token);
  assert.equal(node.sm.lockInfo("h").holder?.waiterId, waiterId);
});

Deno.test("over a real socket: a fetch aborted mid-wait, retried with its key, is granted", async () => {
  const { app, node } = makeApp();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, app.fetch);
  try {
    const base = `http://127.0.0.1:${server.addr.port}`;
    const acquire = async (
      body: unknown,
      headers: Record<string, string>,
      signal?: AbortSignal,
    ) => {
      const r = await fetch(`${base}/v1/locks/s/acquire`, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: JSON.stringify(body),
        signal,
      });
      return { status: r.status, body: await r.json() };
    };
    const held = await acquire({ ttlMs: 60_000 }, {});
    const json = { ttlMs: 5000, waitMs: 30_000, owner: "edge" };
    const controller = new AbortController();
    const waiting = acquire(json, key("k"), controller.signal).catch((e) => e);
    await until(() => node.sm.lockInfo("s").waiters.length === 1);
    controller.abort();
    await waiting;
    await until(() => node.sm.lockInfo("s").waiters.length === 0);
    const retry = acquire(json, key("k"));
    await until(() => node.sm.lockInfo("s").waiters.length === 1);
    await acquire({ ttlMs: 1000 }, {}).then((r) => assert.equal(r.status, 409));
    const released = await fetch(`${base}/v1/locks/s/release`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ token: held.body.token }),
    });
    await released.body?.cancel();
    const granted = await retry;
    assert.equal(granted.status, 200);
    assert.equal(node.sm.lockInfo("s").holder?.token, granted.body.token);
    await until(() => node.listeners === 0);
  } finally {
    await server.shutdown();
  }
});

Deno.test("a dropped try-lock that reaches the log after its retry does not take the retry's grant with it", async () => {
  // The race the API model found: the retry B is applied first and answered 200; the dropped
  // attempt A is applied after it, answered as a duplicate with B's grant, sees its client gone
  // and withdraws in the name of its own entry. B's grant must stay.
  const { app, node } = makeApp();
  const submit = node.submit.bind(node);
  const late = Promise.withResolvers<void>();
  let acquires = 0;
  node.submit = async (sub: Submission, signal?: AbortSignal) => {
    if (sub.cmd.op === "acquire" && acquires++ === 0) await late.promise;
    return await submit(sub, signal);
  };
  const json = { ttlMs: 60_000, owner: "edge" };
  const controller = new AbortController();
  const first = send(app, "POST", "/v1/locks/r/acquire", {
    json,
    headers: key("race"),
    signal: controller.signal,
  }).catch((e) => e);
  await until(() => acquires === 1);
  controller.abort();
  const retry = await send(app, "POST", "/v1/locks/r/acquire", { json, headers: key("race") });
  assert.equal(retry.status, 200, retry.text);
  assert.equal(retry.headers.get("idempotent-replayed"), null, "B applied afresh");
  late.resolve();
  await first;
  await until(() => node.submissions.some((s) => s.cmd.op === "abandonWait"));
  const abandon = node.submissions.find((s) => s.cmd.op === "abandonWait")!.cmd;
  assert.equal(abandon.op === "abandonWait" && abandon.at, retry.body.token + 1, "A's own entry");
  assert.equal(node.sm.lockInfo("r").holder?.token, retry.body.token);
  const renew = await send(app, "POST", "/v1/locks/r/renew", { json: { token: retry.body.token } });
  assert.equal(renew.status, 200, renew.text);
  const other = await send(app, "POST", "/v1/locks/r/acquire", { json: { ttlMs: 1000 } });
  assert.equal(other.status, 409, other.text);
  const replay = await send(app, "POST", "/v1/locks/r/acquire", { json, headers: key("race") });
  assert.equal(replay.headers.get("idempotent-replayed"), "true");
  assert.equal(replay.body.token, retry.body.token);
  assert.equal(node.listeners, 0);
});

Deno.test("the replay of a wait that ran out reads as its first answer did", async () => {
  const { app, node, clock } = makeApp();
  await send(app, "POST", "/v1/locks/t/acquire", { json: { ttlMs: 60_000, owner: "a" } });
  const json = { ttlMs: 5000, waitMs: 300, owner: "w" };
  const waiting = send(app, "POST", "/v1/locks/t/acquire", { json, headers: key("late") });
  await until(() => node.sm.lockInfo("t").waiters.length === 1);
  clock.advance(300);
  await node.tick();
  const first = await waiting;
  assert.equal(first.status, 409, first.text);
  assert.match(first.body.detail, /stayed held for waitMs = 300/);
  const replay = await send(app, "POST", "/v1/locks/t/acquire", { json, headers: key("late") });
  assert.equal(replay.headers.get("idempotent-replayed"), "true");
  assert.equal(replay.status, 409);
  assert.deepEqual(replay.body, first.body);
});
