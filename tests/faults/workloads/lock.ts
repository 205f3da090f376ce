/**
 * The lock workload: clients loop acquire (try-lock or waiting) -> work on a fenced resource
 * -> release, on two contended locks, through random nodes. The resource lives in the harness:
 * it keeps the highest token it accepted and refuses lower ones. Checked by
 * `checkers/lock_checker.ts`, with the drift bound of src/state/lock_table.ts.
 *
 * A client works only while its own reckoning says it holds the lock: until
 * `ttlMs * (1 - MAX_DRIFT) - RENEW_MARGIN_MS` after it sent the acquire. Now and then a client
 * freezes between that check and its write, past its lease, as a paused process would: then
 * only the fencing token protects the resource.
 *
 * @module
 */

import { setTimeout as delay } from "node:timers/promises";
import { MAX_DRIFT } from "../../../src/state/lock_table.ts";
import { checkLocks } from "../checkers/lock_checker.ts";
import { callJson, whyNot } from "./http_call.ts";
import type { Workload, WorkloadContext, WorkloadVerdict } from "./workload.ts";

/**
 * What a client keeps back from its lease to stop in time (a release round trip and more).
 *
 * @example
 * ```ts
 * import { RENEW_MARGIN_MS } from "./lock.ts";
 * const workUntilMs = 2500 * 0.99 - RENEW_MARGIN_MS; // after sending the acquire
 * ```
 */
export const RENEW_MARGIN_MS = 250;
const TTL_MS = 2500;
/** How often a holder freezes between checking its lease and writing to the resource. */
const PAUSE_CHANCE = 0.03;
const LOCKS = ["lock-a", "lock-b"];

/**
 * A resource guarded by fencing tokens, as a storage service would guard itself.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FencedResource } from "./lock.ts";
 * const r = new FencedResource();
 * assert.equal(r.accept(5), true);
 * assert.equal(r.accept(3), false);
 * ```
 */
export class FencedResource {
  #highest = -Infinity;

  /**
   * Accepts a write with `token` unless a higher token was accepted before.
   *
   * @example
   * ```ts
   * import { FencedResource } from "./lock.ts";
   * new FencedResource().accept(1); // true
   * ```
   */
  accept(token: number): boolean {
    if (token < this.#highest) return false;
    this.#highest = token;
    return true;
  }
}

/**
 * Creates the lock workload.
 *
 * @example
 * ```ts ignore
 * const workload = lockWorkload();
 * ```
 */
export function lockWorkload(): Workload {
  const resources = new Map(LOCKS.map((lock) => [lock, new FencedResource()]));
  const finalHolders: Record<string, number | null> = {};

  const useResource = async (
    ctx: WorkloadContext,
    process: number,
    lock: string,
    token: number,
  ) => {
    const key = `fenced/${lock}`;
    ctx.history.invoke(process, "write", key, token);
    await delay(2 + ctx.prng.int(10)); // the way to the resource
    if (resources.get(lock)!.accept(token)) ctx.history.ok(process, "write", key, token);
    else ctx.history.fail(process, "write", key, token);
  };

  const client = async (ctx: WorkloadContext, process: number, signal: AbortSignal) => {
    while (!signal.aborted) {
      const lock = ctx.prng.pick(LOCKS);
      const node = ctx.prng.pick(ctx.cluster.ids);
      const waitMs = ctx.prng.chance(0.3) ? 0 : 500 + ctx.prng.int(2000);
      const sent = ctx.history.invoke(process, "acquire", lock, { ttlMs: TTL_MS, waitMs });
      const outcome = await callJson(`${ctx.cluster.clientUrl(node)}/v1/locks/${lock}/acquire`, {
        method: "POST",
        body: { ttlMs: TTL_MS, waitMs, owner: `client-${process}` },
      }, { timeoutMs: waitMs + 3000, ambiguous503: ctx.ambiguous503 });
      if (outcome.kind !== "ok") {
        ctx.explain(process, "acquire", lock, whyNot(outcome));
        if (outcome.kind === "refused") ctx.history.fail(process, "acquire", lock, null);
        else ctx.history.info(process, "acquire", lock, null);
        if (outcome.kind !== "refused" || outcome.status !== 409) await delay(50);
        continue;
      }
      const token = outcome.body.token as number;
      ctx.history.ok(process, "acquire", lock, token);
      const leaseEnd = sent.time + (TTL_MS * (1 - MAX_DRIFT) - RENEW_MARGIN_MS) * 1e6;
      const steps = 1 + ctx.prng.int(3);
      for (let step = 0; step < steps; step++) {
        if (ctx.elapsedNs() >= leaseEnd) break; // by its own clock the lease may be over
        // Now and then the client freezes right after checking (a GC pause, a stopped VM) and
        // writes long after its lease: the fencing token is what must stop that write.
        if (ctx.prng.chance(PAUSE_CHANCE)) await delay(TTL_MS + ctx.prng.int(1000));
        await useResource(ctx, process, lock, token);
        await delay(20 + ctx.prng.int(150));
      }
      ctx.history.invoke(process, "release", lock, token);
      const released = await callJson(`${ctx.cluster.clientUrl(node)}/v1/locks/${lock}/release`, {
        method: "POST",
        body: { token },
      }, { timeoutMs: 3000, ambiguous503: ctx.ambiguous503 });
      if (released.kind === "ok") ctx.history.ok(process, "release", lock, token);
      else if (released.kind === "refused") ctx.history.fail(process, "release", lock, token);
      else ctx.history.info(process, "release", lock, token);
    }
  };

  return {
    name: "lock",
    async run(ctx, signal) {
      await Promise.all(Array.from({ length: ctx.clients }, (_, i) => client(ctx, i + 1, signal)));
    },
    async finish(ctx) {
      // The current holders, linearizably, for the check that no later grant was lost.
      const leader = await ctx.cluster.currentLeader() ?? ctx.cluster.ids[0];
      for (const lock of LOCKS) {
        const outcome = await callJson(`${ctx.cluster.clientUrl(leader)}/v1/locks/${lock}`, {
          method: "GET",
        }, { timeoutMs: 5000 });
        if (outcome.kind === "ok") {
          const holder = outcome.body.holder as { token: number } | null;
          finalHolders[lock] = holder?.token ?? null;
        }
      }
    },
    check(ctx): WorkloadVerdict {
      const result = checkLocks(ctx.history.events, {
        maxDrift: MAX_DRIFT,
        renewMarginMs: RENEW_MARGIN_MS,
      });
      const details = [...result.violations];
      for (const [lock, token] of Object.entries(finalHolders)) {
        if (token === null) continue;
        const higher = result.holds.filter((h) => h.lock === lock && h.token > token);
        if (higher.length > 0) {
          details.push(
            `${lock}: held at the end with token ${token}, below granted token ${higher[0].token}`,
          );
        }
      }
      const valid = details.length === 0;
      if (valid) {
        details.push(
          `${result.grants} grants, ${result.resourceWrites} resource writes ` +
            `(${result.resourceRefusals} refused): tokens, fencing and exclusion hold`,
        );
      }
      return {
        valid,
        opsChecked: result.opsChecked,
        details,
        stats: {
          grants: result.grants,
          resourceWrites: result.resourceWrites,
          resourceRefusals: result.resourceRefusals,
        },
      };
    },
  };
}
