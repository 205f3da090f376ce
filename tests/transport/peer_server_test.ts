import assert from "node:assert/strict";
import type { Message } from "../../src/raft/types.ts";
import { encodeMessages } from "../../src/transport/codec.ts";
import { createPeerHandler, type PeerHandlerOptions } from "../../src/transport/peer_server.ts";
import { CallError } from "../../src/transport/transport.ts";
import { entries, everyWireMessage, message } from "./fixtures.ts";

const SECRET = "correct horse battery staple";
const BASE = "http://peer.test";

function setup(overrides: Partial<PeerHandlerOptions> = {}) {
  const received: Message[][] = [];
  const errors: unknown[] = [];
  const handler = createPeerHandler({
    clusterSecret: SECRET,
    onMessages: (msgs) => received.push(msgs),
    onError: (e) => errors.push(e),
    ...overrides,
  });
  return { handler, received, errors };
}

function post(path: string, body: BodyInit | null, headers: Record<string, string> = {}): Request {
  return new Request(BASE + path, {
    method: "POST",
    body,
    headers: { authorization: `Bearer ${SECRET}`, ...headers },
  });
}

async function problemOf(res: Response): Promise<{ status: number; detail: string }> {
  assert.equal(res.headers.get("content-type"), "application/problem+json");
  const p = await res.json();
  assert.equal(p.status, res.status);
  assert.equal(typeof p.title, "string");
  assert.equal(p.type, "about:blank");
  return p;
}

Deno.test("peer handler: delivers a valid batch and answers 204", async () => {
  const { handler, received } = setup();
  const msgs = everyWireMessage();
  const res = await handler(post("/raft/v1/messages", encodeMessages(msgs)));
  assert.equal(res.status, 204);
  assert.deepStrictEqual(received, [msgs]);
});

Deno.test("peer handler: a missing or wrong secret gets 401 and reaches nothing", async () => {
  const { handler, received } = setup();
  const body = encodeMessages([message({ type: "heartbeat" })]);
  for (const authorization of [undefined, "Bearer wrong", `Basic ${SECRET}`, `Bearer ${SECRET}x`]) {
    const headers: Record<string, string> = authorization ? { authorization } : {};
    const req = new Request(BASE + "/raft/v1/messages", { method: "POST", body, headers });
    const res = await handler(req);
    assert.equal(res.status, 401);
    assert.match(res.headers.get("www-authenticate") ?? "", /^Bearer/);
    await problemOf(res);
  }
  assert.equal(received.length, 0);
});

Deno.test("peer handler: a garbage body gets 400 with the reason", async () => {
  const { handler, received } = setup();
  const cases: [Uint8Array<ArrayBuffer>, RegExp][] = [
    [new Uint8Array([1, 2, 3]), /malformed msgpack/],
    [new Uint8Array(), /body is empty/],
    [crypto.getRandomValues(new Uint8Array(300)).fill(0x9c, 0, 1), /./],
    [encodeMessages([message({ type: "heartbeat" })]).fill(0xff, 4, 5), /./],
  ];
  for (const [body, reason] of cases) {
    const res = await handler(post("/raft/v1/messages", body));
    assert.equal(res.status, 400);
    assert.match((await problemOf(res)).detail, reason);
  }
  assert.equal(received.length, 0);
});

Deno.test("peer handler: an oversized body gets 413, declared or streamed", async () => {
  const { handler, received } = setup({ maxBodyBytes: 1000 });
  const big = encodeMessages([message({ type: "app", term: 1, entries: entries(0, 1, 2000) })]);
  const declared = await handler(post("/raft/v1/messages", big));
  assert.equal(declared.status, 413);
  assert.match((await problemOf(declared)).detail, /exceeds the limit of 1000/);

  let pulled = 0;
  const endless = new ReadableStream<Uint8Array>({
    pull(controller) {
      pulled++;
      controller.enqueue(new Uint8Array(256)); // never ends: the handler must stop reading
    },
  });
  const streamed = await handler(post("/raft/v1/messages", endless));
  assert.equal(streamed.status, 413);
  assert.ok(pulled < 10, `read ${pulled} chunks of an endless body`);
  assert.equal(received.length, 0);
});

Deno.test("peer handler: a body that differs from its content-length gets 400", async () => {
  const { handler, received } = setup();
  const body = encodeMessages([message({ type: "heartbeat" })]);
  const cases: [string, RegExp][] = [
    ["3", /longer than its content-length/],
    ["1000", /shorter than declared/],
    ["-1", /invalid content-length/],
  ];
  for (const [length, reason] of cases) {
    const res = await handler(post("/raft/v1/messages", body, { "content-length": length }));
    assert.equal(res.status, 400);
    assert.match((await problemOf(res)).detail, reason);
  }
  assert.equal(received.length, 0);
});

Deno.test("peer handler: unknown paths get 404, other methods 405", async () => {
  const { handler } = setup();
  assert.equal((await handler(post("/raft/v2/messages", null))).status, 404);
  assert.equal((await handler(post("/", null))).status, 404);
  const get = new Request(BASE + "/raft/v1/messages", {
    headers: { authorization: `Bearer ${SECRET}` },
  });
  const res = await handler(get);
  assert.equal(res.status, 405);
  assert.equal(res.headers.get("allow"), "POST");
  await problemOf(res);
});

Deno.test("peer handler: messages for another node are refused", async () => {
  const { handler, received } = setup({ nodeId: 3 });
  const res = await handler(
    post("/raft/v1/messages", encodeMessages([message({ type: "heartbeat", to: 2 })])),
  );
  assert.equal(res.status, 400);
  assert.match((await problemOf(res)).detail, /message for node 2 reached node 3/);
  assert.equal(received.length, 0);
});

Deno.test("peer handler: a failing onMessages gets 500, reported to onError", async () => {
  const { handler, errors } = setup({
    onMessages: () => {
      throw new Error("queue full");
    },
  });
  const res = await handler(
    post("/raft/v1/messages", encodeMessages([message({ type: "heartbeat" })])),
  );
  assert.equal(res.status, 500);
  assert.equal(errors.length, 1);
});

Deno.test("peer handler: a body stream that breaks gets 500, never a throw", async () => {
  const { handler } = setup();
  const broken = new ReadableStream<Uint8Array>({
    pull() {
      throw new Error("connection reset");
    },
  });
  assert.equal((await handler(post("/raft/v1/messages", broken))).status, 500);
});

Deno.test("peer handler: calls reach onCall with the caller's id", async () => {
  const { handler, errors } = setup({
    onCall: (method, body, from) => {
      if (method === "busy") return Promise.reject(new CallError(409, "not the leader"));
      if (method === "boom") return Promise.reject(new Error("bug"));
      return Promise.resolve(new TextEncoder().encode(`${method}/${body.length}/${from}`));
    },
  });
  const ok = await handler(
    post("/raft/v1/call/put", new Uint8Array(7), { "x-edgeraft-from": "3" }),
  );
  assert.equal(ok.status, 200);
  assert.equal(await ok.text(), "put/7/3");

  const busy = await handler(post("/raft/v1/call/busy", null, { "x-edgeraft-from": "3" }));
  assert.equal(busy.status, 409);
  assert.equal((await problemOf(busy)).detail, "not the leader");

  const boom = await handler(post("/raft/v1/call/boom", null, { "x-edgeraft-from": "3" }));
  assert.equal(boom.status, 500);
  assert.equal(errors.length, 1);

  for (const from of [undefined, "0", "-1", "abc", "1e3"]) {
    const headers: Record<string, string> = from === undefined ? {} : { "x-edgeraft-from": from };
    assert.equal((await handler(post("/raft/v1/call/put", null, headers))).status, 400);
  }
  const odd = await handler(post("/raft/v1/call/a%2Fb", null, { "x-edgeraft-from": "3" }));
  assert.equal(odd.status, 404);
});

Deno.test("peer handler: without onCall, calls get 404", async () => {
  const { handler } = setup();
  const res = await handler(post("/raft/v1/call/put", null, { "x-edgeraft-from": "3" }));
  assert.equal(res.status, 404);
});

Deno.test("peer handler: an empty cluster secret is refused at once", () => {
  assert.throws(() => createPeerHandler({ clusterSecret: "", onMessages: () => {} }), TypeError);
});
