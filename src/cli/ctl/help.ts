/**
 * The `--help` texts: the tool's (every command, the common flags, exit codes) and each
 * command's.
 *
 * @module
 */

import type { Command } from "./command.ts";

const COMMON = `Flags of every command:
  --endpoints URL,URL   client URLs of the nodes (env EDGERAFT_ENDPOINTS;
                        default http://127.0.0.1:7001,7002,7003); fails over between them
  --token TOKEN         bearer token (env EDGERAFT_TOKEN)
  --json                machine-readable output
  --help                this help

Durations: 30s, 500ms, 2m, 1h.
Exit codes: 0 ok, 1 refused (404, 409, 412, 401/403, ...), 2 usage, 3 unreachable (no node
answered, no leader, or a write's outcome is unknown), 4 run-locked lost its lease.`;

/**
 * The tool's help: every command with its summary.
 *
 * @example
 * ```ts ignore
 * console.log(toolHelp(COMMANDS));
 * ```
 */
export function toolHelp(commands: readonly Command[]): string {
  const width = Math.max(...commands.map((c) => c.words.join(" ").length));
  const lines = commands.map((c) => `  ${c.words.join(" ").padEnd(width)}  ${c.summary}`);
  return [
    "edgeraft: the command line of an edgeraft cluster",
    "",
    "Usage: edgeraft COMMAND [ARGS] [FLAGS]   (deno task ctl COMMAND ...)",
    "",
    "Commands:",
    ...lines,
    "",
    "edgeraft COMMAND --help shows a command's arguments.",
    "",
    COMMON,
  ].join("\n");
}

/**
 * One command's help.
 *
 * @example
 * ```ts ignore
 * console.log(commandHelp(getCommand));
 * ```
 */
export function commandHelp(command: Command): string {
  return [
    `Usage: edgeraft ${command.usage}`,
    "",
    command.summary.charAt(0).toUpperCase() + command.summary.slice(1) + ".",
    ...(command.details ? ["", command.details] : []),
    "",
    COMMON,
  ].join("\n");
}
