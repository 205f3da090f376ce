/**
 * A follower told that its connection to the leader was lost (`reportPeerDown`) campaigns
 * within a few ticks instead of an election timeout, and pre-vote keeps that from disrupting a
 * leader that is in fact alive (docs/architecture.md#failure-detection).
 */

import assert from "node:assert/strict";
import { TestNetwork } from "./network.ts";

/** Ticks nodes 2 and 3 until one of them leads, or `limit` ticks; returns the ticks taken. */
function ticksToNewLeader(net: TestNetwork, limit: number): number | undefined {
  for (let t = 1; t <= limit; t++) {
    net.tick(1, [2, 3]);
    if ([2, 3].some((id) => net.node(id).status().role === "leader")) return t;
  }
  return undefined;
}

Deno.test("leader down: followers that lost the leader's connection elect a new one within half an election timeout", () => {
  // Each campaigns at a random tick among the next 8 (half of 15 election ticks); when both
  // draw the same one their votes split and the next ordinary timeout decides.
  let fast = 0;
  for (let seed = 1; seed <= 100; seed++) {
    const net = new TestNetwork({ voters: 3, seed });
    net.campaign(1);
    const term = net.node(1).status().term;
    net.isolate(1); // killed: nothing to or from it
    net.node(2).reportPeerDown(1);
    net.node(3).reportPeerDown(1);
    const ticks = ticksToNewLeader(net, 100);
    assert.ok(ticks !== undefined, `seed ${seed}: no new leader within 100 ticks`);
    const leader = [2, 3].find((id) => net.node(id).status().role === "leader")!;
    assert.ok(net.node(leader).status().term > term);
    if (ticks <= 8) fast++;
  }
  assert.ok(fast >= 80, `${fast} of 100 seeds elected within 8 ticks`);
});

Deno.test("leader down: without the report the same followers wait out an election timeout", () => {
  const net = new TestNetwork({ voters: 3 });
  net.campaign(1);
  net.isolate(1);
  assert.equal(ticksToNewLeader(net, 14), undefined);
});

Deno.test("leader down: one follower's lost connection does not disturb a live leader (pre-vote, lease)", () => {
  const net = new TestNetwork({ voters: 3 });
  net.campaign(1);
  const term = net.node(1).status().term;
  net.cut.add("1->3"); // node 3 stops hearing the leader, whose process is fine
  net.node(3).reportPeerDown(1);
  net.tick(10); // node 3 pre-votes within 5 ticks; node 2 (in lease) and the leader refuse
  assert.equal(net.leader(), 1);
  for (const id of [1, 2, 3]) assert.equal(net.node(id).status().term, term, `node ${id}`);
  net.heal();
  net.tick(6);
  assert.equal(net.node(3).status().leader, 1);
});

Deno.test("leader down: a lost connection to a peer that is not the leader changes nothing", () => {
  const net = new TestNetwork({ voters: 3 });
  net.campaign(1);
  const before = net.core(2).randomizedElectionTimeout;
  net.node(2).reportPeerDown(3);
  net.node(1).reportPeerDown(2); // the leader: its probing comes from `reportUnreachable`
  assert.equal(net.core(2).randomizedElectionTimeout, before);
  assert.equal(net.core(2).electionElapsed, 0);
  net.tick(5);
  assert.equal(net.leader(), 1);
});
