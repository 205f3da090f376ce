/**
 * The interface between the linearizability checker and the sequential specification of the
 * object a key holds.
 *
 * @module
 */

import type { Operation } from "./history.ts";

/**
 * The outcome of applying an operation to a model state: `ok` says whether the operation, with
 * its recorded input and output, is legal in that state.
 *
 * @example
 * ```ts
 * import type { StepResult } from "./model.ts";
 * const result: StepResult<number> = { ok: true, state: 5 };
 * ```
 */
export interface StepResult<S> {
  ok: boolean;
  state: S;
}

/**
 * A sequential specification of one key. States must be treated as immutable: the checker keeps
 * old states to backtrack to. `step` must depend only on the operation's `f`, `input` and
 * `output`: the checker treats unknown-outcome operations with equal `f` and `input` as
 * interchangeable.
 *
 * @example A counter that only accepts reads of its current value
 * ```ts
 * import type { Model } from "./model.ts";
 *
 * const counter: Model<number> = {
 *   init: () => 0,
 *   step: (state, op) =>
 *     op.f === "write"
 *       ? { ok: true, state: op.input as number }
 *       : { ok: op.output === state, state },
 *   key: (state) => String(state),
 * };
 * ```
 */
export interface Model<S> {
  init(): S;
  /** Applies `op` to `state`; for an operation of unknown outcome `op.output` is `undefined`. */
  step(state: S, op: Operation): StepResult<S>;
  /**
   * A string equal for two states iff no operation can tell them apart; used to memoize
   * explored states.
   */
  key(state: S): string;
  /** Optional: the state in words for failure reports; defaults to `key`. */
  describe?(state: S): string;
  /**
   * Optional: true for an operation that is legal in every state and changes nothing (e.g. a
   * read whose outcome is unknown); such operations are left out of the search.
   */
  isInert?(op: Operation): boolean;
  /**
   * Optional: true for a blind write, an operation legal in every state whose resulting state
   * does not depend on the state before (e.g. a register write). Speeds up the search a lot when
   * many operations have an unknown outcome.
   */
  isBlind?(op: Operation): boolean;
  /**
   * Optional: a model for checking just `ops` (one key's operations), which may merge states
   * that no operation among them can tell apart (e.g. register values nobody reads). Fewer
   * distinct states make a smaller search.
   */
  specialize?(ops: readonly Operation[]): Model<S>;
}
