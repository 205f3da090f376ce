/**
 * The simulator in the test suite: hundreds of seeds of faulty runs with every safety property
 * checked after every step and the client history checked for linearizability, and proof that
 * each check fires when the core is broken on purpose.
 */

import assert from "node:assert/strict";
import type { UnsafeBugs } from "../../src/raft/config.ts";
import { type SimReport, Simulation } from "./simulation.ts";

const SEEDS = 600;

function replay(seed: number, nodes: number, bug?: string): string {
  return `deno task sim --seed ${seed} --nodes ${nodes}${bug ? ` --bug ${bug}` : ""}`;
}

for (const nodes of [3, 5]) {
  Deno.test(`sim: ${SEEDS / 2} seeds of ${nodes} nodes under faults stay safe, linearizable and live`, () => {
    let ops = 0;
    let elections = 0;
    for (let seed = 1; seed <= SEEDS / 2; seed++) {
      const r = new Simulation({ seed, nodes, steps: 4000 }).run();
      assert.equal(r.violation, undefined, `${r.violation}\nreplay: ${replay(seed, nodes)}`);
      assert.ok(r.live, `no progress after healing\nreplay: ${replay(seed, nodes)}`);
      assert.equal(r.linearizability?.verdict, "linearizable", `replay: ${replay(seed, nodes)}`);
      ops += r.ops;
      elections += r.elections;
    }
    // The runs must have done real work: many operations and many elections.
    assert.ok(ops > 30 * SEEDS / 2, `only ${ops} operations`);
    assert.ok(elections > 2 * SEEDS / 2, `only ${elections} elections`);
  });
}

Deno.test("sim: a seed replays exactly", () => {
  const a = new Simulation({ seed: 77, nodes: 5 }).run();
  const b = new Simulation({ seed: 77, nodes: 5 }).run();
  assert.deepEqual(
    { ...a, linearizability: a.linearizability?.verdict },
    { ...b, linearizability: b.linearizability?.verdict },
  );
});

/** Runs seeds until the bug is caught; returns the first report that caught it. */
function hunt(unsafe: UnsafeBugs, maxSeeds: number): SimReport | undefined {
  for (let seed = 1; seed <= maxSeeds; seed++) {
    const r = new Simulation({ seed, nodes: seed % 2 ? 3 : 5, unsafe }).run();
    if (r.violation) return r;
  }
  return undefined;
}

const BUGS: [keyof UnsafeBugs, RegExp, number][] = [
  ["voteTwice", /election safety|log matching|state machine safety/, 20],
  ["skipUpToDateCheck", /leader completeness|state machine safety/, 20],
  ["skipPrevLogCheck", /log matching|state machine safety/, 60],
  ["leaderAcceptsStaleAppend", /leader append-only|core invariant/, 400],
];

for (const [bug, property, maxSeeds] of BUGS) {
  Deno.test(`sim: the checks catch the deliberate bug ${bug}`, () => {
    const r = hunt({ [bug]: true }, maxSeeds);
    assert.ok(r, `${bug} went unnoticed for ${maxSeeds} seeds`);
    assert.match(r.property ?? "", property, r.violation);
  });
}
// commitOldTerm (figure 8) needs a precise interleaving that random runs rarely hit; it is
// scripted in tests/raft/figure8_test.ts against the same checker.

// Seeds that once failed, replayed forever. 4604: a candidate elected late in term 11 by
// delayed votes, after term 12 had committed entries, was wrongly flagged by the leader
// completeness check (which now only demands entries committed in earlier terms).
for (const seed of [4604]) {
  Deno.test(`sim: regression seed ${seed}`, () => {
    const nodes = seed % 2 === 0 ? 5 : 3;
    const r = new Simulation({ seed, nodes }).run();
    assert.equal(r.violation, undefined, `${r.violation}\nreplay: ${replay(seed, nodes)}`);
    assert.ok(r.live);
  });
}
