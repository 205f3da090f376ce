/**
 * Writes a fixed set of keys as fast as the system takes them: before the read workloads (they
 * read only keys that exist) and for the memory measurement (100k keys of 100 bytes).
 *
 * @module
 */

import { setTimeout as delay } from "node:timers/promises";
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
 * Puts keys `prefix` + from .. from+count-1 (see {@linkcode keyName}; `from` defaults to 0) with
 * 100-byte values through `workers` concurrent connections to `origin`; throws if one key cannot
 * be written in `maxAttempts` (5) attempts, `retryDelayMs` (0) apart. `onPut` hears of every key
 * written: the ms from its first attempt to the answer, and how many attempts failed before;
 * `onFailedAttempt` of every failed attempt.
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
    from?: number;
    workers?: number;
    httpClient?: HttpClientKind;
    onProgress?: (written: number) => void;
    onPut?: (ms: number, failedAttempts: number) => void;
    onFailedAttempt?: (error: unknown) => void;
    maxAttempts?: number;
    retryDelayMs?: number;
  },
): Promise<KeyLoadResult> {
  const from = opts.from ?? 0;
  let next = from;
  let written = 0;
  const started = performance.now();
  const progress = opts.onProgress
    ? setInterval(() => opts.onProgress?.(written), 1000)
    : undefined;
  const worker = async () => {
    const http = openHttpClient(opts.httpClient ?? "raw", origin);
    try {
      while (next < from + opts.count) {
        const key = keyName(opts.prefix, next++);
        const keyStarted = performance.now();
        for (let attempt = 1;; attempt++) {
          try {
            await api.put(http, key, VALUE_100_BYTES);
            opts.onPut?.(performance.now() - keyStarted, attempt - 1);
            break;
          } catch (e) {
            opts.onFailedAttempt?.(e);
            if (attempt >= (opts.maxAttempts ?? MAX_ATTEMPTS)) throw e;
            if (opts.retryDelayMs) await delay(opts.retryDelayMs);
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
