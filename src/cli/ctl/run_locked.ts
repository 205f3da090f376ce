/**
 * `run-locked NAME [--ttl 30s] [--wait 10s] [--grace 5s] -- CMD ARGS...`: runs a command
 * while holding a lock, the way a cron job on many hosts runs exactly once.
 *
 * It takes the lock, starts the command with the fencing token in `EDGERAFT_LOCK_TOKEN` (and
 * the name in `EDGERAFT_LOCK_NAME`), renews every third of the ttl on any endpoint that
 * answers, and releases the lock when the command ends, exiting with its code. When the lease
 * can no longer be trusted (a renewal refused, or none succeeded in time: the cluster was
 * unreachable or this process was paused), it stops the command a grace period before trust
 * ends: SIGTERM, then SIGKILL after the grace, and exits with 4 saying why. So with a grace
 * that the command honours, it is gone before anyone else can hold the lock.
 *
 * @module
 */

import { LeaseKeeper } from "../../client/mod.ts";
import type { Command } from "./command.ts";
import { durationFlag } from "./duration.ts";
import { EXIT } from "./exit_codes.ts";
import { defaultOwner } from "./lock_commands.ts";

/** Signal numbers for the exit code of a command a signal ended (128 + n, as shells do). */
const SIGNAL_NUMBERS: Record<string, number> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGABRT: 6,
  SIGKILL: 9,
  SIGSEGV: 11,
  SIGPIPE: 13,
  SIGALRM: 14,
  SIGTERM: 15,
};

/**
 * The command.
 *
 * @example
 * ```ts ignore
 * await runLockedCommand.run(context);
 * ```
 */
export const runLockedCommand: Command = {
  words: ["run-locked"],
  usage: "run-locked NAME [--ttl 30s] [--wait 10s] [--grace 5s] [--owner TEXT] -- CMD ARGS...",
  summary: "run a command while holding a lock (exactly once across hosts)",
  details: [
    "Takes the lock (a try-lock unless --wait), runs CMD with EDGERAFT_LOCK_TOKEN (the",
    "fencing token) and EDGERAFT_LOCK_NAME in its environment, renews the lease every third",
    "of --ttl, releases it when CMD ends and exits with CMD's code.",
    "If the lease can no longer be trusted (renewals refused or failing), CMD gets SIGTERM",
    "--grace before trust ends, SIGKILL after --grace, and run-locked exits with 4.",
    "A held lock exits with 1; an unreachable cluster with 3; a CMD not found with 127.",
  ].join("\n"),
  flags: { ttl: "string", wait: "string", grace: "string", owner: "string" },
  args: [1, 1],
  takesRest: true,
  async run(c) {
    const [name] = c.args;
    const ttlMs = durationFlag(c.flags, "ttl") ?? 30_000;
    const waitMs = durationFlag(c.flags, "wait");
    const graceMs = durationFlag(c.flags, "grace") ?? Math.min(5_000, ttlMs / 3);
    const owner = typeof c.flags.owner === "string" ? c.flags.owner : defaultOwner();
    const client = c.client();
    const sentAt = performance.now();
    const lease = await client.acquire(name, { ttlMs, waitMs, owner, signal: c.interrupted });

    let lostReason: Error | undefined;
    let killTimer: ReturnType<typeof setTimeout> | undefined;
    let child: Deno.ChildProcess | undefined;
    const stopChild = () => {
      if (!child) return;
      signalChild(child, "SIGTERM");
      killTimer = setTimeout(() => child && signalChild(child, "SIGKILL"), graceMs);
    };
    const keeper = new LeaseKeeper(client, lease, {
      sentAt,
      marginMs: graceMs,
      onLost(reason) {
        lostReason = reason;
        c.err(
          `edgeraft: run-locked: ${reason.message}; stopping ${c.rest[0]} ` +
            `(SIGTERM, SIGKILL after ${graceMs} ms)`,
        );
        stopChild();
      },
    });
    try {
      try {
        child = new Deno.Command(c.rest[0], {
          args: c.rest.slice(1),
          env: { EDGERAFT_LOCK_TOKEN: String(lease.token), EDGERAFT_LOCK_NAME: name },
          stdin: "inherit",
          stdout: "inherit",
          stderr: "inherit",
        }).spawn();
      } catch (error) {
        c.err(`edgeraft: run-locked: cannot run ${c.rest[0]}: ${(error as Error).message}`);
        return 127;
      }
      const running = child;
      // Ctrl-C or SIGTERM to run-locked is passed on; the lock is released once CMD ends.
      const forward = () => signalChild(running, String(c.interrupted.reason) as Deno.Signal);
      c.interrupted.addEventListener("abort", forward, { once: true });
      if (lostReason) stopChild();
      const status = await running.status;
      c.interrupted.removeEventListener("abort", forward);
      if (lostReason) {
        c.err(`edgeraft: run-locked: ${c.rest[0]} was stopped: the lease of ${name} was lost`);
        return EXIT.leaseLost;
      }
      if (status.signal) return 128 + (SIGNAL_NUMBERS[status.signal] ?? 0);
      return status.code;
    } finally {
      keeper.stop();
      clearTimeout(killTimer);
      // A lost lease is most likely someone else's by now: the release is refused, harmlessly.
      await client.release(name, lease.token, { timeoutMs: 5_000 }).catch((error) => {
        if (!lostReason) c.err(`edgeraft: run-locked: could not release ${name}: ${error.message}`);
      });
    }
  },
};

function signalChild(child: Deno.ChildProcess, signal: Deno.Signal): void {
  try {
    child.kill(signal);
  } catch {
    // It has exited already.
  }
}
