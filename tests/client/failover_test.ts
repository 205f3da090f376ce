/**
 * The client over several endpoints, against fake fetches that fail the way nodes do
 * (issue 10, defect 12: an array of URLs threw `options.baseUrl.replace is not a function`, and
 * a network error surfaced as a raw `TypeError: fetch failed`).
 *
 * @module
 */

import assert from "node:assert/strict";
import { EdgeraftClient, EdgeraftError, NetworkError } from "../../src/client/mod.ts";

const A = "http://a.test:7001";
const B = "http://b.test:7001";
const C = "http://c.test:7001";

/** What connecting to a node that is down looks like in Deno. */
const refused = () =>
  new TypeError("error sending request for url: client error (Connect): Connection refused");

type Node = (request: Request) => Response | Promise<Response>;

/** A client over fake nodes, recording which node saw each request. */
function cluster(nodes: Record<string, Node>, options: { retries?: number } = {}) {
  const seen: { origin: string; method: string; key: string | null }[] = [];
  const client = new EdgeraftClient({
    baseUrl: Object.keys(nodes),
    retries: options.retries,
    fetch: async (request) => {
      const origin = new URL(request.url).origin;
      seen.push({ origin, method: request.method, key: request.headers.get("idempotency-key") });
      return await nodes[origin](request);
    },
  });
  return { client, seen };
}

const json = (body: unknown, headers: Record<string, string> = {}, status = 200) =>
  new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });

const noLeader = (headers: Record<string, string> = {}) =>
  json({ type: "urn:edgeraft:problem:no-leader", status: 503, detail: "no leader" }, {
    "retry-after": "1",
    ...headers,
  }, 503);

const down: Node = () => {
  throw refused();
};

Deno.test("baseUrl takes a list (and still a single URL); an empty list is refused", () => {
  assert.deepEqual(new EdgeraftClient({ baseUrl: [`${A}/`, B] }).endpoints, [A, B]);
  assert.deepEqual(new EdgeraftClient({ baseUrl: `${A}//` }).endpoints, [A]);
  assert.throws(() => new EdgeraftClient({ baseUrl: [] }), TypeError);
});

Deno.test("a read moves on to the next endpoint when a node is down, and stays there", async () => {
  const value = { key: "k", value: 1, revision: 1, createRevision: 1, version: 1 };
  const { client, seen } = cluster({ [A]: down, [B]: () => json(value), [C]: down });
  assert.deepEqual(await client.get("k"), value);
  assert.deepEqual(await client.get("k"), value);
  assert.deepEqual(seen.map((s) => s.origin), [A, B, B]);
});

Deno.test("a write follows X-Leader to a listed endpoint, with the same Idempotency-Key", async () => {
  const answer = { key: "k", revision: 7, createRevision: 7, version: 1 };
  const { client, seen } = cluster({
    [A]: () => noLeader({ "x-leader": `${C}/` }),
    [B]: () => {
      throw new Error("B should not be asked");
    },
    [C]: () => json(answer, { "x-leader": C }),
  });
  assert.deepEqual(await client.put("k", 1), answer);
  assert.deepEqual(seen.map((s) => s.origin), [A, C]);
  assert.ok(seen[0].key);
  assert.equal(seen[1].key, seen[0].key);
  // The leader is remembered: the next write goes straight to it.
  await client.put("k", 2);
  assert.equal(seen[2].origin, C);
});

Deno.test("504 (outcome unknown) is retried with the same key; the write is applied once", async () => {
  const applied = new Set<string>();
  let calls = 0;
  const { client, seen } = cluster({
    [A]: (request) => {
      applied.add(request.headers.get("idempotency-key")!);
      return ++calls === 1
        ? json({ type: "urn:edgeraft:problem:timeout", detail: "unknown" }, {}, 504)
        : json({ key: "k", revision: 1, createRevision: 1, version: 1 });
    },
  });
  assert.equal((await client.put("k", 1)).revision, 1);
  assert.equal(seen.length, 2);
  assert.equal(applied.size, 1);
});

Deno.test("network errors are EdgeraftErrors with the fetch error as cause, after bounded retries", async () => {
  const { client, seen } = cluster({ [A]: down, [B]: down }, { retries: 3 });
  const error = await client.get("k").catch((e) => e);
  assert.ok(error instanceof NetworkError);
  assert.ok(error instanceof EdgeraftError);
  assert.equal(error.status, 0);
  assert.equal(error.kind, "network");
  assert.ok(error.cause instanceof TypeError);
  assert.match(error.message, /Connection refused/);
  assert.deepEqual(seen.map((s) => s.origin), [A, B, A, B]);
});

Deno.test("a problem that is not transient is thrown at once, not retried", async () => {
  const { client, seen } = cluster({
    [A]: () => json({ type: "urn:edgeraft:problem:forbidden", detail: "no" }, {}, 403),
    [B]: () => json({}),
  });
  await assert.rejects(client.put("k", 1), (e: EdgeraftError) => e.status === 403);
  assert.equal(seen.length, 1);
});

Deno.test("a node that dies in the middle of its body is a network error, retried elsewhere", async () => {
  const value = { key: "k", value: 1, revision: 1, createRevision: 1, version: 1 };
  const { client, seen } = cluster({
    [A]: () =>
      new Response(
        new ReadableStream({
          start(c) {
            c.enqueue(new TextEncoder().encode('{"key":'));
            c.error(new TypeError("error reading a body from connection"));
          },
        }),
        { headers: { "content-type": "application/json" } },
      ),
    [B]: () => json(value),
  });
  assert.deepEqual(await client.get("k"), value);
  assert.deepEqual(seen.map((s) => s.origin), [A, B]);
});
