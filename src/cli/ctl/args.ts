/**
 * Reading a command line: the command's words, then its arguments and flags (anywhere before
 * `--`), checked against what the command takes.
 *
 * @module
 */

import { parseArgs } from "node:util";
import type { Command } from "./command.ts";
import { UsageError } from "./usage_error.ts";

const NEGATIVE_NUMBER = /^-\d+(\.\d+)?([eE][+-]?\d+)?$/;
const NEGATIVE_MARK = "\u0000";

function unmark(arg: string): string {
  return arg.startsWith(NEGATIVE_MARK) ? arg.slice(NEGATIVE_MARK.length) : arg;
}

/**
 * Flags every command takes.
 *
 * @example
 * ```ts
 * import { COMMON_FLAGS } from "./args.ts";
 * COMMON_FLAGS.json; // "boolean"
 * ```
 */
export const COMMON_FLAGS: Record<string, "string" | "boolean"> = {
  endpoints: "string",
  token: "string",
  json: "boolean",
  help: "boolean",
};

/**
 * A parsed command line: the command (undefined for bare `edgeraft` or an unknown one, with
 * the words that were tried), its arguments, flags and the words after `--`.
 *
 * @example
 * ```ts ignore
 * const parsed = parseCommandLine(["get", "a", "--stale"], COMMANDS);
 * parsed.command?.words; // ["get"]
 * ```
 */
export interface ParsedLine {
  command?: Command;
  words: string[];
  args: string[];
  rest: string[];
  flags: Record<string, string | boolean | undefined>;
}

/**
 * Parses `argv` against `commands`: the longest run of leading words (flags aside) that
 * names a command picks it. Throws {@linkcode UsageError} for unknown flags or a wrong number
 * of arguments; an unknown command comes back without `command`.
 *
 * @example
 * ```ts ignore
 * import { parseCommandLine } from "./args.ts";
 * parseCommandLine(["--json", "lock", "show", "cron"], COMMANDS).args; // ["cron"]
 * ```
 */
export function parseCommandLine(
  argv: readonly string[],
  commands: readonly Command[],
): ParsedLine {
  const dash = argv.indexOf("--");
  // A negative number is a value (`put k -5`), not a short flag: hide it from parseArgs.
  const before = (dash < 0 ? [...argv] : argv.slice(0, dash))
    .map((arg) => NEGATIVE_NUMBER.test(arg) ? NEGATIVE_MARK + arg : arg);
  const rest = dash < 0 ? [] : argv.slice(dash + 1);
  // Every flag any command knows, so that a flag's value is not taken for a word.
  const known: Record<string, { type: "string" | "boolean" }> = {};
  for (const spec of [COMMON_FLAGS, ...commands.map((c) => c.flags)]) {
    for (const [name, type] of Object.entries(spec)) known[name] = { type };
  }
  const loose = parseArgs({ args: before, options: known, strict: false, allowPositionals: true });
  const positionals = loose.positionals.map(unmark);
  let command: Command | undefined;
  for (const candidate of commands) {
    const words = candidate.words;
    const matches = words.every((word, i) => positionals[i] === word);
    if (matches && words.length > (command?.words.length ?? 0)) command = candidate;
  }
  if (!command) {
    const flags = loose.values as Record<string, string | boolean | undefined>;
    return { words: positionals, args: [], rest, flags };
  }
  const options: Record<string, { type: "string" | "boolean" }> = {};
  for (const [name, type] of Object.entries({ ...COMMON_FLAGS, ...command.flags })) {
    options[name] = { type };
  }
  let parsed;
  try {
    parsed = parseArgs({ args: before, options, strict: true, allowPositionals: true });
  } catch (error) {
    throw new UsageError((error as Error).message.replace(/\. To specify.*$/s, ""));
  }
  const flags = parsed.values as Record<string, string | boolean | undefined>;
  const args = parsed.positionals.map(unmark).slice(command.words.length);
  if (flags.help) return { command, words: command.words, args, rest, flags };
  const [min, max] = command.args;
  const name = command.words.join(" ");
  if (args.length < min) throw new UsageError(`${name}: missing arguments (${command.usage})`);
  if (args.length > max) {
    throw new UsageError(`${name}: unexpected argument "${args[max]}" (${command.usage})`);
  }
  if (command.takesRest && rest.length === 0) {
    throw new UsageError(`${name}: give the command after -- (${command.usage})`);
  }
  if (!command.takesRest && dash >= 0 && rest.length > 0) {
    throw new UsageError(`${name}: unexpected arguments after --`);
  }
  return { command, words: command.words, args, rest, flags };
}

/**
 * A whole number flag, or a {@linkcode UsageError}.
 *
 * @example
 * ```ts
 * import { integerFlag } from "./args.ts";
 * integerFlag("--limit", "20", 1); // 20
 * ```
 */
export function integerFlag(flag: string, text: string, min = 0): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < min) {
    throw new UsageError(`${flag} takes a whole number of at least ${min}, not "${text}"`);
  }
  return n;
}
