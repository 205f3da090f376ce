/**
 * The encoding of membership changes inside `conf` log entries.
 *
 * @module
 */

import type { ConfChange } from "./types.ts";

/**
 * Decodes the data of a `conf` entry (JSON, so the core needs no codec dependency).
 *
 * @example
 * ```ts
 * import { decodeConfChange } from "./conf_change.ts";
 * const data = new TextEncoder().encode('{"type":"addVoter","nodeId":4}');
 * console.log(decodeConfChange(data).nodeId); // 4
 * ```
 */
export function decodeConfChange(data: Uint8Array): ConfChange {
  const cc = JSON.parse(new TextDecoder().decode(data));
  const types = ["addVoter", "addLearner", "removeNode"];
  if (
    typeof cc !== "object" || cc === null || !types.includes(cc.type) ||
    !Number.isSafeInteger(cc.nodeId) || cc.nodeId <= 0
  ) {
    throw new TypeError("raft: malformed membership change");
  }
  return cc as ConfChange;
}
