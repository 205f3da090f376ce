/**
 * One measurement: a workload at a number of clients against one system's leader, with the CPU
 * the cluster and the load generator spent meanwhile.
 *
 * @module
 */

import type { BenchCluster } from "./bench_cluster.ts";
import { type HttpClientKind, openHttpClient } from "./http_clients.ts";
import { type LoadProgress, runLoad } from "./load.ts";
import { cpuMillis, totalCpuMillis } from "./proc_stats.ts";
import type { CellResult } from "./results.ts";
import type { SystemApi } from "./system_api.ts";
import { type LoadWorkloadName, makeWorkloadWorker, type WorkloadContext } from "./workloads.ts";

/** How long an edgeraft lock outlives a dead holder. */
const LOCK_TTL_MS = 10_000;
/** How long a contended acquire may wait in line (edgeraft's limit is 60 s). */
const LOCK_WAIT_MS = 30_000;

/**
 * Options of {@linkcode measureCell}.
 *
 * @example
 * ```ts
 * import type { CellOptions } from "./measure_cell.ts";
 * const o: CellOptions = { workload: "put", clients: 16, durationMs: 5000, warmupMs: 1000 };
 * ```
 */
export interface CellOptions {
  workload: LoadWorkloadName;
  clients: number;
  durationMs: number;
  warmupMs: number;
  httpClient?: HttpClientKind;
  onProgress?: (progress: LoadProgress) => void;
}

/**
 * Runs the workload against the current leader of `cluster`.
 *
 * @example
 * ```ts ignore
 * import { measureCell } from "./measure_cell.ts";
 * const cell = await measureCell(cluster, edgeraftApi, {
 *   workload: "put", clients: 64, durationMs: 5000, warmupMs: 1000,
 * });
 * ```
 */
export async function measureCell(
  cluster: BenchCluster,
  api: SystemApi,
  opts: CellOptions,
): Promise<CellResult> {
  const leader = await cluster.leaderId();
  const origin = cluster.clientUrl(leader);
  const pids = cluster.ids.map((id) => cluster.pid(id)).filter((p): p is number => p !== undefined);
  const ctx: WorkloadContext = {
    api,
    tag: `${opts.workload}-${opts.clients}-${Date.now().toString(36)}`,
    lockTtlMs: LOCK_TTL_MS,
    sessionMs: opts.warmupMs + opts.durationMs + LOCK_WAIT_MS + 60_000,
    waitMs: LOCK_WAIT_MS,
  };
  const clusterCpuBefore = totalCpuMillis(pids);
  const generatorCpuBefore = cpuMillis("self");
  const started = performance.now();
  const load = await runLoad({
    workers: opts.clients,
    durationMs: opts.durationMs,
    warmupMs: opts.warmupMs,
    onProgress: opts.onProgress,
    async makeWorker(index) {
      const http = openHttpClient(opts.httpClient ?? "raw", origin);
      try {
        const worker = await makeWorkloadWorker(opts.workload, ctx, http, index);
        return {
          op: worker.op,
          async close() {
            // A session that cannot be closed (a lease left to expire) changes no number.
            await Promise.resolve(worker.close?.()).catch(() => {});
            http.close();
          },
        };
      } catch (e) {
        http.close();
        throw e;
      }
    },
  });
  const wallMs = performance.now() - started;
  const clusterCpuAfter = totalCpuMillis(pids);
  const generatorCpuAfter = cpuMillis("self");
  const cores = (before: number | undefined, after: number | undefined) =>
    before === undefined || after === undefined ? null : (after - before) / wallMs;
  return {
    system: cluster.system,
    workload: opts.workload,
    clients: opts.clients,
    load,
    clusterCpuCores: cores(clusterCpuBefore, clusterCpuAfter),
    generatorCpuCores: cores(generatorCpuBefore, generatorCpuAfter),
  };
}
