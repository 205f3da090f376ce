/**
 * Differential test: on small random histories, the checker's verdict must equal that of a
 * brute-force search over every order of the operations (and every subset of the operations of
 * unknown outcome). This is what keeps the checker's prunings honest.
 */

import assert from "node:assert/strict";
import {
  describeOperation,
  type JsonValue,
  type Operation,
  type OperationName,
} from "./history.ts";
import { checkKeyOperations } from "./linearizability.ts";
import type { Model } from "./model.ts";
import { Prng } from "./prng.ts";
import { pairOperations } from "./history.ts";
import { randomRegisterHistory } from "./random_register_history.ts";
import { registerModel } from "./register_model.ts";

/** Is there an order of all completed operations and some unknown-outcome ones that is legal? */
function bruteForceLinearizable<S>(ops: readonly Operation[], model: Model<S>): boolean {
  const placed = new Set<Operation>();
  const completed = ops.filter((op) => op.status === "ok");
  const search = (state: S): boolean => {
    if (completed.every((op) => placed.has(op))) return true;
    for (const op of ops) {
      if (placed.has(op)) continue;
      // op may go next only if no unplaced completed operation returned before op was called.
      if (completed.some((other) => !placed.has(other) && other.ret < op.call)) continue;
      const stepped = model.step(state, op);
      if (!stepped.ok) continue;
      placed.add(op);
      if (search(stepped.state)) return true;
      placed.delete(op);
    }
    return false;
  };
  return search(model.init());
}

/** Operations with random overlaps and random (mostly wrong) outputs: many are not linearizable. */
function arbitraryOperations(prng: Prng, count: number): Operation[] {
  const values: JsonValue[] = [null, 1, 2];
  const ops: Operation[] = [];
  for (let id = 0; id < count; id++) {
    const f: OperationName = prng.pick(["read", "read", "write", "cas", "delete"]);
    const call = prng.int(20);
    const unknown = f !== "read" && prng.chance(0.3);
    const input = f === "write"
      ? prng.pick(values)
      : f === "cas"
      ? [prng.pick(values), prng.pick(values)]
      : null;
    const output = unknown
      ? undefined
      : f === "read"
      ? prng.pick(values)
      : f === "cas"
      ? prng.pick([true, false])
      : input;
    ops.push({
      id,
      process: id,
      f,
      key: "k",
      input,
      output,
      call,
      ret: unknown ? Infinity : call + prng.int(8),
      status: unknown ? "info" : "ok",
    });
  }
  return ops;
}

function assertAgrees(ops: Operation[], label: string): boolean {
  const expected = bruteForceLinearizable(ops, registerModel);
  const result = checkKeyOperations("k", ops, registerModel);
  const listing = ops.map(describeOperation).join("\n");
  assert.equal(
    result.verdict,
    expected ? "linearizable" : "violation",
    `${label}: checker says ${result.verdict}, brute force says ${expected}\n${listing}`,
  );
  return expected;
}

Deno.test("checker agrees with brute force on arbitrary small histories", () => {
  const prng = new Prng(20240611);
  let linearizable = 0;
  const runs = 20_000;
  for (let run = 0; run < runs; run++) {
    const ops = arbitraryOperations(prng, 3 + prng.int(9));
    if (assertAgrees(ops, `run ${run}`)) linearizable++;
  }
  // Both verdicts must be well represented, or the test proves little.
  assert.ok(linearizable > runs * 0.1 && linearizable < runs * 0.9, `${linearizable} of ${runs}`);
});

Deno.test("checker agrees with brute force on small register histories, some corrupted", () => {
  const prng = new Prng(7);
  let linearizable = 0;
  const runs = 2000;
  for (let run = 0; run < runs; run++) {
    const events = randomRegisterHistory({
      seed: prng.nextUint32(),
      operations: 4 + prng.int(9),
      processes: 2 + prng.int(3),
      values: 2,
      infoProbability: 0.3,
    });
    const ops = pairOperations(events);
    const reads = ops.filter((op) => op.f === "read" && op.status === "ok");
    if (reads.length > 0 && prng.chance(0.5)) prng.pick(reads).output = prng.pick([null, 0, 1]);
    if (assertAgrees(ops, `run ${run}`)) linearizable++;
  }
  assert.ok(linearizable > runs * 0.1 && linearizable < runs * 0.95, `${linearizable} of ${runs}`);
});
