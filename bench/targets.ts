/**
 * The targets of issue 6 and how a run meets them, plus the issue's own etcd measurement so a
 * reader can see whether this run's etcd behaved like the one the targets were set against.
 *
 * @module
 */

import type { SystemName } from "./bench_cluster.ts";
import { type BenchRun, failoverPercentile, findCell, ratio } from "./results.ts";
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
  return ratio(
    findCell(run, "edgeraft", workload, clients)?.load.opsPerSec,
    findCell(run, "etcd", workload, clients)?.load.opsPerSec,
  );
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

/**
 * Checks every target of issue 6 against `run`.
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
      measured: ours === undefined || theirs === undefined
        ? "not measured"
        : `${ours.toFixed(2)} ms vs ${theirs.toFixed(2)} ms`,
      pass: ours === undefined || theirs === undefined ? undefined : ours <= theirs,
    },
    ratioCheck(run, "linearizable get, 64 clients", "get", 64, 2),
    ratioCheck(run, "stale get vs etcd serializable, 64 clients", "stale-get", 64, 5),
    ratioCheck(run, "lock acquire+release, 16 clients, uncontended", "lock", 16, 10),
    ratioCheck(run, "lock acquire+release, 16 clients, contended", "lock-contended", 16, 5),
    {
      target: "leader failover (edgeraft)",
      goal: "p50 < 1 s",
      measured: failoverP50 === undefined
        ? "not measured"
        : `${failoverP50.toFixed(0)} ms over ${failoverSamples.length} kills`,
      pass: failoverP50 === undefined ? undefined : failoverP50 < 1000,
    },
    {
      target: `memory per node (edgeraft), ${memory?.keys ?? "100000"} keys of 100 B`,
      goal: memory && memory.keys < 100_000 ? "< 150 MB (needs 100k keys)" : "< 150 MB RSS",
      measured: maxRss === undefined
        ? "not measured"
        : `${(maxRss / MB).toFixed(0)} MB settled (max); right after the load ${
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
