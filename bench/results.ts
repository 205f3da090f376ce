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
  /** Which round (from 1) measured it, with `--rounds`; absent in a cell that combines rounds. */
  round?: number;
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
  /** One per system, workload and client count: with several rounds, their medians (`combineRounds`). */
  cells: CellResult[];
  /** Every measurement of every round, when there was more than one round. */
  roundCells?: CellResult[];
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

/**
 * edgeraft's `metric` over etcd's for one workload and client count. With rounds it is the
 * median of each round's ratio: the two systems were measured back to back within a round, so a
 * round's ratio cancels most of the machine's drift, and a ratio of medians taken from different
 * rounds would not. Undefined when a system or the metric is missing.
 *
 * @example
 * ```ts ignore
 * import { systemsRatio } from "./results.ts";
 * systemsRatio(run, "put", 64, (l) => l.opsPerSec); // 1.57
 * ```
 */
export function systemsRatio(
  run: Pick<BenchRun, "cells" | "roundCells">,
  workload: LoadWorkloadName,
  clients: number,
  metric: (load: LoadResult) => number,
): number | undefined {
  const of = (cells: Pick<BenchRun, "cells">) => {
    const ours = findCell(cells, "edgeraft", workload, clients);
    const theirs = findCell(cells, "etcd", workload, clients);
    return ratio(ours && metric(ours.load), theirs && metric(theirs.load));
  };
  if (!run.roundCells) return of(run);
  const rounds = [...new Set(run.roundCells.map((c) => c.round))];
  const ratios = rounds
    .map((r) => of({ cells: run.roundCells!.filter((c) => c.round === r) }))
    .filter((x): x is number => x !== undefined);
  return ratios.length === 0 ? undefined : median(ratios);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function medianOrNull(values: (number | null)[]): number | null {
  const known = values.filter((v): v is number => v !== null);
  return known.length === 0 ? null : median(known);
}

/**
 * One cell per system, workload and client count out of several rounds' measurements: the
 * median of the rounds' throughput, p50, p99, mean and CPU, the largest max, and every
 * operation and error counted. The machine's speed drifts by tens of % over minutes; a median
 * over rounds taken in turns is steadier than any one measurement.
 *
 * @example
 * ```ts ignore
 * import { combineRounds } from "./results.ts";
 * run.cells = combineRounds(run.roundCells!);
 * ```
 */
export function combineRounds(cells: CellResult[]): CellResult[] {
  const groups = new Map<string, CellResult[]>();
  for (const c of cells) {
    const key = `${c.system} ${c.workload} ${c.clients}`;
    const group = groups.get(key);
    if (group) group.push(c);
    else groups.set(key, [c]);
  }
  return [...groups.values()].map((group) => {
    const loads = group.map((c) => c.load);
    const sum = (f: (l: LoadResult) => number) => loads.reduce((n, l) => n + f(l), 0);
    const med = (f: (l: LoadResult) => number) => median(loads.map(f));
    return {
      system: group[0].system,
      workload: group[0].workload,
      clients: group[0].clients,
      load: {
        workers: loads[0].workers,
        ops: sum((l) => l.ops),
        errors: sum((l) => l.errors),
        elapsedMs: sum((l) => l.elapsedMs),
        opsPerSec: med((l) => l.opsPerSec),
        latencyMs: {
          p50: med((l) => l.latencyMs.p50),
          p99: med((l) => l.latencyMs.p99),
          max: Math.max(...loads.map((l) => l.latencyMs.max)),
          mean: med((l) => l.latencyMs.mean),
        },
        errorSamples: [...new Set(loads.flatMap((l) => l.errorSamples))].slice(0, 5),
      },
      clusterCpuCores: medianOrNull(group.map((c) => c.clusterCpuCores)),
      generatorCpuCores: medianOrNull(group.map((c) => c.generatorCpuCores)),
    };
  });
}
