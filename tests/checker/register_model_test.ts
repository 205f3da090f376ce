import assert from "node:assert/strict";
import type { JsonValue, Operation, OperationName } from "./history.ts";
import { registerModel, UNOBSERVED_VALUE } from "./register_model.ts";

const op = (f: OperationName, input: JsonValue, output?: JsonValue): Operation => ({
  id: 0,
  process: 1,
  f,
  key: "k",
  input,
  output,
  call: 0,
  ret: output === undefined ? Infinity : 1,
  status: output === undefined ? "info" : "ok",
});

const step = (state: string, operation: Operation) => registerModel.step(state, operation);

Deno.test("read must return the current value; absent reads as null", () => {
  assert.deepEqual(step("null", op("read", null, null)), { ok: true, state: "null" });
  assert.deepEqual(step("null", op("read", null, 1)), { ok: false, state: "null" });
  assert.deepEqual(step("[1,2]", op("read", null, [1, 2])), { ok: true, state: "[1,2]" });
  assert.equal(step('{"a":1,"b":2}', op("read", null, { b: 2, a: 1 })).ok, true);
});

Deno.test("write and delete set the value whatever it was", () => {
  assert.deepEqual(step("5", op("write", "x", "x")), { ok: true, state: '"x"' });
  assert.deepEqual(step("5", op("delete", null, null)), { ok: true, state: "null" });
});

Deno.test("cas: success needs a match, an explicit false needs a mismatch", () => {
  assert.deepEqual(step("1", op("cas", [1, 2], true)), { ok: true, state: "2" });
  assert.deepEqual(step("1", op("cas", [1, 2], [1, 2])), { ok: true, state: "2" });
  assert.deepEqual(step("3", op("cas", [1, 2], true)), { ok: false, state: "3" });
  assert.deepEqual(step("3", op("cas", [1, 2], false)), { ok: true, state: "3" });
  assert.deepEqual(step("1", op("cas", [1, 2], false)), { ok: false, state: "1" });
  assert.deepEqual(step("null", op("cas", [null, 1], true)), { ok: true, state: "1" });
  assert.throws(() => step("1", op("cas", 1, true)), /cas needs \[expected, new\]/);
});

Deno.test("unknown outcomes: a read is inert, a cas may have happened only on a match", () => {
  assert.equal(registerModel.isInert?.(op("read", null)), true);
  assert.equal(registerModel.isInert?.(op("read", null, 1)), false);
  assert.deepEqual(step("1", op("cas", [1, 2])), { ok: true, state: "2" });
  assert.equal(step("3", op("cas", [1, 2])).ok, false);
});

Deno.test("operations the register does not have are an error", () => {
  assert.throws(() => step("null", op("acquire", null, null)), /no operation "acquire"/);
});

Deno.test("specialized to a history, values nobody observes share one key", () => {
  const model = registerModel.specialize!([op("read", null, 1), op("cas", [2, 3], false)]);
  assert.equal(model.key("1"), "1");
  assert.equal(model.key("2"), "2");
  assert.equal(model.key("null"), "null");
  assert.equal(model.key("4"), UNOBSERVED_VALUE);
  assert.equal(model.key('"x"'), UNOBSERVED_VALUE);
  assert.equal(model.describe?.("4"), "4", "reports still show the real value");
});
