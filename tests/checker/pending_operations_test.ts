import assert from "node:assert/strict";
import { PendingOperations } from "./pending_operations.ts";

Deno.test("choices are the calls before the earliest pending return", () => {
  // 0: [0, 10]   1: [5, 30]   2: [12, 20]   3: [25, 40]
  const pending = new PendingOperations([0, 5, 12, 25], [10, 30, 20, 40]);
  assert.deepEqual(pending.nextChoices(), { candidates: [0, 1], firstToReturn: 0 });
  pending.remove(0);
  assert.deepEqual(pending.nextChoices(), { candidates: [1, 2], firstToReturn: 2 });
  pending.remove(2);
  assert.deepEqual(pending.nextChoices(), { candidates: [1, 3], firstToReturn: 1 });
  pending.remove(1);
  pending.remove(3);
  assert.ok(pending.isEmpty());
  // Restoring in reverse order brings back every earlier state.
  pending.restore(3);
  pending.restore(1);
  assert.deepEqual(pending.nextChoices(), { candidates: [1, 3], firstToReturn: 1 });
  pending.restore(2);
  pending.restore(0);
  assert.deepEqual(pending.nextChoices(), { candidates: [0, 1], firstToReturn: 0 });
});

Deno.test("a call at the same instant as a return overlaps it", () => {
  const pending = new PendingOperations([0, 10], [10, 20]);
  assert.deepEqual(pending.nextChoices(), { candidates: [0, 1], firstToReturn: 0 });
});
