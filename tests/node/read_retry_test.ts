/**
 * Issue 10, defect 4: a linearizable read must not wait out its deadline because one message
 * of its ReadIndex round was lost. Real node drivers and cores on the in-memory twins; a
 * transport wrapper drops exactly the messages a test names, once.
 */

import assert from "node:assert/strict";
import { memoryLogger } from "../../src/node/logger.ts";
import { RaftNode } from "../../src/node/raft_node.ts";
import type { Message, NodeId } from "../../src/raft/types.ts";
import { MemoryStorage } from "../../src/storage/memory_storage.ts";
import { MemoryNetwork } from "../../src/transport/memory_transport.ts";
import type { Transport } from "../../src/transport/transport.ts";
import { poll } from "../process/poll.ts";

/** Returns true for a message to drop; it is asked about every message any node sends. */
type Dropper = (m: Message) => boolean;

interface Cluster {
  nodes: Map<NodeId, RaftNode>;
  /** Set to drop messages; the default drops nothing. */
  drop: { fn: Dropper };
  leader(): Promise<RaftNode>;
  stop(): Promise<void>;
}

/** A cluster whose reads time out after 5 s, as in production. */
async function cluster(n: number): Promise<Cluster> {
  const net = new MemoryNetwork();
  const peers = new Map(Array.from({ length: n }, (_, i) => [i + 1, `mem://${i + 1}`]));
  const nodes = new Map<NodeId, RaftNode>();
  const drop = { fn: ((_m: Message) => false) as Dropper };
  const wrap = (t: Transport): Transport => ({
    send: (msgs) => t.send(msgs.filter((m) => !drop.fn(m))),
    setPeers: (p) => t.setPeers(p),
    call: (peer, method, body, signal) => t.call(peer, method, body, signal),
    close: () => t.close(),
  });
  for (const id of peers.keys()) {
    nodes.set(
      id,
      await RaftNode.start({
        id,
        peers,
        storage: new MemoryStorage(),
        transport: (events) => wrap(net.attach(id, events)),
        logger: memoryLogger(),
        tickMs: 5,
        requestTimeoutMs: 5000,
      }),
    );
  }
  return {
    nodes,
    drop,
    async leader() {
      return await poll(() => [...nodes.values()].find((x) => x.isLeader()), { what: "a leader" });
    },
    async stop() {
      for (const node of nodes.values()) await node.stop();
    },
  };
}

/** Drops the first message `match` accepts; `dropped()` says whether that happened. */
function dropOnce(match: Dropper): { fn: Dropper; dropped(): boolean } {
  let done = false;
  return {
    fn: (m) => {
      if (done || !match(m)) return false;
      done = true;
      return true;
    },
    dropped: () => done,
  };
}

/** Times a read; fails the test if it is not answered well within the 5 s deadline. */
async function timedRead(node: RaftNode): Promise<number> {
  const started = performance.now();
  await node.linearizableRead();
  const ms = performance.now() - started;
  assert.ok(ms < 2000, `the read took ${ms.toFixed(0)} ms: its lost round was not asked again`);
  return ms;
}

Deno.test("read retry: a follower's read whose forwarded request is lost is asked again", async () => {
  const c = await cluster(3);
  try {
    const leader = await c.leader();
    await leader.submit({ cmd: { op: "put", key: "k", value: 1 } });
    const follower = [...c.nodes.values()].find((x) => x !== leader)!;
    const d = dropOnce((m) => m.type === "readIndex" && m.from === follower.id);
    c.drop.fn = d.fn;
    await timedRead(follower);
    assert.ok(d.dropped());
    assert.equal(follower.getValue("k")?.value, 1);
  } finally {
    await c.stop();
  }
});

Deno.test("read retry: a follower's read whose answer from the leader is lost is asked again", async () => {
  const c = await cluster(3);
  try {
    const leader = await c.leader();
    await leader.submit({ cmd: { op: "put", key: "k", value: 1 } });
    const follower = [...c.nodes.values()].find((x) => x !== leader)!;
    const d = dropOnce((m) => m.type === "readIndexResp" && m.to === follower.id);
    c.drop.fn = d.fn;
    await timedRead(follower);
    assert.ok(d.dropped());
  } finally {
    await c.stop();
  }
});

Deno.test("read retry: the leader's read is confirmed although its round's answers are lost", async () => {
  const c = await cluster(3);
  try {
    const leader = await c.leader();
    await leader.submit({ cmd: { op: "put", key: "k", value: 1 } });
    // The first answer of each follower to a heartbeat that carries a read: the next periodic
    // heartbeat, or the round asked again, confirms it.
    const lost = new Set<NodeId>();
    c.drop.fn = (m) => {
      if (m.type !== "heartbeatResp" || !m.context?.length || lost.has(m.from)) return false;
      lost.add(m.from);
      return true;
    };
    await timedRead(leader);
    assert.equal(lost.size, 2);
  } finally {
    await c.stop();
  }
});

Deno.test("read retry: concurrent readers on every node, no message lost, none waits", async () => {
  // Each node numbers its rounds r1, r2, ...: a leader's round and a follower's forwarded one
  // often carried the same context at once, and the leader served only the first of the two.
  const c = await cluster(3);
  try {
    const leader = await c.leader();
    await leader.submit({ cmd: { op: "put", key: "k", value: 0 } });
    const readers = [...c.nodes.values()].flatMap((node) =>
      Array.from({ length: 4 }, async () => {
        for (let i = 0; i < 100; i++) await timedRead(node);
      })
    );
    await Promise.all(readers);
  } finally {
    await c.stop();
  }
});

Deno.test("read retry: reads on every node under load all succeed while messages are lost", async () => {
  const c = await cluster(3);
  try {
    const leader = await c.leader();
    await leader.submit({ cmd: { op: "put", key: "k", value: 0 } });
    // One in 20 of every read-path message is lost, on a fixed pattern.
    let n = 0;
    c.drop.fn = (m) =>
      (m.type === "readIndex" || m.type === "readIndexResp" ||
        (m.type === "heartbeatResp" && m.context !== undefined)) && ++n % 20 === 0;
    const readers = [...c.nodes.values()].flatMap((node) =>
      Array.from({ length: 4 }, async () => {
        let slowest = 0;
        for (let i = 0; i < 25; i++) slowest = Math.max(slowest, await timedRead(node));
        return slowest;
      })
    );
    const writes = (async () => {
      for (let i = 1; i <= 20; i++) await leader.submit({ cmd: { op: "put", key: "k", value: i } });
    })();
    await Promise.all([...readers, writes]);
    assert.ok(n >= 20, `only ${n} read-path messages were seen`);
  } finally {
    await c.stop();
  }
});
