/**
 * The targets of issue 16 (which replaced issue 6's) and how a run meets them, plus issue 6's own
 * etcd measurement so a reader can see whether this run's etcd behaved like the one the first
 * targets were set against.
 *
 * @module
 */

import type { SystemName } from "./bench_cluster.ts";
import { type BenchRun, failoverPercentile, findCell, systemsRatio } from "./results.ts";
import type { LoadWorkloadName } from "./workloads.ts";

/**
 * One target's verdict: `pass` is undefined when the run lacks what the target needs.
 *
 * @example
 * ```ts
 * import type { TargetCheck } from "./targets.ts";
 * const t: TargetCheck = { target: "config put, 64 clients", goal: ">= 2x", measured: "2.4x", pass: true };
 * ```
 */
export interface TargetCheck {
  target: string;
  goal: string;
  measured: string;
  pass: boolean | undefined;
}

const MB = 1024 * 1024;

function throughputRatio(
  run: BenchRun,
  workload: LoadWorkloadName,
  clients: number,
): number | undefined {
  return systemsRatio(run, workload, clients, (l) => l.opsPerSec);
}

function ratioCheck(
  run: BenchRun,
  target: string,
  workload: LoadWorkloadName,
  clients: number,
  atLeast: number,
): TargetCheck {
  const r = throughputRatio(run, workload, clients);
  return {
    target,
    goal: `throughput >= ${atLeast}x etcd`,
    measured: r === undefined ? "not measured" : `${r.toFixed(2)}x`,
    pass: r === undefined ? undefined : r >= atLeast,
  };
}

/** Every workload at every client count: its throughput ratio, and the worst of them. */
function everyWorkloadCheck(run: BenchRun): TargetCheck {
  const below: string[] = [];
  let worst: number | undefined;
  for (const cell of run.cells.filter((c) => c.system === "edgeraft")) {
    const r = throughputRatio(run, cell.workload, cell.clients);
    if (r === undefined) continue;
    if (worst === undefined || r < worst) worst = r;
    if (r < 1) below.push(`${cell.workload} x${cell.clients} ${r.toFixed(2)}x`);
  }
  return {
    target: "every workload at every client count",
    goal: "throughput >= 1.0x etcd",
    measured: worst === undefined
      ? "not measured"
      : below.length === 0
      ? `lowest ${worst.toFixed(2)}x`
      : `below: ${below.join(", ")}`,
    pass: worst === undefined ? undefined : below.length === 0,
  };
}

/**
 * A contended hand-over (release committed, next waiter answered): the p50 of a contended cycle
 * at 16 clients over 16 (each cycle waits for the 15 before it), against a single-client put.
 */
function handOverCheck(run: BenchRun): TargetCheck {
  const cycle = findCell(run, "edgeraft", "lock-contended", 16)?.load.latencyMs.p50;
  const put = findCell(run, "edgeraft", "put", 1)?.load.latencyMs.p50;
  const handOver = cycle === undefined ? undefined : cycle / 16;
  return {
    target: "contended lock hand-over (16 clients)",
    goal: "<= 1.5x a single-client put's p50",
    measured: handOver === undefined || put === undefined
      ? "not measured"
      : `${handOver.toFixed(2)} ms vs ${put.toFixed(2)} ms: ${(handOver / put).toFixed(2)}x`,
    pass: handOver === undefined || put === undefined ? undefined : handOver <= 1.5 * put,
  };
}

/**
 * Checks every target of issue 16 against `run`.
 *
 * @example
 * ```ts ignore
 * import { checkTargets } from "./targets.ts";
 * for (const t of checkTargets(run)) console.log(t.target, t.pass);
 * ```
 */
export function checkTargets(run: BenchRun): TargetCheck[] {
  const p50 = (system: SystemName) => findCell(run, system, "put", 1)?.load.latencyMs.p50;
  const ours = p50("edgeraft");
  const theirs = p50("etcd");
  // With rounds, judged on the median of the rounds' ratios (`systemsRatio`); shown with the medians.
  const p50Ratio = systemsRatio(run, "put", 1, (l) => l.latencyMs.p50);
  const failoverSamples = run.failover.find((f) => f.system === "edgeraft")?.samples ?? [];
  const failoverP50 = failoverPercentile(failoverSamples, 50);
  const memory = run.memory.find((m) => m.system === "edgeraft");
  // A node "holding" the keys: the idle cluster once it settled after loading them.
  const rssValues = (memory?.rssSettledBytes ?? []).filter((b): b is number => b !== null);
  const maxRss = rssValues.length > 0 ? Math.max(...rssValues) : undefined;
  return [
    ratioCheck(run, "config put, 64 clients", "put", 64, 2),
    {
      target: "config put, 1 client",
      goal: "p50 <= etcd's p50",
      measured: ours === undefined || theirs === undefined || p50Ratio === undefined
        ? "not measured"
        : `${ours.toFixed(2)} ms vs ${theirs.toFixed(2)} ms` +
          (run.roundCells ? `; per round, median ${p50Ratio.toFixed(2)}x` : ""),
      pass: p50Ratio === undefined ? undefined : p50Ratio <= 1,
    },
    ratioCheck(run, "lock acquire+release, 16 clients, uncontended", "lock", 16, 2),
    handOverCheck(run),
    everyWorkloadCheck(run),
    ratioCheck(run, "linearizable get, 64 clients", "get", 64, 3),
    ratioCheck(run, "stale get vs etcd serializable, 64 clients", "stale-get", 64, 5),
    {
      target: "leader failover (edgeraft)",
      goal: "p50 < 300 ms",
      measured: failoverP50 === undefined
        ? "not measured"
        : `${failoverP50.toFixed(0)} ms over ${failoverSamples.length} kills`,
      pass: failoverP50 === undefined ? undefined : failoverP50 < 300,
    },
    {
      target: `memory per node (edgeraft), ${memory?.keys ?? "100000"} keys of 100 B`,
      goal: memory && memory.keys < 100_000 ? "< 150 MB (needs 100k keys)" : "< 150 MB RSS",
      measured: maxRss === undefined
        ? "not measured"
        : `${(maxRss / MB).toFixed(1)} MB settled (max); right after the load ${
          (Math.max(...memory!.rssAfterBytes.map((b) => b ?? 0)) / MB).toFixed(0)
        } MB`,
      // A run with fewer keys (--quick) cannot show the target is met.
      pass: maxRss === undefined || !memory || memory.keys < 100_000
        ? undefined
        : maxRss < 150 * MB,
    },
  ];
}

/**
 * The etcd numbers issue 6 quotes (3.4.23 via the JSON gateway, 3 nodes on loopback, 2 cores).
 *
 * @example
 * ```ts
 * import { ISSUE_ETCD_REFERENCE } from "./targets.ts";
 * ISSUE_ETCD_REFERENCE[0].opsPerSec; // 3700
 * ```
 */
export const ISSUE_ETCD_REFERENCE: {
  workload: LoadWorkloadName;
  clients: number;
  opsPerSec: number;
  p50Ms?: number;
}[] = [
  { workload: "put", clients: 64, opsPerSec: 3700 },
  { workload: "put", clients: 1, opsPerSec: 560, p50Ms: 1.8 },
  { workload: "get", clients: 64, opsPerSec: 5900 },
  { workload: "stale-get", clients: 64, opsPerSec: 6400 },
  { workload: "lock", clients: 16, opsPerSec: 270, p50Ms: 53 },
];
