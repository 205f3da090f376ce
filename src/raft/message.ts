/**
 * Building messages: every field a kind does not use at its zero value.
 *
 * @module
 */

import type { Message, MessageType, NodeId } from "./types.ts";

/**
 * A message of `type` from `from` to `to`, with the given fields and zero values elsewhere.
 *
 * @example
 * ```ts
 * import { newMessage } from "./message.ts";
 * const hb = newMessage({ type: "heartbeat", from: 1, to: 2, term: 3, commit: 9 });
 * console.log(hb.entries.length); // 0
 * ```
 */
export function newMessage(
  fields: Partial<Message> & { type: MessageType; from: NodeId; to: NodeId },
): Message {
  return {
    term: 0,
    logTerm: 0,
    index: 0,
    entries: [],
    commit: 0,
    reject: false,
    rejectHint: 0,
    ...fields,
  };
}
