/**
 * The one error a peer body that fails to decode may raise.
 *
 * @module
 */

/**
 * Why a body was refused: says which field and what was wrong with it.
 *
 * @example
 * ```ts
 * import { MessageDecodeError } from "./message_decode_error.ts";
 * const e = new MessageDecodeError("messages[0].term: expected a non-negative safe integer");
 * console.log(e.name); // "MessageDecodeError"
 * ```
 */
export class MessageDecodeError extends Error {
  /** `message` names the field and what was wrong with it. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "MessageDecodeError";
  }
}
