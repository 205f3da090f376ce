/**
 * Where the client sends each request (issue 18): writes, lock calls and linearizable reads to
 * the leader `X-Leader` named, stale reads to the endpoint whose stale reads answered fastest,
 * and back to the other endpoints when the chosen one fails. A scripted fetch plays three
 * nodes: node 2 leads, node 3 answers fastest.
 */

import assert from "node:assert/strict";
import { setTimeout as delay } from "node:timers/promises";
import { EdgeraftClient } from "../../src/client/mod.ts";

const URLS = ["http://n1.test:7001", "http://n2.test:7001", "http://n3.test:7001"];

function cluster(options: { latencyMs?: number[]; down?: Set<number> } = {}) {
  const seen: { node: number; method: string; path: string }[] = [];
  const latency = options.latencyMs ?? [0, 0, 0];
  const down = options.down ?? new Set<number>();
  const client = new EdgeraftClient({
    endpoints: URLS,
    retries: 3,
    fetch: async (request) => {
      const url = new URL(request.url);
      const node = URLS.findIndex((u) => u === url.origin);
      seen.push({ node: node + 1, method: request.method, path: url.pathname + url.search });
      if (down.has(node + 1)) throw new TypeError("error sending request: connection refused");
      await delay(latency[node]);
      const headers = { "content-type": "application/json", "x-leader": URLS[1] };
      const body = request.method === "GET"
        ? { key: "k", value: 1, revision: 1, createRevision: 1, version: 1 }
        : request.url.includes("/locks/")
        ? { name: "l", token: 7, owner: "o", ttlMs: 1000, expiresAt: 0 }
        : { key: "k", revision: 2, createRevision: 1, version: 2 };
      return new Response(JSON.stringify(body), { status: 200, headers });
    },
  });
  return { client, seen };
}

Deno.test("client: once X-Leader names the leader, writes, lock calls and linearizable reads go there", async () => {
  const { client, seen } = cluster();
  await client.put("k", 1); // to the first endpoint: no leader known yet
  await client.put("k", 2);
  await client.get("k");
  await client.list({ prefix: "k" });
  await client.lockState("l");
  const lease = await client.acquire("l", { ttlMs: 1000 });
  await client.renew("l", lease.token);
  await client.release("l", lease.token);
  await client.delete("k");
  assert.deepEqual(seen.map((s) => s.node), [1, 2, 2, 2, 2, 2, 2, 2, 2]);
  assert.equal(client.routing().leader, URLS[1]);
});

Deno.test("client: stale reads measure each endpoint once, then go to the fastest", async () => {
  const { client, seen } = cluster({ latencyMs: [30, 20, 1] });
  for (let i = 0; i < 6; i++) await client.get("k", { consistency: "stale" });
  assert.deepEqual(seen.map((s) => s.node), [1, 2, 3, 3, 3, 3]);
  const { latencyMs } = client.routing();
  assert.ok(latencyMs[2]! < latencyMs[0]! && latencyMs[2]! < latencyMs[1]!, String(latencyMs));
  // Linearizable reads still go to the leader, whatever is nearest.
  await client.get("k");
  assert.equal(seen.at(-1)!.node, 2);
});

Deno.test("client: a leader that fails sends the request to the other endpoints", async () => {
  const down = new Set<number>();
  const { client, seen } = cluster({ down });
  await client.put("k", 1);
  down.add(2);
  assert.equal((await client.put("k", 2)).revision, 2, "another node took the write");
  const afterDown = seen.slice(1).map((s) => s.node);
  assert.deepEqual(afterDown, [2, 3]);
});

Deno.test("client: a stale read passes over an endpoint that just failed", async () => {
  const down = new Set([3]);
  const { client, seen } = cluster({ latencyMs: [5, 5, 0], down });
  for (let i = 0; i < 4; i++) await client.get("k", { consistency: "stale" });
  // n1, n2 measured; n3 refused once, then is left alone while the others answer.
  assert.equal(seen.filter((s) => s.node === 3).length, 1);
});
