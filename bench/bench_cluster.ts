/**
 * What the benchmark needs of a local 3-node cluster, whichever system runs it: where its
 * members listen, which one leads, its processes (for CPU, memory and kill -9), and restarts.
 *
 * @module
 */

import { freePort, jsonOrUndefined } from "../tests/process/net.ts";
import { setTimeout as delay } from "node:timers/promises";

/**
 * The systems compared.
 *
 * @example
 * ```ts
 * import type { SystemName } from "./bench_cluster.ts";
 * const s: SystemName = "etcd";
 * ```
 */
export type SystemName = "edgeraft" | "etcd";

/**
 * A running local cluster; member ids are 1..3.
 *
 * @example
 * ```ts ignore
 * import type { BenchCluster } from "./bench_cluster.ts";
 * async function leaderUrl(c: BenchCluster) {
 *   return c.clientUrl(await c.leaderId());
 * }
 * ```
 */
export interface BenchCluster {
  readonly system: SystemName;
  /** The ids of all members, running or not. */
  readonly ids: number[];
  /** The client URL of member `id`, e.g. `http://127.0.0.1:12379`. */
  clientUrl(id: number): string;
  /** The process id of member `id` while it runs. */
  pid(id: number): number | undefined;
  /**
   * Waits until every running member (minus `exclude`) names the same running leader, and
   * returns its id; throws after `timeoutMs` (default 20 s).
   */
  leaderId(opts?: { exclude?: number[]; timeoutMs?: number }): Promise<number>;
  /** kill -9 of member `id`; resolves once the signal is sent (`exited` tells when it died). */
  kill(id: number): { exited: Promise<unknown> };
  /** Starts a killed member again on its ports and data directory. */
  restart(id: number): Promise<void>;
  /**
   * SIGSTOP to every member: an idle cluster still ticks and heartbeats, which would take CPU
   * from the other system while that one is measured.
   */
  pause(): void;
  /** SIGCONT to every member. */
  resume(): void;
  /** Kills every member and removes the data directories. */
  stop(): Promise<void>;
}

/**
 * Calls `probe` until it returns something other than undefined; throws after `timeoutMs`
 * naming what was awaited and the last error the probe threw.
 *
 * @example
 * ```ts
 * import { waitFor } from "./bench_cluster.ts";
 * let n = 0;
 * await waitFor("n to reach 3", () => (++n >= 3 ? n : undefined), 1000);
 * ```
 */
export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  timeoutMs: number,
  intervalMs = 50,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  let lastError: unknown;
  while (performance.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (e) {
      lastError = e;
    }
    await delay(intervalMs);
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}` +
      (lastError ? ` (last error: ${lastError})` : ""),
  );
}

/**
 * Whether something already listens on 127.0.0.1:`port`.
 *
 * @example
 * ```ts
 * import { freePort, portInUse } from "./bench_cluster.ts";
 * portInUse(freePort()); // false
 * ```
 */
export function portInUse(port: number): boolean {
  try {
    Deno.listen({ hostname: "127.0.0.1", port }).close();
    return false;
  } catch (e) {
    if (e instanceof Deno.errors.AddrInUse) return true;
    throw e;
  }
}

export { freePort, jsonOrUndefined };
