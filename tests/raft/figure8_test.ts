/**
 * Raft paper, section 5.4.2 and figure 8: a leader must not commit an entry of an older term
 * by counting replicas. The scenario is scripted step by step; with the deliberate
 * `commitOldTerm` bug the safety checker sees a committed entry overwritten.
 */

import assert from "node:assert/strict";
import type { CoreView } from "../../src/raft/raw_node.ts";
import { BuggyRaft } from "../sim/bugs.ts";
import { SafetyChecker, SafetyViolation } from "../sim/invariants.ts";
import { TestNetwork } from "./network.ts";

function figure8(commitOldTerm = false): { net: TestNetwork; checker: SafetyChecker } {
  const net = new TestNetwork({
    voters: 5,
    config: { preVote: false, checkQuorum: false },
    newRaft: commitOldTerm ? (c, s) => new BuggyRaft(c, s, "commitOldTerm") : undefined,
  });
  const checker = new SafetyChecker();
  const observe = () => {
    const live = new Map<number, CoreView>();
    for (const [id, n] of net.nodes) live.set(id, n.view);
    checker.observe(live);
  };
  const onlyBetween = (ids: number[]) => {
    net.heal();
    for (const a of net.ids) {
      for (const b of net.ids) {
        if (a !== b && (!ids.includes(a) || !ids.includes(b))) net.cut.add(`${a}->${b}`);
      }
    }
  };
  const campaignUntilLeader = (id: number) => {
    for (let i = 0; i < 3 && net.node(id).status().role !== "leader"; i++) {
      net.campaign(id); // the first try may be in a term where the others already voted
      observe();
    }
  };
  // (a) S1 leads term 1 with everyone, then appends an entry that reaches only S2.
  net.campaign(1);
  observe();
  onlyBetween([1, 2]);
  net.propose(1, "from-S1");
  observe();
  // (b) S1 crashes; S5 leads the next term with S3 and S4, and appends an entry only it has.
  net.start(1);
  onlyBetween([3, 4, 5]);
  net.campaign(5);
  observe();
  onlyBetween([]);
  net.propose(5, "from-S5");
  observe();
  // (c) S1 restarts and leads again with S2 and S3, and replicates its old entry to S3: now a
  // majority has it.
  onlyBetween([1, 2, 3]);
  campaignUntilLeader(1);
  net.tick(3, [1]);
  observe();
  // (d) S1 is cut off; S5 restarts and, its last term being higher, wins with S2, S3 and S4.
  net.start(5);
  onlyBetween([2, 3, 4, 5]);
  campaignUntilLeader(5);
  net.tick(3, [5]);
  observe();
  return { net, checker };
}

Deno.test("5.4.2 figure 8: a leader never commits an old-term entry by counting replicas", () => {
  const { net } = figure8();
  // S1's entry was on a majority in (c), but S1 never counted it as committed; S5 won (d) and
  // replaced it, which is safe because no one had committed it.
  assert.equal(net.node(5).status().role, "leader");
  assert.deepEqual(net.appliedText(2), ["from-S5"]);
});

Deno.test("5.4.2 figure 8: the simulator's checker catches the commitOldTerm bug", () => {
  assert.throws(() => figure8(true), (e: unknown) => {
    assert.ok(e instanceof SafetyViolation, String(e));
    assert.match(e.property, /leader completeness|state machine safety/);
    return true;
  });
});
