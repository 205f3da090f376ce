/**
 * The reference model on its own, against scripted answers: it must accept what docs/api.md
 * promises and report what breaks a promise (the defects of issue 10 among them), so that a
 * model bug cannot make the model-based test pass or fail for the wrong reason.
 */

import assert from "node:assert/strict";
import { BAD_INPUTS, ClientModel, type Discrepancy, SharedLedger } from "./reference_model.ts";
import type { ReqSpec } from "./steps.ts";
import type { Answer, WireRequest } from "./wire.ts";

const PROBLEM = { "content-type": "application/problem+json" };
const JSON_TYPE = { "content-type": "application/json" };

function answer(
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
  at = Date.now(),
): Answer {
  const kind = status >= 400 ? PROBLEM : JSON_TYPE;
  return {
    status,
    headers: { "x-revision": "1", ...kind, ...headers },
    body,
    text: JSON.stringify(body),
    sentAt: at,
    receivedAt: at + 1,
  };
}

function problem(status: number, kind: string, extra: Record<string, unknown> = {}) {
  return { type: `urn:edgeraft:problem:${kind}`, title: "t", status, detail: "d", ...extra };
}

/** A client whose answers come from `script`, in order; returns what the model found. */
async function run(
  steps: ReqSpec[],
  script: ((req: WireRequest) => Answer | undefined)[],
): Promise<Discrepancy[]> {
  let next = 0;
  const model = new ClientModel(0, "t", new SharedLedger(), (req) => {
    const reply = script[next++];
    assert.ok(reply, `no scripted answer for request ${next}`);
    return Promise.resolve(reply(req));
  });
  const found: Discrepancy[] = [];
  for (const [i, req] of steps.entries()) found.push(...await model.perform({ t: "one", req }, i));
  return found;
}

const written = (key: string, revision: number, extra: Record<string, string> = {}) => () =>
  answer(200, { key, revision, createRevision: revision, version: 1, prevRevision: 0 }, {
    etag: `"${revision}"`,
    "x-revision": String(revision),
    ...extra,
  });

Deno.test("model: a replay of the same request is the first answer, marked", async () => {
  const put: ReqSpec = { op: "put", key: "k0", value: 1, exactly: { idem: "i1" } };
  const found = await run([put, { op: "replay", of: 0 }], [
    written("t/k0", 5),
    written("t/k0", 5, { "idempotent-replayed": "true", "x-revision": "9" }),
  ]);
  assert.deepEqual(found, []);
});

Deno.test("model: a key reused for another path must be refused, not replayed (defect 1)", async () => {
  const first: ReqSpec = { op: "put", key: "k0", value: 1, exactly: { idem: "i1" } };
  const other: ReqSpec = { op: "put", key: "k1", value: 1, exactly: { idem: "i1" } };
  const replayed = await run([first, other], [
    written("t/k0", 5),
    written("t/k0", 5, { "idempotent-replayed": "true" }),
  ]);
  assert.equal(replayed.length, 1);
  assert.match(replayed[0].kind, /422 idempotency-key-reused/);
  const refused = await run([first, other], [
    written("t/k0", 5),
    () => answer(422, problem(422, "idempotency-key-reused")),
  ]);
  assert.deepEqual(refused, []);
});

Deno.test("model: another token's key is a new key, never a replay", async () => {
  const first: ReqSpec = { op: "put", key: "k0", value: 1, exactly: { idem: "i1" } };
  const found = await run([first, { op: "replay", of: 0, token: "beta" }], [
    written("t/k0", 5),
    written("t/k0", 5, { "idempotent-replayed": "true" }),
  ]);
  assert.equal(found.length, 1);
  assert.match(found[0].kind, /another token's too/);
});

Deno.test("model: a lock-held holder is {token, owner, expiresAt} (defect 14)", async () => {
  const now = Date.now();
  const acquire: ReqSpec = { op: "acquire", lock: "l0", owner: "A", ttlMs: 30_000 };
  const grant = () =>
    answer(200, { name: "t-l0", token: 7, owner: "A", ttlMs: 30_000, expiresAt: now + 30_000 });
  const held = (holder: unknown) => () =>
    answer(409, problem(409, "lock-held", { holder, expiresAt: now + 30_000 }));
  const asString = await run([acquire, acquire], [grant, held("A")]);
  assert.equal(asString.length, 1);
  assert.match(asString[0].answer, /holder "A" is not/);
  const asObject = await run([acquire, acquire], [
    grant,
    held({ token: 7, owner: "A", expiresAt: now + 30_000 }),
  ]);
  assert.deepEqual(asObject, []);
});

Deno.test("model: a lease is not over before ttlMs * 0.99, and surely over after 1.01", async () => {
  const t0 = Date.now() - 60_000;
  const acquire: ReqSpec = { op: "acquire", lock: "l0", owner: "A", ttlMs: 1000 };
  const renew: ReqSpec = { op: "renew", lock: "l0", which: "held" };
  const grant = () =>
    answer(200, { name: "t-l0", token: 7, owner: "A", ttlMs: 1000, expiresAt: t0 + 1000 }, {}, t0);
  const notHolder = (at: number) => () => answer(409, problem(409, "not-holder"), {}, at);
  const renewed = (at: number) => () =>
    answer(200, { name: "t-l0", token: 7, expiresAt: at + 1000 }, {}, at);
  // Refused 500 ms into a 1 s lease: too early.
  assert.equal((await run([acquire, renew], [grant, notHolder(t0 + 500)])).length, 1);
  // Refused after 995 ms: either is allowed (drift).
  assert.deepEqual(await run([acquire, renew], [grant, notHolder(t0 + 995)]), []);
  // Renewed 2 s after a 1 s lease: it had surely run out.
  assert.equal((await run([acquire, renew], [grant, renewed(t0 + 2000)])).length, 1);
});

Deno.test("model: a stale X-Client-Seq is refused with lastSeq and is no replay", async () => {
  const put = (seq: "next" | "lower"): ReqSpec => ({
    op: "put",
    key: "k0",
    value: 1,
    exactly: { seq },
  });
  const stale = (headers: Record<string, string>) => () =>
    answer(409, problem(409, "stale-sequence", { lastSeq: 2 }), headers);
  const steps = [put("next"), put("next"), put("lower")];
  const first = written("t/k0", 5);
  const second = () =>
    answer(200, { key: "t/k0", revision: 6, createRevision: 5, version: 2, prevRevision: 5 }, {
      etag: '"6"',
      "x-revision": "6",
    });
  assert.deepEqual(await run(steps, [first, second, stale({})]), []);
  const marked = await run(steps, [first, second, stale({ "idempotent-replayed": "true" })]);
  assert.equal(marked.length, 1);
});

Deno.test("model: bad input must be a 4xx problem", async () => {
  const bad: ReqSpec = { op: "bad", variant: 0 };
  assert.deepEqual(await run([bad], [() => answer(400, problem(400, "invalid-request"))]), []);
  const plain = await run([bad], [
    () => ({ ...answer(400, "bad"), headers: { "x-revision": "1" } }),
  ]);
  assert.equal(plain.length, 1);
  assert.match(plain[0].answer, /not application\/problem\+json/);
});

/** `run` against a model of an open node (no tokens). */
async function runOpen(
  steps: ReqSpec[],
  script: ((req: WireRequest) => Answer | undefined)[],
): Promise<Discrepancy[]> {
  let next = 0;
  const model = new ClientModel(
    0,
    "t",
    new SharedLedger(),
    (req) => {
      const reply = script[next++];
      assert.ok(reply, `no scripted answer for request ${next}`);
      return Promise.resolve(reply(req));
    },
    undefined,
    false,
    true,
  );
  const found: Discrepancy[] = [];
  for (const [i, req] of steps.entries()) found.push(...await model.perform({ t: "one", req }, i));
  return found;
}

Deno.test("model, open node: another token's retry is the same owner's, so a replay", async () => {
  const first: ReqSpec = { op: "put", key: "k0", value: 1, exactly: { idem: "i1" } };
  const retry: ReqSpec = { op: "replay", of: 0, token: "none" };
  const replayed = written("t/k0", 5, { "idempotent-replayed": "true", "x-revision": "9" });
  assert.deepEqual(await runOpen([first, retry], [written("t/k0", 5), replayed]), []);
  // Applied again as a new key: what a node with tokens does, and a broken promise here.
  const again = () =>
    answer(200, { key: "t/k0", revision: 6, createRevision: 5, version: 2, prevRevision: 5 }, {
      etag: '"6"',
      "x-revision": "6",
    });
  const found = await runOpen([first, retry], [written("t/k0", 5), again]);
  assert.equal(found.length, 1);
  assert.match(found[0].kind, /a replay of the first answer \(200\) sent with another token/);
});

Deno.test("model, open node: no 401 or 403, the same request is a write", async () => {
  const variant = BAD_INPUTS.findIndex(([statuses]) => statuses.includes(401));
  const noToken: ReqSpec = { op: "bad", variant };
  assert.deepEqual(await runOpen([noToken], [written("t/k0", 5)]), []);
  const refused = await runOpen([noToken], [() => answer(401, problem(401, "unauthorized"))]);
  assert.equal(refused.length, 1);
  assert.match(refused[0].kind, /put: expected 200 written; got 401/);
  // With tokens the same step must be refused.
  const withTokens = await run([noToken], [written("t/k0", 5)]);
  assert.equal(withTokens.length, 1);
});

Deno.test("model: a stale read is `public` in a cache only on an open node", async () => {
  const put: ReqSpec = { op: "put", key: "k0", value: 1 };
  const read: ReqSpec = { op: "get", key: "k0", stale: true };
  const stale = (cacheControl: string) => () =>
    answer(200, { key: "t/k0", value: 1, revision: 5, createRevision: 5, version: 1 }, {
      etag: '"5"',
      "x-revision": "5",
      "cache-control": cacheControl,
      "x-last-contact-ms": "0",
    });
  const open = "public, max-age=1, stale-while-revalidate=5";
  const closed = "max-age=1, stale-while-revalidate=5";
  assert.deepEqual(await runOpen([put, read], [written("t/k0", 5), stale(open)]), []);
  assert.deepEqual(await run([put, read], [written("t/k0", 5), stale(closed)]), []);
  assert.equal((await runOpen([put, read], [written("t/k0", 5), stale(closed)])).length, 1);
  const shared = await run([put, read], [written("t/k0", 5), stale(open)]);
  assert.equal(shared.length, 1);
  assert.match(shared[0].answer, /Cache-Control/);
});
