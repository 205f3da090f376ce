/**
 * The node's errors, named by what a caller may conclude from them. The API maps each, by
 * name, to a problem (src/api/middleware/problem_errors); any other error is a bug: a 500
 * without internals, logged with its stack.
 *
 * | error                 | what was done                                | API answer             |
 * | --------------------- | -------------------------------------------- | ---------------------- |
 * | `NoLeaderError`       | nothing proposed: no leader known or reached | 503 `no-leader`        |
 * | `NodeStoppedError`    | nothing proposed: this node stopped          | 503 `no-leader`        |
 * | `OutcomeUnknownError` | proposed; it may or may not be applied       | 504 `timeout`          |
 *
 * (A command the state machine refuses is `InvalidCommandError`, from src/state/errors.ts.)
 *
 * @module
 */

/**
 * No leader is known, or the leader could not take the proposal (it stepped down before
 * appending it). Nothing was proposed: the caller may retry, here or on another node.
 *
 * @example
 * ```ts
 * import { NoLeaderError } from "./errors.ts";
 * const error = new NoLeaderError("no leader is known");
 * error.name; // "NoLeaderError"
 * ```
 */
export class NoLeaderError extends Error {
  override name = "NoLeaderError";
}

/**
 * This node is stopping or has stopped (asked to, or after a failure it cannot go on from),
 * before the request was proposed: nothing was proposed, and another node may take it.
 *
 * @example
 * ```ts
 * import { NodeStoppedError } from "./errors.ts";
 * const error = new NodeStoppedError("the node is stopping");
 * error.name; // "NodeStoppedError"
 * ```
 */
export class NodeStoppedError extends Error {
  override name = "NodeStoppedError";
}

/**
 * The proposal left this node, but whether it is applied is not known: it may be committed
 * and applied after this answer (a timeout, the leader not answering, the node stopping with
 * the proposal in flight). It must never read as "not applied": a retry is safe only with the
 * same idempotency key or client sequence.
 *
 * @example
 * ```ts
 * import { OutcomeUnknownError } from "./errors.ts";
 * const error = new OutcomeUnknownError("the node stopped; the write may have been applied");
 * error.name; // "OutcomeUnknownError"
 * ```
 */
export class OutcomeUnknownError extends Error {
  override name: string = "OutcomeUnknownError";
}
