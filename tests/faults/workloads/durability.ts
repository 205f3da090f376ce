/**
 * The durability workload: clients write new keys (`dur/<n>`, each written once) through
 * random nodes while nodes crash, freeze and get cut off. After healing, every node is asked
 * for every key (`?consistency=stale`, once it has applied all the leader committed), and the
 * leader linearizably: every acknowledged write must be there, on every node, with its value,
 * and nothing must be there that nobody wrote.
 *
 * @module
 */

import { setTimeout as delay } from "node:timers/promises";
import { listConfig } from "../list_config.ts";
import { callJson, whyNot } from "./http_call.ts";
import {
  OPERATION_TIMEOUT_MS,
  type Workload,
  type WorkloadContext,
  type WorkloadVerdict,
} from "./workload.ts";

const PREFIX = "dur/";

/**
 * Creates the durability workload.
 *
 * @example
 * ```ts ignore
 * const workload = durabilityWorkload();
 * ```
 */
export function durabilityWorkload(): Workload {
  const written = new Map<string, { value: number; status: "ok" | "info" }>();
  /** node id (0: the leader, linearizably) -> key -> value found. */
  const found = new Map<number, Map<string, unknown>>();
  let nextKey = 1;

  const listAll = (ctx: WorkloadContext, node: number, stale: boolean) =>
    listConfig(ctx.cluster.clientUrl(node), PREFIX, { stale });

  const writer = async (ctx: WorkloadContext, process: number, signal: AbortSignal) => {
    while (!signal.aborted) {
      const n = nextKey++;
      const key = `${PREFIX}${String(n).padStart(6, "0")}`;
      const node = ctx.prng.pick(ctx.cluster.ids);
      ctx.history.invoke(process, "write", key, n);
      const outcome = await callJson(`${ctx.cluster.clientUrl(node)}/v1/config/${key}`, {
        method: "PUT",
        body: n,
      }, { timeoutMs: OPERATION_TIMEOUT_MS, ambiguous503: ctx.ambiguous503 });
      if (outcome.kind !== "ok") ctx.explain(process, "write", key, whyNot(outcome));
      if (outcome.kind === "ok") {
        written.set(key, { value: n, status: "ok" });
        ctx.history.ok(process, "write", key, n);
      } else if (outcome.kind === "refused") {
        ctx.history.fail(process, "write", key, n);
        await delay(50);
      } else {
        written.set(key, { value: n, status: "info" });
        ctx.history.info(process, "write", key, n);
        await delay(50);
      }
    }
  };

  return {
    name: "durability",
    async run(ctx, signal) {
      await Promise.all(Array.from({ length: ctx.clients }, (_, i) => writer(ctx, i + 1, signal)));
    },
    async finish(ctx) {
      const leader = await ctx.cluster.currentLeader() ?? ctx.cluster.ids[0];
      for (let attempt = 0;; attempt++) {
        try {
          found.set(0, await listAll(ctx, leader, false));
          break;
        } catch (error) {
          if (attempt >= 4) throw error;
          await delay(500);
        }
      }
      for (const node of ctx.cluster.ids) found.set(node, await listAll(ctx, node, true));
    },
    check(ctx): WorkloadVerdict {
      const details: string[] = [];
      const attempted = new Set(ctx.history.events.map((e) => e.key));
      let missing = 0;
      for (const [node, values] of found) {
        const where = node === 0 ? "the leader (linearizable)" : `node ${node} (stale)`;
        for (const [key, { value, status }] of written) {
          const there = values.get(key);
          if (status === "ok" && there === undefined) {
            missing++;
            if (details.length < 20) {
              details.push(`${where}: acknowledged ${key} = ${value} is gone`);
            }
          } else if (there !== undefined && there !== value) {
            details.push(`${where}: ${key} = ${JSON.stringify(there)}, but ${value} was written`);
          }
        }
        for (const key of values.keys()) {
          if (written.has(key)) continue;
          details.push(
            attempted.has(key)
              ? `${where}: ${key} is there, but its write was refused (it said: not applied)`
              : `${where}: ${key} is there but nobody wrote it`,
          );
        }
      }
      // Every node has applied what the leader committed: they must hold the same keys.
      const leaderKeys = [...(found.get(0)?.keys() ?? [])].sort().join(",");
      for (const node of ctx.cluster.ids) {
        const keys = [...(found.get(node)?.keys() ?? [])].sort().join(",");
        if (keys !== leaderKeys) details.push(`node ${node} holds other keys than the leader`);
      }
      if (found.size === 0) details.push("the final reads did not happen");
      const valid = details.length === 0;
      const acknowledged = [...written.values()].filter((w) => w.status === "ok").length;
      const unknown = written.size - acknowledged;
      const survivedUnknown =
        [...written].filter(([key, w]) => w.status === "info" && found.get(0)?.has(key)).length;
      if (valid) {
        details.push(
          `${acknowledged} acknowledged writes all present on ${found.size - 1} nodes and the ` +
            `leader; ${survivedUnknown} of ${unknown} writes of unknown outcome took effect`,
        );
      } else if (missing > 0) details.unshift(`${missing} acknowledged writes missing`);
      return {
        valid,
        opsChecked: attempted.size,
        details,
        stats: { acknowledged, unknown, survivedUnknown, nodesRead: found.size - 1 },
      };
    },
  };
}
