/**
 * The load generator against a trivial server: the most requests per second it can send, and
 * the CPU it spends per request (which the measured servers then do not have).
 *
 * @module
 */

import { type HttpClientKind, openHttpClient } from "./http_clients.ts";
import { runLoad } from "./load.ts";
import { cpuMillis } from "./proc_stats.ts";
import { VALUE_100_BYTES } from "./workloads.ts";

/**
 * What the generator reached.
 *
 * @example
 * ```ts
 * import type { GeneratorCeiling } from "./generator_ceiling.ts";
 * const c: GeneratorCeiling = { clients: 64, opsPerSec: 80_000, cpuUsPerOp: 9, p50Ms: 0.7 };
 * ```
 */
export interface GeneratorCeiling {
  clients: number;
  opsPerSec: number;
  /** This process's CPU per request; null off Linux. */
  cpuUsPerOp: number | null;
  p50Ms: number;
}

/**
 * Sends the config put request (a 100-byte JSON value) to `origin` from `clients` workers for
 * `durationMs`.
 *
 * @example
 * ```ts ignore
 * import { measureGeneratorCeiling } from "./generator_ceiling.ts";
 * const c = await measureGeneratorCeiling(server.origin, { clients: 64, durationMs: 2000 });
 * ```
 */
export async function measureGeneratorCeiling(
  origin: string,
  opts: { clients: number; durationMs: number; warmupMs?: number; httpClient?: HttpClientKind },
): Promise<GeneratorCeiling> {
  const body = JSON.stringify(VALUE_100_BYTES);
  const cpuBefore = cpuMillis("self");
  const wallBefore = performance.now();
  const result = await runLoad({
    workers: opts.clients,
    durationMs: opts.durationMs,
    warmupMs: opts.warmupMs ?? 200,
    makeWorker: () => {
      const http = openHttpClient(opts.httpClient ?? "raw", origin);
      return {
        async op() {
          const { status } = await http.request({ method: "PUT", path: "/v1/config/k", body });
          if (status !== 200) throw new Error(`HTTP ${status}`);
        },
        close: () => http.close(),
      };
    },
  });
  const cpuAfter = cpuMillis("self");
  const wallMs = performance.now() - wallBefore;
  // CPU over warm-up and window together: the load is the same in both.
  const opsOverall = (result.opsPerSec * wallMs) / 1000;
  const cpuUsPerOp = cpuBefore === undefined || cpuAfter === undefined || opsOverall === 0
    ? null
    : ((cpuAfter - cpuBefore) * 1000) / opsOverall;
  return {
    clients: opts.clients,
    opsPerSec: result.opsPerSec,
    cpuUsPerOp,
    p50Ms: result.latencyMs.p50,
  };
}
