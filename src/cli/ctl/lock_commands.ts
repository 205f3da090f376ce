/**
 * `lock acquire`, `lock renew`, `lock release`, `lock show`: a lock by hand (scripts that hold
 * a lock across several steps; `run-locked` does it all for one command).
 *
 * @module
 */

import { integerFlag } from "./args.ts";
import type { Command } from "./command.ts";
import { durationFlag, parseDuration } from "./duration.ts";
import { EXIT } from "./exit_codes.ts";
import { formatTable } from "./table.ts";
import { UsageError } from "./usage_error.ts";

/**
 * Who takes a lock when `--owner` is not given: this host and process, which is what someone
 * reading `lock show` wants to know.
 *
 * @example
 * ```ts
 * import { defaultOwner } from "./lock_commands.ts";
 * defaultOwner().startsWith("edgeraft@"); // true
 * ```
 */
export function defaultOwner(): string {
  let host = "unknown";
  try {
    host = Deno.hostname();
  } catch {
    // No --allow-sys: the pid alone still tells holders apart on one host.
  }
  return `edgeraft@${host}:${Deno.pid}`;
}

/**
 * `lock acquire NAME --ttl 30s [--wait 10s] [--owner TEXT]`: prints the fencing token.
 *
 * @example
 * ```ts ignore
 * await lockAcquireCommand.run(context);
 * ```
 */
export const lockAcquireCommand: Command = {
  words: ["lock", "acquire"],
  usage: "lock acquire NAME --ttl 30s [--wait 10s] [--owner TEXT]",
  summary: "take a lock; prints its fencing token",
  details: "Without --wait it is a try-lock: a held lock exits with 1 naming the holder.\n" +
    "The lease lasts --ttl unless renewed (lock renew NAME TOKEN) and ends with\n" +
    "lock release NAME TOKEN. --json prints {name, token, owner, ttlMs, expiresAt}.",
  flags: { ttl: "string", wait: "string", owner: "string" },
  args: [1, 1],
  async run(c) {
    const [name] = c.args;
    if (typeof c.flags.ttl !== "string") {
      throw new UsageError("lock acquire needs --ttl (e.g. 30s)");
    }
    const ttlMs = parseDuration("--ttl", c.flags.ttl);
    const waitMs = durationFlag(c.flags, "wait");
    const owner = typeof c.flags.owner === "string" ? c.flags.owner : defaultOwner();
    const lease = await c.client().acquire(name, { ttlMs, waitMs, owner });
    c.out(c.json ? JSON.stringify(lease) : String(lease.token));
    return EXIT.ok;
  },
};

/**
 * `lock renew NAME TOKEN`: extends the lease; 1 when the token no longer holds the lock.
 *
 * @example
 * ```ts ignore
 * await lockRenewCommand.run(context);
 * ```
 */
export const lockRenewCommand: Command = {
  words: ["lock", "renew"],
  usage: "lock renew NAME TOKEN",
  summary: "extend a lease by its ttl",
  details: "Exits with 1 (409) when TOKEN no longer holds the lock.",
  flags: {},
  args: [2, 2],
  async run(c) {
    const [name, token] = c.args;
    const renewed = await c.client().renew(name, integerFlag("TOKEN", token, 1));
    c.out(c.json ? JSON.stringify(renewed) : String(renewed.expiresAt));
    return EXIT.ok;
  },
};

/**
 * `lock release NAME TOKEN`: lets the lock go; 1 when the token no longer holds it.
 *
 * @example
 * ```ts ignore
 * await lockReleaseCommand.run(context);
 * ```
 */
export const lockReleaseCommand: Command = {
  words: ["lock", "release"],
  usage: "lock release NAME TOKEN",
  summary: "release a lock",
  details: "Exits with 1 (409) when TOKEN no longer holds the lock.",
  flags: {},
  args: [2, 2],
  async run(c) {
    const [name, token] = c.args;
    await c.client().release(name, integerFlag("TOKEN", token, 1));
    if (c.json) c.out(JSON.stringify({ name, token: Number(token), released: true }));
    return EXIT.ok;
  },
};

/**
 * `lock show NAME`: the holder and the waiters in line.
 *
 * @example
 * ```ts ignore
 * await lockShowCommand.run(context);
 * ```
 */
export const lockShowCommand: Command = {
  words: ["lock", "show"],
  usage: "lock show NAME",
  summary: "show a lock's holder and waiters",
  details: "Times are the leader's clock. --json prints {name, holder, waiters}.",
  flags: {},
  args: [1, 1],
  async run(c) {
    const [name] = c.args;
    const state = await c.client().lockState(name);
    if (c.json) {
      c.out(JSON.stringify(state));
      return EXIT.ok;
    }
    const rows: string[][] = [];
    if (state.holder) {
      const { token, owner, expiresAt } = state.holder;
      rows.push(["holder", String(token), owner, new Date(expiresAt).toISOString()]);
    }
    for (const waiter of state.waiters) {
      rows.push(["waiting", "-", waiter.owner, new Date(waiter.deadline).toISOString()]);
    }
    if (rows.length === 0) c.out(`${name}: free`);
    else c.out(formatTable(["STATE", "TOKEN", "OWNER", "UNTIL"], rows));
    return EXIT.ok;
  },
};
