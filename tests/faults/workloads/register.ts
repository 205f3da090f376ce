/**
 * The register workload: clients read, write and compare-and-set a handful of config keys
 * through random nodes; the history is checked for linearizability per key (Wing-Gong/Lowe,
 * `tests/checker`), with `info` operations possibly applied.
 *
 * Compare-and-set goes by revision (`If-Match: "<revision>"`) while the register model
 * compares values. Every write writes a value never written before, so a key's revision names
 * exactly one value: a cas expecting value v sends the revision v was written at (learned from
 * an acknowledged write or a read), and `If-Match: "0"` expects the key absent.
 *
 * @module
 */

import { setTimeout as delay } from "node:timers/promises";
import { pairOperations } from "../../checker/history.ts";
import { checkHistory } from "../../checker/linearizability.ts";
import { registerModel } from "../../checker/register_model.ts";
import { callJson, whyNot } from "./http_call.ts";
import {
  OPERATION_TIMEOUT_MS,
  type Workload,
  type WorkloadContext,
  type WorkloadVerdict,
} from "./workload.ts";

/**
 * Settings of the register workload.
 *
 * @example
 * ```ts
 * import type { RegisterOptions } from "./register.ts";
 * const o: RegisterOptions = { keys: 4 };
 * ```
 */
export interface RegisterOptions {
  /** How many keys the clients share. Default 4. */
  keys?: number;
}

/**
 * Creates the register workload.
 *
 * @example
 * ```ts ignore
 * const workload = registerWorkload({ keys: 3 });
 * ```
 */
export function registerWorkload(options: RegisterOptions = {}): Workload {
  const keys = Array.from({ length: options.keys ?? 4 }, (_, i) => `reg/k${i}`);
  /** key -> revision -> the (unique) value written at that revision. */
  const known = new Map<string, Map<number, number>>(keys.map((k) => [k, new Map()]));
  let nextValue = 1;

  const learn = (key: string, revision: unknown, value: unknown) => {
    if (typeof revision === "number" && typeof value === "number") {
      known.get(key)!.set(revision, value);
    }
  };

  const read = async (
    ctx: WorkloadContext,
    process: number,
    node: number,
    key: string,
  ): Promise<boolean> => {
    ctx.history.invoke(process, "read", key, null);
    const outcome = await callJson(`${ctx.cluster.clientUrl(node)}/v1/config/${key}`, {
      method: "GET",
    }, { timeoutMs: OPERATION_TIMEOUT_MS, ambiguous503: ctx.ambiguous503 });
    if (outcome.kind === "ok") {
      const value = outcome.body.value as number;
      learn(key, outcome.body.revision, value);
      ctx.history.ok(process, "read", key, value);
      return true;
    }
    if (outcome.kind === "refused" && outcome.status === 404) {
      ctx.history.ok(process, "read", key, null);
      return true;
    }
    // A read that did not answer changed nothing: it may be dropped from the history.
    ctx.history.fail(process, "read", key, null);
    return false;
  };

  const write = async (
    ctx: WorkloadContext,
    process: number,
    node: number,
    key: string,
  ): Promise<boolean> => {
    const value = nextValue++;
    ctx.history.invoke(process, "write", key, value);
    const outcome = await callJson(`${ctx.cluster.clientUrl(node)}/v1/config/${key}`, {
      method: "PUT",
      body: value,
    }, { timeoutMs: OPERATION_TIMEOUT_MS, ambiguous503: ctx.ambiguous503 });
    if (outcome.kind === "ok") {
      learn(key, outcome.body.revision, value);
      ctx.history.ok(process, "write", key, value);
    } else if (outcome.kind === "refused") {
      ctx.history.fail(process, "write", key, value);
    } else {
      ctx.history.info(process, "write", key, value);
    }
    if (outcome.kind !== "ok") ctx.explain(process, "write", key, whyNot(outcome));
    return outcome.kind === "ok";
  };

  const cas = async (
    ctx: WorkloadContext,
    process: number,
    node: number,
    key: string,
  ): Promise<boolean> => {
    const revisions = [...known.get(key)!.keys()].sort((a, b) => a - b);
    // Mostly expect the newest value seen (likely to succeed), sometimes an older one.
    let revision = 0;
    if (revisions.length > 0) {
      revision = ctx.prng.chance(0.75) ? revisions[revisions.length - 1] : ctx.prng.pick(revisions);
    }
    const expected = revision === 0 ? null : known.get(key)!.get(revision)!;
    const value = nextValue++;
    const input = [expected, value];
    ctx.history.invoke(process, "cas", key, input);
    const outcome = await callJson(`${ctx.cluster.clientUrl(node)}/v1/config/${key}`, {
      method: "PUT",
      body: value,
      headers: { "if-match": `"${revision}"` },
    }, { timeoutMs: OPERATION_TIMEOUT_MS, ambiguous503: ctx.ambiguous503 });
    if (outcome.kind === "ok") {
      learn(key, outcome.body.revision, value);
      ctx.history.ok(process, "cas", key, input);
    } else if (outcome.kind === "refused") {
      ctx.history.fail(process, "cas", key, input);
    } else {
      ctx.history.info(process, "cas", key, input);
    }
    if (outcome.kind !== "ok") ctx.explain(process, "cas", key, whyNot(outcome));
    // A failed comparison is an answer; anything else means the node could not serve.
    return outcome.kind === "ok" || (outcome.kind === "refused" && outcome.status === 412);
  };

  return {
    name: "register",
    async run(ctx, signal) {
      const client = async (process: number) => {
        while (!signal.aborted) {
          const node = ctx.prng.pick(ctx.cluster.ids);
          const key = ctx.prng.pick(keys);
          const roll = ctx.prng.next();
          const answered = roll < 0.4
            ? await read(ctx, process, node, key)
            : roll < 0.75
            ? await write(ctx, process, node, key)
            : await cas(ctx, process, node, key);
          // Without a leader (or with the node down) answers come fast: do not spin.
          if (!answered) await delay(50);
        }
      };
      await Promise.all(Array.from({ length: ctx.clients }, (_, i) => client(i + 1)));
    },
    async finish(ctx) {
      // Every node, every key, linearizably: what the cluster ended with goes into the check.
      let process = ctx.clients + 1;
      for (const node of ctx.cluster.ids) {
        await Promise.all(keys.map(async (key, i) => {
          for (let attempt = 0; attempt < 5; attempt++) {
            if (await read(ctx, process + i, node, key)) return;
            await delay(200);
          }
        }));
        process += keys.length;
      }
    },
    check(ctx): WorkloadVerdict {
      const ops = pairOperations(ctx.history.events);
      const result = checkHistory(ops, registerModel);
      const details: string[] = [];
      if (result.failure) {
        details.push(`not linearizable on ${result.key}: ${result.failure.message}`);
      }
      if (result.unknownKeys.length > 0) {
        details.push(`search budget ran out on ${result.unknownKeys.join(", ")}`);
      }
      if (result.ok) details.push(`linearizable: ${result.keysChecked} keys`);
      const count = (f: string, status: string) =>
        ops.filter((op) => op.f === f && op.status === status).length;
      return {
        valid: result.verdict === "linearizable"
          ? true
          : result.verdict === "violation"
          ? false
          : "unknown",
        opsChecked: result.opsChecked,
        details,
        stats: {
          readsOk: count("read", "ok"),
          writesOk: count("write", "ok"),
          writesInfo: count("write", "info"),
          casOk: count("cas", "ok"),
          casInfo: count("cas", "info"),
          searchSteps: result.steps,
        },
      };
    },
  };
}
