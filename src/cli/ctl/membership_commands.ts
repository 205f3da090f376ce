/**
 * `members add/promote/remove`, `leader transfer`, `snapshot save`: commands for membership
 * changes and snapshots, which the server does not offer yet (issue 13). They take their
 * arguments now, so scripts can be written against them, and say so when run.
 *
 * @module
 */

import type { Command } from "./command.ts";
import { EXIT } from "./exit_codes.ts";

function unsupported(words: string[], usage: string, summary: string, args: [number, number]) {
  const command: Command = {
    words,
    usage,
    summary: `${summary} (not supported by the server yet)`,
    details: "Membership changes and snapshots come with the membership issue; until then this\n" +
      "command exits with 1 saying that the server does not support it.",
    flags: {},
    args,
    run(c) {
      c.err(
        `edgeraft: ${words.join(" ")}: the server does not support this yet ` +
          "(membership changes and snapshots are not part of this edgeraft version)",
      );
      return Promise.resolve(EXIT.refused);
    },
  };
  return command;
}

/**
 * The commands that wait on server support.
 *
 * @example
 * ```ts
 * import { MEMBERSHIP_COMMANDS } from "./membership_commands.ts";
 * MEMBERSHIP_COMMANDS.map((c) => c.words.join(" ")).includes("leader transfer"); // true
 * ```
 */
export const MEMBERSHIP_COMMANDS: readonly Command[] = [
  unsupported(["members", "add"], "members add ID PEER_URL CLIENT_URL", "add a learner", [3, 3]),
  unsupported(["members", "promote"], "members promote ID", "make a learner a voter", [1, 1]),
  unsupported(["members", "remove"], "members remove ID", "remove a member", [1, 1]),
  unsupported(["leader", "transfer"], "leader transfer [ID]", "hand leadership over", [0, 1]),
  unsupported(["snapshot", "save"], "snapshot save FILE", "save a snapshot to FILE", [1, 1]),
];
