/**
 * Lock acquisition as a long poll. A request with `waitMs > 0` that finds the lock held is
 * queued by the state machine (FIFO); the request then stays open until the log grants it the
 * lock (`lockGranted` with its waiter id) or its wait runs out (`waitTimedOut`). A client that
 * disconnects leaves the queue, and a grant that can no longer reach its client is released at
 * once rather than held until its lease ends: both by `abandonWait`, which also clears the
 * wait's exactly-once record, so that a retry with the same key is applied afresh instead of
 * being told about a wait it no longer has. Every request answered with the wait (the first,
 * and each retry with its key) is an attempt attached to it, named by its own log entry
 * (`at`): `abandonWait` detaches this request's attempt, and the wait is withdrawn only when no
 * attempt is left. A request that answered its client never detaches, so a grant a client was
 * told about is never released by another request's departure.
 *
 * @module
 */

import type { Context } from "hono";
import type { AcquireCommand } from "../state/commands.ts";
import { holderView } from "../state/lock_table.ts";
import type { AcquireGranted, AcquireQueued, HolderView, LockEvent } from "../state/results.ts";
import type { ApiDeps, ApiEnv } from "./app_env.ts";
import { outcomeHeaders, submitCommand, succeeded } from "./node_calls.ts";
import { ProblemError } from "./problem.ts";

/**
 * How long past `waitMs` a waiting request trusts the log to end its wait: a wait ends by a
 * `tick` the leader proposes, which needs a leader. Past this the request gives up (504) and
 * withdraws from the queue.
 */
const WAIT_GRACE_MS = 5000;

/**
 * The answer to a granted acquire.
 *
 * @example
 * ```ts
 * import type { GrantBody } from "./lock_wait.ts";
 * const g: GrantBody = { name: "cron", token: 42, owner: "a", ttlMs: 5000, expiresAt: 9000 };
 * ```
 */
export interface GrantBody {
  name: string;
  token: number;
  owner: string;
  ttlMs: number;
  expiresAt: number;
}

type Decision =
  | { type: "granted"; token: number; expiresAt: number }
  | { type: "ended" };

/**
 * Acquires a lock for the request `c`, waiting in line when `cmd.waitMs > 0`. Resolves with
 * the grant; throws the 409 problem when the lock stayed held.
 *
 * @example
 * ```ts ignore
 * return c.json(await acquireLock(deps, c, { op: "acquire", name, owner, ttlMs, waitMs }));
 * ```
 */
export async function acquireLock(
  deps: ApiDeps,
  c: Context<ApiEnv>,
  cmd: AcquireCommand,
): Promise<GrantBody> {
  const { node } = deps;
  const signal = c.req.raw.signal;
  // Listen before proposing: the grant may be applied in the same batch as the acquire,
  // before this function runs again.
  const decisions = new Map<number, LockEvent>();
  let wake = () => {};
  const unsubscribe = node.onApply((outcome) => {
    for (const event of outcome.events) {
      if (event.type !== "lockGranted" && event.type !== "waitTimedOut") continue;
      if (event.name !== cmd.name) continue;
      decisions.set(event.waiterId, event);
      wake();
    }
  });
  try {
    const outcome = await submitCommand(deps, c, cmd);
    const refused = outcome.result;
    // With waitMs > 0 an acquire is queued, never refused: "held" is the replay of a wait that
    // ran out, and it must read as the first answer did.
    if (!refused.ok && refused.reason === "held" && cmd.waitMs > 0) {
      throw stayedHeld(cmd, refused.holder, refused.expiresAt, outcomeHeaders(outcome));
    }
    const result = succeeded<AcquireGranted | AcquireQueued>(outcome);
    // This request's own entry, fresh or answered from the key's record: the attempt it
    // detaches if its client goes away (the wait stays for any other attempt attached).
    const at = outcome.index;
    if (!result.queued) {
      if (signal.aborted) void letGo(deps, cmd.name, result.token, at);
      return grantBody(cmd, result.token, result.expiresAt);
    }
    const waiterId = result.waiterId;
    const decided = () =>
      decisionOf(decisions.get(waiterId)) ?? decisionFromState(deps, cmd, waiterId);
    deps.metrics.lockWaits++;
    let ended: "decided" | "aborted" | "timeout";
    let timer: ReturnType<typeof setTimeout> | undefined;
    let onAbort = () => {};
    try {
      ended = await new Promise((resolve) => {
        if (decided() !== undefined) return resolve("decided");
        if (signal.aborted) return resolve("aborted");
        wake = () => {
          if (decided() !== undefined) resolve("decided");
        };
        onAbort = () => resolve("aborted");
        signal.addEventListener("abort", onAbort, { once: true });
        timer = setTimeout(() => resolve("timeout"), cmd.waitMs + WAIT_GRACE_MS);
      });
    } finally {
      deps.metrics.lockWaits--;
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
    }
    const decision = decided();
    if (ended !== "decided" || signal.aborted) {
      void withdraw(deps, cmd.name, waiterId, decision, at);
      if (ended === "timeout") {
        throw new ProblemError(504, "timeout", "the wait did not end in time; it was withdrawn");
      }
      throw new ProblemError(499, "client-closed", "the client went away; the wait was withdrawn");
    }
    if (decision?.type === "granted") return grantBody(cmd, decision.token, decision.expiresAt);
    const holder = node.sm.lockInfo(cmd.name).holder;
    throw stayedHeld(cmd, holderView(holder), holder?.expiresAt ?? null);
  } finally {
    unsubscribe();
  }
}

/** The 409 of a wait that ran out, in the same words for the first answer and a replay. */
function stayedHeld(
  cmd: AcquireCommand,
  holder: HolderView | null,
  expiresAt: number | null,
  headers: Record<string, string> = {},
): ProblemError {
  const detail = `the lock ${cmd.name} stayed held for waitMs = ${cmd.waitMs}`;
  return new ProblemError(409, "lock-held", detail, { holder, expiresAt }, headers);
}

function grantBody(cmd: AcquireCommand, token: number, expiresAt: number): GrantBody {
  return { name: cmd.name, token, owner: cmd.owner, ttlMs: cmd.ttlMs, expiresAt };
}

function decisionOf(event: LockEvent | undefined): Decision | undefined {
  if (event === undefined) return undefined;
  return event.type === "lockGranted"
    ? { type: "granted", token: event.token, expiresAt: event.expiresAt }
    : { type: "ended" };
}

/**
 * How a wait stands in the state machine: for a replayed acquire (same Idempotency-Key), whose
 * events went by before this request listened.
 */
function decisionFromState(
  deps: ApiDeps,
  cmd: AcquireCommand,
  waiterId: number,
): Decision | undefined {
  const info = deps.node.sm.lockInfo(cmd.name);
  if (info.holder?.waiterId === waiterId) {
    return { type: "granted", token: info.holder.token, expiresAt: info.holder.expiresAt };
  }
  if (info.waiters.some((w) => w.waiterId === waiterId)) return undefined;
  return { type: "ended" };
}

/**
 * Detaches attempt `at` from an abandoned wait; when it was the last, the same log entry takes
 * the wait out of the queue or releases what it was granted meanwhile (so no grant can slip in
 * between).
 */
async function withdraw(
  deps: ApiDeps,
  name: string,
  waiterId: number,
  decision: Decision | undefined,
  at: number,
): Promise<void> {
  if (decision?.type === "ended") return;
  try {
    await deps.node.submit({ cmd: { op: "abandonWait", name, waiterId, at } });
  } catch (error) {
    deps.logger?.log("warn", "could not withdraw an abandoned lock wait", {
      name,
      waiterId,
      error: String(error),
    });
  }
}

/**
 * Releases a grant whose client is gone (best effort: the lease ends it otherwise). `token` is
 * what the request was answered; the holder's waiter id names the wait to withdraw.
 */
async function letGo(deps: ApiDeps, name: string, token: number, at: number): Promise<void> {
  const holder = deps.node.sm.lockInfo(name).holder;
  // Already released or expired (the holder changed): nothing of this request's is left.
  if (holder?.token !== token) return;
  await withdraw(deps, name, holder.waiterId, undefined, at);
}
