/**
 * Bookkeeping for operations of unknown outcome (`info`) in a linearizability search. Such an
 * operation never returned, so it may be linearized anywhere after its call, or not at all; done
 * naively, that multiplies the search by every place each one could go.
 *
 * @module
 */

import type { Operation } from "./history.ts";
import type { Model, StepResult } from "./model.ts";

/**
 * Which unknown-outcome operations are linearized, and which are worth trying next.
 *
 * Candidates are numbered as in the search: completed operations `0..n-1`, then unknown-outcome
 * operation `i` as `n + i`. Three prunings, each keeping at least one linearization if any
 * exists:
 * - twins (equal `f` and `input`, or blind writes leaving equal states) are interchangeable once
 *   both have been called, so only the earliest called one not yet linearized is tried;
 * - a blind write (see `Model.isBlind`) is only tried where some candidate depends on its
 *   result: one illegal in the current state but legal after it, or one whose effect differs
 *   after it. Since a blind write's resulting state is fixed, which candidates are legal after
 *   it is computed once per pair, not once per place in the search;
 * - right after an unknown-outcome operation, a blind write is never tried (it would erase it).
 *
 * @example
 * ```ts
 * import { UnknownOutcomes } from "./unknown_outcomes.ts";
 * import { registerModel } from "./register_model.ts";
 *
 * const unknown = [{
 *   id: 0, process: 1, f: "write" as const, key: "k", input: 1, output: undefined,
 *   call: 0, ret: Infinity, status: "info" as const,
 * }];
 * const outcomes = new UnknownOutcomes(registerModel, [], unknown, (state, candidate) =>
 *   registerModel.step(state, unknown[candidate]));
 * outcomes.isBlind(0); // true
 * ```
 */
export class UnknownOutcomes<S> {
  /** `linearized[i]` is 1 while unknown-outcome operation `i` is linearized. */
  readonly linearized: Uint8Array;
  readonly #model: Model<S>;
  readonly #completed: readonly Operation[];
  readonly #unknown: readonly Operation[];
  readonly #step: (state: S, candidate: number) => StepResult<S>;
  readonly #earlierTwin: Int32Array;
  readonly #blind: Uint8Array;
  /** Per unknown-outcome blind write: its resulting state. */
  readonly #afterBlind: (S | undefined)[];
  /** Per non-blind candidate, lazily: the blind writes after which it is legal. */
  readonly #enablers: ({ writes: number[]; changesState: boolean[] } | undefined)[];

  /**
   * Indexes `unknown` (in call order) against `completed` (in call order); `step` applies a
   * candidate to a state (and counts it against the search's budget).
   *
   * @example
   * ```ts
   * import { UnknownOutcomes } from "./unknown_outcomes.ts";
   * import { registerModel } from "./register_model.ts";
   * const outcomes = new UnknownOutcomes(registerModel, [], [], () => ({ ok: false, state: "" }));
   * ```
   */
  constructor(
    model: Model<S>,
    completed: readonly Operation[],
    unknown: readonly Operation[],
    step: (state: S, candidate: number) => StepResult<S>,
  ) {
    this.#model = model;
    this.#completed = completed;
    this.#unknown = unknown;
    this.#step = step;
    this.linearized = new Uint8Array(unknown.length);
    const all = [...completed, ...unknown];
    this.#blind = Uint8Array.from(all, (op) => (model.isBlind?.(op) ? 1 : 0));
    const n = completed.length;
    this.#afterBlind = unknown.map((_, i) =>
      this.#blind[n + i] === 1 ? step(model.init(), n + i).state : undefined
    );
    // A blind write is defined by the state it leaves; anything else by what it is.
    this.#earlierTwin = new Int32Array(unknown.length).fill(-1);
    const latestOfClass = new Map<string, number>();
    unknown.forEach((op, i) => {
      const after = this.#afterBlind[i];
      const twinClass = after === undefined
        ? JSON.stringify([op.f, op.input])
        : `blind ${model.key(after)}`;
      this.#earlierTwin[i] = latestOfClass.get(twinClass) ?? -1;
      latestOfClass.set(twinClass, i);
    });
    this.#enablers = new Array(all.length).fill(undefined);
  }

  /**
   * True if the candidate is a blind write.
   *
   * @example
   * ```ts
   * import { UnknownOutcomes } from "./unknown_outcomes.ts";
   * import { registerModel } from "./register_model.ts";
   * const outcomes = new UnknownOutcomes(registerModel, [], [], () => ({ ok: false, state: "" }));
   * ```
   */
  isBlind(candidate: number): boolean {
    return this.#blind[candidate] === 1;
  }

  /**
   * True if unknown-outcome operation `i` need not be tried now: it is linearized already, or an
   * interchangeable twin called earlier is still available.
   *
   * @example
   * ```ts
   * import { UnknownOutcomes } from "./unknown_outcomes.ts";
   * import { registerModel } from "./register_model.ts";
   * const outcomes = new UnknownOutcomes(registerModel, [], [], () => ({ ok: false, state: "" }));
   * ```
   */
  isUnavailable(i: number): boolean {
    const twin = this.#earlierTwin[i];
    return this.linearized[i] === 1 || (twin >= 0 && this.linearized[twin] === 0);
  }

  /**
   * The blind unknown-outcome writes (by index `i`) worth trying from a configuration whose
   * candidates are `candidates`, where `stepHere(index)` is the step of `candidates[index]` from
   * the current state.
   *
   * @example
   * ```ts
   * import { UnknownOutcomes } from "./unknown_outcomes.ts";
   * import { registerModel } from "./register_model.ts";
   * const outcomes = new UnknownOutcomes(registerModel, [], [], () => ({ ok: false, state: "" }));
   * outcomes.usefulBlindWrites([], () => ({ ok: true, state: "null" })); // empty
   * ```
   */
  usefulBlindWrites(
    candidates: readonly number[],
    stepHere: (index: number) => StepResult<S>,
  ): Set<number> {
    const n = this.#completed.length;
    const useful = new Set<number>();
    candidates.forEach((candidate, index) => {
      if (this.#blind[candidate] === 1) return;
      if (candidate >= n && this.isUnavailable(candidate - n)) return;
      const here = stepHere(index);
      const { writes, changesState } = this.#enablersOf(candidate);
      for (let k = 0; k < writes.length; k++) {
        // Legal here and not changing the state after the write, the candidate commutes with
        // it; so the write only matters for what is illegal here or changes the state there.
        if (!here.ok || changesState[k]) useful.add(writes[k]);
      }
    });
    return useful;
  }

  #enablersOf(candidate: number): { writes: number[]; changesState: boolean[] } {
    let found = this.#enablers[candidate];
    if (found !== undefined) return found;
    const n = this.#completed.length;
    const deadline = candidate < n ? this.#completed[candidate].ret : Infinity;
    found = { writes: [], changesState: [] };
    for (let i = 0; i < this.#unknown.length && this.#unknown[i].call <= deadline; i++) {
      const after = this.#afterBlind[i];
      if (after === undefined || n + i === candidate) continue;
      const stepped = this.#step(after, candidate);
      if (!stepped.ok) continue;
      found.writes.push(i);
      found.changesState.push(this.#model.key(stepped.state) !== this.#model.key(after));
    }
    this.#enablers[candidate] = found;
    return found;
  }
}
