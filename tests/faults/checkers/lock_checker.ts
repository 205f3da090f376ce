/**
 * The checker of the lock workload. It reads a history (docs/architecture.md#history-files) in
 * which clients `acquire` a lock (invoke value `{ttlMs, waitMs}`, ok value the fencing token),
 * `release` it (value the token), and, while they hold it, `write` their token to a fenced
 * resource whose key is `fenced/<lock>` (`ok`: the resource accepted it, `fail`: it refused it).
 *
 * It checks, per lock:
 * 1. tokens are unique, and strictly increase in grant order: a grant acknowledged before
 *    another was requested has the lower token, and so does a grant whose hold (below) starts
 *    earlier;
 * 2. the fenced resource never accepts a token lower than one it had accepted before, and only
 *    refuses a token when it had accepted a higher one;
 * 3. no two clients hold the lock at the same moment by their own conservative reckoning: a
 *    client holds from the answer to its acquire until it sends its release or until
 *    `ttlMs * (1 - maxDrift) - renewMarginMs` after it SENT the acquire, whichever comes first
 *    (src/state/lock_table.ts, "Clock drift: what a client must do"). A client paused past that
 *    point does not hold by its reckoning; what protects the resource from it is check 2.
 *
 * @module
 */

import type { HistoryEvent } from "../../checker/history.ts";

/**
 * The reckoning's parameters.
 *
 * @example
 * ```ts
 * import type { LockCheckOptions } from "./lock_checker.ts";
 * const o: LockCheckOptions = { maxDrift: 0.01, renewMarginMs: 200 };
 * ```
 */
export interface LockCheckOptions {
  /** The documented bound on relative clock drift (MAX_DRIFT). */
  maxDrift: number;
  /** What a client keeps back from its lease to stop in time. */
  renewMarginMs: number;
}

/**
 * One grant as the client saw it; times in ns since the history started.
 *
 * @example
 * ```ts
 * import type { Hold } from "./lock_checker.ts";
 * const h: Hold = { lock: "l", process: 1, token: 7, sentAt: 0, grantedAt: 5, until: 90 };
 * ```
 */
export interface Hold {
  lock: string;
  process: number;
  token: number;
  /** When the acquire was sent. */
  sentAt: number;
  /** When the grant reached the client. */
  grantedAt: number;
  /** When the client stopped holding by its own reckoning. */
  until: number;
}

/**
 * The verdict of {@linkcode checkLocks}.
 *
 * @example
 * ```ts
 * import type { LockCheckResult } from "./lock_checker.ts";
 * const say = (r: LockCheckResult) => r.valid ? "ok" : r.violations.join("\n");
 * ```
 */
export interface LockCheckResult {
  valid: boolean;
  violations: string[];
  holds: Hold[];
  /** Acquire, release and resource operations looked at. */
  opsChecked: number;
  grants: number;
  resourceWrites: number;
  resourceRefusals: number;
}

interface Pending {
  invoke: HistoryEvent;
}

const ms = (ns: number) => `${(ns / 1e6).toFixed(1)} ms`;

/**
 * Checks a lock workload history; see the module doc for what is checked.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkLocks } from "./lock_checker.ts";
 *
 * const e = (process: number, type: "invoke" | "ok", f: "acquire" | "release",
 *   value: unknown, time: number) =>
 *   ({ process, type, f, key: "l", value: value as number, time });
 * const result = checkLocks([
 *   e(1, "invoke", "acquire", { ttlMs: 1000, waitMs: 0 }, 0),
 *   e(1, "ok", "acquire", 5, 1e6),
 *   e(2, "invoke", "acquire", { ttlMs: 1000, waitMs: 0 }, 2e6),
 *   e(2, "ok", "acquire", 9, 3e6), // while 1 still holds: a violation
 * ], { maxDrift: 0.01, renewMarginMs: 100 });
 * assert.equal(result.valid, false);
 * ```
 */
export function checkLocks(
  events: readonly HistoryEvent[],
  options: LockCheckOptions,
): LockCheckResult {
  const violations: string[] = [];
  const inFlight = new Map<number, Pending>();
  /** The hold of each process that has not sent its release yet. */
  const open = new Map<number, Hold>();
  const holds: Hold[] = [];
  /** Acknowledged grants per lock, in order of acknowledgement, with the request time. */
  const grants = new Map<string, { token: number; sentAt: number; grantedAt: number }[]>();
  const resourceEvents: { invoke: HistoryEvent; done: HistoryEvent }[] = [];
  let opsChecked = 0;

  const closeHold = (process: number, at: number) => {
    const hold = open.get(process);
    if (!hold) return;
    open.delete(process);
    hold.until = Math.min(hold.until, at);
  };

  for (const event of events) {
    if (event.type === "invoke") {
      inFlight.set(event.process, { invoke: event });
      // A client that sends anything else than a resource write has stopped holding.
      if (event.f === "release") closeHold(event.process, event.time);
      else if (event.f === "acquire") closeHold(event.process, event.time);
      continue;
    }
    const pending = inFlight.get(event.process);
    if (!pending) {
      violations.push(
        `malformed history: ${event.type} of process ${event.process} without invoke`,
      );
      continue;
    }
    inFlight.delete(event.process);
    opsChecked++;
    const { invoke } = pending;
    if (invoke.f === "acquire" && event.type === "ok") {
      const token = event.value as number;
      const { ttlMs } = invoke.value as { ttlMs: number };
      const reckoned = invoke.time + (ttlMs * (1 - options.maxDrift) - options.renewMarginMs) * 1e6;
      const hold: Hold = {
        lock: invoke.key,
        process: event.process,
        token,
        sentAt: invoke.time,
        grantedAt: event.time,
        until: Math.max(event.time, reckoned),
      };
      holds.push(hold);
      open.set(event.process, hold);
      const list = grants.get(invoke.key) ?? [];
      list.push({ token, sentAt: invoke.time, grantedAt: event.time });
      grants.set(invoke.key, list);
    } else if (invoke.f === "write" && invoke.key.startsWith("fenced/")) {
      if (event.type === "ok" || event.type === "fail") {
        resourceEvents.push({ invoke, done: event });
      }
    }
  }
  // Holds still open at the end last as long as the client's reckoning says.
  open.clear();

  for (const [lock, list] of grants) checkTokens(lock, list, violations);
  checkExclusion(holds, violations);
  const refusals = checkResource(resourceEvents, violations);
  return {
    valid: violations.length === 0,
    violations,
    holds,
    opsChecked,
    grants: holds.length,
    resourceWrites: resourceEvents.length,
    resourceRefusals: refusals,
  };
}

function checkTokens(
  lock: string,
  list: { token: number; sentAt: number; grantedAt: number }[],
  violations: string[],
): void {
  const seen = new Set<number>();
  for (const grant of list) {
    if (seen.has(grant.token)) violations.push(`${lock}: token ${grant.token} granted twice`);
    seen.add(grant.token);
  }
  // Real-time order: a grant acknowledged before another was requested has a lower token.
  const bySent = [...list].sort((a, b) => a.sentAt - b.sentAt);
  const byGranted = [...list].sort((a, b) => a.grantedAt - b.grantedAt);
  let highest: { token: number; grantedAt: number } | undefined;
  let g = 0;
  for (const later of bySent) {
    while (g < byGranted.length && byGranted[g].grantedAt < later.sentAt) {
      if (!highest || byGranted[g].token > highest.token) highest = byGranted[g];
      g++;
    }
    if (highest && later.token <= highest.token) {
      violations.push(
        `${lock}: token ${later.token} (requested at ${ms(later.sentAt)}) is not above token ` +
          `${highest.token}, granted earlier at ${ms(highest.grantedAt)}`,
      );
    }
  }
}

function checkExclusion(holds: Hold[], violations: string[]): void {
  const byLock = new Map<string, Hold[]>();
  for (const hold of holds) {
    if (hold.until <= hold.grantedAt) continue; // the grant came too late to be used
    const list = byLock.get(hold.lock) ?? [];
    list.push(hold);
    byLock.set(hold.lock, list);
  }
  for (const [lock, list] of byLock) {
    list.sort((a, b) => a.grantedAt - b.grantedAt);
    let previous: Hold | undefined;
    let highest: Hold | undefined;
    for (const hold of list) {
      if (previous && hold.grantedAt < previous.until) {
        violations.push(
          `${lock}: process ${hold.process} (token ${hold.token}) held from ${
            ms(hold.grantedAt)
          } while process ${previous.process} (token ${previous.token}) held until ${
            ms(previous.until)
          }`,
        );
      }
      if (highest && hold.token <= highest.token) {
        violations.push(
          `${lock}: token ${hold.token} held from ${ms(hold.grantedAt)}, after token ` +
            `${highest.token} held from ${ms(highest.grantedAt)}: tokens must increase`,
        );
      }
      if (!previous || hold.until > previous.until) previous = hold;
      if (!highest || hold.token > highest.token) highest = hold;
    }
  }
}

/** Checks the fenced resource's answers; returns how many writes it refused. */
function checkResource(
  writes: { invoke: HistoryEvent; done: HistoryEvent }[],
  violations: string[],
): number {
  const byKey = new Map<string, { invoke: HistoryEvent; done: HistoryEvent }[]>();
  for (const write of writes) {
    const list = byKey.get(write.invoke.key) ?? [];
    list.push(write);
    byKey.set(write.invoke.key, list);
  }
  let refusals = 0;
  for (const [key, list] of byKey) {
    const accepted = list.filter((w) => w.done.type === "ok")
      .sort((a, b) => a.done.time - b.done.time);
    // An accepted write finished before another started: the later one's token is not lower.
    const byInvoke = [...list].sort((a, b) => a.invoke.time - b.invoke.time);
    let highest = -Infinity;
    let i = 0;
    for (const write of byInvoke) {
      while (i < accepted.length && accepted[i].done.time < write.invoke.time) {
        highest = Math.max(highest, accepted[i].invoke.value as number);
        i++;
      }
      const token = write.invoke.value as number;
      if (write.done.type === "ok" && token < highest) {
        violations.push(`${key}: accepted token ${token} after it had accepted ${highest}`);
      }
    }
    for (const write of list) {
      if (write.done.type !== "fail") continue;
      refusals++;
      const token = write.invoke.value as number;
      const higher = accepted.some((a) =>
        (a.invoke.value as number) > token && a.invoke.time < write.done.time
      );
      if (!higher) violations.push(`${key}: refused token ${token} without a higher one`);
    }
  }
  return refusals;
}
