/** Raft thesis 6.4: linearizable reads with ReadIndex. */

import assert from "node:assert/strict";
import { TestNetwork } from "./network.ts";

const ctx = (s: string) => new TextEncoder().encode(s);

Deno.test("6.4 the leader answers a read with its commit index after a quorum round", () => {
  const net = new TestNetwork({ voters: 3 });
  net.campaign(1);
  net.propose(1, "x");
  net.node(1).readIndex(ctx("r1"));
  net.settle();
  const rs = net.readStates.get(1)!;
  assert.equal(rs.length, 1);
  assert.equal(rs[0].index, net.node(1).status().commit);
});

Deno.test("6.4 a follower's read goes through the leader", () => {
  const net = new TestNetwork({ voters: 3 });
  net.campaign(1);
  net.propose(1, "x");
  net.node(2).readIndex(ctx("r2"));
  net.settle();
  assert.equal(net.readStates.get(2)![0].index, net.node(1).status().commit);
});

Deno.test("6.4 a leader cut off from the majority cannot confirm a read", () => {
  const net = new TestNetwork({ voters: 3 });
  net.campaign(1);
  net.isolate(1);
  net.node(1).readIndex(ctx("stale?"));
  net.tick(5, [1]);
  assert.equal(net.readStates.get(1)!.length, 0);
});

Deno.test("6.4 many reads share one heartbeat round", () => {
  const net = new TestNetwork({ voters: 3 });
  net.campaign(1);
  net.propose(1, "x");
  net.log.length = 0;
  net.isolate(1);
  for (let i = 0; i < 10; i++) net.node(1).readIndex(ctx(`r${i}`));
  net.settle();
  net.heal();
  net.tick(1, [1]);
  net.tick(5);
  assert.equal(net.readStates.get(1)!.length, 10);
});

Deno.test("6.4 a new leader serves reads only after committing an entry of its term", () => {
  const net = new TestNetwork({ voters: 3 });
  net.filter = (m) => m.type !== "appResp"; // the new leader's no-op cannot commit yet
  net.campaign(1);
  net.node(1).readIndex(ctx("early"));
  net.settle();
  assert.equal(net.readStates.get(1)!.length, 0);
  net.filter = undefined;
  net.tick(5);
  const rs = net.readStates.get(1)!;
  assert.equal(rs.length, 1);
  assert.ok(rs[0].index >= 1); // at least the no-op of its own term
});

Deno.test("6.4 reads from two nodes with the same context are both answered", () => {
  // Each node's driver numbers its own reads: the leader and a follower can both have a read
  // called "r1" pending at once. The leader must answer each, not drop the second as a retry.
  const net = new TestNetwork({ voters: 3 });
  net.campaign(1);
  net.propose(1, "x");
  net.filter = (m) => m.type !== "heartbeatResp"; // keep both reads pending at the leader
  net.node(2).readIndex(ctx("r1"));
  net.settle();
  net.node(1).readIndex(ctx("r1"));
  net.settle();
  net.filter = undefined;
  net.tick(5);
  assert.equal(net.readStates.get(1)!.length, 1, "the leader's own read is answered");
  assert.equal(net.readStates.get(2)!.length, 1, "the follower's read is answered");
});

Deno.test("6.4 a read whose heartbeat answers are lost is confirmed by a later heartbeat", () => {
  const net = new TestNetwork({ voters: 3 });
  net.campaign(1);
  net.propose(1, "x");
  net.filter = (m) => m.type !== "heartbeatResp";
  net.node(1).readIndex(ctx("a"));
  net.settle();
  assert.equal(net.readStates.get(1)!.length, 0);
  net.filter = undefined;
  net.tick(5, [1]); // the next periodic heartbeat carries the pending read
  assert.equal(net.readStates.get(1)!.length, 1);
});
