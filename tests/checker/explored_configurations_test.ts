import assert from "node:assert/strict";
import { ExploredConfigurations } from "./explored_configurations.ts";

Deno.test("a configuration is explored once; the state is part of it", () => {
  const explored = new ExploredConfigurations([0, 1, 2], [10, 11, 12], 0);
  explored.linearizeCompleted(1);
  assert.equal(explored.visit("a"), true);
  assert.equal(explored.visit("a"), false);
  assert.equal(explored.visit("b"), true);
  explored.linearizeCompleted(0);
  assert.equal(explored.visit("a"), true, "a different set of linearized operations");
  explored.unlinearizeCompleted(0);
  assert.equal(explored.visit("a"), false, "back to the first configuration");
});

Deno.test("sets of linearized operations are told apart across 32-bit words", () => {
  const n = 100;
  const calls = Array.from({ length: n }, () => 0);
  const returns = Array.from({ length: n }, () => 1);
  const explored = new ExploredConfigurations(calls, returns, 0);
  for (const subset of [[], [0], [31], [32], [0, 31], [33, 64], [99], [0, 1, 2, 99]]) {
    for (const i of subset) explored.linearizeCompleted(i);
    assert.equal(explored.visit("s"), true, `first visit of {${subset}}`);
    assert.equal(explored.visit("s"), false, `second visit of {${subset}}`);
    for (const i of subset) explored.unlinearizeCompleted(i);
  }
});

Deno.test("using fewer unknown-outcome operations subsumes using more", () => {
  const explored = new ExploredConfigurations([0], [10], 40);
  explored.linearizeUnknown(3);
  explored.linearizeUnknown(35);
  assert.equal(explored.visit("s"), true);
  explored.linearizeUnknown(7);
  assert.equal(explored.visit("s"), false, "{3, 7, 35} is subsumed by {3, 35}");
  explored.unlinearizeUnknown(7);
  explored.unlinearizeUnknown(35);
  assert.equal(explored.visit("s"), true, "{3} is not subsumed by {3, 35}");
  explored.unlinearizeUnknown(3);
  explored.linearizeUnknown(35);
  assert.equal(explored.visit("s"), true, "{35} is not subsumed by {3}");
  explored.unlinearizeUnknown(35);
  assert.equal(explored.visit("s"), true, "{} is subsumed by nothing");
  explored.linearizeUnknown(20);
  assert.equal(explored.visit("s"), false, "{} subsumes everything");
});
