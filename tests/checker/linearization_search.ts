/**
 * The search for a linearization of one key's operations: Wing and Gong's depth-first search
 * with Lowe's improvements (just-in-time linearization: only operations called before the
 * earliest pending return may go next; memoization of explored configurations), as in
 * Porcupine, plus pruning for operations of unknown outcome.
 *
 * @module
 */

import { describeOperation, type Operation } from "./history.ts";
import type { Model, StepResult } from "./model.ts";
import { ExploredConfigurations } from "./explored_configurations.ts";
import { PendingOperations } from "./pending_operations.ts";
import { UnknownOutcomes } from "./unknown_outcomes.ts";

/**
 * `violation` is a proof that no linearization exists; `unknown` means the step budget ran out.
 *
 * @example
 * ```ts
 * import type { Verdict } from "./linearization_search.ts";
 * const verdict: Verdict = "linearizable";
 * ```
 */
export type Verdict = "linearizable" | "violation" | "unknown";

/**
 * Why a key's history is not linearizable, taken at the deepest point the search reached.
 *
 * @example
 * ```ts
 * import type { LinearizabilityFailure } from "./linearization_search.ts";
 * const explain = (failure: LinearizabilityFailure) => failure.message;
 * ```
 */
export interface LinearizabilityFailure {
  /** The longest linearizable prefix found, in linearization order. */
  prefix: Operation[];
  /** The state after `prefix`, as `Model.describe` (or `Model.key`) puts it. */
  stateAfterPrefix: string;
  /** The completed operation returning first among those not in `prefix`: it had to go next. */
  blocking: Operation;
  /** The operations that could have gone next and were illegal after `prefix`. */
  illegal: Operation[];
  /** All of the above in words. */
  message: string;
}

/**
 * The verdict for one key.
 *
 * @example
 * ```ts
 * import type { KeyCheckResult } from "./linearization_search.ts";
 * const passed = (result: KeyCheckResult) => result.verdict === "linearizable";
 * ```
 */
export interface KeyCheckResult {
  key: string;
  verdict: Verdict;
  /** Operations of this key given to the checker (including inert ones it skipped). */
  opsChecked: number;
  /** Model steps the search took. */
  steps: number;
  /** Present iff `verdict` is `violation`. */
  failure?: LinearizabilityFailure;
}

/**
 * Options of a check.
 *
 * @example
 * ```ts
 * import type { CheckOptions } from "./linearization_search.ts";
 * const options: CheckOptions = { stepBudget: 100_000 };
 * ```
 */
export interface CheckOptions {
  /**
   * Model steps allowed per key before the verdict becomes `unknown`. Default 10,000,000: about
   * 1-3 s and up to a few hundred MB for the register model.
   */
  stepBudget?: number;
}

const DEFAULT_STEP_BUDGET = 10_000_000;

/** One level of the depth-first search: a configuration and the choices tried from it. */
interface Frame<S> {
  state: S;
  /** The candidate linearized to get here; -1 at the root. */
  via: number;
  /** The frame `via` was linearized from; with its own parents, the path from the root. */
  parent?: Frame<S>;
  /** Operations linearized on the path from the root. */
  depth: number;
  /** The completed operation returning first among those not linearized. */
  firstToReturn: number;
  /** Shared by a frame and the frames after unknown-outcome operations that follow it. */
  candidates: number[];
  /** `results[i]`: the step of `candidates[i]` from `state`, once computed. */
  results: (StepResult<S> | undefined)[];
  tried: number;
  /** Blind unknown-outcome writes worth trying here, computed when first needed. */
  usefulBlindWrites?: Set<number>;
}

/**
 * Checks the operations of a single key (the caller has already partitioned by key).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkKeyOperations } from "./linearization_search.ts";
 * import { registerModel } from "./register_model.ts";
 *
 * const write = { process: 1, f: "write" as const, key: "k", input: 1, output: 1 };
 * const read = { process: 2, f: "read" as const, key: "k", input: null, output: 1 };
 * const result = checkKeyOperations("k", [
 *   { ...write, id: 0, call: 0, ret: 10, status: "ok" },
 *   { ...read, id: 1, call: 5, ret: 8, status: "ok" },
 * ], registerModel);
 * assert.equal(result.verdict, "linearizable");
 * ```
 */
export function checkKeyOperations<S>(
  key: string,
  keyOps: readonly Operation[],
  generalModel: Model<S>,
  options: CheckOptions = {},
): KeyCheckResult {
  const budget = options.stepBudget ?? DEFAULT_STEP_BUDGET;
  const relevant = keyOps.filter((op) => !generalModel.isInert?.(op));
  const model = generalModel.specialize?.(relevant) ?? generalModel;
  const byCall = (a: Operation, b: Operation) => a.call - b.call;
  const completed = relevant.filter((op) => op.status === "ok").sort(byCall);
  const unknown = relevant.filter((op) => op.status === "info").sort(byCall);
  const n = completed.length;
  const operation = (candidate: number) =>
    candidate < n ? completed[candidate] : unknown[candidate - n];

  let steps = 0;
  const step = (state: S, candidate: number): StepResult<S> => {
    steps++;
    return model.step(state, operation(candidate));
  };
  const stepFrom = (frame: Frame<S>, index: number): StepResult<S> =>
    frame.results[index] ??= step(frame.state, frame.candidates[index]);

  const calls = completed.map((op) => op.call);
  const returns = completed.map((op) => op.ret);
  const pending = new PendingOperations(calls, returns);
  const explored = new ExploredConfigurations(calls, returns, unknown.length);
  const outcomes = new UnknownOutcomes(model, completed, unknown, step);
  const linearize = (candidate: number) => {
    if (candidate < n) {
      explored.linearizeCompleted(candidate);
      pending.remove(candidate);
    } else {
      explored.linearizeUnknown(candidate - n);
      outcomes.linearized[candidate - n] = 1;
    }
  };
  const undo = (candidate: number) => {
    if (candidate < n) {
      pending.restore(candidate);
      explored.unlinearizeCompleted(candidate);
    } else {
      explored.unlinearizeUnknown(candidate - n);
      outcomes.linearized[candidate - n] = 0;
    }
  };

  // What may go next: the operations called before the earliest pending return (that one must
  // be linearized by then). Completed ones first, in call order (measured: fewer steps than
  // trying those returning soonest first); unknown-outcome ones last, as they are only needed to
  // explain what others saw.
  const frameAfterCompleted = (state: S, via: number, parent?: Frame<S>): Frame<S> => {
    const { candidates, firstToReturn } = pending.nextChoices();
    const deadline = returns[firstToReturn];
    for (let i = 0; i < unknown.length && unknown[i].call <= deadline; i++) {
      if (outcomes.linearized[i] === 0) candidates.push(n + i);
    }
    const depth = parent ? parent.depth + 1 : 0;
    return { state, via, parent, depth, firstToReturn, candidates, results: [], tried: 0 };
  };
  // Linearizing an unknown-outcome operation changes neither what is pending nor the deadline.
  const frameAfterUnknown = (state: S, via: number, parent: Frame<S>): Frame<S> => ({
    state,
    via,
    parent,
    depth: parent.depth + 1,
    firstToReturn: parent.firstToReturn,
    candidates: parent.candidates,
    results: [],
    tried: 0,
  });
  const isAfterUnknown = (frame: Frame<S>) => frame.via >= n;

  // Right after an unknown-outcome operation, only an operation that depends on it is tried. If
  // a linearization has it followed by one that absorbs it (same state whether it ran or not)
  // or commutes with it, dropping it or moving it later (it never returned, so it may go
  // arbitrarily late) gives another. Searching only this normal form tames the explosion of
  // places each such operation could go.
  const dependsOnUnknown = (frame: Frame<S>, index: number, withIt: StepResult<S>): boolean => {
    if (!isAfterUnknown(frame)) return true;
    const without = stepFrom(frame.parent!, index);
    if (!without.ok) return true;
    const withItKey = model.key(withIt.state);
    if (model.key(without.state) === withItKey) return false;
    const swapped = step(without.state, frame.via);
    return !(swapped.ok && model.key(swapped.state) === withItKey);
  };
  const worthTrying = (frame: Frame<S>, candidate: number): boolean => {
    if (candidate < n) return true;
    if (outcomes.isUnavailable(candidate - n)) return false;
    if (!outcomes.isBlind(candidate)) return true;
    if (isAfterUnknown(frame)) return false;
    frame.usefulBlindWrites ??= outcomes.usefulBlindWrites(
      frame.candidates,
      (index) => stepFrom(frame, index),
    );
    return frame.usefulBlindWrites.has(candidate - n);
  };

  // The deepest dead end seen: the end of the longest linearizable prefix.
  let deepestDeadEnd: Frame<S> | undefined;
  const result = (verdict: Verdict): KeyCheckResult => ({
    key,
    verdict,
    opsChecked: keyOps.length,
    steps,
    ...(verdict === "violation"
      ? { failure: explain(model, key, relevant.length, deepestDeadEnd!, operation) }
      : {}),
  });
  // Every unknown-outcome operation may be left out: with nothing completed, nothing to prove.
  if (n === 0) return result("linearizable");

  const frames: Frame<S>[] = [frameAfterCompleted(model.init(), -1)];
  while (frames.length > 0) {
    const frame = frames[frames.length - 1];
    if (frame.tried === frame.candidates.length) {
      // (After an unknown-outcome operation the choices are restricted, which would mislead.)
      if (!isAfterUnknown(frame) && frame.depth > (deepestDeadEnd?.depth ?? -1)) {
        deepestDeadEnd = frame;
      }
      frames.pop();
      if (frame.via >= 0) undo(frame.via);
      continue;
    }
    const index = frame.tried++;
    const candidate = frame.candidates[index];
    if (!worthTrying(frame, candidate)) continue;
    if (steps >= budget) return result("unknown");
    const stepped = stepFrom(frame, index);
    if (!stepped.ok || !dependsOnUnknown(frame, index, stepped)) continue;
    if (candidate >= n) {
      // An unknown-outcome operation that changes nothing here cannot help what follows.
      if (model.key(stepped.state) === model.key(frame.state)) continue;
      // Choices after it are restricted, so that configuration is not memoized.
      linearize(candidate);
      frames.push(frameAfterUnknown(stepped.state, candidate, frame));
      continue;
    }
    linearize(candidate);
    if (pending.isEmpty()) return result("linearizable");
    if (!explored.visit(model.key(stepped.state))) {
      undo(candidate);
      continue;
    }
    frames.push(frameAfterCompleted(stepped.state, candidate, frame));
  }
  return result("violation");
}

function explain<S>(
  model: Model<S>,
  key: string,
  opCount: number,
  frame: Frame<S>,
  operation: (candidate: number) => Operation,
): LinearizabilityFailure {
  const prefix: Operation[] = [];
  for (let f: Frame<S> | undefined = frame; f?.parent; f = f.parent) prefix.push(operation(f.via));
  prefix.reverse();
  const stateAfterPrefix = model.describe?.(frame.state) ?? model.key(frame.state);
  const blocking = operation(frame.firstToReturn);
  const illegal = frame.candidates
    .filter((_, i) => frame.results[i]?.ok === false)
    .map(operation);
  const listed = illegal.map((op) => `  ${describeOperation(op)}`).join("\n");
  return {
    prefix,
    stateAfterPrefix,
    blocking,
    illegal,
    message: `key ${JSON.stringify(key)} is not linearizable: after the longest linearizable ` +
      `prefix (${prefix.length} of ${opCount} ops) the state is ${stateAfterPrefix}, and ` +
      `${describeOperation(blocking)} must take effect before it returns, but cannot. ` +
      `Operations that could go next and are illegal there:\n${listed}`,
  };
}
