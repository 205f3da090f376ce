/**
 * What issue 14 added to the client, against fake nodes: typed errors, the `endpoints` option,
 * a call's own signal and deadline, withLock's renewals and its signal when the lease can no
 * longer be trusted, and the cached config reader (fresh, revalidated with If-None-Match,
 * stale-if-error bounded by its max age).
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  ConfigReader,
  ConflictError,
  EdgeraftClient,
  LockHeldError,
  NetworkError,
  NotFoundError,
  OutcomeUnknownError,
  PreconditionFailedError,
  UnauthorizedError,
  UnavailableError,
} from "../../src/client/mod.ts";

const A = "http://a.test:7001";
const B = "http://b.test:7001";

type Handler = (request: Request) => Response | Promise<Response>;

function fake(handler: Handler, options: { retries?: number; endpoints?: string[] } = {}) {
  const seen: Request[] = [];
  const client = new EdgeraftClient({
    endpoints: options.endpoints ?? [A],
    retries: options.retries ?? 2,
    fetch: async (request) => {
      seen.push(request);
      return await handler(request);
    },
  });
  return { client, seen };
}

const json = (body: unknown, status = 200, headers: Record<string, string> = {}) =>
  new Response(status === 304 ? null : JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });

const problem = (kind: string, status: number, extra: Record<string, unknown> = {}) =>
  json(
    { type: `urn:edgeraft:problem:${kind}`, title: kind, status, detail: kind, ...extra },
    status,
  );

Deno.test("answers become typed errors by status", async () => {
  const cases: [Response, (e: unknown) => boolean][] = [
    [problem("not-found", 404), (e) => e instanceof NotFoundError],
    [problem("unauthorized", 401), (e) => e instanceof UnauthorizedError],
    [
      problem("forbidden", 403),
      (e) => e instanceof UnauthorizedError && e.kind === "forbidden",
    ],
    [
      problem("not-holder", 409),
      (e) => e instanceof ConflictError && !(e instanceof LockHeldError),
    ],
    [
      problem("lock-held", 409, { holder: { token: 3, owner: "x", expiresAt: 1 } }),
      (e) => e instanceof LockHeldError && e instanceof ConflictError && e.holder?.token === 3,
    ],
    [
      problem("precondition-failed", 412, { currentRevision: 7 }),
      (e) => e instanceof PreconditionFailedError && e.currentRevision === 7,
    ],
  ];
  for (const [response, check] of cases) {
    const { client } = fake(() => response.clone());
    await assert.rejects(client.lockState("l"), (e) => check(e), String(response.status));
  }
});

Deno.test("503 after every retry is Unavailable; a write's 504 is OutcomeUnknown", async () => {
  const unavailable = fake(() => problem("no-leader", 503), { retries: 1 });
  await assert.rejects(unavailable.client.get("k"), UnavailableError);
  const unknown = fake(() => problem("timeout", 504), { retries: 1 });
  await assert.rejects(unknown.client.put("k", 1), OutcomeUnknownError);
  assert.equal(unknown.seen.length, 2);
});

Deno.test("no answer: a read is a NetworkError, a write that may have left OutcomeUnknown", async () => {
  const reset = () => {
    throw new TypeError("connection reset by peer");
  };
  const read = fake(reset, { retries: 1 });
  const readError = await read.client.get("k").catch((e) => e);
  assert.ok(readError instanceof NetworkError && readError instanceof UnavailableError);
  const write = fake(reset, { retries: 1 });
  const writeError = await write.client.put("k", 1).catch((e) => e);
  assert.ok(writeError instanceof OutcomeUnknownError, String(writeError));
  assert.ok(writeError.cause instanceof NetworkError);
  // Refused: nothing left, so nothing can have been applied.
  const refused = fake(() => {
    throw new TypeError("tcp connect error: Connection refused");
  }, { retries: 1 });
  const refusedError = await refused.client.put("k", 1).catch((e) => e);
  assert.ok(refusedError instanceof NetworkError, String(refusedError));
});

Deno.test("endpoints (and the old baseUrl) take a list; a call has its own signal and deadline", async () => {
  assert.deepEqual(new EdgeraftClient({ endpoints: [`${A}/`, B] }).endpoints, [A, B]);
  assert.deepEqual(new EdgeraftClient({ baseUrl: A }).endpoints, [A]);
  assert.throws(() => new EdgeraftClient({}), TypeError);
  // A node that never answers: the call's deadline ends it, well before the client's 10 s.
  const hang: Handler = (request) =>
    new Promise((_, reject) =>
      request.signal.addEventListener("abort", () => reject(request.signal.reason))
    );
  const { client } = fake(hang);
  const started = performance.now();
  const timedOut = await client.get("k", { timeoutMs: 100 }).catch((e) => e);
  assert.equal(timedOut.name, "TimeoutError");
  assert.ok(performance.now() - started < 2_000);
  const controller = new AbortController();
  setTimeout(() => controller.abort(), 50);
  const aborted = await client.put("k", 1, { signal: controller.signal }).catch((e) => e);
  assert.equal(aborted.name, "AbortError");
});

/** A one-lock server: acquire grants token 5; renew answers per `renew`. */
function lockServer(renew: () => Response) {
  const calls: string[] = [];
  let ttlMs = 0;
  const { client } = fake(async (request) => {
    const action = new URL(request.url).pathname.split("/").pop()!;
    calls.push(action);
    if (action === "acquire") {
      ttlMs = (await request.json()).ttlMs;
      return json({ name: "l", token: 5, owner: "me", ttlMs, expiresAt: 0 });
    }
    if (action === "renew") return renew();
    return json({ name: "l", token: 5 });
  }, { retries: 0 });
  return { client, calls, ttl: () => ttlMs };
}

Deno.test("withLock(name, fn): default ttl, renews past it, releases after", async () => {
  const server = lockServer(() => json({ name: "l", token: 5, expiresAt: 0 }));
  const result = await server.client.withLock("l", async ({ token, signal }) => {
    assert.equal(token, 5);
    return await Promise.resolve(signal.aborted);
  });
  assert.equal(result, false);
  assert.equal(server.ttl(), 30_000);
  assert.deepEqual(server.calls, ["acquire", "release"]);
  const renewing = lockServer(() => json({ name: "l", token: 5, expiresAt: 0 }));
  const aborted = await renewing.client.withLock("l", { ttlMs: 300 }, async ({ signal }) => {
    await new Promise((resolve) => setTimeout(resolve, 700));
    return signal.aborted;
  });
  assert.equal(aborted, false, "renewed, so still trusted past the ttl");
  assert.ok(renewing.calls.filter((c) => c === "renew").length >= 2, renewing.calls.join());
  assert.equal(renewing.calls.at(-1), "release");
});

Deno.test("withLock: the signal aborts when a renewal is refused", async () => {
  const server = lockServer(() => problem("not-holder", 409));
  const reason = await server.client.withLock("l", { ttlMs: 300 }, async ({ signal }) => {
    await new Promise((resolve) => signal.addEventListener("abort", resolve));
    return signal.reason as Error;
  });
  assert.match(reason.message, /no longer held/);
});

Deno.test("withLock: with renewals failing the signal aborts a margin before trust ends", async () => {
  const server = lockServer(() => problem("no-leader", 503));
  const started = performance.now();
  const abortedAfter = await server.client.withLock(
    "l",
    { ttlMs: 1_000, marginMs: 200 },
    async ({ signal }) => {
      await new Promise((resolve) => signal.addEventListener("abort", resolve));
      return performance.now() - started;
    },
  );
  // Trust ends at 99% of the ttl after the acquire was sent; the signal comes 200 ms before.
  assert.ok(abortedAfter >= 780 && abortedAfter < 990, `aborted after ${abortedAfter} ms`);
});

Deno.test("ConfigReader: fresh from memory, revalidated with If-None-Match, stale-if-error", async () => {
  let now = 1_000;
  let down = false;
  let value = { on: true };
  let revision = 3;
  const { client, seen } = fake((request) => {
    if (down) throw new TypeError("connection refused");
    if (new URL(request.url).pathname.endsWith("absent")) return problem("not-found", 404);
    if (request.headers.get("if-none-match") === `"${revision}"`) return json(null, 304);
    return json({ key: "f", value, revision, createRevision: 1, version: 1 });
  }, { retries: 0 });
  const reader = new ConfigReader(client, { freshMs: 100, maxStaleMs: 1_000, now: () => now });

  const [first, concurrent] = await Promise.all([reader.get("f"), reader.get("f")]);
  assert.deepEqual(first, { key: "f", value: { on: true }, revision: 3, ageMs: 0, stale: false });
  assert.deepEqual(concurrent.value, { on: true });
  const asked = seen.length;
  now += 50;
  assert.equal((await reader.get("f")).ageMs, 50);
  assert.equal(seen.length, asked, "fresh: answered from memory");

  now += 100;
  const revalidated = await reader.get("f");
  assert.equal(seen.at(-1)!.headers.get("if-none-match"), '"3"');
  assert.equal(revalidated.ageMs, 0);
  value = { on: false };
  revision = 4;
  now += 200;
  assert.deepEqual((await reader.get("f")).value, { on: false });

  down = true;
  now += 500;
  const stale = await reader.get("f");
  assert.deepEqual(stale, { key: "f", value: { on: false }, revision: 4, ageMs: 500, stale: true });
  now += 600;
  await assert.rejects(reader.get("f"), NetworkError, "older than maxStaleMs: the error");

  down = false;
  assert.deepEqual(await reader.get("absent"), {
    key: "absent",
    value: null,
    revision: 0,
    ageMs: 0,
    stale: false,
  });
});
