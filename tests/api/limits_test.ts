import assert from "node:assert/strict";
import { DEFAULT_LIMITS, resolveLimits, utf8Length } from "../../src/api/limits.ts";
import { makeApp, send } from "./harness.ts";

/** Asserts a limit-exceeded problem that names `limit`, and that nothing was proposed. */
function assertLimit(
  answer: { status: number; body: Record<string, string> },
  limit: string,
  status = 400,
) {
  assert.equal(answer.status, status, JSON.stringify(answer.body));
  assert.equal(answer.body.type, "urn:edgeraft:problem:limit-exceeded");
  assert.equal(answer.body.limit, limit);
  assert.match(answer.body.detail, new RegExp(limit));
}

Deno.test("the default limits of docs/architecture.md#limits", () => {
  assert.equal(DEFAULT_LIMITS.maxKeyBytes, 1024);
  assert.equal(DEFAULT_LIMITS.maxValueBytes, 262_144);
  assert.equal(DEFAULT_LIMITS.maxLockNameBytes, 256);
  assert.equal(DEFAULT_LIMITS.minTtlMs, 1000);
  assert.equal(DEFAULT_LIMITS.maxTtlMs, 3_600_000);
  assert.equal(DEFAULT_LIMITS.maxWaitMs, 60_000);
  assert.equal(DEFAULT_LIMITS.maxBodyBytes, 1_048_576);
});

Deno.test("resolveLimits refuses limits it could not enforce", () => {
  assert.equal(resolveLimits({ maxKeyBytes: 10 }).maxKeyBytes, 10);
  assert.throws(() => resolveLimits({ maxKeyBytes: 0 }), RangeError);
  assert.throws(() => resolveLimits({ maxKeyBytes: 1.5 }), RangeError);
  assert.throws(() => resolveLimits({ minTtlMs: 10, maxTtlMs: 5 }), RangeError);
  assert.throws(() => resolveLimits({ nope: 1 } as never), RangeError);
});

Deno.test("utf8Length counts bytes of UTF-8", () => {
  for (const s of ["", "a", "é", "€", "😀", "a😀b", "\ud800"]) {
    assert.equal(utf8Length(s), new TextEncoder().encode(s).length, s);
  }
});

Deno.test("every key limit: 1 KiB of UTF-8 in paths, prefixes and cursors", async () => {
  const { app, node } = makeApp();
  const exactly = "k".repeat(1024);
  assert.equal((await send(app, "PUT", `/v1/config/${exactly}`, { json: 1 })).status, 200);
  const over = "é".repeat(513); // 1026 bytes in 513 characters
  assertLimit(
    await send(app, "PUT", `/v1/config/${encodeURIComponent(over)}`, { json: 1 }),
    "maxKeyBytes",
  );
  assertLimit(await send(app, "GET", `/v1/config/${"k".repeat(1025)}`), "maxKeyBytes");
  assertLimit(await send(app, "DELETE", `/v1/config/${"k".repeat(1025)}`), "maxKeyBytes");
  assertLimit(await send(app, "GET", `/v1/config?prefix=${"k".repeat(1025)}`), "maxKeyBytes");
  assertLimit(await send(app, "GET", `/v1/config?after=${"k".repeat(1025)}`), "maxKeyBytes");
  assert.equal(node.sm.revision, 1);
});

Deno.test("value limit: 256 KiB of compact JSON (413); deeper than 64 levels (400)", async () => {
  const { app, node } = makeApp();
  const fits = "x".repeat(256 * 1024 - 2); // two quotes make it exactly the limit
  assert.equal((await send(app, "PUT", "/v1/config/v", { json: fits })).status, 200);
  assertLimit(await send(app, "PUT", "/v1/config/v", { json: fits + "x" }), "maxValueBytes", 413);
  const deep = "[".repeat(65) + "]".repeat(65);
  const answer = await send(app, "PUT", "/v1/config/v", {
    body: deep,
    headers: { "content-type": "application/json" },
  });
  assert.equal(answer.status, 400);
  assert.match(answer.body.detail, /deeper than 64/);
  assert.equal(node.sm.revision, 1);
});

Deno.test("body limit: 1 MiB, by Content-Length and while streaming (413)", async () => {
  const { app, node } = makeApp({ limits: { maxValueBytes: 2 * 1024 * 1024 } });
  const big = JSON.stringify("y".repeat(1024 * 1024));
  assertLimit(
    await send(app, "PUT", "/v1/config/b", {
      body: big,
      headers: { "content-type": "application/json" },
    }),
    "maxBodyBytes",
    413,
  );
  const chunks = [new TextEncoder().encode('"'), new Uint8Array(1024 * 1024).fill(0x61)];
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      const next = chunks.shift();
      if (next) controller.enqueue(next);
      else controller.close();
    },
  });
  assertLimit(
    await send(app, "PUT", "/v1/config/b", {
      body: stream,
      headers: { "content-type": "application/json" },
    }),
    "maxBodyBytes",
    413,
  );
  assert.equal(node.sm.revision, 0);
});

Deno.test("lock limits: name 256 bytes, owner, ttlMs 1 s to 1 h, waitMs up to 60 s", async () => {
  const { app, node } = makeApp();
  const acquire = (name: string, json: unknown) =>
    send(app, "POST", `/v1/locks/${name}/acquire`, { json });
  assertLimit(await acquire("n".repeat(257), { ttlMs: 1000 }), "maxLockNameBytes");
  assertLimit(await send(app, "GET", `/v1/locks/${"n".repeat(257)}`), "maxLockNameBytes");
  assertLimit(await acquire("l", { ttlMs: 999 }), "minTtlMs");
  assertLimit(await acquire("l", { ttlMs: 3_600_001 }), "maxTtlMs");
  assertLimit(await acquire("l", { ttlMs: 1000, waitMs: 60_001 }), "maxWaitMs");
  assertLimit(await acquire("l", { ttlMs: 1000, owner: "o".repeat(257) }), "maxOwnerBytes");
  assert.equal(node.submissions.length, 0);
  assert.equal((await acquire("n".repeat(256), { ttlMs: 3_600_000, waitMs: 60_000 })).status, 200);
});

Deno.test("header and paging limits: client id, idempotency key, list limit", async () => {
  const { app, node } = makeApp();
  assertLimit(
    await send(app, "PUT", "/v1/config/k", {
      json: 1,
      headers: { "x-client-id": "c".repeat(129), "x-client-seq": "1" },
    }),
    "maxClientIdBytes",
  );
  assertLimit(
    await send(app, "PUT", "/v1/config/k", {
      json: 1,
      headers: { "idempotency-key": "i".repeat(257) },
    }),
    "maxIdempotencyKeyBytes",
  );
  assertLimit(await send(app, "GET", "/v1/config?limit=1001"), "maxListLimit");
  assert.equal(node.submissions.length, 0);
});

Deno.test("limits are configurable", async () => {
  const { app } = makeApp({ limits: { maxKeyBytes: 4, maxBodyBytes: 14, maxTtlMs: 2000 } });
  assertLimit(await send(app, "PUT", "/v1/config/12345", { json: 1 }), "maxKeyBytes");
  assertLimit(
    await send(app, "PUT", "/v1/config/k", { json: "0123456789abc" }),
    "maxBodyBytes",
    413,
  );
  assertLimit(
    await send(app, "POST", "/v1/locks/l/acquire", { json: { ttlMs: 2001 } }),
    "maxTtlMs",
  );
});
