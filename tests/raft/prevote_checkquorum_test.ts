/** Raft thesis 9.6 (pre-vote), 6.2 (check-quorum) and 4.2.3 (disruptive servers). */

import assert from "node:assert/strict";
import { TestNetwork } from "./network.ts";

Deno.test("9.6 a node back from a partition does not raise the term or depose the leader", () => {
  const net = new TestNetwork({ voters: 3 });
  net.campaign(1);
  const term = net.node(1).status().term;
  net.isolate(3);
  net.tick(100); // node 3 times out again and again, but only pre-votes
  assert.equal(net.node(3).status().term, term);
  net.heal();
  net.tick(10);
  assert.equal(net.leader(), 1);
  assert.equal(net.node(1).status().term, term);
});

Deno.test("9.6 without pre-vote, the same node does disrupt the cluster", () => {
  const net = new TestNetwork({ voters: 3, config: { preVote: false, checkQuorum: false } });
  net.campaign(1);
  const term = net.node(1).status().term;
  net.isolate(3);
  net.tick(100);
  assert.ok(net.node(3).status().term > term);
});

Deno.test("6.2 check-quorum: a leader cut off from the majority steps down", () => {
  const net = new TestNetwork({ voters: 3 });
  net.campaign(1);
  net.isolate(1);
  net.tick(31, [1]); // two election timeouts of the leader's own ticking
  assert.equal(net.node(1).status().role, "follower");
});

Deno.test("4.2.3 followers in touch with a leader ignore a campaign (leader lease)", () => {
  const net = new TestNetwork({ voters: 3 });
  net.campaign(1);
  const term = net.node(1).status().term;
  net.core(3).campaign("vote", false); // a rogue candidate, skipping pre-vote
  net.settle();
  assert.equal(net.node(2).status().term, term);
  assert.equal(net.node(2).status().leader, 1);
});

Deno.test("9.6 pre-vote with check-quorum survives a one-way partition", () => {
  const net = new TestNetwork({ voters: 3 });
  net.campaign(1);
  net.cut.add("3->1"); // node 3 hears the leader but the leader never hears node 3
  net.tick(100);
  const leader = net.leader();
  assert.ok(leader);
  net.propose(leader, "still works");
  assert.ok(net.appliedText(leader).includes("still works"));
});
