/**
 * `members add/promote/remove`, `leader transfer`, `snapshot save`: membership changes and
 * backups, through the admin API (`/v1/members`, `/v1/leader/transfer`, `/v1/snapshot`; the
 * token needs the admin scope when the cluster has tokens). A change runs on the leader
 * whichever node is asked; one runs at a time.
 *
 * @module
 */

import { type Member, OutcomeUnknownError } from "../../client/mod.ts";
import { decodeBackup } from "../../storage/backup_file.ts";
import { integerFlag } from "./args.ts";
import type { Command, CommandContext } from "./command.ts";
import { EXIT } from "./exit_codes.ts";
import { UsageError } from "./usage_error.ts";

/** How long a change whose outcome is unknown is looked for in the member list. */
const SETTLE_MS = 5_000;

/**
 * Runs a change; when its outcome is unknown (the node that ran it went away before it
 * answered: a leader that removed itself, a failover), looks for its effect in the member list
 * for a few seconds before saying so, since a change made is what the operator asked for.
 */
async function change<T>(
  c: CommandContext,
  run: () => Promise<T>,
  made: (members: Member[]) => T | undefined,
): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (!(error instanceof OutcomeUnknownError)) throw error;
    const deadline = Date.now() + SETTLE_MS;
    while (Date.now() < deadline) {
      const members = await c.client().members({ timeoutMs: 1_000 }).catch(() => undefined);
      const done = members && made(members);
      if (done !== undefined) return done;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    throw error;
  }
}

/** A URL's origin, as the server keeps member URLs; the text itself if it is no URL. */
function origin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return url;
  }
}

/** A URL flag: present, and http(s) (the server checks the rest and names what is wrong). */
function urlFlag(c: CommandContext, flag: string, example: string): string {
  const value = c.flags[flag];
  if (typeof value !== "string" || value === "") {
    throw new UsageError(`members add needs --${flag} (e.g. ${example})`);
  }
  if (!/^https?:\/\//i.test(value)) {
    throw new UsageError(`--${flag} takes an http(s) URL such as ${example}, not "${value}"`);
  }
  return value;
}

/**
 * `members add --peer-url U --client-url U [--id N]`: adds a learner; prints its id.
 *
 * @example
 * ```ts ignore
 * await membersAddCommand.run(context);
 * ```
 */
export const membersAddCommand: Command = {
  words: ["members", "add"],
  usage: "members add --peer-url URL --client-url URL [--id N]",
  summary: "add a member as a learner; prints its id",
  details: "The new node receives the log but does not vote until `members promote ID`.\n" +
    "--peer-url is where the other members reach it (its peer port), --client-url its\n" +
    "client API. Without --id the cluster assigns the next free id (ids are never reused).\n" +
    "Then start the node on an empty data directory with --join (which would also have\n" +
    "added it). A node with that id or either URL already is refused (exit 1).\n" +
    "--json prints {id, peerUrl, clientUrl, role, matchIndex, lastContactMs}.",
  flags: { "peer-url": "string", "client-url": "string", id: "string" },
  args: [0, 0],
  async run(c) {
    const peerUrl = urlFlag(c, "peer-url", "http://10.0.0.4:7104");
    const clientUrl = urlFlag(c, "client-url", "http://10.0.0.4:7004");
    const id = typeof c.flags.id === "string" ? integerFlag("--id", c.flags.id, 1) : undefined;
    const member = await change(
      c,
      () => c.client().addMember({ peerUrl, clientUrl, id }),
      (members) => members.find((m) => m.peerUrl === origin(peerUrl)),
    );
    c.out(c.json ? JSON.stringify(member) : String(member.id));
    return EXIT.ok;
  },
};

/**
 * `members promote ID`: makes a learner a voter.
 *
 * @example
 * ```ts ignore
 * await membersPromoteCommand.run(context);
 * ```
 */
export const membersPromoteCommand: Command = {
  words: ["members", "promote"],
  usage: "members promote ID",
  summary: "make a learner a voter, once it has caught up",
  details: "Refused (exit 1, not-caught-up) while the learner's log is far behind the\n" +
    "leader's or it has not answered lately: the message says how far; try again when\n" +
    "`members` shows its MATCH near the others'. --json prints the member.",
  flags: {},
  args: [1, 1],
  async run(c) {
    const id = integerFlag("ID", c.args[0], 1);
    const member = await change(
      c,
      () => c.client().promoteMember(id),
      (members) => members.find((m) => m.id === id && m.role === "voter"),
    );
    if (c.json) c.out(JSON.stringify(member));
    return EXIT.ok;
  },
};

/**
 * `members remove ID`: removes a member.
 *
 * @example
 * ```ts ignore
 * await membersRemoveCommand.run(context);
 * ```
 */
export const membersRemoveCommand: Command = {
  words: ["members", "remove"],
  usage: "members remove ID",
  summary: "remove a member (the leader hands over first if it is the one)",
  details: "Refused (exit 1) for the last voter, or when the voters left would not have a\n" +
    "live majority (no-quorum: bring a voter back or add one first). The removed node\n" +
    "stops by itself when it learns it. --json prints {removed}.\n" +
    "A change whose answer was lost (exit 3 otherwise) is looked for in the member list\n" +
    "for up to 5 s: found made, it exits 0 (this holds for add and promote too).",
  flags: {},
  args: [1, 1],
  async run(c) {
    const id = integerFlag("ID", c.args[0], 1);
    const answer = await change(
      c,
      () => c.client().removeMember(id),
      (members) => members.some((m) => m.id === id) ? undefined : { removed: id },
    );
    if (c.json) c.out(JSON.stringify(answer));
    return EXIT.ok;
  },
};

/**
 * `leader transfer [--to ID]`: hands leadership over; prints the new leader's id.
 *
 * @example
 * ```ts ignore
 * await leaderTransferCommand.run(context);
 * ```
 */
export const leaderTransferCommand: Command = {
  words: ["leader", "transfer"],
  usage: "leader transfer [--to ID]",
  summary: "hand leadership to another voter; prints the new leader's id",
  details: "Without --to the leader picks the most caught-up voter that answers. Returns\n" +
    "once the new leader is in place (within two election timeouts, else exit 3).\n" +
    "--json prints {leader}.",
  flags: { to: "string" },
  args: [0, 0],
  async run(c) {
    const to = typeof c.flags.to === "string" ? integerFlag("--to", c.flags.to, 1) : undefined;
    const answer = await c.client().transferLeader(to);
    c.out(c.json ? JSON.stringify(answer) : String(answer.leader));
    return EXIT.ok;
  },
};

/**
 * `snapshot save FILE`: downloads a backup, checks it, and writes it to FILE.
 *
 * @example
 * ```ts ignore
 * await snapshotSaveCommand.run(context);
 * ```
 */
export const snapshotSaveCommand: Command = {
  words: ["snapshot", "save"],
  usage: "snapshot save FILE [--stale]",
  summary: "save a backup of the cluster's state to FILE",
  details: "A consistent snapshot of the state machine from the first endpoint that answers\n" +
    "(its applied index and term, the membership, a SHA-256). It is checked before it is\n" +
    "written, through FILE.partial and a rename, so FILE is never a damaged backup. Start\n" +
    "a new cluster from it with `deno task start -- --restore-from FILE ...`.\n" +
    "It holds every write acknowledged before it was asked for; --stale takes the\n" +
    "answering node's state as it is instead (also when the cluster has no quorum).\n" +
    "Prints FILE, index, term and size; --json prints {file, index, term, bytes}.",
  flags: { stale: "boolean" },
  args: [1, 1],
  async run(c) {
    const [file] = c.args;
    const snapshot = await c.client().snapshot({
      consistency: c.flags.stale === true ? "stale" : undefined,
    });
    // A download cut short or damaged on the way must not be saved as a backup.
    const backup = await decodeBackup(snapshot.bytes);
    const partial = `${file}.partial`;
    await Deno.writeFile(partial, snapshot.bytes);
    try {
      await Deno.rename(partial, file);
    } catch (error) {
      await Deno.remove(partial).catch(() => {});
      throw error;
    }
    const saved = { file, index: backup.index, term: backup.term, bytes: snapshot.bytes.length };
    c.out(
      c.json
        ? JSON.stringify(saved)
        : `${file}: index ${saved.index}, term ${saved.term}, ${saved.bytes} bytes`,
    );
    return EXIT.ok;
  },
};

/**
 * The membership and backup commands, in the order `--help` lists them.
 *
 * @example
 * ```ts
 * import { MEMBERSHIP_COMMANDS } from "./membership_commands.ts";
 * MEMBERSHIP_COMMANDS.map((c) => c.words.join(" ")).includes("leader transfer"); // true
 * ```
 */
export const MEMBERSHIP_COMMANDS: readonly Command[] = [
  membersAddCommand,
  membersPromoteCommand,
  membersRemoveCommand,
  leaderTransferCommand,
  snapshotSaveCommand,
];
