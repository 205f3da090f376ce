/**
 * Memory per node: resident set size (`/proc/<pid>/status` VmRSS) of every member of a fresh
 * cluster before and after it took 100k keys of 100 bytes, once every member has applied them,
 * and once more after the cluster sat idle for `settleS` (30 s): garbage collectors (V8's,
 * Go's) hand memory back some seconds after a burst (V8's memory reducer waits ~10-20 s of
 * quiet), so "right after" shows the burst and "settled" what holding the keys costs. Both
 * systems get the same treatment.
 *
 * @module
 */

import type { BenchCluster, SystemName } from "./bench_cluster.ts";
import { waitFor } from "./bench_cluster.ts";
import { type HttpClientKind, openHttpClient } from "./http_clients.ts";
import { loadKeys } from "./key_loader.ts";
import { rssBytes } from "./proc_stats.ts";
import type { SystemApi } from "./system_api.ts";
import { keyName } from "./workloads.ts";

/**
 * What the memory measurement found.
 *
 * @example
 * ```ts
 * import type { MemoryResult } from "./memory.ts";
 * const m: MemoryResult = {
 *   system: "edgeraft", keys: 100_000, leaderId: 1, putsPerSec: 6000,
 *   rssBeforeBytes: [6e7, 6e7, 6e7], rssAfterBytes: [9e7, 9e7, 9e7],
 *   rssSettledBytes: [8e7, 8e7, 8e7], settledAfterS: 12,
 * };
 * ```
 */
export interface MemoryResult {
  system: SystemName;
  keys: number;
  /** Which member led (and took the writes). */
  leaderId: number;
  /** How fast the keys went in (64 workers), for the record. */
  putsPerSec: number;
  /** Per member, in member id order; null when /proc could not tell. */
  rssBeforeBytes: (number | null)[];
  rssAfterBytes: (number | null)[];
  /** Per member, after `settledAfterS` seconds of an idle cluster. */
  rssSettledBytes: (number | null)[];
  /** How long the cluster sat idle before `rssSettledBytes` was read. */
  settledAfterS: number;
}

const MEMORY_KEY_PREFIX = "mem-k";

/**
 * Starts a fresh cluster with `start`, measures, and stops it.
 *
 * @example
 * ```ts ignore
 * import { measureMemory } from "./memory.ts";
 * const m = await measureMemory(() => EdgeraftCluster.start(), edgeraftApi, { keys: 100_000 });
 * ```
 */
export async function measureMemory(
  start: () => Promise<BenchCluster>,
  api: SystemApi,
  opts: {
    keys: number;
    httpClient?: HttpClientKind;
    onProgress?: (written: number) => void;
    /** How long the cluster sits idle before the settled reading. Default 30 s. */
    settleS?: number;
  },
): Promise<MemoryResult> {
  const cluster = await start();
  try {
    const rss = () =>
      cluster.ids.map((id) => {
        const pid = cluster.pid(id);
        return pid === undefined ? null : rssBytes(pid) ?? null;
      });
    const rssBeforeBytes = rss();
    const leader = await cluster.leaderId();
    const load = await loadKeys(api, cluster.clientUrl(leader), {
      prefix: MEMORY_KEY_PREFIX,
      count: opts.keys,
      httpClient: opts.httpClient,
      onProgress: opts.onProgress,
    });
    // Followers apply a moment after the leader answered: wait until each serves the last
    // key from its own state (the few writes still in flight then do not matter).
    const lastKey = keyName(MEMORY_KEY_PREFIX, opts.keys - 1);
    for (const id of cluster.ids) {
      const http = openHttpClient(opts.httpClient ?? "raw", cluster.clientUrl(id));
      try {
        await waitFor(`member ${id} to apply the keys`, async () => {
          await api.get(http, lastKey, "stale");
          return true;
        }, 30_000);
      } finally {
        http.close();
      }
    }
    const rssAfterBytes = rss();
    const settleS = opts.settleS ?? 30;
    await new Promise((r) => setTimeout(r, settleS * 1000));
    const rssSettledBytes = rss();
    return {
      system: cluster.system,
      keys: load.keys,
      leaderId: leader,
      putsPerSec: load.putsPerSec,
      rssBeforeBytes,
      rssAfterBytes,
      rssSettledBytes,
      settledAfterS: settleS,
    };
  } finally {
    await cluster.stop();
  }
}
