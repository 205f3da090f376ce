/**
 * Writes a fixed set of keys as fast as the system takes them: before the read workloads (they
 * read only keys that exist) and for the memory measurement (100k keys of 100 bytes).
 *
 * @module
 */

import { type HttpClientKind, openHttpClient } from "./http_clients.ts";
import type { SystemApi } from "./system_api.ts";
import { keyName, VALUE_100_BYTES } from "./workloads.ts";

/**
 * How a load of keys went.
 *
 * @example
 * ```ts
 * import type { KeyLoadResult } from "./key_loader.ts";
 * const r: KeyLoadResult = { keys: 1000, elapsedMs: 250, putsPerSec: 4000 };
 * ```
 */
export interface KeyLoadResult {
  keys: number;
  elapsedMs: number;
  putsPerSec: number;
}

/** A put failed this many times in a row: the system is not taking writes. */
const MAX_ATTEMPTS = 5;

/**
 * Puts keys `prefix` + 0 .. count-1 (see {@linkcode keyName}) with 100-byte values through
 * `workers` concurrent connections to `origin`; throws if one key cannot be written.
 *
 * @example
 * ```ts ignore
 * import { loadKeys } from "./key_loader.ts";
 * await loadKeys(edgeraftApi, "http://127.0.0.1:7001", { prefix: "bench-k", count: 10_000 });
 * ```
 */
export async function loadKeys(
  api: SystemApi,
  origin: string,
  opts: {
    prefix: string;
    count: number;
    workers?: number;
    httpClient?: HttpClientKind;
    onProgress?: (written: number) => void;
  },
): Promise<KeyLoadResult> {
  let next = 0;
  let written = 0;
  const started = performance.now();
  const progress = opts.onProgress
    ? setInterval(() => opts.onProgress?.(written), 1000)
    : undefined;
  const worker = async () => {
    const http = openHttpClient(opts.httpClient ?? "raw", origin);
    try {
      while (next < opts.count) {
        const key = keyName(opts.prefix, next++);
        for (let attempt = 1;; attempt++) {
          try {
            await api.put(http, key, VALUE_100_BYTES);
            break;
          } catch (e) {
            if (attempt >= MAX_ATTEMPTS) throw e;
          }
        }
        written++;
      }
    } finally {
      http.close();
    }
  };
  try {
    await Promise.all(Array.from({ length: opts.workers ?? 64 }, worker));
  } finally {
    clearInterval(progress);
  }
  const elapsedMs = performance.now() - started;
  return { keys: written, elapsedMs, putsPerSec: (written * 1000) / elapsedMs };
}
