/**
 * Helpers shared by the head-shortcut tests (`fast_config_write_test.ts`, `fast_lock_test.ts`),
 * which send the same bytes to a node with the fast paths and one without and compare.
 *
 * @module
 */

import type { Logger } from "../../src/node/logger.ts";
import { joinParts } from "../../src/transport/peer_client.ts";

/**
 * A logger that keeps every line with its fields, so two nodes' logs can be compared.
 *
 * @example
 * ```ts
 * import { fieldLogger } from "./shortcut_twins.ts";
 * const log = fieldLogger();
 * log.log("info", "x", { a: 1 });
 * log.lines.length; // 1
 * ```
 */
export function fieldLogger(): Logger & { lines: unknown[] } {
  const lines: unknown[] = [];
  return { lines, log: (level, event, fields) => lines.push({ level, event, fields }) };
}

/**
 * The bytes of `parts`, one after the other (a request sent in one write, or pipelined).
 *
 * @example
 * ```ts
 * import { join } from "./shortcut_twins.ts";
 * join(new Uint8Array([1]), new Uint8Array([2, 3])).length; // 3
 * ```
 */
export function join(...parts: Uint8Array[]): Uint8Array {
  return joinParts(parts);
}
