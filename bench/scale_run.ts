/**
 * One system through the scale bench: a fresh 3-node cluster, the keys loaded in batches (per
 * batch: writes/s, latency, errors, term, compactions, RSS, the event loop's delay), the RSS
 * after an idle settle, and a follower restarted twice (SIGTERM, then kill -9) with the time
 * until it is ready again.
 *
 * @module
 */

import type { BenchCluster, SystemName } from "./bench_cluster.ts";
import { waitFor } from "./bench_cluster.ts";
import { LatencyHistogram } from "./histogram.ts";
import { loadKeys } from "./key_loader.ts";
import { rssBytes } from "./proc_stats.ts";
import { maxDefined, readMember, ScaleSampler } from "./scale_sampler.ts";
import type { NodeLogWatcher, NotableLine } from "./scale_node_log.ts";
import type { SystemApi } from "./system_api.ts";

/**
 * One batch of keys.
 *
 * @example
 * ```ts ignore
 * import type { ScaleBatch } from "./scale_run.ts";
 * const b: ScaleBatch = JSON.parse(text).systems[0].batches[0];
 * ```
 */
export interface ScaleBatch {
  /** Keys stored once this batch is in. */
  keysStored: number;
  keys: number;
  elapsedMs: number;
  writesPerSec: number;
  /** Per key, from its first attempt to the answer that stored it (retries included). */
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Failed attempts (non-2xx or no answer); each key was retried until written. */
  errors: number;
  termStart: number | null;
  termEnd: number | null;
  termChanges: number | null;
  /** Snapshots taken during the batch, summed over members (from their metrics). */
  compactions: number | null;
  /** From the nodes' `log compacted` lines (edgeraft only). */
  compactionLogs: number | null;
  encodeMsMax: number | null;
  writeMsMax: number | null;
  snapshotBytesMax: number | null;
  /** Per member at the batch's end, in id order. */
  rssBytes: (number | null)[];
  /** The event loop's delay (edgeraft), the highest any member reported during the batch. */
  loopDelayMaxMs: number | null;
  loopDelayP99Ms: number | null;
  /** The same less the time the loops waited for a CPU (null where it cannot be read). */
  loopOwnDelayMaxMs?: number | null;
  loopOwnDelayP99Ms?: number | null;
  /** The machine's 1-minute load average at the batch's end: others' work shows here. */
  loadAverage1m: number | null;
}

/**
 * A follower stopped and started again on its data.
 *
 * @example
 * ```ts
 * import type { RestartResult } from "./scale_run.ts";
 * const r: RestartResult = { how: "SIGTERM", memberId: 2, stopMs: 120, readyMs: 2300 };
 * ```
 */
export interface RestartResult {
  how: "SIGTERM" | "SIGKILL";
  memberId: number;
  /** From the signal to the exit. */
  stopMs: number;
  /** From the new process's start to its first ready answer; null when it never was. */
  readyMs: number | null;
  error?: string;
}

/**
 * Everything one system did.
 *
 * @example
 * ```ts ignore
 * import type { SystemScaleResult } from "./scale_run.ts";
 * const r: SystemScaleResult = JSON.parse(text).systems[0];
 * ```
 */
export interface SystemScaleResult {
  system: SystemName;
  /** The member that led when the load began: every client writes to it, leading or not. */
  leaderId: number;
  batches: ScaleBatch[];
  /** Term at the end of the load minus at its start (every election raises it). */
  elections: number | null;
  termStart: number | null;
  termEnd: number | null;
  totalErrors: number;
  totalCompactions: number | null;
  /** Up to 10 messages of failed attempts. */
  errorSamples: string[];
  rssAfterLoadBytes: (number | null)[];
  rssSettledBytes: (number | null)[];
  /** Where the settled RSS goes, per member (edgeraft: V8's heap and external memory). */
  memorySettled: (MemoryParts | null)[];
  settledAfterS: number;
  restarts: RestartResult[];
  /** Leadership, elections, warnings: the node log lines worth reading (edgeraft). */
  notableLines: NotableLine[];
  error?: string;
}

/** A key fails this many attempts in a row: the system is not taking writes at all. */
const MAX_ATTEMPTS = 200;
/** Between attempts of one key, so that a leaderless cluster is not hammered. */
const RETRY_DELAY_MS = 50;
const READY_TIMEOUT_MS = 120_000;
const STOP_TIMEOUT_MS = 30_000;
const KEY_PREFIX = "scale-k";
const QUIET_TIMEOUT_MS = 15_000;

/**
 * How a member is asked whether it is ready: edgeraft's `/readyz` (200 once caught up), etcd's
 * `/health` (`"health":"true"`).
 *
 * @example
 * ```ts ignore
 * import { isReady } from "./scale_run.ts";
 * await isReady("edgeraft", "http://127.0.0.1:7001");
 * ```
 */
export async function isReady(system: SystemName, url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}${system === "edgeraft" ? "/readyz" : "/health"}`, {
      signal: AbortSignal.timeout(1000),
    });
    const body = await res.text();
    return res.status === 200 && (system === "edgeraft" || /"health":\s*"true"/.test(body));
  } catch {
    return false;
  }
}

/** See `quietBelowMs`; a member that stays loud is measured anyway, and the report shows it. */
async function waitForQuiet(cluster: BenchCluster, belowMs: number): Promise<void> {
  await waitFor(
    "the members' event loops to be quiet",
    async () => {
      const readings = await Promise.all(cluster.ids.map((id) => readMember(cluster, id)));
      return readings.every((r) => (r?.loopMaxMs ?? 0) < belowMs) ? true : undefined;
    },
    QUIET_TIMEOUT_MS,
    500,
  ).catch(() => {});
}

/**
 * /proc/loadavg's 1, 5 and 15 minute averages, or null off Linux.
 *
 * @example
 * ```ts ignore
 * import { loadAverage } from "./scale_run.ts";
 * loadAverage(); // e.g. [1.2, 0.9, 0.7]
 * ```
 */
export function loadAverage(): number[] | null {
  try {
    return Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).map(Number);
  } catch {
    return null;
  }
}

function rssOf(cluster: BenchCluster): (number | null)[] {
  return cluster.ids.map((id) => {
    const pid = cluster.pid(id);
    return pid === undefined ? null : rssBytes(pid) ?? null;
  });
}

/**
 * V8's heap and external memory of one member, as its `/metrics` tells them.
 *
 * @example
 * ```ts ignore
 * import type { MemoryParts } from "./scale_run.ts";
 * const m: MemoryParts = { heapUsedBytes: 3e8, heapTotalBytes: 4e8, externalBytes: 1e8 };
 * ```
 */
export interface MemoryParts {
  heapUsedBytes: number | null;
  heapTotalBytes: number | null;
  externalBytes: number | null;
}

function memoryOf(cluster: BenchCluster): Promise<(MemoryParts | null)[]> {
  return Promise.all(cluster.ids.map(async (id) => {
    const r = await readMember(cluster, id);
    if (r?.heapUsedBytes === undefined) return null;
    return {
      heapUsedBytes: r.heapUsedBytes ?? null,
      heapTotalBytes: r.heapTotalBytes ?? null,
      externalBytes: r.externalBytes ?? null,
    };
  }));
}

async function restartFollower(
  cluster: BenchCluster,
  how: "SIGTERM" | "SIGKILL",
): Promise<RestartResult> {
  const leader = await cluster.leaderId({ timeoutMs: 30_000 });
  const memberId = cluster.ids.find((id) => id !== leader)!;
  const pid = cluster.pid(memberId)!;
  const stopped = performance.now();
  if (how === "SIGKILL") {
    await cluster.kill(memberId).exited;
  } else {
    Deno.kill(pid, "SIGTERM");
    try {
      await waitFor(
        `member ${memberId} to exit`,
        () => cluster.pid(memberId) === undefined ? true : undefined,
        STOP_TIMEOUT_MS,
      );
    } catch {
      await cluster.kill(memberId).exited;
    }
  }
  const stopMs = performance.now() - stopped;
  await cluster.restart(memberId);
  const started = performance.now();
  try {
    await waitFor(
      `member ${memberId} to be ready`,
      async () => (await isReady(cluster.system, cluster.clientUrl(memberId))) ? true : undefined,
      READY_TIMEOUT_MS,
    );
    return { how, memberId, stopMs, readyMs: performance.now() - started };
  } catch (e) {
    return { how, memberId, stopMs, readyMs: null, error: String(e) };
  }
}

/**
 * Loads `keys` keys into a fresh cluster from `start` in batches of `batch`, reporting each
 * batch to `onBatch` as it ends, and stops the cluster.
 *
 * @example
 * ```ts ignore
 * import { runScale } from "./scale_run.ts";
 * const r = await runScale(() => EdgeraftCluster.start(), edgeraftApi, { keys: 3000, batch: 1000, clients: 64, settleS: 1 });
 * ```
 */
export async function runScale(
  start: () => Promise<BenchCluster>,
  api: SystemApi,
  opts: {
    keys: number;
    batch: number;
    clients: number;
    settleS: number;
    /**
     * Before the load, wait (up to 15 s) until every member's event loop delay gauge is below
     * this: the gauge spans the last 1000 ticks, and the start's stalls are not the load's.
     */
    quietBelowMs?: number;
    /** The edgeraft nodes' log, when the cluster feeds it. */
    log?: NodeLogWatcher;
    onBatch?: (b: ScaleBatch, index: number) => void;
    onStatus?: (text: string) => void;
    onCluster?: (cluster: BenchCluster | undefined) => void;
  },
): Promise<SystemScaleResult> {
  const cluster = await start();
  opts.onCluster?.(cluster);
  const sampler = new ScaleSampler(cluster);
  const log = opts.log;
  const errorSamples: string[] = [];
  const batches: ScaleBatch[] = [];
  try {
    // The leader after the quiet wait: a start on a busy machine may still elect another.
    if (opts.quietBelowMs !== undefined) await waitForQuiet(cluster, opts.quietBelowMs);
    const leader = await cluster.leaderId();
    await sampler.sampleNow();
    const termStart = sampler.term() ?? null;
    sampler.takeWindow();
    sampler.start();
    const result: SystemScaleResult = {
      system: cluster.system,
      leaderId: leader,
      batches,
      elections: null,
      termStart,
      termEnd: null,
      totalErrors: 0,
      totalCompactions: null,
      errorSamples,
      rssAfterLoadBytes: [],
      rssSettledBytes: [],
      memorySettled: [],
      settledAfterS: opts.settleS,
      restarts: [],
      notableLines: log?.notable ?? [],
    };
    const batchCount = Math.ceil(opts.keys / opts.batch);
    const snapshotsStart = sampler.snapshots() ?? null;
    for (let b = 0; b < batchCount; b++) {
      if (log) log.batch = b;
      const from = b * opts.batch;
      const count = Math.min(opts.batch, opts.keys - from);
      const latency = new LatencyHistogram();
      let errors = 0;
      const termBefore = sampler.term() ?? null;
      const snapshotsBefore = sampler.snapshots() ?? null;
      // Each batch writes to the leader of the moment, as a client that follows `X-Leader`
      // would: after an election, a whole load through a follower measures forwarding.
      const target = b === 0 ? leader : await cluster.leaderId();
      const load = await loadKeys(api, cluster.clientUrl(target), {
        prefix: KEY_PREFIX,
        from,
        count,
        workers: opts.clients,
        maxAttempts: MAX_ATTEMPTS,
        retryDelayMs: RETRY_DELAY_MS,
        onPut: (ms, failed) => {
          latency.record(ms);
          errors += failed;
        },
        onFailedAttempt: (e) => {
          if (errorSamples.length < 10) errorSamples.push(`batch ${b}: ${e}`.slice(0, 300));
        },
        onProgress: (written) =>
          opts.onStatus?.(
            `${cluster.system} batch ${
              b + 1
            }/${batchCount}: ${written}/${count} keys, ${errors} errors`,
          ),
      });
      await sampler.sampleNow();
      const loop = sampler.takeWindow();
      const termEnd = sampler.term() ?? null;
      const snapshotsAfter = sampler.snapshots() ?? null;
      const logged = log?.compactionsIn(b);
      const batch: ScaleBatch = {
        keysStored: from + count,
        keys: load.keys,
        elapsedMs: load.elapsedMs,
        writesPerSec: load.putsPerSec,
        p50Ms: latency.percentile(50),
        p99Ms: latency.percentile(99),
        maxMs: latency.max,
        errors,
        termStart: termBefore,
        termEnd,
        termChanges: termBefore === null || termEnd === null ? null : termEnd - termBefore,
        compactions: snapshotsBefore === null || snapshotsAfter === null
          ? null
          : snapshotsAfter - snapshotsBefore,
        compactionLogs: logged ? logged.length : null,
        encodeMsMax: logged ? maxDefined(logged.map((c) => c.encodeMs)) ?? null : null,
        writeMsMax: logged ? maxDefined(logged.map((c) => c.writeMs)) ?? null : null,
        snapshotBytesMax: logged ? maxDefined(logged.map((c) => c.bytes)) ?? null : null,
        rssBytes: rssOf(cluster),
        loopDelayMaxMs: loop.maxMs ?? null,
        loopDelayP99Ms: loop.p99Ms ?? null,
        loopOwnDelayMaxMs: loop.ownMaxMs ?? null,
        loopOwnDelayP99Ms: loop.ownP99Ms ?? null,
        loadAverage1m: loadAverage()?.[0] ?? null,
      };
      batches.push(batch);
      opts.onBatch?.(batch, b);
    }
    if (log) log.batch = batchCount;
    await sampler.stop();
    result.termEnd = sampler.term() ?? null;
    result.elections = termStart === null || result.termEnd === null
      ? null
      : result.termEnd - termStart;
    result.totalErrors = batches.reduce((sum, b) => sum + b.errors, 0);
    const snapshotsEnd = sampler.snapshots() ?? null;
    result.totalCompactions = snapshotsStart === null || snapshotsEnd === null
      ? null
      : snapshotsEnd - snapshotsStart;
    result.rssAfterLoadBytes = rssOf(cluster);
    opts.onStatus?.(`${cluster.system}: idle for ${opts.settleS} s before the settled RSS`);
    await new Promise((r) => setTimeout(r, opts.settleS * 1000));
    result.rssSettledBytes = rssOf(cluster);
    result.memorySettled = await memoryOf(cluster);
    for (const how of ["SIGTERM", "SIGKILL"] as const) {
      opts.onStatus?.(`${cluster.system}: restarting a follower (${how})`);
      result.restarts.push(await restartFollower(cluster, how));
    }
    return result;
  } finally {
    await sampler.stop();
    await cluster.stop();
    opts.onCluster?.(undefined);
  }
}
