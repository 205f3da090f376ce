/**
 * Hand-written register histories with a known verdict. Times are small integers; an operation
 * written `[call, ret]` runs over that interval, and one without `ret` never completes.
 */

import assert from "node:assert/strict";
import {
  type HistoryEvent,
  type JsonValue,
  type Operation,
  type OperationName,
  pairOperations,
} from "./history.ts";
import { checkHistory, type CheckResult } from "./linearizability.ts";
import { registerModel } from "./register_model.ts";

interface Spec {
  process: number;
  f: OperationName;
  /** The invoke's value (for cas `[expected, new]`). */
  value?: JsonValue;
  /** The completion's value (for a read, the value read). */
  output?: JsonValue;
  call: number;
  /** Absent: the operation never completes. */
  ret?: number;
  /** How it completed; default `ok`. */
  type?: "ok" | "fail" | "info";
  key?: string;
}

const write = (process: number, value: JsonValue, call: number, ret?: number): Spec => ({
  process,
  f: "write",
  value,
  output: value,
  call,
  ret,
});
const read = (process: number, output: JsonValue, call: number, ret: number): Spec => ({
  process,
  f: "read",
  output,
  call,
  ret,
});
const cas = (
  process: number,
  expected: JsonValue,
  replacement: JsonValue,
  call: number,
  ret: number,
  output: JsonValue = true,
): Spec => ({ process, f: "cas", value: [expected, replacement], output, call, ret });

function check(...specs: Spec[]): CheckResult {
  return checkHistory(operations(specs), registerModel);
}

function operations(specs: Spec[]): Operation[] {
  const events: HistoryEvent[] = [];
  for (const spec of specs) {
    const { process, f, call, ret } = spec;
    const key = spec.key ?? "k";
    events.push({ process, type: "invoke", f, key, value: spec.value ?? null, time: call });
    if (ret === undefined) continue;
    const type = spec.type ?? "ok";
    events.push({ process, type, f, key, value: spec.output ?? null, time: ret });
  }
  // A stable sort by time keeps each process's invoke before its completion.
  events.sort((a, b) => a.time - b.time);
  return pairOperations(events);
}

function assertLinearizable(result: CheckResult): void {
  assert.equal(result.verdict, "linearizable", result.failure?.message);
  assert.equal(result.ok, true);
}

function assertViolation(result: CheckResult): void {
  assert.equal(result.verdict, "violation");
  assert.equal(result.ok, false);
  assert.ok(result.failure, "a violation comes with an explanation");
}

Deno.test("linearizable: a sequential write then read", () => {
  assertLinearizable(check(write(1, 1, 0, 10), read(2, 1, 20, 30)));
});

Deno.test("linearizable: a read concurrent with a write sees the old or the new value", () => {
  assertLinearizable(check(write(1, 1, 0, 10), read(2, null, 2, 5)));
  assertLinearizable(check(write(1, 1, 0, 10), read(2, 1, 2, 5)));
});

Deno.test("linearizable: overlapping writes take effect in either order", () => {
  assertLinearizable(check(write(1, 1, 0, 10), write(2, 2, 5, 15), read(3, 1, 20, 25)));
  assertLinearizable(check(write(1, 1, 0, 10), write(2, 2, 5, 15), read(3, 2, 20, 25)));
});

Deno.test("linearizable: reads during a write see the old value, then the new", () => {
  assertLinearizable(check(write(1, 1, 0, 100), read(2, null, 10, 20), read(3, 1, 30, 40)));
});

Deno.test("linearizable: an info write that took effect", () => {
  const timedOut: Spec = { ...write(1, 1, 0, 5), type: "info" };
  assertLinearizable(check(timedOut, read(2, 1, 10, 15)));
});

Deno.test("linearizable: an info write that never took effect", () => {
  const timedOut: Spec = { ...write(1, 1, 0, 5), type: "info" };
  assertLinearizable(check(timedOut, read(2, null, 10, 15)));
});

Deno.test("linearizable: an info write that took effect long after its timeout", () => {
  const timedOut: Spec = { ...write(1, 1, 0, 5), type: "info" };
  assertLinearizable(check(timedOut, read(2, null, 10, 15), read(2, 1, 20, 25)));
});

Deno.test("linearizable: an invoke never completed counts as outcome unknown", () => {
  assertLinearizable(check(write(1, 1, 0), read(2, null, 10, 15), read(2, 1, 20, 25)));
});

Deno.test("linearizable: a failed cas is dropped", () => {
  const failed: Spec = { ...cas(2, 5, 6, 20, 30), type: "fail" };
  assertLinearizable(check(write(1, 1, 0, 10), failed, read(3, 1, 40, 50)));
});

Deno.test("linearizable: cas results, explicit or echoed", () => {
  assertLinearizable(check(write(1, 1, 0, 10), cas(2, 1, 2, 20, 30), read(3, 2, 40, 50)));
  assertLinearizable(check(write(1, 1, 0, 10), cas(2, 1, 2, 20, 30, [1, 2]), read(3, 2, 40, 50)));
  assertLinearizable(check(write(1, 1, 0, 10), cas(2, 5, 2, 20, 30, false), read(3, 1, 40, 50)));
  assertLinearizable(check(cas(1, null, 1, 0, 10), read(2, 1, 20, 30)));
});

Deno.test("linearizable: delete leaves the key absent", () => {
  const deleted: Spec = { process: 2, f: "delete", call: 20, ret: 30 };
  assertLinearizable(check(write(1, 1, 0, 10), deleted, read(3, null, 40, 50)));
});

Deno.test("linearizable: values compare as JSON, whatever the order of object keys", () => {
  assertLinearizable(check(write(1, { a: 1, b: [2] }, 0, 10), read(2, { b: [2], a: 1 }, 20, 30)));
});

Deno.test("linearizable: a return and a call at the same instant count as overlapping", () => {
  assertLinearizable(check(write(1, 1, 0, 10), read(2, null, 10, 20)));
});

Deno.test("violation: a stale read after a completed write, with an explanation", () => {
  const result = check(write(1, 1, 0, 10), read(2, null, 20, 30));
  assertViolation(result);
  assert.equal(result.key, "k");
  const failure = result.failure!;
  assert.deepEqual(failure.prefix.map((op) => op.f), ["write"]);
  assert.equal(failure.stateAfterPrefix, "1");
  assert.equal(failure.blocking.f, "read");
  assert.equal(failure.blocking.output, null);
  assert.deepEqual(failure.illegal.map((op) => op.f), ["read"]);
  assert.match(failure.message, /process 2 read k null -> null \[20, 30\]/);
  assert.match(failure.message, /the state is 1/);
});

Deno.test("violation: a read of a value never written", () => {
  assertViolation(check(write(1, 1, 0, 10), read(2, 7, 5, 30)));
});

Deno.test("violation: a lost acknowledged write", () => {
  assertViolation(check(write(1, 1, 0, 10), write(2, 2, 20, 30), read(3, 1, 40, 50)));
});

Deno.test("violation: reads going back in time during a write", () => {
  assertViolation(check(write(1, 1, 0, 100), read(2, 1, 10, 20), read(3, null, 30, 40)));
});

Deno.test("violation: a write lost after a delete", () => {
  const deleted: Spec = { process: 2, f: "delete", call: 20, ret: 30 };
  assertViolation(check(write(1, 1, 0, 10), deleted, read(3, 1, 40, 50)));
});

Deno.test("violation: two concurrent cas from the same value both succeed", () => {
  assertViolation(check(write(1, 0, 0, 10), cas(2, 0, 1, 20, 30), cas(3, 0, 2, 20, 30)));
});

Deno.test("violation: a cas succeeds though the value differed", () => {
  assertViolation(check(write(1, 5, 0, 10), cas(2, 3, 4, 20, 30)));
});

Deno.test("violation: a cas reports a failed comparison though the value matched", () => {
  assertViolation(check(write(1, 3, 0, 10), cas(2, 3, 4, 20, 30, false)));
});

Deno.test("violation: a read after a successful cas sees the old value", () => {
  assertViolation(check(write(1, 1, 0, 10), cas(2, 1, 2, 20, 30), read(3, 1, 40, 50)));
});

Deno.test("violation: an info write cannot explain a read that returned before its call", () => {
  const timedOut: Spec = { ...write(1, 1, 20, 25), type: "info" };
  assertViolation(check(read(2, 1, 0, 10), timedOut));
});

Deno.test("violation: an info write takes effect at most once", () => {
  const timedOut: Spec = { ...write(1, 1, 0, 5), type: "info" };
  assertLinearizable(check(timedOut, write(2, 2, 10, 20), read(3, 1, 30, 40)));
  assertViolation(
    check(
      timedOut,
      write(2, 2, 10, 20),
      read(3, 1, 30, 40),
      write(2, 2, 50, 60),
      read(3, 1, 70, 80),
    ),
  );
});

Deno.test("keys are checked separately and the failing one is named", () => {
  const result = check(
    { ...write(1, 1, 0, 10), key: "a" },
    { ...read(2, 1, 20, 30), key: "a" },
    { ...write(3, 1, 0, 10), key: "b" },
    { ...read(4, null, 20, 30), key: "b" },
  );
  assertViolation(result);
  assert.equal(result.key, "b");
  assert.equal(result.keysChecked, 2);
  assert.deepEqual(result.keys.map((k) => [k.key, k.verdict]), [
    ["a", "linearizable"],
    ["b", "violation"],
  ]);
});

Deno.test("a search over its step budget is reported as unknown, not as a verdict", () => {
  const ops = operations([write(1, 1, 0, 10), write(2, 2, 0, 10), read(3, 2, 20, 30)]);
  const result = checkHistory(ops, registerModel, { stepBudget: 2 });
  assert.equal(result.verdict, "unknown");
  assert.equal(result.ok, false);
  assert.deepEqual(result.unknownKeys, ["k"]);
  assert.equal(result.failure, undefined);
});
