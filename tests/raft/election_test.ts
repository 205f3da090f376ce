/** Raft paper section 5.2 (leader election) and 5.4.1 (election restriction). */

import assert from "node:assert/strict";
import { withDefaults } from "../../src/raft/config.ts";
import { Raft } from "../../src/raft/raft.ts";
import { RawNode } from "../../src/raft/raw_node.ts";
import { newMessage } from "../../src/raft/message.ts";
import { TestNetwork } from "./network.ts";

const msg = newMessage;

Deno.test("5.2 a follower that hears nothing becomes leader, and the others follow it", () => {
  const net = new TestNetwork({ voters: 3 });
  net.tick(40);
  const leader = net.leader();
  assert.ok(leader);
  for (const id of net.ids) {
    assert.equal(net.node(id).status().leader, leader);
    assert.equal(net.node(id).status().term, net.node(leader).status().term);
  }
});

Deno.test("5.2 election timeouts are randomized within [et, 2et)", () => {
  let r = 0;
  const seen = new Set<number>();
  for (let i = 0; i < 50; i++) {
    let core: Raft | undefined;
    new RawNode(withDefaults({ id: 1, random: () => (r = (r + 0.137) % 1) }), {
      hardState: { term: 0, vote: 0, commit: 0 },
      entries: [],
      conf: { voters: [1, 2, 3], learners: [] },
    }, (c, s) => core = new Raft(c, s));
    const t = core!.randomizedElectionTimeout;
    assert.ok(t >= 15 && t < 30, `timeout ${t}`);
    seen.add(t);
  }
  assert.ok(seen.size > 5);
});

Deno.test("5.2 the vote is in the hard state of the same Ready as the vote answer", () => {
  const node = new RawNode(withDefaults({ id: 2, random: () => 0 }), {
    hardState: { term: 1, vote: 0, commit: 0 },
    entries: [],
    conf: { voters: [1, 2, 3], learners: [] },
  });
  node.step(msg({ type: "vote", from: 1, to: 2, term: 2 }));
  const rd = node.ready();
  assert.deepEqual(rd.hardState, { term: 2, vote: 1, commit: 0 });
  assert.equal(rd.messages[0].type, "voteResp");
  assert.equal(rd.messages[0].reject, false);
});

Deno.test("5.2 a node that restarts remembers its vote and does not vote twice in a term", () => {
  const node = new RawNode(withDefaults({ id: 2, random: () => 0 }), {
    hardState: { term: 2, vote: 1, commit: 0 }, // it voted for 1 in term 2, then restarted
    entries: [],
    conf: { voters: [1, 2, 3], learners: [] },
  });
  node.step(msg({ type: "vote", from: 3, to: 2, term: 2 }));
  const rd = node.ready();
  assert.equal(rd.messages[0].type, "voteResp");
  assert.equal(rd.messages[0].reject, true);
});

Deno.test("5.4.1 a candidate whose log is behind does not get the vote", () => {
  const node = new RawNode(withDefaults({ id: 2, random: () => 0 }), {
    hardState: { term: 3, vote: 0, commit: 0 },
    entries: [
      { term: 1, index: 1, type: "normal", data: new Uint8Array() },
      { term: 3, index: 2, type: "normal", data: new Uint8Array() },
    ],
    conf: { voters: [1, 2, 3], learners: [] },
  });
  // Longer log, older last term: not up to date.
  node.step(msg({ type: "vote", from: 1, to: 2, term: 4, index: 5, logTerm: 2 }));
  const rd = node.ready();
  assert.equal(rd.messages[0].reject, true);
  assert.equal(node.status().vote, 0);
});

Deno.test("5.2 split votes resolve: with 5 nodes a leader emerges within a few timeouts", () => {
  for (let seed = 1; seed <= 20; seed++) {
    const net = new TestNetwork({ voters: 5, seed });
    net.tick(200);
    const leaders = net.ids.filter((id) => net.node(id).status().role === "leader");
    assert.equal(leaders.length, 1, `seed ${seed}`);
  }
});

Deno.test("5.2 a leader that loses its majority is replaced, and rejoins as follower", () => {
  const net = new TestNetwork({ voters: 3 });
  net.campaign(1);
  net.isolate(1);
  net.tick(80);
  const next = net.leader();
  assert.ok(next && next !== 1);
  net.heal();
  net.tick(20);
  assert.equal(net.node(1).status().role, "follower");
  assert.equal(net.node(1).status().leader, next);
});
