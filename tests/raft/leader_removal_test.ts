/**
 * Raft thesis 4.2.2: removing the current leader. The core applies a change when its entry is
 * applied (as etcd-io/raft does), so a leader may apply its own removal (proposed before it led)
 * while the remaining voters still count it: they have not learned that the removal committed.
 * It then leads on without counting itself and hands over (thesis 3.10); the simulator's seeds 11
 * and 10143 got stuck when it stepped down at once.
 */

import assert from "node:assert/strict";
import { decodeConfChange } from "../../src/raft/conf_change.ts";
import { ProposalDroppedError } from "../../src/raft/raw_node.ts";
import type { NodeId } from "../../src/raft/types.ts";
import { TestNetwork } from "./network.ts";

/** Applies the membership changes each node applied since the last call, as a driver does. */
function confApplier(net: TestNetwork, only?: NodeId[]): () => void {
  const done = new Map<NodeId, number>();
  return () => {
    for (const id of only ?? net.ids) {
      const applied = net.applied.get(id)!;
      for (let i = done.get(id) ?? 0; i < applied.length; i++) {
        const e = applied[i];
        if (e.type === "conf") net.node(id).applyConfChange(decodeConfChange(e.data));
      }
      done.set(id, applied.length);
    }
    net.settle();
  };
}

/** The commands a node applied, as text (no-ops and membership changes left out). */
function commands(net: TestNetwork, id: NodeId): string[] {
  return net.applied.get(id)!.filter((e) => e.type === "normal" && e.data.length > 0).map((e) =>
    new TextDecoder().decode(e.data)
  );
}

/**
 * Two voters; leader 1 commits its own removal (node 2 acknowledged the entry) and appends "x",
 * but node 2 hears neither the commit nor "x"; then node 1 applies the removal. Returns the
 * removal's index.
 */
function leaderAppliesItsRemovalUnknownToTheOther(net: TestNetwork): number {
  net.campaign(1);
  net.node(1).proposeConfChange({ type: "removeNode", nodeId: 1 });
  const removal = net.node(1).status().lastIndex;
  // Node 2 gets the entry and acknowledges it; nothing that says it committed reaches node 2.
  net.filter = (m) => !(m.from === 1 && m.to === 2 && m.commit >= removal);
  net.settle();
  assert.equal(net.node(1).status().commit, removal);
  net.propose(1, "x");
  assert.equal(net.node(2).status().lastIndex, removal);
  assert.ok(net.node(2).status().commit < removal);
  confApplier(net, [1])();
  assert.deepEqual(net.node(1).status().conf.voters, [2]);
  return removal;
}

Deno.test("4.2.2 a leader that applies its own removal hands over to a voter that lacked its last entries and the commit", () => {
  const net = new TestNetwork({ voters: 2 });
  leaderAppliesItsRemovalUnknownToTheOther(net);
  // It leads on, takes no new entries, and is no voter of its own configuration.
  assert.equal(net.node(1).status().role, "leader");
  assert.throws(() => net.node(1).propose(new Uint8Array([1])), ProposalDroppedError);
  net.filter = undefined;
  const apply = confApplier(net);
  for (let i = 0; i < 100 && net.leader() !== 2; i++) {
    net.tick(1);
    apply();
  }
  // Stepping down at once left node 2 campaigning for ever: node 1's log was longer, so it
  // refused its vote, and as no voter it never campaigned itself.
  assert.equal(net.leader(), 2);
  assert.equal(net.node(1).status().role, "follower");
  assert.deepEqual(net.node(2).status().conf.voters, [2]);
  net.propose(2, "y");
  assert.deepEqual(commands(net, 2), ["x", "y"]);
});

Deno.test("4.2.2 a removed leader cut off from the remaining voter does not step down, and hands over after the partition", () => {
  const net = new TestNetwork({ voters: 2 });
  leaderAppliesItsRemovalUnknownToTheOther(net);
  net.filter = undefined;
  net.isolate(1);
  const apply = confApplier(net);
  for (let i = 0; i < 100; i++) {
    net.tick(1);
    apply();
  }
  // Check-quorum would have made it a follower with a longer log than node 2's: stuck again.
  assert.equal(net.node(1).status().role, "leader");
  assert.notEqual(net.node(2).status().role, "leader");
  net.heal();
  for (let i = 0; i < 200 && net.leader() !== 2; i++) {
    net.tick(1);
    apply();
  }
  assert.equal(net.leader(), 2);
  net.propose(2, "y");
  assert.deepEqual(commands(net, 2), ["x", "y"]);
});

Deno.test("4.2.2 a follower that applied its leader's removal elects a leader of its own though its answers no longer reach it", () => {
  const net = new TestNetwork({ voters: 3 });
  net.campaign(1);
  net.node(1).proposeConfChange({ type: "removeNode", nodeId: 1 });
  net.settle();
  // A driver drops its link to a node it no longer has as a member: node 1 goes on sending
  // heartbeats, but hears no answer, so it never learns that the others have "x" and cannot
  // hand over.
  net.cut.add("2->1");
  net.cut.add("3->1");
  net.propose(1, "x");
  const apply = confApplier(net);
  apply();
  assert.deepEqual(net.node(2).status().conf.voters, [2, 3]);
  assert.equal(net.node(1).status().role, "leader");
  const term = net.node(1).status().term;
  for (let i = 0; i < 100 && ![2, 3].includes(net.leader() ?? 0); i++) {
    net.tick(1);
    apply();
  }
  const leader = net.ids.find((id) => id !== 1 && net.node(id).status().role === "leader");
  assert.ok(leader !== undefined, "nodes 2 and 3 elected no leader of their own");
  assert.ok(net.node(leader).status().term > term);
  net.propose(leader, "y");
  assert.deepEqual(commands(net, leader === 2 ? 3 : 2), ["x", "y"]);
});
