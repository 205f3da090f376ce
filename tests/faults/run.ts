/**
 * One fault run: start a cluster, preload keys if asked, run a workload's clients for a while
 * with a nemesis injecting faults, heal, wait for the cluster to converge, do the final reads
 * (the preloaded keys too), check, and write the results folder. Used by `main.ts` (the CLI) and `faults_test.ts`.
 *
 * @module
 */

import { HistoryRecorder } from "../checker/history.ts";
import { Prng } from "../checker/prng.ts";
import { FaultCluster } from "./cluster.ts";
import { faketimeAvailable } from "./node_process.ts";
import { Nemesis, parseFaultKinds } from "./nemesis.ts";
import { checkPreload } from "./checkers/preload_checker.ts";
import { type PreloadReads, type PreloadResult, readPreload, writePreload } from "./preload.ts";
import { createResultsDir, type RunSummary, writeResults } from "./results.ts";
import { durabilityWorkload } from "./workloads/durability.ts";
import { lockWorkload } from "./workloads/lock.ts";
import { registerWorkload } from "./workloads/register.ts";
import { watchWorkload } from "./workloads/watch.ts";
import type { Workload, WorkloadContext, WorkloadVerdict } from "./workloads/workload.ts";

/**
 * The workloads by name.
 *
 * @example
 * ```ts
 * import { WORKLOADS } from "./run.ts";
 * const names = Object.keys(WORKLOADS); // register, lock, watch, durability
 * ```
 */
export const WORKLOADS: Record<string, () => Workload> = {
  register: () => registerWorkload(),
  lock: () => lockWorkload(),
  watch: () => watchWorkload(),
  durability: () => durabilityWorkload(),
};

/**
 * What to run.
 *
 * @example
 * ```ts
 * import type { FaultRunOptions } from "./run.ts";
 * const o: FaultRunOptions = { timeS: 60, nemesis: "kill,pause", workload: "register",
 *   nodes: 3, seed: 7 };
 * ```
 */
export interface FaultRunOptions {
  timeS: number;
  /** Comma-separated fault kinds, `all` or `none`. */
  nemesis: string;
  workload: string;
  nodes: 3 | 5;
  seed: number;
  /** Concurrent clients. Default 5. */
  clients?: number;
  /** Count 503 answers as unknown outcomes. Default false. */
  ambiguous503?: boolean;
  /** Where results folders go. Default `.results/faults/`. */
  resultsRoot?: string;
  /** Nemesis timing: quiet and fault durations, [min, max] ms. */
  quietMs?: [number, number];
  faultMs?: [number, number];
  /** Compact each node's log after this many applied entries (small: snapshots get used). */
  snapshotEntries?: number;
  /**
   * Keys written under `preload/` before the workload and the nemesis start, and checked on
   * every node after the run (issue 17: faults with a large state). Default 0.
   */
  preload?: number;
  /** Progress lines go here. Default: nowhere. */
  log?: (line: string) => void;
}

/**
 * The command line that runs `options` again.
 *
 * @example
 * ```ts
 * import { replayCommand } from "./run.ts";
 * replayCommand({ timeS: 60, nemesis: "kill", workload: "lock", nodes: 3, seed: 1 });
 * ```
 */
export function replayCommand(options: FaultRunOptions): string {
  return `deno task faults --time ${options.timeS} --nemesis ${options.nemesis} --workload ` +
    `${options.workload} --nodes ${options.nodes} --seed ${options.seed}` +
    (options.clients ? ` --clients ${options.clients}` : "") +
    (options.snapshotEntries ? ` --snapshot-entries ${options.snapshotEntries}` : "") +
    (options.preload ? ` --preload ${options.preload}` : "") +
    (options.ambiguous503 ? " --ambiguous-503" : "");
}

/** Rejects if `promise` takes longer than `ms`: a run must end, even if a client hangs. */
async function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Runs one fault run and returns its summary (also written to the results folder).
 *
 * @example
 * ```ts ignore
 * const summary = await runFaults({ timeS: 10, nemesis: "kill", workload: "register",
 *   nodes: 3, seed: 1 });
 * if (summary.verdict !== "valid") Deno.exit(1);
 * ```
 */
export async function runFaults(options: FaultRunOptions): Promise<RunSummary> {
  const log = options.log ?? (() => {});
  const makeWorkload = WORKLOADS[options.workload];
  if (!makeWorkload) throw new Error(`unknown workload ${JSON.stringify(options.workload)}`);
  const workload = makeWorkload();
  let kinds = parseFaultKinds(options.nemesis);
  const notes: string[] = [];
  if (kinds.includes("clock") && !faketimeAvailable()) {
    kinds = kinds.filter((k) => k !== "clock");
    notes.push("clock faults skipped: libfaketime is not installed (apt-get install faketime)");
  }
  const startedAt = new Date();
  const started = performance.now();
  const dir = await createResultsDir(
    { workload: workload.name, nemesis: options.nemesis, seed: options.seed },
    options.resultsRoot,
  );
  log(`results in ${dir}`);
  const prng = new Prng(options.seed);
  const t0 = performance.now();
  const elapsedNs = () => Math.round((performance.now() - t0) * 1e6);
  const history = new HistoryRecorder({ now: elapsedNs });
  const cluster = await FaultCluster.start({
    nodes: options.nodes,
    logDir: dir,
    fakeClocks: kinds.includes("clock"),
    args: options.snapshotEntries ? ["--snapshot-entries", String(options.snapshotEntries)] : [],
  });
  const nemesis = new Nemesis(cluster, prng, {
    kinds,
    quietMs: options.quietMs ?? [1000, 3000],
    faultMs: options.faultMs ?? [1000, 4000],
  });
  const outcomes: string[] = [];
  const ctx: WorkloadContext = {
    cluster,
    history,
    prng,
    clients: options.clients ?? 5,
    ambiguous503: options.ambiguous503 ?? false,
    elapsedNs,
    explain: (process, f, key, why) => {
      outcomes.push(JSON.stringify({ process, f, key, why, time: elapsedNs() }) + "\n");
    },
  };
  let verdict: WorkloadVerdict;
  let error: string | undefined;
  const preloadCount = options.preload ?? 0;
  let preloaded: PreloadResult | undefined;
  const preloadReads: PreloadReads = new Map();
  try {
    let leader = await cluster.waitForLeader(30_000);
    if (preloadCount > 0) {
      log(`preloading ${preloadCount} keys under preload/ (64 writers)`);
      // A generous bound (200 keys/s; 800-1,250 measured on a loaded 2-core machine): it ends a run
      // whose cluster stopped taking writes.
      preloaded = await writePreload(cluster, preloadCount, {
        leader,
        signal: AbortSignal.timeout(120_000 + preloadCount * 5),
        log,
      });
      log(
        `preloaded ${preloaded.keys} keys in ${(preloaded.elapsedMs / 1000).toFixed(1)} s ` +
          `(${Math.round(preloaded.keys / (preloaded.elapsedMs / 1000))} keys/s, ` +
          `${preloaded.retries} retries)`,
      );
      leader = await cluster.waitForLeader(30_000);
    }
    log(`leader ${leader}; running ${workload.name} for ${options.timeS} s, nemesis ${kinds}`);
    const end = AbortSignal.timeout(options.timeS * 1000);
    await withDeadline(
      Promise.all([nemesis.run(end), workload.run(ctx, end)]),
      options.timeS * 1000 + 60_000,
      "the clients and the nemesis",
    );
    log(`clients stopped after ${history.events.length} events; healing`);
    await nemesis.healAll();
    const converged = await cluster.waitConverged(60_000);
    log(`converged on leader ${converged}; final reads`);
    await withDeadline(workload.finish(ctx), 90_000, "the final reads");
    if (preloadCount > 0) {
      const started = performance.now();
      const reads = await withDeadline(
        readPreload(cluster, await cluster.currentLeader() ?? converged),
        60_000 + preloadCount,
        "the final reads of the preload",
      );
      for (const [where, values] of reads) preloadReads.set(where, values);
      log(
        `read the preload back from ${reads.size} sources in ` +
          `${((performance.now() - started) / 1000).toFixed(1)} s`,
      );
    }
    log("final reads done; checking");
  } catch (e) {
    error = `${(e as Error).message}`;
    log(`run failed: ${error}`);
  } finally {
    await cluster.stop();
  }
  try {
    verdict = workload.check(ctx);
  } catch (e) {
    error ??= `the check failed: ${(e as Error).stack}`;
    verdict = { valid: "unknown", opsChecked: 0, details: [] };
  }
  const preloadCheck = checkPreload(preloadCount, preloadReads);
  if (preloadCheck.valid === false) {
    verdict.valid = false;
    verdict.details.unshift(...preloadCheck.violations);
  } else if (preloadCheck.valid === "unknown" && verdict.valid === true) {
    verdict.valid = "unknown";
    verdict.details.push("the preloaded keys were not read back");
  } else if (preloadCount > 0 && preloadCheck.valid === true) {
    verdict.details.push(
      `${preloadCount} preloaded keys all present with their values on ` +
        `${preloadReads.size - 1} nodes and the leader`,
    );
  }
  // A run that could not heal or finish is judged as an error (a liveness failure or a
  // harness fault), whatever its partial history says; the details keep what the check found.
  if (error) verdict.details.unshift(`run error: ${error}`);
  const summary: RunSummary = {
    verdict: error
      ? "error"
      : verdict.valid === true
      ? "valid"
      : verdict.valid === false
      ? "violation"
      : "unknown",
    workload: workload.name,
    nemesis: options.nemesis,
    nodes: options.nodes,
    seed: options.seed,
    timeS: options.timeS,
    clients: ctx.clients,
    command: replayCommand(options),
    opsChecked: verdict.opsChecked,
    historyEvents: history.events.length,
    details: [...notes, ...verdict.details],
    stats: verdict.stats ?? {},
    preloaded: preloaded?.keys ?? 0,
    ...(preloaded ? { preloadMs: preloaded.elapsedMs } : {}),
    preloadKeysChecked: preloadCheck.keysChecked,
    faults:
      nemesis.events.filter((e) => !["heal", "resume", "restart", "heal-all"].includes(e.action))
        .length,
    startedAt: startedAt.toISOString(),
    durationMs: Math.round(performance.now() - started),
    resultsDir: dir,
  };
  await writeResults(dir, {
    history: history.events,
    nemesis: nemesis.events,
    summary,
    files: { ...verdict.files, "outcomes.jsonl": outcomes.join("") },
  });
  return summary;
}
