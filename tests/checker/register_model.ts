/**
 * The sequential specification of one config key as a register, for the linearizability
 * checker.
 *
 * @module
 */

import type { JsonValue, Operation } from "./history.ts";
import type { Model } from "./model.ts";

/**
 * A register state: the canonical JSON of the current value, `"null"` when the key is absent
 * (so writing `null` and deleting are indistinguishable, as a read cannot tell them apart).
 *
 * @example
 * ```ts
 * import type { RegisterState } from "./register_model.ts";
 * const absent: RegisterState = "null";
 * ```
 */
export type RegisterState = string;

/**
 * The key of every state holding a value that no read returns and no cas expects, in a model
 * specialized to a history: those states are indistinguishable. (Not JSON, so no value's
 * canonical form is equal to it.)
 *
 * @example
 * ```ts
 * import { UNOBSERVED_VALUE } from "./register_model.ts";
 * console.log(UNOBSERVED_VALUE);
 * ```
 */
export const UNOBSERVED_VALUE = "<a value nobody observes>";

/**
 * The register model:
 * - `read`: the output is the value read (`null` if absent);
 * - `write`: sets the input value; `delete` is a write of `null`;
 * - `cas`: input `[expected, new]`; sets `new` iff the value equals `expected`. Clients should
 *   record a failed comparison as `fail` (then it is dropped), but an `ok` with output `false`
 *   is also understood, as "the comparison failed" (which is only legal when the value differs
 *   from `expected`). Any other output (`true`, the echoed `[expected, new]`, …) means success.
 *
 * Values compare as JSON, ignoring the order of object keys.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { pairOperations } from "./history.ts";
 * import { checkHistory } from "./linearizability.ts";
 * import { registerModel } from "./register_model.ts";
 *
 * const ops = pairOperations([
 *   { process: 1, type: "invoke", f: "cas", key: "k", value: [null, 1], time: 0 },
 *   { process: 1, type: "ok", f: "cas", key: "k", value: true, time: 1 },
 *   { process: 2, type: "invoke", f: "read", key: "k", value: null, time: 2 },
 *   { process: 2, type: "ok", f: "read", key: "k", value: 1, time: 3 },
 * ]);
 * assert.ok(checkHistory(ops, registerModel).ok);
 * ```
 */
export const registerModel: Model<RegisterState> = registerModelObserving(undefined);

/**
 * The register model; with `observed` (canonical JSON of the values some operation can observe),
 * states holding any other value share the key {@linkcode UNOBSERVED_VALUE}.
 */
function registerModelObserving(
  observed: ReadonlySet<string> | undefined,
): Model<RegisterState> {
  return {
    init: () => "null",
    step(state, op) {
      switch (op.f) {
        case "read":
          if (op.output === undefined) return { ok: true, state };
          return { ok: canonical(op, "output") === state, state };
        case "write":
          return { ok: true, state: canonical(op, "input") };
        case "delete":
          return { ok: true, state: "null" };
        case "cas": {
          const [expected, replacement] = casInput(op);
          if (op.output === false) return { ok: state !== expected, state };
          if (state !== expected) return { ok: false, state };
          return { ok: true, state: replacement };
        }
        default:
          throw new Error(`the register model has no operation ${JSON.stringify(op.f)}`);
      }
    },
    key: (state) => observed === undefined || observed.has(state) ? state : UNOBSERVED_VALUE,
    describe: (state) => state,
    isInert: (op) => op.f === "read" && op.output === undefined,
    isBlind: (op) => op.f === "write" || op.f === "delete",
    // A value matters only if a read may return it or a cas may compare with it.
    specialize(ops) {
      const seen = new Set(["null"]);
      for (const op of ops) {
        if (op.f === "read" && op.output !== undefined) seen.add(canonical(op, "output"));
        if (op.f === "cas") seen.add(casInput(op)[0]);
      }
      return registerModelObserving(seen);
    },
  };
}

// Canonical forms are computed once per operation: the search steps each operation many times.
const canonicalForms = new WeakMap<Operation, { input?: string; output?: string }>();
const casInputs = new WeakMap<Operation, [string, string]>();

function canonical(op: Operation, field: "input" | "output"): string {
  let forms = canonicalForms.get(op);
  if (forms === undefined) canonicalForms.set(op, forms = {});
  return forms[field] ??= canonicalJson(op[field] ?? null);
}

function casInput(op: Operation): [string, string] {
  let cached = casInputs.get(op);
  if (cached === undefined) {
    if (!Array.isArray(op.input) || op.input.length !== 2) {
      throw new Error(`cas needs [expected, new] as its value, got ${JSON.stringify(op.input)}`);
    }
    cached = [canonicalJson(op.input[0]), canonicalJson(op.input[1])];
    casInputs.set(op, cached);
  }
  return cached;
}

/**
 * JSON with object keys sorted, so that equal values have equal text.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { canonicalJson } from "./register_model.ts";
 * assert.equal(canonicalJson({ b: 1, a: [true] }), '{"a":[true],"b":1}');
 * ```
 */
export function canonicalJson(value: JsonValue): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const fields = Object.keys(value).sort().map((name) =>
    `${JSON.stringify(name)}:${canonicalJson(value[name])}`
  );
  return `{${fields.join(",")}}`;
}
