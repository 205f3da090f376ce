import assert from "node:assert/strict";
import { freePort } from "../process/net.ts";
import type { Message, NodeId } from "../../src/raft/types.ts";
import {
  type PeerProtocol,
  PeerTransport,
  type PeerTransportOptions,
} from "../../src/transport/peer_transport.ts";
import { createPeerHandler, servePeer } from "../../src/transport/peer_server.ts";
import { CallError, PeerUnreachableError, type Transport } from "../../src/transport/transport.ts";
import { entries, everyWireMessage, message, waitFor } from "./fixtures.ts";

const SECRET = "s3cret-for-tests";

/** One way to carry messages. */
interface Wire {
  protocol: PeerProtocol;
}

/** A transport listening on a free loopback port, recording what it is told. */
function node(id: NodeId, wire: Wire, options: Partial<PeerTransportOptions> = {}) {
  const received: Message[][] = [];
  const unreachable: NodeId[] = [];
  const lost: NodeId[] = [];
  const snapshots: [NodeId, boolean][] = [];
  const transport = new PeerTransport({
    nodeId: id,
    clusterSecret: SECRET,
    ...wire,
    listen: { hostname: "127.0.0.1", port: 0 },
    events: {
      onMessages: (msgs) => received.push(msgs),
      onUnreachable: (peer) => unreachable.push(peer),
      onConnectionLost: (peer) => lost.push(peer),
      onSnapshotStatus: (peer, ok) => snapshots.push([peer, ok]),
      onCall: (method, body, from) => {
        if (method === "fail") return Promise.reject(new CallError(409, "not the leader"));
        return Promise.resolve(new TextEncoder().encode(`${method}:${body.byteLength}:${from}`));
      },
    },
    ...options,
  });
  const url = () => `http://127.0.0.1:${transport.addr?.port}`;
  return { transport, received, unreachable, lost, snapshots, url };
}

const delivered = (batches: Message[][]) => batches.flat();

/** Closes transports together. */
async function closeAll(...transports: (Transport | undefined)[]): Promise<void> {
  await Promise.all(transports.map((t) => t?.close()));
}

const WIRES: Wire[] = [{ protocol: "h2" }, { protocol: "http1" }, { protocol: "ws" }];

for (const wire of WIRES) {
  const label = wire.protocol;
  const name = (what: string) => `peer transport [${label}]: ${what}`;

  Deno.test(name("two nodes exchange every message type and calls"), async () => {
    const a = node(1, wire);
    const b = node(2, wire);
    try {
      a.transport.setPeers(new Map([[2, b.url()]]));
      b.transport.setPeers(new Map([[1, a.url()]]));
      const toB = everyWireMessage().map((m) => ({ ...m, from: 1, to: 2 }));
      a.transport.send(toB);
      await waitFor(() => delivered(b.received).length === toB.length, "b receives everything");
      const byType = (ms: Message[]) => [...ms].sort((x, y) => x.type.localeCompare(y.type));
      assert.deepStrictEqual(byType(delivered(b.received)), byType(toB));

      b.transport.send([message({ type: "heartbeatResp", from: 2, to: 1, term: 3 })]);
      await waitFor(() => a.received.length === 1, "a receives the answer");
      assert.equal(a.received[0][0].type, "heartbeatResp");

      const answer = await a.transport.call(2, "forward.put", new Uint8Array(22_000));
      assert.equal(new TextDecoder().decode(answer), "forward.put:22000:1");
      await assert.rejects(a.transport.call(2, "fail", new Uint8Array()), (e) => {
        return e instanceof CallError && e.status === 409 && e.message === "not the leader";
      });
      await assert.rejects(a.transport.call(3, "x", new Uint8Array()), PeerUnreachableError);
      await assert.rejects(a.transport.call(2, "../x", new Uint8Array()), TypeError);
      assert.deepStrictEqual([a.unreachable, b.unreachable], [[], []]);
    } finally {
      await closeAll(a.transport, b.transport);
    }
  });

  Deno.test(name("messages queued in one turn go out as one batch"), async () => {
    const a = node(1, wire);
    const b = node(2, wire);
    try {
      a.transport.setPeers(new Map([[2, b.url()]]));
      const beats = Array.from(
        { length: 100 },
        (_, i) => message({ type: "heartbeat", commit: i }),
      );
      for (const m of beats) a.transport.send([m]);
      await waitFor(() => delivered(b.received).length === 100, "all heartbeats");
      assert.equal(b.received.length, 1);
      assert.deepStrictEqual(b.received[0], beats);
    } finally {
      await closeAll(a.transport, b.transport);
    }
  });

  Deno.test(name("a down peer is reported, skipped, and reached once it is up"), async () => {
    const port = freePort();
    const a = node(1, wire, { backoff: { initialMs: 20, maxMs: 100 } });
    let b: ReturnType<typeof node> | undefined;
    try {
      a.transport.setPeers(new Map([[2, `http://127.0.0.1:${port}`]]));
      a.transport.send([message({ type: "heartbeat", commit: 1 })]);
      await waitFor(() => a.unreachable.length === 1, "the failure is reported");
      assert.deepStrictEqual(a.unreachable, [2]);

      b = node(2, wire, { listen: { hostname: "127.0.0.1", port } });
      let commit = 2;
      await waitFor(() => {
        if (b!.received.length > 0) return true;
        a.transport.send([message({ type: "heartbeat", commit: commit++ })]);
        return false;
      }, "the peer is reached again");
      // What was sent while the peer was down was dropped, not delivered late.
      assert.ok(delivered(b.received).every((m) => m.commit >= 2));
    } finally {
      await closeAll(a.transport, b?.transport);
    }
  });

  Deno.test(name("heartbeats do not wait behind an 8 MB snapshot chunk"), async () => {
    const arrivals: string[] = [];
    let heartbeatSeen!: () => void;
    const heartbeatArrived = new Promise<void>((resolve) => (heartbeatSeen = resolve));
    const handler = createPeerHandler({
      clusterSecret: SECRET,
      onMessages: (msgs) => {
        for (const m of msgs) arrivals.push(m.type);
        if (msgs.some((m) => m.type === "heartbeat")) heartbeatSeen();
      },
    });
    // The receiver holds the snapshot's body back until the heartbeat has arrived: if the
    // heartbeat were queued behind the snapshot, neither would ever arrive.
    const gated = (req: Request): Promise<Response> => {
      // The h2 protocol sends snapshots on a stream of their own (the bulk lane).
      const bulk = req.headers.get("x-edgeraft-lane") === "bulk";
      const large = Number(req.headers.get("content-length")) >= 1_000_000;
      if (!(bulk || large) || !req.body) return handler(req);
      const body = req.body.pipeThrough(
        new TransformStream<Uint8Array, Uint8Array>({
          async transform(chunk, out) {
            await heartbeatArrived;
            out.enqueue(chunk);
          },
        }),
      );
      return handler(new Request(req.url, { method: "POST", headers: req.headers, body }));
    };
    const server = servePeer({ hostname: "127.0.0.1", port: 0, handler: gated });
    // One request in flight per lane: only a lane of its own lets the heartbeat pass.
    const a = node(1, wire, { maxInFlight: 1 });
    try {
      a.transport.setPeers(new Map([[2, `http://127.0.0.1:${server.addr.port}`]]));
      const size = 8 * 1024 * 1024;
      const snap = message({
        type: "snap",
        term: 2,
        snapshot: {
          metadata: { index: 50, term: 2, conf: { voters: [1, 2], learners: [] } },
          offset: 0,
          data: new Uint8Array(size).fill(7),
          done: true,
          total: size,
        },
      });
      const started = performance.now();
      a.transport.send([snap, message({ type: "heartbeat", term: 2 })]);
      await waitFor(() => arrivals.includes("heartbeat"), "the heartbeat passes the snapshot");
      const heartbeatMs = performance.now() - started;
      await waitFor(() => arrivals.length === 2, "the snapshot arrives too", 20_000);
      assert.deepStrictEqual(arrivals, ["heartbeat", "snap"]);
      await waitFor(() => a.snapshots.length === 1, "the snapshot status");
      assert.deepStrictEqual(a.snapshots, [[2, true]]);
      console.log(`heartbeat arrived ${heartbeatMs.toFixed(1)} ms after send, snapshot held back`);
    } finally {
      heartbeatSeen(); // let a held-back body go, so that shutdown does not wait for it forever
      await a.transport.close();
      await server.shutdown();
    }
  });

  Deno.test(name("a snapshot to a down peer reports failure"), async () => {
    const a = node(1, wire);
    try {
      a.transport.setPeers(new Map([[2, `http://127.0.0.1:${freePort()}`]]));
      const snap = message({
        type: "snap",
        snapshot: {
          metadata: { index: 5, term: 1, conf: { voters: [1, 2], learners: [] } },
          offset: 0,
          data: new Uint8Array(10),
          done: true,
          total: 10,
        },
      });
      a.transport.send([snap]);
      await waitFor(() => a.snapshots.length > 0 && a.unreachable.length > 0, "failure reports");
      assert.deepStrictEqual(a.snapshots, [[2, false]]);
    } finally {
      await a.transport.close();
    }
  });

  Deno.test(name("a peer with another secret refuses, and is reported"), async () => {
    const a = node(1, wire);
    const b = node(2, wire, { clusterSecret: "another secret" });
    try {
      a.transport.setPeers(new Map([[2, b.url()]]));
      a.transport.send([message({ type: "heartbeat" })]);
      await waitFor(() => a.unreachable.length === 1, "the refusal is reported");
      assert.equal(b.received.length, 0);
      await assert.rejects(a.transport.call(2, "x", new Uint8Array()), (e) => {
        return e instanceof CallError && e.status === 401;
      });
    } finally {
      await closeAll(a.transport, b.transport);
    }
  });

  Deno.test(name("unknown peers and local types, never a synchronous callback"), async () => {
    const a = node(1, wire);
    try {
      a.transport.send([message({ type: "heartbeat", to: 9 })]);
      assert.deepStrictEqual(a.unreachable, [], "reported later, not inside send()");
      await waitFor(() => a.unreachable.length === 1, "the unknown peer is reported");
      assert.deepStrictEqual(a.unreachable, [9]);
      assert.throws(() => a.transport.send([message({ type: "hup" })]), TypeError);
      assert.throws(() => a.transport.setPeers(new Map([[2, "ftp://x"]])), TypeError);
    } finally {
      await a.transport.close();
    }
  });

  Deno.test(name("close() with requests in flight leaves nothing open"), async () => {
    const a = node(1, wire);
    const b = node(2, wire);
    a.transport.setPeers(new Map([[2, b.url()]]));
    a.transport.send([
      message({ type: "app", term: 1, entries: entries(0, 4, 1 << 20) }),
      message({ type: "heartbeat" }),
    ]);
    await closeAll(a.transport, b.transport);
    a.transport.send([message({ type: "heartbeat" })]); // ignored once closed
    await assert.rejects(a.transport.call(2, "x", new Uint8Array()), PeerUnreachableError);
  });
}

for (const wire of WIRES) {
  const label = wire.protocol;
  Deno.test(`peer transport [${label}]: a peer that restarts is reached again`, async () => {
    const a = node(1, wire, { backoff: { initialMs: 20, maxMs: 100 } });
    let b = node(2, wire);
    const port = b.transport.addr!.port;
    try {
      a.transport.setPeers(new Map([[2, b.url()]]));
      for (let i = 0; i < 100; i++) {
        a.transport.send([message({ type: "heartbeat", commit: i })]);
        await waitFor(() => delivered(b.received).length === i + 1, `heartbeat ${i}`);
      }
      await b.transport.close(); // graceful: idle keep-alive connections and streams are closed
      await waitFor(
        () => a.unreachable.length > 0 || wire.protocol === "http1",
        "a notices the closed stream",
      );
      b = node(2, wire, { listen: { hostname: "127.0.0.1", port } });
      await waitFor(() => {
        if (b.received.length > 0) return true;
        a.transport.send([message({ type: "heartbeat", commit: 1000 })]);
        return false;
      }, "the restarted peer is reached");
    } finally {
      await closeAll(a.transport, b.transport);
    }
  });
}

Deno.test("peer transport [ws]: a peer whose process goes away is reported lost without a send", async () => {
  // The follower's stream to its leader closes with the leader's sockets; the node then
  // campaigns at once (Raft.leaderDown) instead of waiting out an election timeout.
  const a = node(1, { protocol: "ws" });
  const b = node(2, { protocol: "ws" });
  try {
    a.transport.setPeers(new Map([[2, b.url()]]));
    a.transport.send([message({ type: "heartbeatResp", from: 1, to: 2, term: 3 })]);
    await waitFor(() => b.received.length === 1, "the stream carries a message");
    assert.deepEqual(a.lost, []);
    await b.transport.close();
    await waitFor(() => a.lost.includes(2), "a hears that the connection to 2 is lost");
  } finally {
    await closeAll(a.transport, b.transport);
  }
});
