/**
 * The checker on histories generated from a simulated atomic register: linearizable by
 * construction, then corrupted to make sure violations are still found at that size.
 */

import assert from "node:assert/strict";
import { type HistoryEvent, pairOperations } from "./history.ts";
import { checkHistory } from "./linearizability.ts";
import { randomRegisterHistory } from "./random_register_history.ts";
import { registerModel } from "./register_model.ts";

const SECONDS = 1000;

Deno.test("performance: 2,000 ops over 5 processes, some of unknown outcome, check fast", () => {
  const events = randomRegisterHistory({
    seed: 2024,
    operations: 2000,
    processes: 5,
    values: 5,
    infoProbability: 0.02,
  });
  const ops = pairOperations(events);
  assert.ok(ops.some((op) => op.status === "info"), "the history has info operations");

  const started = performance.now();
  const result = checkHistory(ops, registerModel);
  const elapsed = performance.now() - started;

  assert.equal(result.verdict, "linearizable", result.failure?.message);
  assert.ok(result.ok);
  assert.equal(result.opsChecked, ops.length);
  assert.ok(elapsed < 10 * SECONDS, `took ${elapsed.toFixed(0)} ms`);
});

Deno.test("random register histories of many shapes are all linearizable", () => {
  for (let seed = 1; seed <= 24; seed++) {
    const events = randomRegisterHistory({
      seed,
      operations: 400,
      processes: 2 + (seed % 7),
      keys: seed % 3 === 0 ? ["a", "b", "c"] : ["k"],
      values: seed % 2 === 0 ? 3 : 1000,
      infoProbability: (seed % 4) * 0.03,
    });
    const result = checkHistory(pairOperations(events), registerModel);
    assert.equal(result.verdict, "linearizable", `seed ${seed}: ${result.failure?.message}`);
  }
});

Deno.test("a corrupted read late in a 2,000-op history is found", () => {
  const events = randomRegisterHistory({
    seed: 11,
    operations: 2000,
    processes: 5,
    values: 1000,
    infoProbability: 0.02,
  });
  const reads = events.filter((event) => event.type === "ok" && event.f === "read");
  const corrupted: HistoryEvent = reads[Math.floor(reads.length * 0.9)];
  const truth = corrupted.value;
  // A stale value: put there by an early acknowledged write, and by no other write.
  const writes = events.filter((e) => e.type === "invoke" && e.f === "write");
  const acknowledged = events.filter((e) => e.type === "ok" && e.f === "write");
  corrupted.value = acknowledged.map((e) => e.value).find((value) =>
    value !== truth && writes.filter((w) => w.value === value).length === 1
  )!;

  const started = performance.now();
  const result = checkHistory(pairOperations(events), registerModel);
  const elapsed = performance.now() - started;

  assert.equal(result.verdict, "violation");
  assert.ok(result.failure!.prefix.length > 1000, "the explanation carries the long prefix");
  assert.ok(elapsed < 10 * SECONDS, `took ${elapsed.toFixed(0)} ms`);
});
