/**
 * `get`, `put`, `del` and `list`: config values.
 *
 * @module
 */

import { integerFlag } from "./args.ts";
import type { Command, CommandContext } from "./command.ts";
import { EXIT } from "./exit_codes.ts";
import { formatTable, plainValue } from "./table.ts";
import { UsageError } from "./usage_error.ts";

/** `--if-revision N`, when given. */
function ifRevisionFlag(c: CommandContext): number | undefined {
  const text = c.flags["if-revision"];
  return typeof text === "string" ? integerFlag("--if-revision", text) : undefined;
}

/** The answer to an absent key: one line, exit 1. */
function notFound(c: CommandContext, key: string): number {
  c.err(`edgeraft: not found: ${key}`);
  return EXIT.refused;
}

/** How many keys `list` asks for per page. */
const PAGE = 1000;

/**
 * `get KEY [--stale]`: the value (strings as they are, anything else as JSON); with `--json`
 * the whole record. An absent key exits with 1.
 *
 * @example
 * ```ts ignore
 * await getCommand.run(context);
 * ```
 */
export const getCommand: Command = {
  words: ["get"],
  usage: "get KEY [--stale]",
  summary: "print a key's value",
  details: "--stale reads the node's own copy (no leader needed; may lag).\n" +
    "An absent key prints an error and exits with 1.",
  flags: { stale: "boolean" },
  args: [1, 1],
  async run(c) {
    const [key] = c.args;
    const kv = await c.client().get(key, { consistency: c.flags.stale ? "stale" : undefined });
    if (kv === null) return notFound(c, key);
    c.out(c.json ? JSON.stringify(kv) : plainValue(kv.value));
    return EXIT.ok;
  },
};

/**
 * `put KEY VALUE|- [--if-revision N] [--create]`: writes a JSON value (from stdin with `-`).
 *
 * @example
 * ```ts ignore
 * await putCommand.run(context);
 * ```
 */
export const putCommand: Command = {
  words: ["put"],
  usage: "put KEY VALUE|- [--if-revision N] [--create]",
  summary: "write a JSON value (- reads it from stdin)",
  details: "VALUE is JSON: 42, true, '\"text\"', '{\"a\":1}'.\n" +
    "--if-revision N writes only if the key is at revision N (0: absent); --create only if\n" +
    "absent. Either failing exits with 1 (412). Prints the new revision.",
  flags: { "if-revision": "string", create: "boolean" },
  args: [2, 2],
  async run(c) {
    const [key, text] = c.args;
    const source = text === "-" ? await new Response(Deno.stdin.readable).text() : text;
    let value: unknown;
    try {
      value = JSON.parse(source);
    } catch {
      throw new UsageError(
        `put: the value is not JSON (a string is written quoted: '"${source.trim()}"')`,
      );
    }
    const ifRevision = ifRevisionFlag(c);
    const put = await c.client().put(key, value, { ifRevision, ifAbsent: c.flags.create === true });
    c.out(c.json ? JSON.stringify(put) : String(put.revision));
    return EXIT.ok;
  },
};

/**
 * `del KEY [--if-revision N]`: deletes a key; an absent key exits with 1.
 *
 * @example
 * ```ts ignore
 * await delCommand.run(context);
 * ```
 */
export const delCommand: Command = {
  words: ["del"],
  usage: "del KEY [--if-revision N]",
  summary: "delete a key",
  details: "Prints the revision of the delete. An absent key exits with 1.",
  flags: { "if-revision": "string" },
  args: [1, 1],
  async run(c) {
    const [key] = c.args;
    const ifRevision = ifRevisionFlag(c);
    const deleted = await c.client().delete(key, { ifRevision });
    if (deleted === null) return notFound(c, key);
    c.out(c.json ? JSON.stringify(deleted) : String(deleted.revision));
    return EXIT.ok;
  },
};

/**
 * `list [PREFIX] [--limit N] [--stale]`: keys, revisions and values as a table, every page.
 *
 * @example
 * ```ts ignore
 * await listCommand.run(context);
 * ```
 */
export const listCommand: Command = {
  words: ["list"],
  usage: "list [PREFIX] [--limit N] [--stale]",
  summary: "list the keys under a prefix, with revisions and values",
  details: "Reads every page unless --limit caps the number of keys. --json prints\n" +
    "{items, revision}.",
  flags: { limit: "string", stale: "boolean" },
  args: [0, 1],
  async run(c) {
    const prefix = c.args[0] ?? "";
    const cap = typeof c.flags.limit === "string"
      ? integerFlag("--limit", c.flags.limit, 1)
      : Infinity;
    const items = [];
    let revision = 0;
    let after: string | undefined;
    const consistency = c.flags.stale ? "stale" as const : undefined;
    while (items.length < cap) {
      const limit = Math.min(PAGE, cap - items.length);
      const page = await c.client().list({ prefix, limit, after, consistency });
      items.push(...page.items);
      revision ||= page.revision;
      if (page.next === null) break;
      after = page.next;
    }
    if (c.json) {
      c.out(JSON.stringify({ items, revision }));
    } else if (items.length > 0) {
      const rows = items.map((kv) => [kv.key, String(kv.revision), plainValue(kv.value)]);
      c.out(formatTable(["KEY", "REVISION", "VALUE"], rows));
    }
    return EXIT.ok;
  },
};
