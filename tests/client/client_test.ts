import assert from "node:assert/strict";
import { createApp } from "../../src/api/app.ts";
import {
  CompactedError,
  EdgeraftClient,
  EdgeraftError,
  LockHeldError,
} from "../../src/client/mod.ts";
import { NoLeaderError } from "../../src/node/raft_node.ts";
import { FakeNode } from "../api/fake_node.ts";

function setup(options: { token?: string; historyLimit?: number } = {}) {
  const node = new FakeNode({ sm: { historyLimit: options.historyLimit } });
  const app = createApp(node, {
    clusterId: "t",
    peers: new Map([[1, "http://p1"]]),
    tokens: options.token ? [{ token: options.token, scopes: ["admin"] }] : undefined,
  });
  const requests: Request[] = [];
  const client = new EdgeraftClient({
    baseUrl: "http://edgeraft.test/",
    token: options.token,
    fetch: async (request) => {
      requests.push(request);
      return await app.fetch(request);
    },
  });
  return { node, client, requests };
}

Deno.test("get / put / delete / list round-trip, with compare-and-set", async () => {
  const { client, requests } = setup({ token: "secret" });
  assert.equal(await client.get("app/a"), null);
  const put = await client.put("app/a", { on: true });
  assert.equal(put.revision, 1);
  assert.deepEqual((await client.get("app/a"))?.value, { on: true });
  assert.deepEqual((await client.get("app/a", { consistency: "stale" }))?.value, { on: true });
  await assert.rejects(
    client.put("app/a", 2, { ifRevision: 9 }),
    (e: EdgeraftError) => e.status === 412 && e.kind === "precondition-failed",
  );
  await assert.rejects(client.put("app/a", 2, { ifAbsent: true }), EdgeraftError);
  assert.equal((await client.put("app/a", 2, { ifRevision: 1 })).revision, 2);
  await client.put("app/b", 3);
  const page = await client.list({ prefix: "app/", limit: 1 });
  assert.deepEqual(page.items.map((i) => i.key), ["app/a"]);
  assert.equal(page.next, "app/a");
  assert.deepEqual(
    (await client.list({ prefix: "app/", after: page.next! })).items.map((i) => i.key),
    ["app/b"],
  );
  assert.equal((await client.delete("app/a"))?.revision, 4);
  assert.equal(await client.delete("app/a"), null);
  assert.ok(requests.every((r) => r.headers.get("authorization") === "Bearer secret"));
  assert.ok(
    requests.filter((r) => r.method === "PUT").every((r) => r.headers.has("idempotency-key")),
  );
});

Deno.test("writes are retried after a 503 with the same Idempotency-Key", async () => {
  const { client, node, requests } = setup();
  node.submitFailures.push(new NoLeaderError("election"), new NoLeaderError("election"));
  assert.equal((await client.put("k", 1)).revision, 1);
  assert.equal(requests.length, 3);
  assert.equal(
    requests[0].headers.get("idempotency-key"),
    requests.at(-1)!.headers.get("idempotency-key"),
  );
  assert.equal(node.sm.get("k")?.version, 1);
});

Deno.test("acquire / renew / release, and LockHeldError on a held lock", async () => {
  const { client } = setup();
  const lease = await client.acquire("job", { ttlMs: 5000, owner: "me" });
  assert.ok(lease.token > 0);
  await assert.rejects(
    client.acquire("job", { ttlMs: 5000 }),
    (e: LockHeldError) => e instanceof LockHeldError && e.holder?.owner === "me",
  );
  assert.ok((await client.renew("job", lease.token)).expiresAt >= lease.expiresAt);
  await client.release("job", lease.token);
  await assert.rejects(client.release("job", lease.token), (e: EdgeraftError) => e.status === 409);
});

Deno.test("withLock passes the fencing token, waits in line, and releases", async () => {
  const { client, node } = setup();
  const tokens: number[] = [];
  let inside = 0;
  const job = (lease: { token: number; signal: AbortSignal }) => async () => {
    inside++;
    assert.equal(inside, 1);
    assert.equal(lease.signal.aborted, false);
    tokens.push(lease.token);
    await new Promise((r) => setTimeout(r, 5));
    inside--;
  };
  await Promise.all(
    [1, 2, 3].map((i) =>
      client.withLock(
        "cron",
        { ttlMs: 5000, owner: `w${i}`, waitMs: 5000 },
        (lease) => job(lease)(),
      )
    ),
  );
  assert.equal(tokens.length, 3);
  assert.deepEqual([...tokens].sort((a, b) => a - b), tokens);
  assert.equal(node.sm.lockInfo("cron").holder, null);
});

Deno.test("watch yields changes and resumes; compacted history throws", async () => {
  const { client } = setup({ historyLimit: 3 });
  await client.put("w/a", 1);
  const controller = new AbortController();
  const seen: string[] = [];
  const watching = (async () => {
    for await (const event of client.watch("w/", { fromRevision: 1, signal: controller.signal })) {
      seen.push(`${event.type}:${event.key}@${event.revision}`);
      if (seen.length === 3) controller.abort();
    }
  })();
  await client.put("x/other", 0);
  await client.put("w/b", 2);
  await client.delete("w/a");
  await watching;
  assert.deepEqual(seen, ["put:w/a@1", "put:w/b@3", "delete:w/a@4"]);
  for (let i = 0; i < 4; i++) await client.put(`w/${i}`, i);
  await assert.rejects(async () => {
    for await (const _ of client.watch("w/", { fromRevision: 1 })) { /* drain */ }
  }, CompactedError);
});
