/**
 * The workloads of docs/architecture.md#benchmarks, defined once over {@linkcode SystemApi} so
 * that both systems run exactly the same load: config put (100-byte values over 10k keys),
 * linearizable get, stale get, and lock acquire + release, uncontended (a lock per worker) and
 * contended (one lock for all workers).
 *
 * @module
 */

import type { HttpClient } from "./http_clients.ts";
import type { LoadWorker } from "./load.ts";
import type { LockSession, SystemApi } from "./system_api.ts";

/**
 * The load workloads, in the order a run measures them.
 *
 * @example
 * ```ts
 * import { LOAD_WORKLOADS } from "./workloads.ts";
 * LOAD_WORKLOADS[0]; // "put"
 * ```
 */
export const LOAD_WORKLOADS = ["put", "get", "stale-get", "lock", "lock-contended"] as const;

/**
 * The name of a load workload.
 *
 * @example
 * ```ts
 * import type { LoadWorkloadName } from "./workloads.ts";
 * const w: LoadWorkloadName = "stale-get";
 * ```
 */
export type LoadWorkloadName = typeof LOAD_WORKLOADS[number];

/**
 * How many distinct keys the config workloads use.
 *
 * @example
 * ```ts
 * import { KEY_COUNT } from "./workloads.ts";
 * KEY_COUNT; // 10000
 * ```
 */
export const KEY_COUNT = 10_000;

/**
 * The 100-byte value every put writes (edgeraft stores it as a JSON string).
 *
 * @example
 * ```ts
 * import { VALUE_100_BYTES } from "./workloads.ts";
 * VALUE_100_BYTES.length; // 100
 * ```
 */
export const VALUE_100_BYTES = "edgeraft-bench-value-".padEnd(100, "0123456789abcdef");

/**
 * The name of key `index` under `prefix` (fixed width, so every key has the same size).
 *
 * @example
 * ```ts
 * import { keyName } from "./workloads.ts";
 * keyName("bench-k", 42); // "bench-k000042"
 * ```
 */
export function keyName(prefix: string, index: number): string {
  return prefix + String(index).padStart(6, "0");
}

/**
 * The key prefix of the config workloads.
 *
 * @example
 * ```ts
 * import { BENCH_KEY_PREFIX } from "./workloads.ts";
 * BENCH_KEY_PREFIX; // "bench-k"
 * ```
 */
export const BENCH_KEY_PREFIX = "bench-k";

/**
 * What a workload's workers share within one measurement.
 *
 * @example
 * ```ts ignore
 * import type { WorkloadContext } from "./workloads.ts";
 * const ctx: WorkloadContext = { api, tag: "put-16", lockTtlMs: 10_000, sessionMs: 60_000, waitMs: 30_000 };
 * ```
 */
export interface WorkloadContext {
  api: SystemApi;
  /** Unique per measurement, so that the locks of one do not meet those of another. */
  tag: string;
  /** TTL of an edgeraft lock grant. */
  lockTtlMs: number;
  /** How long an etcd lock session (lease) must last: longer than the measurement. */
  sessionMs: number;
  /** How long a contended acquire may wait in line. */
  waitMs: number;
}

const randomKey = () => keyName(BENCH_KEY_PREFIX, Math.floor(Math.random() * KEY_COUNT));

function lockCycle(
  ctx: WorkloadContext,
  http: HttpClient,
  session: LockSession,
  name: string,
): LoadWorker {
  return {
    async op() {
      const held = await session.acquire(http, name, { waitMs: ctx.waitMs });
      await session.release(http, name, held);
    },
    close: () => session.close(http),
  };
}

/**
 * Creates worker `index` of workload `name`; the worker uses `http` (its own connection to the
 * leader) and owns nothing else the caller must close, except through `close`.
 *
 * @example
 * ```ts ignore
 * import { makeWorkloadWorker } from "./workloads.ts";
 * const worker = await makeWorkloadWorker("put", ctx, http, 0);
 * await worker.op();
 * ```
 */
export async function makeWorkloadWorker(
  name: LoadWorkloadName,
  ctx: WorkloadContext,
  http: HttpClient,
  index: number,
): Promise<LoadWorker> {
  const { api } = ctx;
  switch (name) {
    case "put":
      return { op: () => api.put(http, randomKey(), VALUE_100_BYTES) };
    case "get":
      return { op: () => api.get(http, randomKey(), "linearizable") };
    case "stale-get":
      return { op: () => api.get(http, randomKey(), "stale") };
    case "lock":
    case "lock-contended": {
      const session = await api.openLockSession(http, ctx);
      const lock = name === "lock" ? `bench-lock-${ctx.tag}-w${index}` : `bench-lock-${ctx.tag}`;
      return lockCycle(ctx, http, session, lock);
    }
  }
}

/**
 * Whether the workload reads the config keys (which must then be loaded first).
 *
 * @example
 * ```ts
 * import { readsKeys } from "./workloads.ts";
 * readsKeys("get"); // true
 * ```
 */
export function readsKeys(name: LoadWorkloadName): boolean {
  return name === "get" || name === "stale-get";
}
