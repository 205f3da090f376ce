/**
 * What one benchmark run measured (written as raw.json), and the derived numbers the report
 * and the target checks share: the cell of a system, workload and client count, ratios, and
 * failover percentiles.
 *
 * @module
 */

import type { SystemName } from "./bench_cluster.ts";
import type { FailoverSample } from "./failover.ts";
import type { LoadResult } from "./load.ts";
import type { MemoryResult } from "./memory.ts";
import type { BenchOptions } from "./options.ts";
import type { LoadWorkloadName } from "./workloads.ts";

/**
 * One measurement: a system, a workload, a number of clients.
 *
 * @example
 * ```ts ignore
 * import type { CellResult } from "./results.ts";
 * const cell: CellResult = { system: "etcd", workload: "put", clients: 64, load, clusterCpuCores: 1.4, generatorCpuCores: 0.1 };
 * ```
 */
export interface CellResult {
  system: SystemName;
  workload: LoadWorkloadName;
  clients: number;
  load: LoadResult;
  /** CPU cores the cluster's three processes kept busy, over warm-up and window; null off Linux. */
  clusterCpuCores: number | null;
  /** The same for the load generator (this process). */
  generatorCpuCores: number | null;
}

/**
 * The whole run.
 *
 * @example
 * ```ts ignore
 * import type { BenchRun } from "./results.ts";
 * const run: BenchRun = JSON.parse(await Deno.readTextFile("bench/results/x/raw.json"));
 * ```
 */
export interface BenchRun {
  startedAt: string;
  finishedAt: string;
  environment: {
    deno: string;
    os: string;
    cpus: number;
    etcd: string | null;
    edgeraftCommit: string | null;
  };
  options: BenchOptions;
  systems: SystemName[];
  /** CPU cores each idle cluster used while nothing was sent to it. */
  idleCpuCores: Partial<Record<SystemName, number>>;
  /** The load generator against a trivial local server: the most it can send. */
  generatorCeiling: { clients: number; opsPerSec: number; cpuUsPerOp: number | null } | null;
  preload: { system: SystemName; keys: number; putsPerSec: number }[];
  cells: CellResult[];
  failover: { system: SystemName; samples: FailoverSample[] }[];
  memory: MemoryResult[];
  notes: string[];
}

/**
 * The cell of `system`, `workload` and `clients`, if measured.
 *
 * @example
 * ```ts ignore
 * import { findCell } from "./results.ts";
 * findCell(run, "edgeraft", "put", 64)?.load.opsPerSec;
 * ```
 */
export function findCell(
  run: Pick<BenchRun, "cells">,
  system: SystemName,
  workload: LoadWorkloadName,
  clients: number,
): CellResult | undefined {
  return run.cells.find((c) =>
    c.system === system && c.workload === workload && c.clients === clients
  );
}

/**
 * `a / b`, or undefined when either is missing or `b` is 0.
 *
 * @example
 * ```ts
 * import { ratio } from "./results.ts";
 * ratio(6, 3); // 2
 * ratio(1, 0); // undefined
 * ```
 */
export function ratio(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined || b === undefined || b === 0) return undefined;
  return a / b;
}

/**
 * The nearest-rank percentile of failover times; a repetition that never recovered counts as
 * slower than any other (Infinity). Undefined when there are no samples.
 *
 * @example
 * ```ts
 * import { failoverPercentile } from "./results.ts";
 * failoverPercentile([
 *   { killedId: 1, ms: 300, attempts: 3 },
 *   { killedId: 2, ms: 500, attempts: 4 },
 *   { killedId: 3, ms: 400, attempts: 4 },
 * ], 50); // 400
 * ```
 */
export function failoverPercentile(samples: FailoverSample[], p: number): number | undefined {
  if (samples.length === 0) return undefined;
  const sorted = samples.map((s) => s.ms ?? Infinity).sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1];
}
