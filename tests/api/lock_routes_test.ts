import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { makeApp, send } from "./harness.ts";

/** Polls `check` until it holds, failing after `ms`. */
async function until(check: () => boolean, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await sleep(1);
  }
}

Deno.test("acquire grants with a fencing token; a try-lock on a held lock is 409 {holder, expiresAt}", async () => {
  const { app, clock } = makeApp();
  const a = await send(app, "POST", "/v1/locks/cron/acquire", {
    json: { ttlMs: 5000, owner: "eu-1" },
  });
  assert.equal(a.status, 200);
  assert.deepEqual(a.body, {
    name: "cron",
    token: a.body.token,
    owner: "eu-1",
    ttlMs: 5000,
    expiresAt: clock.now() + 5000,
  });
  assert.ok(a.body.token > 0);
  const b = await send(app, "POST", "/v1/locks/cron/acquire", { json: { ttlMs: 5000, waitMs: 0 } });
  assert.equal(b.status, 409);
  assert.equal(b.headers.get("content-type"), "application/problem+json");
  assert.equal(b.body.type, "urn:edgeraft:problem:lock-held");
  // The same holder shape as GET /v1/locks/{name} gives (issue 10, item 14).
  assert.deepEqual(b.body.holder, {
    token: a.body.token,
    owner: "eu-1",
    expiresAt: a.body.expiresAt,
  });
  assert.equal(b.body.expiresAt, a.body.expiresAt);
  const info = await send(app, "GET", "/v1/locks/cron");
  assert.deepEqual(b.body.holder, info.body.holder);
  // Without an owner, the holder is still an object (owner ""), not a bare "".
  await send(app, "POST", "/v1/locks/anon/acquire", { json: { ttlMs: 5000 } });
  const c = await send(app, "POST", "/v1/locks/anon/acquire", { json: { ttlMs: 5000 } });
  assert.equal(c.body.holder.owner, "");
  assert.equal(typeof c.body.holder.token, "number");
});

Deno.test("renew extends the lease; release frees it; a stale token gets 409", async () => {
  const { app, clock } = makeApp();
  const { body: grant } = await send(app, "POST", "/v1/locks/l/acquire", { json: { ttlMs: 2000 } });
  clock.advance(1000);
  const renewed = await send(app, "POST", "/v1/locks/l/renew", { json: { token: grant.token } });
  assert.equal(renewed.status, 200);
  assert.deepEqual(renewed.body, { name: "l", token: grant.token, expiresAt: clock.now() + 2000 });
  const wrong = await send(app, "POST", "/v1/locks/l/renew", { json: { token: grant.token + 99 } });
  assert.equal(wrong.status, 409);
  assert.equal(wrong.body.type, "urn:edgeraft:problem:not-holder");
  const released = await send(app, "POST", "/v1/locks/l/release", { json: { token: grant.token } });
  assert.equal(released.status, 200);
  assert.deepEqual(released.body, { name: "l", token: grant.token });
  const twice = await send(app, "POST", "/v1/locks/l/release", { json: { token: grant.token } });
  assert.equal(twice.status, 409);
  const info = await send(app, "GET", "/v1/locks/l");
  assert.deepEqual(info.body, { name: "l", holder: null, waiters: [] });
});

Deno.test("GET /v1/locks/{name} shows the holder and the line", async () => {
  const { app, node } = makeApp();
  const { body: grant } = await send(app, "POST", "/v1/locks/l/acquire", {
    json: { ttlMs: 2000, owner: "a" },
  });
  const controller = new AbortController();
  const waiting = send(app, "POST", "/v1/locks/l/acquire", {
    json: { ttlMs: 2000, owner: "b", waitMs: 10_000 },
    signal: controller.signal,
  }).catch(() => undefined);
  await until(() => node.sm.lockInfo("l").waiters.length === 1);
  const info = await send(app, "GET", "/v1/locks/l");
  assert.equal(info.status, 200);
  assert.deepEqual(info.body.holder, {
    token: grant.token,
    owner: "a",
    expiresAt: grant.expiresAt,
  });
  assert.equal(info.body.waiters.length, 1);
  assert.equal(info.body.waiters[0].owner, "b");
  assert.ok(info.headers.get("x-revision") !== null);
  const stale = await send(app, "GET", "/v1/locks/l?consistency=stale");
  assert.equal(stale.headers.get("x-last-contact-ms"), "0");
  controller.abort();
  await waiting;
});

Deno.test("waiters are granted in FIFO order with increasing fencing tokens", async () => {
  const { app, node } = makeApp();
  const first = await send(app, "POST", "/v1/locks/q/acquire", {
    json: { ttlMs: 5000, owner: "1" },
  });
  const waits = ["2", "3"].map((owner) =>
    send(app, "POST", "/v1/locks/q/acquire", { json: { ttlMs: 5000, owner, waitMs: 30_000 } })
  );
  await until(() => node.sm.lockInfo("q").waiters.length === 2);
  await send(app, "POST", "/v1/locks/q/release", { json: { token: first.body.token } });
  const second = await waits[0];
  assert.equal(second.status, 200);
  assert.equal(second.body.owner, "2");
  assert.ok(second.body.token > first.body.token);
  await send(app, "POST", "/v1/locks/q/release", { json: { token: second.body.token } });
  const third = await waits[1];
  assert.equal(third.body.owner, "3");
  assert.ok(third.body.token > second.body.token);
  assert.equal(node.listeners, 0);
});

Deno.test("a lease that expires passes the lock to the next waiter", async () => {
  const { app, node, clock } = makeApp();
  await send(app, "POST", "/v1/locks/e/acquire", { json: { ttlMs: 1000 } });
  const waiting = send(app, "POST", "/v1/locks/e/acquire", {
    json: { ttlMs: 1000, owner: "next", waitMs: 30_000 },
  });
  await until(() => node.sm.lockInfo("e").waiters.length === 1);
  clock.advance(1000);
  await node.tick();
  const granted = await waiting;
  assert.equal(granted.status, 200);
  assert.equal(granted.body.owner, "next");
});

Deno.test("a wait that runs out answers 409 with the holder", async () => {
  const { app, node, clock } = makeApp();
  await send(app, "POST", "/v1/locks/w/acquire", { json: { ttlMs: 60_000, owner: "holder" } });
  const waiting = send(app, "POST", "/v1/locks/w/acquire", { json: { ttlMs: 1000, waitMs: 2000 } });
  await until(() => node.sm.lockInfo("w").waiters.length === 1);
  clock.advance(2000);
  await node.tick();
  const ended = await waiting;
  assert.equal(ended.status, 409);
  assert.equal(ended.body.holder.owner, "holder");
  assert.deepEqual(ended.body.holder, (await send(app, "GET", "/v1/locks/w")).body.holder);
  assert.match(ended.body.detail, /waitMs = 2000/);
});

Deno.test("a client that disconnects while waiting leaves the line", async () => {
  const { app, node } = makeApp();
  const { body: grant } = await send(app, "POST", "/v1/locks/d/acquire", {
    json: { ttlMs: 60_000 },
  });
  const controller = new AbortController();
  const request = new Request("http://localhost/v1/locks/d/acquire", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ ttlMs: 1000, waitMs: 30_000, owner: "gone" }),
    signal: controller.signal,
  });
  const answer = Promise.resolve(app.fetch(request)).catch((e) => e);
  await until(() => node.sm.lockInfo("d").waiters.length === 1);
  controller.abort();
  await until(() => node.sm.lockInfo("d").waiters.length === 0);
  await answer;
  assert.ok(node.submissions.some((s) => s.cmd.op === "abandonWait"));
  // The holder is untouched, and the next release does not hand the lock to the gone client.
  assert.equal(node.sm.lockInfo("d").holder?.token, grant.token);
  await send(app, "POST", "/v1/locks/d/release", { json: { token: grant.token } });
  assert.equal(node.sm.lockInfo("d").holder, null);
  assert.equal(node.listeners, 0);
});

Deno.test("a replayed queued acquire (same Idempotency-Key) reattaches to its wait", async () => {
  const { app, node } = makeApp();
  const { body: grant } = await send(app, "POST", "/v1/locks/r/acquire", {
    json: { ttlMs: 60_000 },
  });
  const headers = { "idempotency-key": "acq-1" };
  const json = { ttlMs: 1000, waitMs: 30_000, owner: "retry" };
  const controller = new AbortController();
  const first = send(app, "POST", "/v1/locks/r/acquire", {
    json,
    headers,
    signal: controller.signal,
  })
    .catch(() => undefined);
  await until(() => node.sm.lockInfo("r").waiters.length === 1);
  await send(app, "POST", "/v1/locks/r/release", { json: { token: grant.token } });
  const replay = await send(app, "POST", "/v1/locks/r/acquire", { json, headers });
  assert.equal(replay.status, 200);
  assert.equal(replay.body.owner, "retry");
  assert.equal(replay.headers.get("idempotent-replayed"), "true");
  assert.equal(node.sm.lockInfo("r").holder?.token, replay.body.token);
  controller.abort();
  await first;
});

Deno.test("lock requests are validated before anything is proposed", async () => {
  const { app, node } = makeApp();
  const before = node.submissions.length;
  const cases: [string, unknown, number, string?][] = [
    ["/v1/locks/x/acquire", {}, 400],
    ["/v1/locks/x/acquire", { ttlMs: "1000" }, 400],
    ["/v1/locks/x/acquire", { ttlMs: 1000.5 }, 400],
    ["/v1/locks/x/acquire", { ttlMs: 999 }, 400, "minTtlMs"],
    ["/v1/locks/x/acquire", { ttlMs: 3_600_001 }, 400, "maxTtlMs"],
    ["/v1/locks/x/acquire", { ttlMs: 1000, waitMs: 60_001 }, 400, "maxWaitMs"],
    ["/v1/locks/x/acquire", { ttlMs: 1000, waitMs: -1 }, 400],
    ["/v1/locks/x/acquire", { ttlMs: 1000, owner: "o".repeat(257) }, 400, "maxOwnerBytes"],
    ["/v1/locks/x/acquire", { ttlMs: 1000, extra: true }, 400],
    ["/v1/locks/x/acquire", [1000], 400],
    ["/v1/locks/x/renew", { token: 0 }, 400],
    ["/v1/locks/x/release", { token: "1" }, 400],
    [`/v1/locks/${"n".repeat(257)}/acquire`, { ttlMs: 1000 }, 400, "maxLockNameBytes"],
    ["/v1/locks/a%00b/acquire", { ttlMs: 1000 }, 400],
    ["/v1/locks/%FF/acquire", { ttlMs: 1000 }, 400],
  ];
  for (const [path, json, status, limit] of cases) {
    const a = await send(app, "POST", path, { json });
    assert.equal(a.status, status, `${path} ${JSON.stringify(json)}`);
    if (limit) {
      assert.equal(a.body.limit, limit);
      assert.match(a.body.detail, new RegExp(limit));
    }
  }
  assert.equal(node.submissions.length, before);
  assert.equal((await send(app, "GET", "/v1/locks/x/acquire")).status, 405);
  assert.equal((await send(app, "POST", "/v1/locks/x/steal", { json: {} })).status, 404);
});

Deno.test("over a real socket: closing the connection of a waiting request leaves the line", async () => {
  const { app, node } = makeApp();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, app.fetch);
  try {
    const base = `http://127.0.0.1:${server.addr.port}`;
    const held = await fetch(`${base}/v1/locks/s/acquire`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ ttlMs: 60_000 }),
    });
    assert.equal(held.status, 200);
    await held.body?.cancel();
    const controller = new AbortController();
    const waiting = fetch(`${base}/v1/locks/s/acquire`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ ttlMs: 1000, waitMs: 30_000 }),
      signal: controller.signal,
    }).catch((e) => e);
    await until(() => node.sm.lockInfo("s").waiters.length === 1);
    controller.abort();
    await waiting;
    await until(() => node.sm.lockInfo("s").waiters.length === 0);
    assert.equal(node.listeners, 0);
  } finally {
    await server.shutdown();
  }
});
