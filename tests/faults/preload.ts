/**
 * The preloaded state of a fault run (`--preload N`, issue 17): before the workload and the
 * nemesis start, N keys with 100-byte JSON values go in under `preload/`, a prefix no workload
 * uses, so that every snapshot the nodes take and send during the run is large (~15-20 MB at
 * 100k keys) and a follower that was down catches up through a big transfer. The preload is no
 * part of the checked history; after the run, once the cluster has healed, every node must still
 * hold every preloaded key with its value (checkers/preload_checker.ts).
 *
 * @module
 */

import { setTimeout as delay } from "node:timers/promises";
import type { FaultCluster } from "./cluster.ts";
import { listConfig } from "./list_config.ts";
import { callJson } from "./workloads/http_call.ts";

/**
 * The prefix of the preloaded keys; no workload writes, lists or watches under it.
 *
 * @example
 * ```ts
 * import { PRELOAD_PREFIX } from "./preload.ts";
 * console.log(PRELOAD_PREFIX); // "preload/"
 * ```
 */
export const PRELOAD_PREFIX = "preload/";

/** The size of each value as compact JSON, bytes: the size issue 17's load uses. */
const VALUE_BYTES = 100;

/**
 * The key of preloaded entry `index` (fixed width up to 10 million keys, so that the listing's
 * code point order is the index order).
 *
 * @example
 * ```ts
 * import { preloadKey } from "./preload.ts";
 * console.log(preloadKey(42)); // "preload/0000042"
 * ```
 */
export function preloadKey(index: number): string {
  return PRELOAD_PREFIX + String(index).padStart(7, "0");
}

/**
 * The value of preloaded entry `index`: a JSON object of exactly 100 bytes as compact JSON that
 * names its index, so that a value moved to another key reads as changed.
 *
 * @example
 * ```ts
 * import { preloadValue } from "./preload.ts";
 * console.log(JSON.stringify(preloadValue(7)).length); // 100
 * ```
 */
export function preloadValue(index: number): { i: number; pad: string } {
  const bare = JSON.stringify({ i: index, pad: "" }).length;
  return { i: index, pad: "p".repeat(Math.max(0, VALUE_BYTES - bare)) };
}

/**
 * How the preload went.
 *
 * @example
 * ```ts
 * import type { PreloadResult } from "./preload.ts";
 * const r: PreloadResult = { keys: 2000, elapsedMs: 900, retries: 0 };
 * ```
 */
export interface PreloadResult {
  keys: number;
  elapsedMs: number;
  /** Writes sent again after a failure or an unknown outcome (a PUT of the same value). */
  retries: number;
}

/**
 * Writes keys 0..count-1 through the cluster with `writers` concurrent clients (64 by default,
 * issue 17's load), each through `leader` (measured: 1,240 keys/s against 800 when the writers
 * spread over the nodes and followers forward, on a loaded 2-core machine) and through the next
 * node after a failure; a key is written again until a node acknowledges it (the PUT is
 * idempotent: same key, same value). Stops with an error when `signal` aborts first.
 *
 * @example
 * ```ts ignore
 * import { writePreload } from "./preload.ts";
 * const result = await writePreload(cluster, 100_000, {
 *   leader: await cluster.waitForLeader(30_000),
 *   signal: AbortSignal.timeout(600_000),
 * });
 * console.log(`${result.keys} keys in ${result.elapsedMs} ms`);
 * ```
 */
export async function writePreload(
  cluster: FaultCluster,
  count: number,
  options: {
    /** The node to write through first (the leader: forwarding would cost a third more). */
    leader?: number;
    writers?: number;
    signal?: AbortSignal;
    log?: (line: string) => void;
  } = {},
): Promise<PreloadResult> {
  const started = performance.now();
  let next = 0;
  let written = 0;
  let retries = 0;
  let lastFailure = "";
  const progress = options.log
    ? setInterval(() => options.log?.(`preload: ${written} of ${count} keys written`), 10_000)
    : undefined;
  const writer = async () => {
    let turn = 0;
    while (next < count) {
      const index = next++;
      const key = preloadKey(index);
      const value = preloadValue(index);
      for (;;) {
        if (options.signal?.aborted) {
          throw new Error(
            `the preload stopped at ${written} of ${count} keys` +
              (lastFailure ? `; last failure: ${lastFailure}` : ""),
          );
        }
        const ids = cluster.ids;
        const first = Math.max(0, ids.indexOf(options.leader ?? ids[0]));
        const node = ids[(first + turn) % ids.length];
        const outcome = await callJson(`${cluster.clientUrl(node)}/v1/config/${key}`, {
          method: "PUT",
          body: value,
        }, { timeoutMs: 5000, signal: options.signal });
        if (outcome.kind === "ok") break;
        retries++;
        lastFailure = `${key} via node ${node}: ${outcome.kind} ${outcome.why}`;
        turn++;
        await delay(50);
      }
      written++;
    }
  };
  try {
    await Promise.all(Array.from({ length: options.writers ?? 64 }, writer));
  } finally {
    clearInterval(progress);
  }
  return { keys: count, elapsedMs: Math.round(performance.now() - started), retries };
}

/**
 * What the final reads of the preload found: per source (the leader, read linearizably, and
 * every node, read from its own state), key -> value.
 *
 * @example
 * ```ts
 * import type { PreloadReads } from "./preload.ts";
 * const reads: PreloadReads = new Map([["node 1 (stale)", new Map()]]);
 * ```
 */
export type PreloadReads = Map<string, Map<string, unknown>>;

/**
 * Reads the preloaded keys back once the cluster has converged: from `leader` linearizably
 * (retried a few times: a leader just healed may still be confirming its lease), then from every
 * node's own state (each has applied all the leader committed).
 *
 * @example
 * ```ts ignore
 * import { readPreload } from "./preload.ts";
 * const reads = await readPreload(cluster, await cluster.waitConverged(60_000));
 * ```
 */
export async function readPreload(cluster: FaultCluster, leader: number): Promise<PreloadReads> {
  const reads: PreloadReads = new Map();
  for (let attempt = 0;; attempt++) {
    try {
      reads.set(
        `the leader, node ${leader} (linearizable)`,
        await listConfig(cluster.clientUrl(leader), PRELOAD_PREFIX),
      );
      break;
    } catch (error) {
      if (attempt >= 4) throw error;
      await delay(500);
    }
  }
  for (const node of cluster.ids) {
    reads.set(
      `node ${node} (stale)`,
      await listConfig(cluster.clientUrl(node), PRELOAD_PREFIX, { stale: true }),
    );
  }
  return reads;
}
