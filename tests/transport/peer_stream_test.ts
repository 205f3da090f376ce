/**
 * The WebSocket message stream (`GET /raft/v1/stream`) against a real server: what it
 * delivers, and how it refuses bad clients and bad frames without reaching the node.
 */
import assert from "node:assert/strict";
import type { Message } from "../../src/raft/types.ts";
import { encodeMessages } from "../../src/transport/codec.ts";
import { PeerTransport } from "../../src/transport/peer_transport.ts";
import { createPeerHandler, servePeer } from "../../src/transport/peer_server.ts";
import { PeerStream } from "../../src/transport/peer_stream.ts";
import { everyWireMessage, message, unansweringListener, waitFor } from "./fixtures.ts";

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

/**
 * A server that accepts the WebSocket upgrade and then never reads: the kernel buffers fill
 * and the client's unsent bytes pile up, as with a peer that hangs.
 */
function silentPeer(): { url: string; close(): Promise<void> } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) {
      conns.push(conn);
      const buf = new Uint8Array(8192);
      let head = "";
      while (!head.includes("\r\n\r\n")) {
        const n = await conn.read(buf).catch(() => null);
        if (n === null) break;
        head += new TextDecoder().decode(buf.subarray(0, n));
      }
      const key = /sec-websocket-key:\s*(\S+)/i.exec(head)?.[1] ?? "";
      const digest = await crypto.subtle.digest(
        "SHA-1",
        new TextEncoder().encode(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"),
      );
      const accept = btoa(String.fromCharCode(...new Uint8Array(digest)));
      await conn.write(new TextEncoder().encode(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
          `Sec-WebSocket-Accept: ${accept}\r\n\r\n`,
      )).catch(() => {});
    }
  })();
  const port = (listener.addr as Deno.NetAddr).port;
  return {
    url: `http://127.0.0.1:${port}`,
    async close() {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch {
          // already closed
        }
      }
      await accepting.catch(() => {});
    },
  };
}

Deno.test("peer stream: one frame larger than the unsent-bytes limit goes through", async () => {
  await withServer(async ({ url, received }) => {
    const unreachable: number[] = [];
    const transport = new PeerTransport({
      nodeId: 1,
      clusterSecret: SECRET,
      protocol: "ws",
      maxStreamBufferedBytes: 1024,
      events: { onMessages: () => {}, onUnreachable: (id) => unreachable.push(id) },
    });
    try {
      transport.setPeers(
        new Map([[2, url.replace("ws:", "http:").replace("/raft/v1/stream", "")]]),
      );
      const hb = message({ type: "heartbeat", to: 2, context: new Uint8Array(3000) });
      transport.send([hb]);
      await waitFor(() => received.length === 1, "the big heartbeat arrives");
      transport.send([message({ type: "heartbeat", to: 2 })]);
      await waitFor(() => received.length === 2, "and the next one");
      assert.deepStrictEqual(unreachable, []);
    } finally {
      await transport.close();
    }
  });
});

Deno.test("peer stream: a peer that stops reading is dropped and reported unreachable", async () => {
  const peer = silentPeer();
  const unreachable: number[] = [];
  const transport = new PeerTransport({
    nodeId: 1,
    clusterSecret: SECRET,
    protocol: "ws",
    maxStreamBufferedBytes: 1024 * 1024,
    events: { onMessages: () => {}, onUnreachable: (id) => unreachable.push(id) },
  });
  try {
    transport.setPeers(new Map([[2, peer.url]]));
    const big = (i: number) =>
      message({
        type: "app",
        index: i,
        entries: [{ term: 1, index: i + 1, type: "normal", data: new Uint8Array(256 * 1024) }],
      });
    let i = 0;
    await waitFor(() => {
      if (unreachable.length > 0) return true;
      transport.send([big(i++)]); // kernel buffers take several MB before the socket's own
      return false;
    }, "the stalled stream is given up");
    assert.deepStrictEqual(unreachable.slice(0, 1), [2]);
    // The socket was open and took frames until the kernel's buffers were full.
    assert.ok(i > 4, `only ${i} messages went out before the stream was given up`);
  } finally {
    await transport.close();
    await peer.close();
  }
});

Deno.test("peer stream: an upgrade nobody answers fails after the connect timeout", async () => {
  const silent = unansweringListener();
  try {
    const port = silent.port;
    const closed = Promise.withResolvers<string>();
    const stream = new PeerStream(`ws://127.0.0.1:${port}/raft/v1/stream`, auth, {
      onOpen: () => closed.reject(new Error("opened")),
      onClose: (reason) => closed.resolve(reason),
    }, 100);
    const started = performance.now();
    stream.connect();
    assert.match(await closed.promise, /no answer to the upgrade within 100 ms/);
    assert.ok(performance.now() - started < 2_000);
    assert.equal(stream.active, false);
    await stream.close();
  } finally {
    await silent.close();
  }
});
