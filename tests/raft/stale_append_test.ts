/**
 * Leader append-only (paper, figure 3): a leader never overwrites or deletes its own entries,
 * even when an AppendEntries of a deposed leader arrives late. Random runs rarely deliver such a
 * message to the new leader with entries it lacks, so the scenario is scripted; with the
 * deliberate `leaderAcceptsStaleAppend` bug (tests/sim/bugs.ts) the simulator's checker sees
 * the leader's log rewritten.
 */

import assert from "node:assert/strict";
import { newMessage } from "../../src/raft/message.ts";
import type { CoreView } from "../../src/raft/raw_node.ts";
import { BuggyRaft } from "../sim/bugs.ts";
import { SafetyChecker, SafetyViolation } from "../sim/invariants.ts";
import { TestNetwork } from "./network.ts";

function staleAppend(bug: boolean): TestNetwork {
  const net = new TestNetwork({
    voters: 3,
    config: { preVote: false, checkQuorum: false },
    newRaft: bug ? (c, s) => new BuggyRaft(c, s, "leaderAcceptsStaleAppend") : undefined,
  });
  const checker = new SafetyChecker();
  const observe = () => {
    const live = new Map<number, CoreView>();
    for (const [id, n] of net.nodes) live.set(id, n.view);
    checker.observe(live);
  };
  // Node 1 leads term 1 and commits an entry everywhere (index 2, after its no-op).
  net.campaign(1);
  net.propose(1, "committed");
  observe();
  // Cut off, it takes one more entry (index 3) that nobody else gets.
  net.isolate(1);
  net.propose(1, "only-on-1");
  const stale = net.node(1).view.entry(3)!;
  // Node 2 leads term 2 with node 3; its no-op is its own entry 3.
  net.isolatePair(1, 2);
  net.campaign(2);
  observe();
  assert.equal(net.node(2).status().role, "leader");
  // Node 1's AppendEntries of term 1, held up in the network, arrives now.
  net.heal();
  net.deliver(newMessage({
    type: "app",
    from: 1,
    to: 2,
    term: 1,
    index: 2,
    logTerm: 1,
    entries: [stale],
    commit: 2,
  }));
  observe();
  return net;
}

Deno.test("leader append-only: a new leader ignores a deposed leader's late AppendEntries", () => {
  const net = staleAppend(false);
  assert.equal(net.node(2).view.entry(3)?.term, 2);
});

Deno.test("leader append-only: the simulator's checker catches leaderAcceptsStaleAppend", () => {
  assert.throws(() => staleAppend(true), (e: unknown) => {
    assert.ok(e instanceof SafetyViolation, String(e));
    assert.equal(e.property, "leader append-only");
    return true;
  });
});
