/**
 * `watch [PREFIX] [--from-revision N]`: one line per change until Ctrl-C, resuming across
 * node failures (the client reconnects to another endpoint from the next revision).
 *
 * @module
 */

import { integerFlag } from "./args.ts";
import type { Command } from "./command.ts";
import { EXIT } from "./exit_codes.ts";
import { plainValue } from "./table.ts";

/**
 * The watch command. Lines are `put KEY REVISION VALUE` and `delete KEY REVISION`; with
 * `--json` each event as JSON.
 *
 * @example
 * ```ts ignore
 * await watchCommand.run(context);
 * ```
 */
export const watchCommand: Command = {
  words: ["watch"],
  usage: "watch [PREFIX] [--from-revision N]",
  summary: "print changes under a prefix as they happen, until Ctrl-C",
  details: "Lines: put KEY REVISION VALUE / delete KEY REVISION (--json: one event per line).\n" +
    "Starts at the next change, or at --from-revision N (history kept: the last 10,000\n" +
    "changes). Survives node failures; exits with 3 if no node answers for a while.",
  flags: { "from-revision": "string" },
  args: [0, 1],
  async run(c) {
    const prefix = c.args[0] ?? "";
    const fromRevision = typeof c.flags["from-revision"] === "string"
      ? integerFlag("--from-revision", c.flags["from-revision"], 1)
      : undefined;
    const events = c.client().watch(prefix, { fromRevision, signal: c.interrupted });
    for await (const event of events) {
      if (c.json) c.out(JSON.stringify(event));
      else if (event.type === "put") {
        c.out(`put ${event.key} ${event.revision} ${plainValue(event.value)}`);
      } else c.out(`delete ${event.key} ${event.revision}`);
    }
    return EXIT.ok;
  },
};
