/**
 * Issue 10, defect 6: a follower must know how far the leader has committed, not only how far
 * its own log lets it commit, so that readiness can mean "caught up with the leader".
 */

import assert from "node:assert/strict";
import { TestNetwork } from "./network.ts";

/** A 3-node cluster where node 3 missed `n` committed entries; no message reaches it yet. */
function lagging(n: number): TestNetwork {
  const net = new TestNetwork({ voters: 3 });
  net.campaign(1);
  net.isolate(3);
  for (let i = 0; i < n; i++) net.propose(1, `x${i}`);
  net.heal();
  return net;
}

Deno.test("leader commit: a lagging follower learns it from the first heartbeat", () => {
  const net = lagging(10);
  const leaderCommit = net.node(1).status().commit;
  assert.equal(net.node(1).status().leaderCommit, leaderCommit, "the leader's is its own");
  // Only heartbeats reach node 3: their `commit` is capped at what it is known to have.
  net.filter = (m) => m.to !== 3 || m.type === "heartbeat";
  net.tick(5, [1]);
  const s = net.node(3).status();
  assert.equal(s.leader, 1);
  assert.ok(s.commit < leaderCommit, `its own commit ${s.commit} lags`);
  assert.equal(s.leaderCommit, leaderCommit);
});

Deno.test("leader commit: AppendEntries carry it while the follower catches up", () => {
  const net = lagging(10);
  const leaderCommit = net.node(1).status().commit;
  let seen = 0;
  net.filter = (m) => {
    if (m.to === 3 && m.type === "app") {
      seen = Math.max(seen, net.node(3).status().leaderCommit);
    }
    return true;
  };
  net.propose(1, "y"); // the leader probes node 3 and catches it up
  net.tick(5);
  const s = net.node(3).status();
  assert.equal(s.commit, net.node(1).status().commit);
  assert.equal(s.leaderCommit, s.commit);
  assert.ok(seen >= leaderCommit);
});

Deno.test("leader commit: a new term starts from what its leader says", () => {
  const net = lagging(3);
  net.tick(5);
  assert.equal(net.node(3).status().leaderCommit, net.node(1).status().commit);
  // Node 2 takes over; node 3 votes but hears nothing from it yet.
  net.filter = (m) => !(m.to === 3 && (m.type === "app" || m.type === "heartbeat"));
  net.node(1).transferLeader(2);
  net.settle();
  assert.equal(net.leader(), 2);
  const between = net.node(3).status();
  assert.equal(between.term, net.node(2).status().term);
  assert.equal(between.leader, 0);
  assert.equal(between.leaderCommit, 0, "nothing heard from a leader of this term yet");
  net.filter = undefined;
  net.tick(5);
  assert.equal(net.node(3).status().leaderCommit, net.node(2).status().commit);
});
