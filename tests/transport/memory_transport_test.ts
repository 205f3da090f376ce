import assert from "node:assert/strict";
import { setTimeout as delay } from "node:timers/promises";
import type { Message, NodeId } from "../../src/raft/types.ts";
import { MemoryNetwork } from "../../src/transport/memory_transport.ts";
import { CallError, PeerUnreachableError } from "../../src/transport/transport.ts";
import { everyWireMessage, message } from "./fixtures.ts";

/** Three attached nodes that know each other, recording what they are told. */
function cluster(options: { serialize?: boolean } = {}) {
  const net = new MemoryNetwork(options);
  const peers = new Map<NodeId, string>([[1, "mem://1"], [2, "mem://2"], [3, "mem://3"]]);
  const nodes = [1, 2, 3].map((id) => {
    const received: Message[][] = [];
    const unreachable: NodeId[] = [];
    const snapshots: [NodeId, boolean][] = [];
    const transport = net.attach(id, {
      onMessages: (m) => received.push(m),
      onUnreachable: (p) => unreachable.push(p),
      onSnapshotStatus: (p, ok) => snapshots.push([p, ok]),
      onCall: (method, body, from) => {
        if (method === "fail") return Promise.reject(new CallError(409, "not the leader"));
        if (method === "bug") return Promise.reject(new Error("bug"));
        return Promise.resolve(new Uint8Array([id, from, body.length]));
      },
    });
    transport.setPeers(peers);
    return { transport, received, unreachable, snapshots };
  });
  return { net, nodes };
}

/** Lets queued microtasks (the deliveries) run: they all run before the next macrotask. */
const settle = () => delay(0);

Deno.test("memory transport: delivers asynchronously, in order, through the codec", async () => {
  const { nodes: [a, b] } = cluster();
  const msgs = everyWireMessage();
  a.transport.send(msgs);
  a.transport.send([message({ type: "heartbeat", commit: 77 })]);
  assert.equal(b.received.length, 0, "nothing is delivered inside send()");
  await settle();
  assert.deepStrictEqual(b.received, [msgs, [message({ type: "heartbeat", commit: 77 })]]);
  // The codec round trip means the receiver never shares the sender's buffers.
  assert.notEqual(b.received[0][1].entries[0].data, msgs[1].entries[0].data);
});

Deno.test("memory transport: without serialization the same objects are handed over", async () => {
  const { nodes: [a, b] } = cluster({ serialize: false });
  const hb = message({ type: "heartbeat" });
  a.transport.send([hb]);
  await settle();
  assert.equal(b.received[0][0], hb);
});

Deno.test("memory transport: an isolated node neither receives nor sends", async () => {
  const { net, nodes: [a, b, c] } = cluster();
  net.isolate(2);
  a.transport.send([message({ type: "heartbeat", to: 2 }), message({ type: "heartbeat", to: 3 })]);
  b.transport.send([message({ type: "heartbeatResp", from: 2, to: 1 })]);
  await settle();
  assert.equal(b.received.length, 0);
  assert.equal(a.received.length, 0);
  assert.equal(c.received.length, 1);
  assert.deepStrictEqual([a.unreachable, b.unreachable], [[2], [1]]);

  net.heal(2);
  a.transport.send([message({ type: "heartbeat", to: 2 })]);
  await settle();
  assert.equal(b.received.length, 1);
});

Deno.test("memory transport: a cut link drops one direction only", async () => {
  const { net, nodes: [a, b] } = cluster();
  net.cut(1, 2);
  a.transport.send([message({ type: "heartbeat", to: 2 })]);
  b.transport.send([message({ type: "heartbeatResp", from: 2, to: 1 })]);
  await settle();
  assert.deepStrictEqual([a.received.length, b.received.length], [1, 0]);
  net.restore(1, 2);
  a.transport.send([message({ type: "heartbeat", to: 2 })]);
  await settle();
  assert.equal(b.received.length, 1);
  net.cut(1, 2);
  net.healAll();
  assert.ok(net.canReach(1, 2));
});

Deno.test("memory transport: dropped snapshot chunks are reported as failed", async () => {
  const { net, nodes: [a] } = cluster();
  net.isolate(2);
  a.transport.send([everyWireMessage().find((m) => m.type === "snap")!]);
  await settle();
  assert.deepStrictEqual(a.snapshots, [[2, false]]);
});

Deno.test("memory transport: unknown peers, closed nodes and local types", async () => {
  const { nodes: [a, b] } = cluster();
  a.transport.send([message({ type: "heartbeat", to: 9 })]);
  await b.transport.close();
  a.transport.send([message({ type: "heartbeat", to: 2 })]);
  await settle();
  assert.deepStrictEqual(a.unreachable, [9, 2]);
  assert.throws(() => a.transport.send([message({ type: "beat" })]), TypeError);
});

Deno.test("memory transport: calls reach onCall and fail like the real transport", async () => {
  const { net, nodes: [a] } = cluster();
  assert.deepStrictEqual(
    await a.transport.call(2, "put", new Uint8Array(5)),
    new Uint8Array([2, 1, 5]),
  );
  await assert.rejects(a.transport.call(2, "fail", new Uint8Array()), (e) => {
    return e instanceof CallError && e.status === 409;
  });
  await assert.rejects(a.transport.call(2, "bug", new Uint8Array()), (e) => {
    return e instanceof CallError && e.status === 500;
  });
  await assert.rejects(a.transport.call(2, "a/b", new Uint8Array()), TypeError);
  await assert.rejects(a.transport.call(9, "put", new Uint8Array()), PeerUnreachableError);
  net.cut(2, 1); // the request arrives, the answer is lost
  await assert.rejects(a.transport.call(2, "put", new Uint8Array()), PeerUnreachableError);
  const aborted = AbortSignal.abort(new Error("gave up"));
  await assert.rejects(a.transport.call(3, "put", new Uint8Array(), aborted), /gave up/);
});
