/**
 * The campaign lines a node logs (issue 18): each campaign with the term it is for and the
 * back-off in force, and its outcome, from the core's `campaignState()` observed after each
 * step (`src/raft/campaign_log.ts`).
 */

import assert from "node:assert/strict";
import {
  type CampaignEvent,
  campaignEvents,
  type CampaignState,
} from "../../src/raft/campaign_log.ts";
import { withDefaults } from "../../src/raft/config.ts";
import { Raft } from "../../src/raft/raft.ts";
import type { NodeId } from "../../src/raft/types.ts";
import { Prng } from "../checker/prng.ts";
import { TestNetwork } from "./network.ts";

/** A network whose cores are kept, so that their campaign state can be observed. */
function network(voters: number): { net: TestNetwork; cores: Map<NodeId, Raft> } {
  const cores = new Map<NodeId, Raft>();
  const net = new TestNetwork({
    voters,
    newRaft: (c, s) => {
      const r = new Raft(c, s);
      cores.set(c.id, r);
      return r;
    },
  });
  return { net, cores };
}

Deno.test("campaign log: a won election is one pre-vote, one vote and a win, all for its term", () => {
  const { net, cores } = network(3);
  const before = new Map([...cores].map(([id, r]) => [id, r.campaignState()]));
  const events = new Map<NodeId, CampaignEvent[]>();
  net.node(1).campaign(); // the pre-vote goes out
  const mid = cores.get(1)!.campaignState();
  events.set(1, campaignEvents(before.get(1), mid));
  net.settle(); // answers come back: the vote, then the win
  events.get(1)!.push(...campaignEvents(mid, cores.get(1)!.campaignState()));
  assert.deepEqual(events.get(1)!.map((e) => [e.event, e.fields.term, e.fields.kind]), [
    ["campaign started", 1, "pre-vote"],
    ["campaign started", 1, undefined], // the vote, seen only once it was already won
    ["campaign won", 1, undefined],
  ]);
  for (const id of [2, 3]) {
    assert.deepEqual(campaignEvents(before.get(id), cores.get(id)!.campaignState()), []);
  }
});

Deno.test("campaign log: a node that cannot win logs every campaign, its back-off growing", () => {
  const prng = new Prng(3);
  const r = new Raft(withDefaults({ id: 1, random: () => prng.next(), electionTicks: 10 }), {
    hardState: { term: 4, vote: 0, commit: 0 },
    entries: [],
    conf: { voters: [1, 2, 3], learners: [] },
  });
  let prev = r.campaignState();
  const lines: CampaignEvent[] = [];
  for (let i = 0; i < 3000; i++) {
    r.tick();
    const now = r.campaignState();
    lines.push(...campaignEvents(prev, now));
    prev = now;
  }
  assert.ok(lines.length >= 5, `${lines.length} lines`);
  for (const line of lines) {
    assert.equal(line.event, "campaign started");
    assert.equal(line.fields.kind, "pre-vote");
    assert.equal(line.fields.term, 5); // pre-votes leave the term at 4
  }
  const backoffs = lines.map((l) => l.fields.backoff as number);
  assert.deepEqual(backoffs.slice(0, 5), [0, 1, 2, 3, 4]);
  assert.equal(Math.max(...backoffs), 4);
});

const base: CampaignState = {
  role: "follower",
  term: 7,
  leader: 0,
  campaigns: 3,
  electionBackoff: 0,
  electionTimeoutTicks: 20,
};

Deno.test("campaign log: the outcome says whether the node won, lost, or found another leader", () => {
  const candidate = { ...base, role: "candidate", term: 8, campaigns: 4 } as const;
  assert.deepEqual(campaignEvents(candidate, { ...candidate, role: "leader" }), [
    { event: "campaign won", fields: { term: 8 } },
  ]);
  assert.deepEqual(campaignEvents(candidate, { ...candidate, role: "follower", leader: 2 }), [
    { event: "campaign ended", fields: { term: 8, leader: 2 } },
  ]);
  assert.deepEqual(
    campaignEvents(candidate, { ...candidate, role: "follower", term: 9, electionBackoff: 1 }),
    [{ event: "campaign lost", fields: { term: 9, backoff: 1 } }],
  );
});

Deno.test("campaign log: nothing to say while nothing changes, nor at the first observation", () => {
  assert.deepEqual(campaignEvents(base, base), []);
  assert.deepEqual(campaignEvents(undefined, { ...base, role: "candidate", campaigns: 9 }), []);
  const leader = { ...base, role: "leader", leader: 1 } as const;
  assert.deepEqual(campaignEvents(leader, { ...leader, term: 8 }), []);
});

Deno.test("campaign log: several campaigns between two observations are counted in one line", () => {
  const now = { ...base, role: "preCandidate", campaigns: 6, electionBackoff: 3 } as const;
  assert.deepEqual(campaignEvents(base, now), [{
    event: "campaign started",
    fields: { term: 8, kind: "pre-vote", backoff: 3, timeoutTicks: 20, campaigns: 3 },
  }]);
});
