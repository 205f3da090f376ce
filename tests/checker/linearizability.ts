/**
 * A linearizability checker for histories of client operations, generic over a model of what a
 * key holds. Histories are split by key first (P-compositionality: a history is linearizable iff
 * each key's sub-history is), and each key is searched separately (see
 * `linearization_search.ts`).
 *
 * @module
 */

import type { Operation } from "./history.ts";
import type { Model } from "./model.ts";
import {
  checkKeyOperations,
  type CheckOptions,
  type KeyCheckResult,
  type LinearizabilityFailure,
  type Verdict,
} from "./linearization_search.ts";

export type { Model, StepResult } from "./model.ts";
export {
  checkKeyOperations,
  type CheckOptions,
  type KeyCheckResult,
  type LinearizabilityFailure,
  type Verdict,
} from "./linearization_search.ts";

/**
 * The verdict for a whole history. `ok` is true only when every key is linearizable.
 *
 * @example
 * ```ts
 * import type { CheckResult } from "./linearizability.ts";
 * const report = (result: CheckResult) =>
 *   result.ok ? "ok" : `${result.verdict} on ${result.key}: ${result.failure?.message ?? ""}`;
 * ```
 */
export interface CheckResult {
  ok: boolean;
  verdict: Verdict;
  /** The key that was not linearizable (or, without a violation, the first `unknown` key). */
  key?: string;
  opsChecked: number;
  keysChecked: number;
  steps: number;
  /** Keys whose search ran out of budget. */
  unknownKeys: string[];
  /** Present iff `verdict` is `violation`. */
  failure?: LinearizabilityFailure;
  /** One result per key checked, in order of first appearance. */
  keys: KeyCheckResult[];
}

/**
 * Checks a history (all keys) against a model of one key. Stops at the first key that is not
 * linearizable; keys whose search exceeds the step budget are reported as `unknown`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { pairOperations } from "./history.ts";
 * import { checkHistory } from "./linearizability.ts";
 * import { registerModel } from "./register_model.ts";
 *
 * const ops = pairOperations([
 *   { process: 1, type: "invoke", f: "write", key: "k1", value: 1, time: 0 },
 *   { process: 1, type: "ok", f: "write", key: "k1", value: 1, time: 10 },
 *   { process: 2, type: "invoke", f: "read", key: "k1", value: null, time: 20 },
 *   { process: 2, type: "ok", f: "read", key: "k1", value: null, time: 30 },
 * ]);
 * const result = checkHistory(ops, registerModel);
 * assert.equal(result.verdict, "violation"); // a stale read after a completed write
 * ```
 */
export function checkHistory<S>(
  ops: readonly Operation[],
  model: Model<S>,
  options: CheckOptions = {},
): CheckResult {
  const byKey = new Map<string, Operation[]>();
  for (const op of ops) {
    const list = byKey.get(op.key);
    if (list) list.push(op);
    else byKey.set(op.key, [op]);
  }
  const keys: KeyCheckResult[] = [];
  for (const [key, keyOps] of byKey) {
    const result = checkKeyOperations(key, keyOps, model, options);
    keys.push(result);
    if (result.verdict === "violation") break;
  }
  const violation = keys.find((result) => result.verdict === "violation");
  const unknownKeys = keys.filter((result) => result.verdict === "unknown").map((r) => r.key);
  const verdict: Verdict = violation
    ? "violation"
    : unknownKeys.length
    ? "unknown"
    : "linearizable";
  return {
    ok: verdict === "linearizable",
    verdict,
    key: violation?.key ?? unknownKeys[0],
    opsChecked: keys.reduce((sum, result) => sum + result.opsChecked, 0),
    keysChecked: keys.length,
    steps: keys.reduce((sum, result) => sum + result.steps, 0),
    unknownKeys,
    failure: violation?.failure,
    keys,
  };
}
