/**
 * The state machine's own errors. The API maps these, by name, to problems; a built-in error
 * (a `TypeError` from a bug) is never taken for the client's mistake.
 *
 * @module
 */

/**
 * A command the state machine refuses before it reaches the log: a missing, extra or mistyped
 * field. Nothing was proposed, so the client may fix the request and send it again. The message
 * names the field (`cmd.key must be a non-empty well-formed string`) and carries no internals.
 *
 * @example
 * ```ts
 * import { encodeCommand } from "./commands.ts";
 * import { InvalidCommandError } from "./errors.ts";
 * try {
 *   encodeCommand({ cmd: { op: "delete", key: "" }, time: 1 });
 * } catch (error) {
 *   if (error instanceof InvalidCommandError) console.log(error.message);
 * }
 * ```
 */
export class InvalidCommandError extends Error {
  override name = "InvalidCommandError";
}
