/**
 * Elections that converge whatever the round trip (issue 18): after consecutive failed
 * campaigns a node doubles its election timeout, up to `electionBackoffLimit` times, with the
 * core's seeded randomness, and starts from the base timeout again once it hears of a leader.
 * Pre-vote and check-quorum stay on throughout.
 *
 * The cluster here is tick-driven with a one-way delay on every message (`SlowNetwork`), so
 * that a round trip can be made longer than the election timeout.
 */

import assert from "node:assert/strict";
import { type RaftConfig, withDefaults } from "../../src/raft/config.ts";
import { Raft } from "../../src/raft/raft.ts";
import { newMessage } from "../../src/raft/message.ts";
import { RawNode } from "../../src/raft/raw_node.ts";
import type { Message, NodeId } from "../../src/raft/types.ts";
import { Prng } from "../checker/prng.ts";

const ELECTION_TICKS = 10;
const HEARTBEAT_TICKS = 2;

/** Nodes that tick together; every message arrives `delay` ticks (plus jitter) after it left. */
class SlowNetwork {
  readonly nodes = new Map<NodeId, RawNode>();
  readonly #prng: Prng;
  readonly #inFlight: { at: number; m: Message }[] = [];
  now = 0;

  constructor(
    readonly size: number,
    public delay: number,
    seed: number,
    config: Partial<RaftConfig> = {},
    readonly jitter = 2,
  ) {
    this.#prng = new Prng(seed);
    const voters = Array.from({ length: size }, (_, i) => i + 1);
    for (const id of voters) {
      const cfg = withDefaults({
        id,
        random: () => this.#prng.next(),
        electionTicks: ELECTION_TICKS,
        heartbeatTicks: HEARTBEAT_TICKS,
        ...config,
      });
      this.nodes.set(
        id,
        new RawNode(cfg, {
          hardState: { term: 0, vote: 0, commit: 0 },
          entries: [],
          conf: { voters, learners: [] },
        }),
      );
    }
  }

  /** One tick: deliver what is due, tick every node, send what they say. */
  tick(): void {
    this.now++;
    const due = this.#inFlight.filter((f) => f.at <= this.now);
    for (const f of due) this.#inFlight.splice(this.#inFlight.indexOf(f), 1);
    for (const { m } of due) this.nodes.get(m.to)?.step(m);
    for (const node of this.nodes.values()) node.tick();
    for (const node of this.nodes.values()) {
      while (node.hasReady()) {
        const rd = node.ready();
        for (const m of rd.messages) {
          const at = this.now + this.delay + this.#prng.int(this.jitter + 1);
          this.#inFlight.push({ at, m });
        }
        node.advance(rd);
      }
    }
  }

  /** The leader of the highest term, if one leads. */
  leader(): NodeId | undefined {
    let best: { id: NodeId; term: number } | undefined;
    for (const [id, n] of this.nodes) {
      const s = n.status();
      if (s.role === "leader" && (!best || s.term > best.term)) best = { id, term: s.term };
    }
    return best?.id;
  }

  /** The highest term any node is in. */
  maxTerm(): number {
    return Math.max(...[...this.nodes.values()].map((n) => n.status().term));
  }

  /** Ticks until a leader is followed by every node, at most `limit` ticks; the ticks taken. */
  untilStableLeader(limit: number): number | undefined {
    const start = this.now;
    while (this.now - start < limit) {
      this.tick();
      const leader = this.leader();
      if (leader === undefined) continue;
      const term = this.nodes.get(leader)!.status().term;
      const all = [...this.nodes.values()].every((n) =>
        n.status().leader === leader && n.status().term === term
      );
      if (all) return this.now - start;
    }
    return undefined;
  }
}

// A one-way delay of 12 ticks: a round trip of 24-28 ticks, above even the longest base
// timeout (2 * ELECTION_TICKS = 20), so that without back-off every campaign is overtaken by
// the next one before its votes come back.
const SLOW = 12;

for (const size of [3, 5]) {
  Deno.test(`election back-off: ${size} nodes elect one leader when the round trip exceeds the election timeout`, () => {
    for (let seed = 1; seed <= 10; seed++) {
      const net = new SlowNetwork(size, SLOW, seed);
      // 16x base timeouts are at most 320 ticks; a leader within 1,000 (10 s at 10 ms ticks).
      const took = net.untilStableLeader(1000);
      assert.ok(took !== undefined, `seed ${seed}: no stable leader in 1000 ticks`);
      // And it stays: heartbeats flow every round trip, check-quorum keeps its leader.
      const term = net.maxTerm();
      const leader = net.leader();
      for (let i = 0; i < 1000; i++) net.tick();
      assert.equal(net.maxTerm(), term, `seed ${seed}: the term moved on`);
      assert.equal(net.leader(), leader, `seed ${seed}: leadership changed`);
    }
  });
}

Deno.test("election back-off: without it, the same slow network never settles on a leader", () => {
  // The failure the issue reports (terms climbing with no leader), as a control.
  let settled = 0;
  for (let seed = 1; seed <= 10; seed++) {
    const net = new SlowNetwork(3, SLOW, seed, { electionBackoffLimit: 0 });
    if (net.untilStableLeader(1000) !== undefined) settled++;
  }
  assert.equal(settled, 0);
});

Deno.test("election back-off: a cluster that was stable elects again after its round trip jumps", () => {
  for (let seed = 1; seed <= 10; seed++) {
    const net = new SlowNetwork(3, 1, seed);
    assert.ok(net.untilStableLeader(300) !== undefined, `seed ${seed}: no first leader`);
    net.delay = SLOW; // the WAN link slows down under a running cluster
    for (let i = 0; i < 100; i++) net.tick();
    const took = net.untilStableLeader(1000);
    assert.ok(took !== undefined, `seed ${seed}: no stable leader after the jump`);
    const term = net.maxTerm();
    for (let i = 0; i < 1000; i++) net.tick();
    assert.equal(net.maxTerm(), term, `seed ${seed}: the term moved on after the jump`);
  }
});

Deno.test("election back-off: elections at LAN round trips are as fast as before", () => {
  // Back-off changes nothing while campaigns succeed, and the first one normally does.
  const total = (config: Partial<RaftConfig>) => {
    let sum = 0;
    for (let seed = 1; seed <= 40; seed++) {
      const took = new SlowNetwork(5, 1, seed, config).untilStableLeader(300);
      assert.ok(took !== undefined, `seed ${seed}: no leader`);
      sum += took;
    }
    return sum;
  };
  const withBackoff = total({});
  const without = total({ electionBackoffLimit: 0 });
  assert.ok(withBackoff <= without * 1.15, `${withBackoff} ticks against ${without}`);
  assert.ok(withBackoff / 40 < 3 * ELECTION_TICKS, `${withBackoff / 40} ticks on average`);
});

function lonely(config: Partial<RaftConfig> = {}, seed = 1): Raft {
  const prng = new Prng(seed);
  return new Raft(
    withDefaults({
      id: 1,
      random: () => prng.next(),
      electionTicks: ELECTION_TICKS,
      heartbeatTicks: HEARTBEAT_TICKS,
      ...config,
    }),
    {
      hardState: { term: 0, vote: 0, commit: 0 },
      entries: [],
      conf: { voters: [1, 2, 3], learners: [] },
    },
  );
}

Deno.test("election back-off: each failed campaign doubles the timeout, up to the limit", () => {
  const r = lonely({ electionBackoffLimit: 3 }); // its peers never answer
  let maxTimeout = 0;
  for (let i = 0; i < 5000; i++) {
    r.tick();
    maxTimeout = Math.max(maxTimeout, r.randomizedElectionTimeout);
    assert.ok(r.electionBackoff <= 3);
  }
  assert.equal(r.electionBackoff, 3);
  assert.ok(maxTimeout >= ELECTION_TICKS * 8, `longest timeout ${maxTimeout}`);
  assert.ok(maxTimeout < ELECTION_TICKS * 16, `longest timeout ${maxTimeout}`);
  // Pre-vote stays on: failed pre-votes leave the term alone.
  assert.equal(r.role, "preCandidate");
  assert.equal(r.term, 0);
  assert.ok(r.campaigns > 10);
});

Deno.test("election back-off: hearing from a leader resets the timeout to the base", () => {
  const r = lonely();
  for (let i = 0; i < 2000; i++) r.tick();
  assert.ok(r.electionBackoff > 0);
  r.step(newMessage({ type: "heartbeat", from: 2, to: 1, term: 1 }));
  assert.equal(r.electionBackoff, 0);
  assert.equal(r.lead, 2);
  // The next campaign, once the leader goes quiet, comes within the base timeout range.
  const campaigns = r.campaigns;
  let ticks = 0;
  while (r.campaigns === campaigns) {
    r.tick();
    ticks++;
  }
  assert.ok(ticks >= ELECTION_TICKS && ticks < 2 * ELECTION_TICKS, `after ${ticks} ticks`);
});

Deno.test("election back-off: the limit 0 keeps the timeout in [et, 2et) as before", () => {
  const r = lonely({ electionBackoffLimit: 0 });
  for (let i = 0; i < 2000; i++) {
    r.tick();
    assert.ok(r.randomizedElectionTimeout < 2 * ELECTION_TICKS);
  }
  assert.equal(r.electionBackoff, 0);
});

Deno.test("election back-off: the same seed backs off the same way (the core stays deterministic)", () => {
  const trace = (seed: number) => {
    const r = lonely({}, seed);
    const out: number[] = [];
    for (let i = 0; i < 3000; i++) {
      r.tick();
      out.push(r.randomizedElectionTimeout);
    }
    return out;
  };
  assert.deepEqual(trace(7), trace(7));
  assert.notDeepEqual(trace(7), trace(8));
});

Deno.test("election back-off: withDefaults refuses a limit that is not a small whole number", () => {
  for (const bad of [-1, 1.5, 11]) {
    assert.throws(
      () => withDefaults({ id: 1, random: () => 0, electionBackoffLimit: bad }),
      RangeError,
    );
  }
});

Deno.test("election back-off: a leader elected after backing off checks its quorum that much less often", () => {
  const r = lonely();
  while (r.electionBackoff < 2 || r.role !== "preCandidate") r.tick();
  // Its peers answer at last: the pre-vote, then the vote.
  r.step(newMessage({ type: "preVoteResp", from: 2, to: 1, term: r.term + 1 }));
  assert.equal(r.role, "candidate");
  r.step(newMessage({ type: "voteResp", from: 2, to: 1, term: r.term }));
  assert.equal(r.role, "leader");
  assert.equal(r.electionBackoff, 0, "a leader is known: the back-off is spent");
  assert.equal(r.quorumCheckTicks, 4 * ELECTION_TICKS);
  // No follower answers from now on: the first round passes on the trust a new leader starts
  // with, the second finds no quorum, after 2 rounds of 4 timeouts, not 2 timeouts.
  let ticks = 0;
  while (r.role === "leader") {
    r.tick();
    ticks++;
  }
  assert.equal(ticks, 2 * 4 * ELECTION_TICKS);
});
