/**
 * The operations the workloads need, as each system's HTTP API offers them, so that one
 * workload definition drives both systems the same way.
 *
 * @module
 */

import type { SystemName } from "./bench_cluster.ts";
import type { HttpAnswer } from "./http1_connection.ts";
import type { HttpClient } from "./http_clients.ts";

/**
 * A lock client's session: what a worker holds across lock cycles (etcd: a lease; edgeraft:
 * nothing, every acquire carries its own TTL).
 *
 * @example
 * ```ts ignore
 * import type { LockSession } from "./system_api.ts";
 * async function cycle(s: LockSession, http: HttpClient) {
 *   const held = await s.acquire(http, "job", { waitMs: 10_000 });
 *   await s.release(http, "job", held);
 * }
 * ```
 */
export interface LockSession {
  /** Takes lock `name`, waiting in line up to `waitMs`; returns what `release` needs. */
  acquire(
    http: HttpClient,
    name: string,
    opts: { waitMs: number; timeoutMs?: number },
  ): Promise<string>;
  release(http: HttpClient, name: string, held: string): Promise<void>;
  /** Ends the session (etcd: revokes the lease). */
  close(http: HttpClient): Promise<void>;
}

/**
 * One system's client operations; every one throws unless the system said it succeeded.
 *
 * @example
 * ```ts ignore
 * import type { SystemApi } from "./system_api.ts";
 * async function readOne(api: SystemApi, http: HttpClient) {
 *   await api.get(http, "bench-k00001", "stale");
 * }
 * ```
 */
/**
 * How a workload reads: linearizable, or stale (etcd: serializable).
 *
 * @example
 * ```ts
 * import type { ReadConsistency } from "./system_api.ts";
 * const c: ReadConsistency = "stale";
 * ```
 */
export type ReadConsistency = "linearizable" | "stale";

export interface SystemApi {
  readonly system: SystemName;
  put(http: HttpClient, key: string, value: string): Promise<void>;
  /** Reads a key that must exist; `stale` is etcd's serializable read. */
  get(http: HttpClient, key: string, consistency: ReadConsistency): Promise<void>;
  /**
   * Opens a lock session. `lockTtlMs`: how long a lock outlives a dead holder; `sessionMs`: how
   * long the session must last without keep-alives.
   */
  openLockSession(
    http: HttpClient,
    opts: { lockTtlMs: number; sessionMs: number },
  ): Promise<LockSession>;
}

/**
 * Throws unless `answer` has status 200, naming the operation and quoting the body.
 *
 * @example
 * ```ts
 * import { expectOk } from "./system_api.ts";
 * expectOk("put", { status: 200, body: "{}" });
 * ```
 */
export function expectOk(what: string, answer: HttpAnswer): HttpAnswer {
  if (answer.status !== 200) {
    throw new Error(`${what}: HTTP ${answer.status} ${answer.body.slice(0, 200)}`);
  }
  return answer;
}
