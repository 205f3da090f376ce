import assert from "node:assert/strict";
import { NoLeaderError, ProposalTimeoutError } from "../../src/node/raft_node.ts";
import { ReadTimeoutError } from "../../src/node/read_barrier.ts";
import { InvalidCommandError } from "../../src/state/errors.ts";
import { makeApp, send } from "./harness.ts";

Deno.test("PUT then GET a key with slashes, raw or %2F-encoded, with ETag and X-Revision", async () => {
  const { app } = makeApp();
  const put = await send(app, "PUT", "/v1/config/app/flags", { json: { dark: true } });
  assert.equal(put.status, 200);
  assert.deepEqual(put.body, {
    key: "app/flags",
    revision: 1,
    createRevision: 1,
    version: 1,
    prevRevision: 0,
  });
  assert.equal(put.headers.get("etag"), '"1"');
  assert.equal(put.headers.get("x-revision"), "1");

  for (const path of ["/v1/config/app/flags", "/v1/config/app%2Fflags"]) {
    const get = await send(app, "GET", path);
    assert.equal(get.status, 200);
    assert.deepEqual(get.body, {
      key: "app/flags",
      value: { dark: true },
      revision: 1,
      createRevision: 1,
      version: 1,
    });
    assert.equal(get.headers.get("etag"), '"1"');
    assert.equal(get.headers.get("x-revision"), "1");
    assert.equal(get.headers.get("cache-control"), "no-cache");
    assert.equal(get.headers.get("x-leader"), "http://127.0.0.1:7001");
  }
  const head = await send(app, "HEAD", "/v1/config/app/flags");
  assert.equal(head.status, 200);
  assert.equal(head.text, "");
  assert.equal(head.headers.get("etag"), '"1"');
});

Deno.test("a key is percent-decoded exactly once", async () => {
  const { app, node } = makeApp();
  assert.equal((await send(app, "PUT", "/v1/config/a%2541", { json: 1 })).status, 200);
  assert.equal(node.sm.get("a%41")?.value, 1);
  assert.equal(node.sm.get("aA"), undefined);
});

Deno.test("GET of an absent key is 404 problem+json with X-Revision", async () => {
  const { app } = makeApp();
  const a = await send(app, "GET", "/v1/config/missing");
  assert.equal(a.status, 404);
  assert.equal(a.headers.get("content-type"), "application/problem+json");
  assert.equal(a.body.type, "urn:edgeraft:problem:not-found");
  assert.equal(a.body.status, 404);
  assert.match(a.body.detail, /missing/);
  assert.equal(a.headers.get("x-revision"), "0");
});

Deno.test("If-None-Match answers 304 with the ETag and no body", async () => {
  const { app } = makeApp();
  await send(app, "PUT", "/v1/config/k", { json: "v1" });
  const hit = await send(app, "GET", "/v1/config/k", { headers: { "if-none-match": '"1"' } });
  assert.equal(hit.status, 304);
  assert.equal(hit.text, "");
  assert.equal(hit.headers.get("etag"), '"1"');
  assert.equal(hit.headers.get("x-revision"), "1");
  const weak = await send(app, "GET", "/v1/config/k", { headers: { "if-none-match": 'W/"1"' } });
  assert.equal(weak.status, 304);
  await send(app, "PUT", "/v1/config/k", { json: "v2" });
  const miss = await send(app, "GET", "/v1/config/k", { headers: { "if-none-match": '"1"' } });
  assert.equal(miss.status, 200);
  assert.equal(miss.body.value, "v2");
});

Deno.test("stale reads skip ReadIndex and say how stale; linearizable reads do not", async () => {
  const { app, node, clock } = makeApp();
  await send(app, "PUT", "/v1/config/k", { json: 1 });
  const reads = node.reads;
  const linear = await send(app, "GET", "/v1/config/k");
  assert.equal(node.reads, reads + 1);
  assert.equal(linear.headers.get("x-last-contact-ms"), null);

  const stale = await send(app, "GET", "/v1/config/k?consistency=stale");
  assert.equal(node.reads, reads + 1);
  assert.equal(stale.headers.get("x-last-contact-ms"), "0"); // the leader itself
  assert.equal(stale.headers.get("cache-control"), "public, max-age=1, stale-while-revalidate=5");

  node.leader = 2;
  node.lastContact = clock.now() - 250;
  const follower = await send(app, "GET", "/v1/config/k?consistency=stale");
  assert.equal(follower.headers.get("x-last-contact-ms"), "250");
  assert.equal(follower.headers.get("x-leader"), "2"); // no client URL known for node 2
  node.lastContact = 0;
  const never = await send(app, "GET", "/v1/config/k?consistency=stale");
  assert.equal(never.headers.get("x-last-contact-ms"), "-1");

  const bad = await send(app, "GET", "/v1/config/k?consistency=eventual");
  assert.equal(bad.status, 400);
});

Deno.test("If-Match is compare-and-set; If-None-Match: * is create-only; 412 otherwise", async () => {
  const { app, node } = makeApp();
  const created = await send(app, "PUT", "/v1/config/k", {
    json: 1,
    headers: { "if-none-match": "*" },
  });
  assert.equal(created.status, 200);
  const again = await send(app, "PUT", "/v1/config/k", {
    json: 2,
    headers: { "if-none-match": "*" },
  });
  assert.equal(again.status, 412);
  assert.equal(again.body.type, "urn:edgeraft:problem:precondition-failed");
  assert.equal(again.body.currentRevision, 1);

  const wrong = await send(app, "PUT", "/v1/config/k", { json: 3, headers: { "if-match": '"7"' } });
  assert.equal(wrong.status, 412);
  assert.equal(node.sm.get("k")?.value, 1);
  const right = await send(app, "PUT", "/v1/config/k", { json: 3, headers: { "if-match": '"1"' } });
  assert.equal(right.status, 200);
  assert.equal(right.body.prevRevision, 1);
  assert.equal(node.sm.get("k")?.value, 3);

  for (const ifMatch of ["*", 'W/"2"', '"1", "2"', "2"]) {
    const a = await send(app, "PUT", "/v1/config/k", { json: 4, headers: { "if-match": ifMatch } });
    assert.equal(a.status, 400, ifMatch);
  }
  const both = await send(app, "PUT", "/v1/config/k", {
    json: 4,
    headers: { "if-match": '"2"', "if-none-match": "*" },
  });
  assert.equal(both.status, 400);
});

Deno.test("DELETE answers {key, revision}; 404 when absent; If-Match guards it", async () => {
  const { app, node } = makeApp();
  await send(app, "PUT", "/v1/config/k", { json: 1 });
  const guarded = await send(app, "DELETE", "/v1/config/k", { headers: { "if-match": '"9"' } });
  assert.equal(guarded.status, 412);
  const deleted = await send(app, "DELETE", "/v1/config/k", { headers: { "if-match": '"1"' } });
  assert.equal(deleted.status, 200);
  assert.deepEqual(deleted.body, { key: "k", revision: 2, prevRevision: 1 });
  assert.equal(deleted.headers.get("x-revision"), "2");
  assert.equal(node.sm.get("k"), undefined);
  const gone = await send(app, "DELETE", "/v1/config/k");
  assert.equal(gone.status, 404);
});

Deno.test("GET /v1/config lists a prefix in pages, with ETag and 304", async () => {
  const { app } = makeApp();
  for (const key of ["app/a", "app/b", "app/c", "other"]) {
    await send(app, "PUT", `/v1/config/${key}`, { json: key });
  }
  const first = await send(app, "GET", "/v1/config?prefix=app/&limit=2");
  assert.equal(first.status, 200);
  assert.deepEqual(first.body.items.map((i: { key: string }) => i.key), ["app/a", "app/b"]);
  assert.equal(first.body.next, "app/b");
  assert.equal(first.body.revision, 4);
  assert.equal(first.headers.get("x-revision"), "4");
  const second = await send(app, "GET", `/v1/config?prefix=app/&limit=2&after=${first.body.next}`);
  assert.deepEqual(second.body.items.map((i: { key: string }) => i.key), ["app/c"]);
  assert.equal(second.body.next, null);
  const cached = await send(app, "GET", "/v1/config?prefix=app/", {
    headers: { "if-none-match": first.headers.get("etag")! },
  });
  assert.equal(cached.status, 304);
  for (const limit of ["0", "-1", "abc", "1.5", "1001"]) {
    assert.equal((await send(app, "GET", `/v1/config?limit=${limit}`)).status, 400, limit);
  }
});

Deno.test("writes need a JSON body of the JSON media type", async () => {
  const { app, node } = makeApp();
  const none = await send(app, "PUT", "/v1/config/k");
  assert.equal(none.status, 400);
  const text = await send(app, "PUT", "/v1/config/k", {
    body: "1",
    headers: { "content-type": "text/plain" },
  });
  assert.equal(text.status, 415);
  const bad = await send(app, "PUT", "/v1/config/k", {
    body: "{oops",
    headers: { "content-type": "application/json" },
  });
  assert.equal(bad.status, 400);
  assert.match(bad.body.detail, /not valid JSON/);
  const merge = await send(app, "PUT", "/v1/config/k", {
    body: '{"a":1}',
    headers: { "content-type": "application/merge-patch+json; charset=utf-8" },
  });
  assert.equal(merge.status, 200);
  assert.equal(node.sm.revision, 1);
});

Deno.test("exactly once: a retry with the same Idempotency-Key or client seq is answered once", async () => {
  const { app, node } = makeApp();
  const headers = { "idempotency-key": "req-1" };
  const first = await send(app, "PUT", "/v1/config/k", { json: 1, headers });
  const retry = await send(app, "PUT", "/v1/config/k", { json: 1, headers });
  assert.deepEqual(retry.body, first.body);
  assert.equal(retry.headers.get("idempotent-replayed"), "true");
  assert.equal(node.sm.get("k")?.version, 1);

  const session = { "x-client-id": "c1", "x-client-seq": "5" };
  const a = await send(app, "PUT", "/v1/config/s", { json: 1, headers: session });
  const b = await send(app, "PUT", "/v1/config/s", { json: 1, headers: session });
  assert.deepEqual(a.body, b.body);
  assert.equal(node.sm.get("s")?.version, 1);
  const stale = await send(app, "PUT", "/v1/config/s", {
    json: 1,
    headers: { "x-client-id": "c1", "x-client-seq": "4" },
  });
  assert.equal(stale.status, 409);
  assert.equal(stale.body.type, "urn:edgeraft:problem:stale-sequence");
  const half = await send(app, "PUT", "/v1/config/s", {
    json: 1,
    headers: { "x-client-id": "c1" },
  });
  assert.equal(half.status, 400);
  // The open API is one principal (none named); the fingerprint binds the key to the request.
  const { fingerprint, ...submitted } = node.submissions[0];
  assert.deepEqual(submitted, { cmd: { op: "put", key: "k", value: 1 }, idempotencyKey: "req-1" });
  assert.match(fingerprint ?? "", /^[0-9a-f]{64}$/);
});

Deno.test("node errors: no leader 503 + Retry-After, read timeout 503, proposal timeout 504", async () => {
  const { app, node } = makeApp();
  node.submitError = new NoLeaderError("no leader is known");
  const noLeader = await send(app, "PUT", "/v1/config/k", { json: 1 });
  assert.equal(noLeader.status, 503);
  assert.equal(noLeader.headers.get("retry-after"), "1");
  assert.equal(noLeader.body.type, "urn:edgeraft:problem:no-leader");
  node.submitError = new ProposalTimeoutError("not applied in time");
  const timeout = await send(app, "DELETE", "/v1/config/k");
  assert.equal(timeout.status, 504);
  node.submitError = new InvalidCommandError("cmd.key must be a non-empty well-formed string");
  assert.equal((await send(app, "PUT", "/v1/config/k", { json: 1 })).status, 400);
  // A built-in error is a bug, not the client's mistake, whatever its message says.
  node.submitError = new TypeError("cmd.key must be a non-empty well-formed string");
  assert.equal((await send(app, "PUT", "/v1/config/k", { json: 1 })).status, 500);
  node.readError = new ReadTimeoutError("not confirmed");
  const read = await send(app, "GET", "/v1/config/k");
  assert.equal(read.status, 503);
  assert.equal(read.headers.get("retry-after"), "1");
  const stale = await send(app, "GET", "/v1/config/k?consistency=stale");
  assert.equal(stale.status, 404); // a stale read needs no leader
  node.readError = new Error("boom");
  const internal = await send(app, "GET", "/v1/config/k");
  assert.equal(internal.status, 500);
  assert.doesNotMatch(internal.body.detail, /boom/);
});

Deno.test("wrong methods get 405 with Allow; unknown paths 404", async () => {
  const { app } = makeApp();
  const post = await send(app, "POST", "/v1/config/k", { json: 1 });
  assert.equal(post.status, 405);
  assert.equal(post.headers.get("allow"), "GET, HEAD, PUT, DELETE");
  assert.equal((await send(app, "PUT", "/v1/config", { json: 1 })).status, 405);
  assert.equal((await send(app, "GET", "/v2/config/k")).status, 404);
  assert.equal((await send(app, "GET", "/v1/config/")).status, 400);
});

Deno.test("a body sent with a Content-Encoding is refused with 415; nothing is written", async () => {
  const { app, node } = makeApp();
  const gzipped = await new Response(
    new Blob(['{"a":1}']).stream().pipeThrough(new CompressionStream("gzip")),
  ).bytes();
  for (
    const [coding, body] of [["gzip", gzipped], ["br", "{}"], ["identity, gzip", "1"]] as const
  ) {
    const answer = await send(app, "PUT", "/v1/config/enc", {
      body,
      headers: { "content-type": "application/json", "content-encoding": coding },
    });
    assert.equal(answer.status, 415, coding);
    assert.equal(answer.headers.get("content-type"), "application/problem+json");
    assert.equal(answer.body.type, "urn:edgeraft:problem:unsupported-media-type");
    assert.match(answer.body.detail, /Content-Encoding/);
  }
  assert.equal(node.sm.revision, 0);
  const plain = await send(app, "PUT", "/v1/config/enc", {
    json: 1,
    headers: { "content-encoding": "identity" },
  });
  assert.equal(plain.status, 200);
});

Deno.test("keys with a . or .. segment (decoded from %2F or %2E) are refused", async () => {
  const { app, node } = makeApp();
  // (A whole segment of %2E is resolved by URL parsing in the test client: see
  // dot_segments_test.ts for those, over raw sockets.)
  for (const key of ["q%2F..%2Fb", "q%2F.%2Fb", "..%2Fb", "q%2F%2E%2E", "%2E%2E%2Fb"]) {
    const answer = await send(app, "PUT", `/v1/config/${key}`, { json: 1 });
    assert.equal(answer.status, 400, key);
    assert.equal(answer.body.type, "urn:edgeraft:problem:invalid-request");
  }
  assert.equal(node.sm.revision, 0);
});
