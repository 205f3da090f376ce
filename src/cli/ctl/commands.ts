/**
 * Every command of `edgeraft`, in the order `--help` lists them.
 *
 * @module
 */

import type { Command } from "./command.ts";
import { delCommand, getCommand, listCommand, putCommand } from "./kv_commands.ts";
import {
  lockAcquireCommand,
  lockReleaseCommand,
  lockRenewCommand,
  lockShowCommand,
} from "./lock_commands.ts";
import { MEMBERSHIP_COMMANDS } from "./membership_commands.ts";
import { runLockedCommand } from "./run_locked.ts";
import { membersCommand, statusCommand } from "./status_command.ts";
import { watchCommand } from "./watch_command.ts";

/**
 * The commands.
 *
 * @example
 * ```ts
 * import { COMMANDS } from "./commands.ts";
 * COMMANDS.some((c) => c.words.join(" ") === "run-locked"); // true
 * ```
 */
export const COMMANDS: readonly Command[] = [
  getCommand,
  putCommand,
  delCommand,
  listCommand,
  watchCommand,
  lockAcquireCommand,
  lockRenewCommand,
  lockReleaseCommand,
  lockShowCommand,
  runLockedCommand,
  statusCommand,
  membersCommand,
  ...MEMBERSHIP_COMMANDS,
];
