/**
 * The WebSocket message stream (`GET /raft/v1/stream`) against a real server: what it
 * delivers, and how it refuses bad clients and bad frames without reaching the node.
 */
import assert from "node:assert/strict";
import type { Message } from "../../src/raft/types.ts";
import { encodeMessages } from "../../src/transport/codec.ts";
import { createPeerHandler, servePeer } from "../../src/transport/peer_server.ts";
import { PeerStream } from "../../src/transport/peer_stream.ts";
import { everyWireMessage, message, waitFor } from "./fixtures.ts";

const SECRET = "correct horse battery staple";

async function withServer(
  test: (ctx: { url: string; received: Message[][]; stop: AbortController }) => Promise<void>,
): Promise<void> {
  const received: Message[][] = [];
  const stop = new AbortController();
  const handler = createPeerHandler({
    clusterSecret: SECRET,
    nodeId: 2,
    maxBodyBytes: 4096,
    onMessages: (msgs) => received.push(msgs),
    signal: stop.signal,
  });
  const server = servePeer({ hostname: "127.0.0.1", port: 0, handler });
  try {
    await test({ url: `ws://127.0.0.1:${server.addr.port}/raft/v1/stream`, received, stop });
  } finally {
    stop.abort();
    await server.shutdown();
  }
}

/** Opens a raw socket (no PeerStream), resolving once open or rejecting with the failure. */
async function rawSocket(url: string, headers: Record<string, string>): Promise<WebSocket> {
  const ws = new WebSocket(url, { headers } as unknown as string[]);
  ws.binaryType = "arraybuffer";
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = (e) => reject(new Error((e as ErrorEvent).message));
  });
  return ws;
}

function closeEvent(ws: WebSocket): Promise<CloseEvent> {
  return new Promise((resolve) => ws.addEventListener("close", (e) => resolve(e)));
}

const auth = { authorization: `Bearer ${SECRET}` };

Deno.test("peer stream: each frame is a batch, delivered in order", async () => {
  await withServer(async ({ url, received }) => {
    const opened = Promise.withResolvers<void>();
    const stream = new PeerStream(url, auth, {
      onOpen: () => opened.resolve(),
      onClose: (reason) => opened.reject(new Error(reason)),
    });
    stream.connect();
    await opened.promise;
    const all = everyWireMessage().filter((m) => m.type !== "snap").map((m) => ({ ...m, to: 2 }));
    for (const m of all) stream.send(encodeMessages([m]));
    await waitFor(() => received.length === all.length, "every frame arrives");
    assert.deepStrictEqual(received.flat(), all);
    await stream.close();
  });
});

Deno.test("peer stream: without the cluster secret the upgrade is refused", async () => {
  await withServer(async ({ url, received }) => {
    const closed = Promise.withResolvers<string>();
    const stream = new PeerStream(url, { authorization: "Bearer guess" }, {
      onOpen: () => closed.reject(new Error("opened without the secret")),
      onClose: (reason) => closed.resolve(reason),
    });
    stream.connect();
    assert.match(await closed.promise, /401|fail|clos/i);
    assert.equal(received.length, 0);
    await stream.close();
  });
});

Deno.test("peer stream: a plain GET is told to upgrade (426)", async () => {
  await withServer(async ({ url }) => {
    const res = await fetch(url.replace("ws:", "http:"), { headers: auth });
    assert.equal(res.status, 426);
    assert.equal(res.headers.get("content-type"), "application/problem+json");
    await res.body?.cancel();
  });
});

Deno.test("peer stream: garbage, text, oversized and misaddressed frames close it", async () => {
  await withServer(async ({ url, received }) => {
    const cases: [string, string | Uint8Array<ArrayBuffer>, number][] = [
      ["garbage", new Uint8Array([0xc1, 0xff, 0x00]), 1008],
      ["text", "hello", 1003],
      ["oversized", new Uint8Array(5000), 1009],
      ["misaddressed", encodeMessages([message({ type: "heartbeat", to: 3 })]), 1008],
    ];
    for (const [what, frame, code] of cases) {
      const ws = await rawSocket(url, auth);
      const closed = closeEvent(ws);
      ws.send(frame);
      const e = await closed;
      assert.equal(e.code, code, `${what}: ${e.reason}`);
      assert.ok(e.reason.length > 0, `${what} says why`);
    }
    assert.equal(received.length, 0);
    // The server still serves a well-behaved stream afterwards.
    const ws = await rawSocket(url, auth);
    ws.send(encodeMessages([message({ type: "heartbeat", to: 2 })]));
    await waitFor(() => received.length === 1, "a good frame after the bad ones");
    const closed = closeEvent(ws);
    ws.close();
    await closed;
  });
});

Deno.test("peer stream: a stopping server closes open streams, and the client is told", async () => {
  await withServer(async ({ url, stop }) => {
    const opened = Promise.withResolvers<void>();
    const closed = Promise.withResolvers<string>();
    const stream = new PeerStream(url, auth, {
      onOpen: () => opened.resolve(),
      onClose: (reason) => closed.resolve(reason),
    });
    stream.connect();
    await opened.promise;
    stop.abort();
    assert.match(await closed.promise, /1001/);
    assert.equal(stream.active, false);
    await stream.close();
  });
});
