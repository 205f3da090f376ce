/**
 * One membership change at a time (thesis 4.1): a change stays pending until the driver has
 * applied it and said so with `advance`, not merely since the Ready that handed it out. Simulator
 * seed 14657: a new leader took a second change while its Ready, holding the first (inherited)
 * one, waited for a disk write; the second had been checked against the old member set, and the
 * two together removed the last voter.
 */

import assert from "node:assert/strict";
import { ProposalDroppedError } from "../../src/raft/raw_node.ts";
import type { Ready } from "../../src/raft/types.ts";
import { TestNetwork } from "./network.ts";

/** Takes one Ready of `id`: sends its messages; advances unless told to hold it. */
function turn(net: TestNetwork, id: number, hold = false): Ready | undefined {
  const node = net.node(id);
  if (!node.hasReady()) return undefined;
  const rd = node.ready();
  for (const m of rd.messages) net.deliver(m);
  if (!hold) node.advance(rd);
  return rd;
}

Deno.test("4.1 a second membership change waits until the first is applied, not only handed out", () => {
  const net = new TestNetwork({ voters: 3 });
  net.campaign(1);
  const leader = net.node(1);
  leader.proposeConfChange({ type: "removeNode", nodeId: 3 });
  turn(net, 1); // the entry goes out
  turn(net, 2); // the followers write it and acknowledge
  turn(net, 3);
  const rd = turn(net, 1, true)!; // the leader's Ready that commits it, not yet applied
  assert.ok(rd.committedEntries.some((e) => e.type === "conf"));
  assert.throws(
    () => leader.proposeConfChange({ type: "removeNode", nodeId: 2 }),
    ProposalDroppedError,
  );
  leader.applyConfChange({ type: "removeNode", nodeId: 3 });
  leader.advance(rd);
  leader.proposeConfChange({ type: "removeNode", nodeId: 2 }); // now it may
  assert.equal(leader.view.entry(leader.view.lastIndex())?.type, "conf");
});
