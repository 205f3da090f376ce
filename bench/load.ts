/**
 * The closed-loop load generator: N workers in this process, each sending its next request as
 * soon as the previous one answered, for a fixed time after a warm-up. Latency is measured per
 * operation (an operation may be several requests, e.g. acquire + release).
 *
 * @module
 */

import { setTimeout as delay } from "node:timers/promises";
import { LatencyHistogram } from "./histogram.ts";

/**
 * One worker's operation, and what it holds (a connection, a lease) until `close`.
 *
 * @example
 * ```ts
 * import type { LoadWorker } from "./load.ts";
 * const w: LoadWorker = { op: () => Promise.resolve() };
 * ```
 */
export interface LoadWorker {
  /** One operation; throwing counts an error (its latency is not recorded). */
  op(): Promise<void>;
  close?(): void | Promise<void>;
}

/**
 * What the progress callback sees.
 *
 * @example
 * ```ts
 * import type { LoadProgress } from "./load.ts";
 * const p: LoadProgress = {
 *   phase: "measure", elapsedMs: 1000, durationMs: 5000, ops: 900, errors: 0, recentOpsPerSec: 910,
 * };
 * ```
 */
export interface LoadProgress {
  phase: "warmup" | "measure" | "drain";
  /** Time into the phase. */
  elapsedMs: number;
  durationMs: number;
  /** Operations (and errors) recorded so far in the measured window. */
  ops: number;
  errors: number;
  /** Operations per second completed since the previous progress call. */
  recentOpsPerSec: number;
}

/**
 * How to run a load.
 *
 * @example
 * ```ts
 * import type { LoadOptions } from "./load.ts";
 * const o: LoadOptions = {
 *   workers: 4, durationMs: 100, makeWorker: () => ({ op: () => Promise.resolve() }),
 * };
 * ```
 */
export interface LoadOptions {
  workers: number;
  /** The measured window; operations started in it are recorded. */
  durationMs: number;
  /** Operations before the window are not recorded (JIT, connections, caches). Default 0. */
  warmupMs?: number;
  /** Creates worker `index` (0-based) before the warm-up; all are created in parallel. */
  makeWorker(index: number): LoadWorker | Promise<LoadWorker>;
  onProgress?(progress: LoadProgress): void;
  /** Default 500 ms. */
  progressIntervalMs?: number;
  /** Pause after a failed operation, so a broken server is not hammered. Default 10 ms. */
  errorBackoffMs?: number;
}

/**
 * Throughput and latency percentiles of one load.
 *
 * @example
 * ```ts
 * import type { LoadResult } from "./load.ts";
 * const r: LoadResult = {
 *   workers: 1, ops: 10, errors: 0, elapsedMs: 10, opsPerSec: 1000,
 *   latencyMs: { p50: 1, p99: 1, max: 1, mean: 1 }, errorSamples: [],
 * };
 * ```
 */
export interface LoadResult {
  workers: number;
  /** Successful operations started in the measured window. */
  ops: number;
  errors: number;
  /** From the start of the window until the last recorded operation ended. */
  elapsedMs: number;
  opsPerSec: number;
  latencyMs: { p50: number; p99: number; max: number; mean: number };
  /** The first few distinct error messages. */
  errorSamples: string[];
}

const MAX_ERROR_SAMPLES = 5;

/**
 * Summarizes a histogram and counts into a {@linkcode LoadResult}.
 *
 * @example
 * ```ts
 * import { LatencyHistogram } from "./histogram.ts";
 * import { summarize } from "./load.ts";
 * const h = new LatencyHistogram();
 * h.record(2);
 * summarize(h, { workers: 1, errors: 0, elapsedMs: 1000, errorSamples: [] }).opsPerSec; // 1
 * ```
 */
export function summarize(
  histogram: LatencyHistogram,
  counts: { workers: number; errors: number; elapsedMs: number; errorSamples: string[] },
): LoadResult {
  const { workers, errors, elapsedMs, errorSamples } = counts;
  return {
    workers,
    ops: histogram.count,
    errors,
    elapsedMs,
    opsPerSec: elapsedMs > 0 ? (histogram.count * 1000) / elapsedMs : 0,
    latencyMs: {
      p50: histogram.percentile(50),
      p99: histogram.percentile(99),
      max: histogram.max,
      mean: histogram.mean,
    },
    errorSamples,
  };
}

/**
 * Runs `opts.workers` closed-loop workers for the warm-up and then the measured window, waits
 * for the operations in flight, closes the workers and returns what was measured.
 *
 * @example
 * ```ts
 * import { runLoad } from "./load.ts";
 * const result = await runLoad({
 *   workers: 2,
 *   durationMs: 50,
 *   makeWorker: () => ({ op: () => new Promise((r) => setTimeout(r, 1)) }),
 * });
 * result.ops > 0; // true
 * ```
 */
export async function runLoad(opts: LoadOptions): Promise<LoadResult> {
  const warmupMs = opts.warmupMs ?? 0;
  const backoffMs = opts.errorBackoffMs ?? 10;
  const workers = await Promise.all(
    Array.from({ length: opts.workers }, (_, i) => opts.makeWorker(i)),
  );
  const histogram = new LatencyHistogram();
  const errorSamples = new Set<string>();
  let errors = 0;
  let lastEnd = 0;
  const start = performance.now();
  const windowStart = start + warmupMs;
  const windowEnd = windowStart + opts.durationMs;

  let reportedOps = 0;
  let reportedAt = start;
  const report = () => {
    const now = performance.now();
    const phase = now < windowStart ? "warmup" : now < windowEnd ? "measure" : "drain";
    const phaseStart = phase === "warmup" ? start : phase === "measure" ? windowStart : windowEnd;
    const done = histogram.count;
    opts.onProgress?.({
      phase,
      elapsedMs: now - phaseStart,
      durationMs: phase === "warmup" ? warmupMs : opts.durationMs,
      ops: done,
      errors,
      recentOpsPerSec: now > reportedAt ? ((done - reportedOps) * 1000) / (now - reportedAt) : 0,
    });
    reportedOps = done;
    reportedAt = now;
  };
  const progressTimer = opts.onProgress
    ? setInterval(report, opts.progressIntervalMs ?? 500)
    : undefined;

  const loop = async (worker: LoadWorker) => {
    for (;;) {
      const began = performance.now();
      if (began >= windowEnd) return;
      try {
        await worker.op();
        const ended = performance.now();
        if (began >= windowStart) {
          histogram.record(ended - began);
          lastEnd = Math.max(lastEnd, ended);
        }
      } catch (e) {
        if (began >= windowStart) {
          errors++;
          if (errorSamples.size < MAX_ERROR_SAMPLES) errorSamples.add(String(e).slice(0, 300));
        }
        await delay(backoffMs);
      }
    }
  };
  try {
    await Promise.all(workers.map(loop));
  } finally {
    clearInterval(progressTimer);
    await Promise.all(workers.map((w) => w.close?.()));
  }
  const elapsedMs = Math.max(lastEnd, windowEnd) - windowStart;
  return summarize(histogram, {
    workers: opts.workers,
    errors,
    elapsedMs,
    errorSamples: [...errorSamples],
  });
}
