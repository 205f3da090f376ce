/** Raft thesis 3.10: leadership transfer (TimeoutNow). */

import assert from "node:assert/strict";
import { ProposalDroppedError } from "../../src/raft/raw_node.ts";
import { TestNetwork } from "./network.ts";

Deno.test("3.10 the leader hands over to an up-to-date follower at once", () => {
  const net = new TestNetwork({ voters: 3 });
  net.campaign(1);
  net.propose(1, "x");
  net.node(1).transferLeader(2);
  net.settle();
  assert.equal(net.leader(), 2);
  net.propose(2, "y");
  assert.deepEqual(net.appliedText(3), ["x", "y"]);
});

Deno.test("3.10 a lagging target is caught up first, and proposals wait meanwhile", () => {
  const net = new TestNetwork({ voters: 3 });
  net.campaign(1);
  net.isolate(3);
  net.propose(1, "x");
  net.heal();
  net.cut.add("1->3");
  net.node(1).transferLeader(3);
  net.settle();
  assert.throws(() => net.node(1).propose(new Uint8Array([1])), ProposalDroppedError);
  net.cut.clear();
  net.tick(5);
  assert.equal(net.leader(), 3);
});

Deno.test("3.10 a transfer that does not finish in an election timeout is abandoned", () => {
  const net = new TestNetwork({ voters: 3 });
  net.campaign(1);
  net.isolate(3);
  net.cut.delete("2->1");
  net.cut.delete("1->2");
  net.node(1).transferLeader(3);
  net.tick(16, [1]);
  assert.equal(net.leader(), 1);
  net.node(1).propose(new Uint8Array([1])); // accepted again
});
