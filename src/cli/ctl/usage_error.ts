/**
 * A command line the tool cannot run: it prints the message and the command's usage, and
 * exits with 2.
 *
 * @module
 */

/**
 * A usage mistake (unknown command or flag, a missing argument, a bad duration).
 *
 * @example
 * ```ts
 * import { UsageError } from "./usage_error.ts";
 * new UsageError("put needs KEY and VALUE").message; // "put needs KEY and VALUE"
 * ```
 */
export class UsageError extends Error {
  override name = "UsageError";
}
