/**
 * What a command of `edgeraft` is: its words, usage, flags and how it runs.
 *
 * @module
 */

import type { EdgeraftClient } from "../../client/mod.ts";

/**
 * What a running command gets: its arguments and flags, a client (made on first use, so that
 * `--help` and usage mistakes need no cluster), and where to write.
 *
 * @example
 * ```ts ignore
 * const code = await command.run(context);
 * ```
 */
export interface CommandContext {
  /** The arguments after the command's words (for `run-locked`, before `--`). */
  args: string[];
  /** The words after `--` (`run-locked`'s command). */
  rest: string[];
  flags: Record<string, string | boolean | undefined>;
  json: boolean;
  client(): EdgeraftClient;
  /** The endpoints the client uses. */
  endpoints(): string[];
  /** The bearer token, if any. */
  token(): string | undefined;
  out(line: string): void;
  err(line: string): void;
  /** Aborted on Ctrl-C (SIGINT) or SIGTERM. */
  interrupted: AbortSignal;
}

/**
 * One command.
 *
 * @example
 * ```ts ignore
 * const get: Command = {
 *   words: ["get"], usage: "get KEY [--stale]", summary: "a key's value",
 *   flags: { stale: "boolean" }, args: [1, 1], run: async (c) => 0,
 * };
 * ```
 */
export interface Command {
  /** The words that name it: `["lock", "acquire"]`. */
  words: string[];
  /** The synopsis after `edgeraft `. */
  usage: string;
  /** One line: what it does. */
  summary: string;
  /** More lines for `--help`. */
  details?: string;
  /** Its own flags (the common ones come on top). */
  flags: Record<string, "string" | "boolean">;
  /** How many arguments it takes: [min, max]. */
  args: [number, number];
  /** Whether it takes `-- CMD ARGS...`. */
  takesRest?: boolean;
  run(context: CommandContext): Promise<number>;
}
