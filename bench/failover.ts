/**
 * Leader failover time: kill -9 of the leader until the next successful lock acquire, as a
 * client sees it. Right after the kill, one probe per surviving member tries a try-lock on a
 * fresh lock name, again as soon as an attempt fails or has gone unanswered for 50 ms (the
 * attempts overlap); the first success ends the measurement. Then the killed member is restarted and the cluster must agree on a leader
 * again before the next repetition.
 *
 * @module
 */

import { setTimeout as delay } from "node:timers/promises";
import type { BenchCluster } from "./bench_cluster.ts";
import { type HttpClient, type HttpClientKind, openHttpClient } from "./http_clients.ts";
import type { SystemApi } from "./system_api.ts";

/**
 * One repetition.
 *
 * @example
 * ```ts
 * import type { FailoverSample } from "./failover.ts";
 * const s: FailoverSample = { killedId: 2, ms: 412.5, attempts: 7 };
 * ```
 */
export interface FailoverSample {
  killedId: number;
  /** From the SIGKILL to the first acquire answered 200; null if none within the deadline. */
  ms: number | null;
  /** Acquire attempts sent by all probes until then. */
  attempts: number;
}

/**
 * Options of {@linkcode measureFailover}.
 *
 * @example
 * ```ts
 * import type { FailoverOptions } from "./failover.ts";
 * const o: FailoverOptions = { tag: "r1", attemptIntervalMs: 50, deadlineMs: 30_000 };
 * ```
 */
export interface FailoverOptions {
  /** Makes the lock names of this repetition unique. */
  tag: string;
  httpClient?: HttpClientKind;
  /**
   * A probe starts its next attempt when the previous one failed, or when it has had no answer
   * for this long (default 50 ms): a request a member holds while it has no leader must not
   * hide the moment the new leader could answer (etcd parks such proposals for seconds).
   */
  attemptIntervalMs?: number;
  /** Give up (ms: null) after this long. */
  deadlineMs?: number;
}

/** Resolves when `promise` settles or `ms` passed, whichever is first, leaving no timer. */
function settledOrAfter(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise.then(() => {}, () => {}),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/**
 * Kills the leader, times the next acquire, restarts the killed member and waits until all
 * three members agree on a leader.
 *
 * @example
 * ```ts ignore
 * import { measureFailover } from "./failover.ts";
 * const sample = await measureFailover(cluster, edgeraftApi, { tag: "1" });
 * ```
 */
export async function measureFailover(
  cluster: BenchCluster,
  api: SystemApi,
  opts: FailoverOptions,
): Promise<FailoverSample> {
  const kind = opts.httpClient ?? "raw";
  const intervalMs = opts.attemptIntervalMs ?? 50;
  const leader = await cluster.leaderId();
  const survivors = cluster.ids.filter((id) => id !== leader);
  const control = openHttpClient(kind, cluster.clientUrl(survivors[0]));
  // Opened before the kill (etcd: the lease), so that only the acquire itself is timed.
  const session = await api.openLockSession(control, { lockTtlMs: 10_000, sessionMs: 120_000 });
  const open = new Set<HttpClient>();
  const pending = new Set<Promise<unknown>>();
  let attempts = 0;
  let doneAt: number | undefined;
  const killedAt = performance.now();
  const { exited } = cluster.kill(leader);
  const deadline = killedAt + (opts.deadlineMs ?? 30_000);
  // Each attempt has a connection of its own, as attempts overlap.
  const attempt = (id: number, n: number): Promise<unknown> => {
    const http = openHttpClient(kind, cluster.clientUrl(id));
    open.add(http);
    attempts++;
    const name = `failover-${opts.tag}-via${id}-${n}`;
    const result = session.acquire(http, name, { waitMs: 0, timeoutMs: deadline - killedAt })
      .then(() => {
        doneAt ??= performance.now();
      })
      .finally(() => {
        http.close();
        open.delete(http);
      });
    const settled = result.catch(() => {});
    pending.add(settled);
    settled.finally(() => pending.delete(settled));
    return result;
  };
  await Promise.all(survivors.map(async (id) => {
    for (let n = 0; doneAt === undefined && performance.now() < deadline; n++) {
      const started = performance.now();
      await settledOrAfter(attempt(id, n), intervalMs);
      // An instant refusal (no leader yet) is retried after a breath, not in a spin.
      if (performance.now() - started < 5) await delay(5);
    }
  }));
  for (const http of open) http.close();
  await Promise.all(pending);
  await session.close(control).catch(() => {});
  control.close();
  await exited;
  await cluster.restart(leader);
  await cluster.leaderId({ timeoutMs: 60_000 });
  return { killedId: leader, ms: doneAt === undefined ? null : doneAt - killedAt, attempts };
}
