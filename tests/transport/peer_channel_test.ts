/**
 * The HTTP/2 peer stream (`POST /raft/v1/stream`, `peer_channel.ts`) against a real server:
 * the frame reader, what the server delivers and answers, how it refuses bad clients and bad
 * frames without reaching the node, and how a stopping server ends its streams.
 */
import assert from "node:assert/strict";
import type { Message } from "../../src/raft/types.ts";
import { encodeMessages } from "../../src/transport/codec.ts";
import { PeerChannel, StreamRefusedError } from "../../src/transport/peer_channel.ts";
import {
  encodeFrame,
  FrameError,
  FrameKind,
  FrameReader,
  parseAnswer,
} from "../../src/transport/peer_frames.ts";
import { createPeerHandler, servePeer } from "../../src/transport/peer_server.ts";
import { PeerTransport } from "../../src/transport/peer_transport.ts";
import { CallError } from "../../src/transport/transport.ts";
import { message, unansweringListener, waitFor } from "./fixtures.ts";

const SECRET = "correct horse battery staple";

Deno.test("peer frames: frames split over chunks, or many in one chunk, come out whole", () => {
  const a = encodeFrame(FrameKind.messages, 0, [new Uint8Array([1, 2, 3])]);
  const b = encodeFrame(FrameKind.answer, 7, [new Uint8Array([0, 204])]);
  const both = new Uint8Array([...a, ...b]);
  for (let cut = 0; cut <= both.byteLength; cut++) {
    const reader = new FrameReader(1024);
    const frames = [...reader.push(both.subarray(0, cut)), ...reader.push(both.subarray(cut))];
    assert.deepStrictEqual(frames.map((f) => [f.kind, f.id, [...f.payload]]), [
      [FrameKind.messages, 0, [1, 2, 3]],
      [FrameKind.answer, 7, [0, 204]],
    ]);
  }
  assert.deepStrictEqual(parseAnswer(new Uint8Array([0, 204])), {
    status: 204,
    body: new Uint8Array(),
  });
});

Deno.test("peer frames: oversized, short and unknown frames are refused", () => {
  const big = encodeFrame(FrameKind.messages, 0, [new Uint8Array(2000)]);
  assert.throws(() => new FrameReader(1024).push(big), FrameError);
  assert.throws(
    () => new FrameReader(1024).push(new Uint8Array([0, 0, 0, 2, 1, 0, 0, 0, 0])),
    FrameError,
  );
  const unknown = encodeFrame(FrameKind.messages, 0, []);
  unknown[4] = 99;
  assert.throws(() => new FrameReader(1024).push(unknown), /unknown frame kind 99/);
});

/** A peer server (node 2) recording what it delivers; `stop` ends its streams. */
async function withServer(
  test: (ctx: { url: string; received: Message[][]; stop: AbortController }) => Promise<void>,
): Promise<void> {
  const received: Message[][] = [];
  const stop = new AbortController();
  const handler = createPeerHandler({
    clusterSecret: SECRET,
    nodeId: 2,
    maxBodyBytes: 64 * 1024,
    onMessages: (msgs) => received.push(msgs),
    onCall: (method, body, from) =>
      Promise.resolve(new TextEncoder().encode(`${method}:${body.byteLength}:${from}`)),
    signal: stop.signal,
  });
  const server = servePeer({ hostname: "127.0.0.1", port: 0, handler });
  try {
    await test({ url: `http://127.0.0.1:${server.addr.port}`, received, stop });
  } finally {
    stop.abort();
    await server.shutdown();
  }
}

/** A channel from node 1 with the given secret, recording why it closed. */
function channel(url: string, clusterSecret = SECRET) {
  const closed: string[] = [];
  let up = false;
  const ch = new PeerChannel(
    { url, nodeId: 1, clusterSecret, connectTimeoutMs: 2_000, maxFrameBytes: 1 << 20 },
    { onUp: () => up = true, onClose: (reason) => closed.push(reason) },
  );
  return { ch, closed, isUp: () => up };
}

Deno.test("peer channel: batches are delivered in order, calls answered by id", async () => {
  await withServer(async ({ url, received }) => {
    const { ch, closed, isUp } = channel(url);
    try {
      ch.connect();
      for (let i = 0; i < 20; i++) {
        ch.sendMessages([encodeMessages([message({ type: "heartbeat", commit: i })])]);
      }
      const answers = await Promise.all(
        [10, 20, 30].map((n) => ch.request("call", "echo", [new Uint8Array(n)], 2_000)),
      );
      assert.deepStrictEqual(
        answers.map((a) => [a.status, new TextDecoder().decode(a.body)]),
        [[200, "echo:10:1"], [200, "echo:20:1"], [200, "echo:30:1"]],
      );
      await waitFor(() => received.length === 20, "every batch");
      assert.deepStrictEqual(received.map((b) => b[0].commit), [...Array(20).keys()]);
      assert.ok(isUp());
      assert.ok(ch.framesSent === 23 && ch.bytesSent > 0);
      assert.deepStrictEqual(closed, []);
    } finally {
      await ch.close();
    }
  });
});

Deno.test("peer channel: without the cluster secret the stream is refused (401)", async () => {
  await withServer(async ({ url, received }) => {
    const { ch, closed } = channel(url, "a guess");
    try {
      ch.connect();
      ch.sendMessages([encodeMessages([message({ type: "heartbeat" })])]);
      await assert.rejects(
        ch.request("call", "echo", [new Uint8Array(1)], 2_000),
        (e) => e instanceof StreamRefusedError && e.status === 401,
      );
      await waitFor(() => closed.length === 1, "the refusal closes the channel");
      assert.deepStrictEqual(received, []);
    } finally {
      await ch.close();
    }
  });
});

Deno.test("peer channel: garbage, oversized and misaddressed frames close the stream", async () => {
  const misaddressed = encodeMessages([message({ type: "heartbeat", to: 3 })]);
  const cases: [string, Uint8Array[]][] = [
    ["garbage batch", [new Uint8Array([0xc1, 0xc1])]],
    ["misaddressed batch", [misaddressed]],
    ["oversized frame", [new Uint8Array(70 * 1024)]],
  ];
  for (const [what, batch] of cases) {
    await withServer(async ({ url, received }) => {
      const { ch, closed } = channel(url);
      try {
        ch.connect();
        ch.sendMessages(batch);
        await waitFor(() => closed.length === 1, `${what} closes the stream`);
        assert.match(closed[0], /the peer closed the stream: /, what);
        assert.deepStrictEqual(received, [], `${what} reaches nothing`);
      } finally {
        await ch.close();
      }
    });
  }
});

Deno.test("peer channel: a stopping server ends its streams first, and the client is told", async () => {
  await withServer(async ({ url, stop }) => {
    const { ch, closed, isUp } = channel(url);
    try {
      ch.connect();
      await ch.request("call", "echo", [new Uint8Array(1)], 2_000);
      assert.ok(isUp());
      stop.abort();
      await waitFor(() => closed.length === 1, "the client sees the end");
      assert.match(closed[0], /the node is stopping/);
      assert.equal(ch.up, false);
    } finally {
      await ch.close();
    }
  });
});

Deno.test("peer channel: a peer that never answers fails after the connect timeout", async () => {
  const silent = unansweringListener();
  const closed: string[] = [];
  const ch = new PeerChannel({
    url: `http://127.0.0.1:${silent.port}`,
    nodeId: 1,
    clusterSecret: SECRET,
    connectTimeoutMs: 300,
    maxFrameBytes: 1024,
  }, { onUp: () => {}, onClose: (reason) => closed.push(reason) });
  try {
    ch.connect();
    await waitFor(() => closed.length === 1, "the timeout");
    assert.match(closed[0], /no answer within 300 ms/);
  } finally {
    await ch.close();
    await silent.close();
  }
});

Deno.test("peer transport [h2]: stats say the stream is up and count what was sent", async () => {
  const got: Message[][] = [[], []];
  const make = (id: 1 | 2) =>
    new PeerTransport({
      nodeId: id,
      clusterSecret: SECRET,
      listen: { hostname: "127.0.0.1", port: 0 },
      events: {
        onMessages: (m) => got[id - 1].push(...m),
        onUnreachable: () => {},
        onCall: () => Promise.reject(new CallError(409, "not the leader")),
      },
    });
  const a = make(1);
  const b = make(2);
  try {
    a.setPeers(new Map([[2, `http://127.0.0.1:${b.addr?.port}`]]));
    b.setPeers(new Map([[1, `http://127.0.0.1:${a.addr?.port}`]]));
    a.send([message({ type: "heartbeat", from: 1, to: 2 })]);
    b.send([message({ type: "heartbeat", from: 2, to: 1 })]);
    await waitFor(() => got[0].length === 1 && got[1].length === 1, "both directions");
    await assert.rejects(a.call(2, "x", new Uint8Array()), (e) => e instanceof CallError);
    await waitFor(() => a.stats()[0]?.up === true, "a's stream is up");
    const [s] = a.stats();
    assert.equal(s.peer, 2);
    assert.equal(s.protocol, "h2c");
    assert.ok(s.framesSent >= 2 && s.bytesSent > 20, JSON.stringify(s));
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
});

Deno.test("peer transport [h2]: a peer that stops reading is dropped and reported", async () => {
  // Accepts the stream (its first frame) and never reads what comes.
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => {
    const hello = encodeFrame(FrameKind.answer, 0, [new Uint8Array([0, 200])]);
    return new Response(new ReadableStream({ start: (c) => c.enqueue(hello) }));
  });
  const unreachable: number[] = [];
  const transport = new PeerTransport({
    nodeId: 1,
    clusterSecret: SECRET,
    maxStreamBufferedBytes: 1024 * 1024,
    events: { onMessages: () => {}, onUnreachable: (id) => unreachable.push(id) },
  });
  try {
    transport.setPeers(new Map([[2, `http://127.0.0.1:${server.addr.port}`]]));
    const big = (i: number) =>
      message({
        type: "app",
        index: i,
        entries: [{ term: 1, index: i + 1, type: "normal", data: new Uint8Array(256 * 1024) }],
      });
    let i = 0;
    await waitFor(() => {
      if (unreachable.length > 0) return true;
      transport.send([big(i++)]); // the peer's flow-control window takes the first MBs
      return false;
    }, "the stalled stream is given up");
    assert.deepStrictEqual(unreachable.slice(0, 1), [2]);
    assert.ok(i > 4, `only ${i} messages went out before the stream was given up`);
  } finally {
    await transport.close();
    await server.shutdown();
  }
});
