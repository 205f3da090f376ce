/**
 * What the scale bench reads from every member while it loads keys: the Raft term, the
 * compactions (snapshots) taken so far, and the event loop's delay (edgeraft's
 * `edgeraft_event_loop_delay_*` gauges), from `/metrics` (etcd: its maintenance status and its
 * metrics), every second, so that a stall between two batch boundaries is still seen.
 *
 * @module
 */

import type { BenchCluster, SystemName } from "./bench_cluster.ts";
import { jsonOrUndefined } from "./bench_cluster.ts";

/**
 * One reading of one member; a field is undefined when the system does not tell it.
 *
 * @example
 * ```ts
 * import type { MemberReading } from "./scale_sampler.ts";
 * const r: MemberReading = { term: 2, snapshots: 3, loopMaxMs: 12, loopP99Ms: 4 };
 * ```
 */
export interface MemberReading {
  term?: number;
  snapshots?: number;
  loopMaxMs?: number;
  loopP99Ms?: number;
  /** The same less the loop's wait for a CPU (`edgeraft_event_loop_own_delay_*`, Linux). */
  loopOwnMaxMs?: number;
  loopOwnP99Ms?: number;
  /** V8's heap in use, its reservation, and memory held outside it (edgeraft). */
  heapUsedBytes?: number;
  heapTotalBytes?: number;
  externalBytes?: number;
}

/**
 * The unlabelled samples of a Prometheus text exposition, and labelled ones summed by name.
 *
 * @example
 * ```ts
 * import { parseMetrics } from "./scale_sampler.ts";
 * parseMetrics('# TYPE a gauge\na 3\nb{x="1"} 1\nb{x="2"} 2\n').get("b"); // 3
 * ```
 */
export function parseMetrics(text: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of text.split("\n")) {
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const v = Number(m[3]);
    if (Number.isFinite(v)) values.set(m[1], (values.get(m[1]) ?? 0) + v);
  }
  return values;
}

async function metricsOf(url: string): Promise<Map<string, number> | undefined> {
  try {
    const res = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(2000) });
    if (!res.ok) {
      await res.body?.cancel();
      return undefined;
    }
    return parseMetrics(await res.text());
  } catch {
    return undefined;
  }
}

const ms = (seconds: number | undefined) => seconds === undefined ? undefined : seconds * 1000;

/**
 * Reads member `id` of `cluster` once; undefined when it does not answer.
 *
 * @example
 * ```ts ignore
 * import { readMember } from "./scale_sampler.ts";
 * (await readMember(cluster, 1))?.term;
 * ```
 */
export async function readMember(
  cluster: BenchCluster,
  id: number,
): Promise<MemberReading | undefined> {
  const url = cluster.clientUrl(id);
  if (cluster.system === "edgeraft") {
    const m = await metricsOf(url);
    if (!m) return undefined;
    return {
      term: m.get("edgeraft_term"),
      snapshots: m.get("edgeraft_snapshots_taken_total"),
      loopMaxMs: ms(m.get("edgeraft_event_loop_delay_max_seconds")),
      loopP99Ms: ms(m.get("edgeraft_event_loop_delay_p99_seconds")),
      loopOwnMaxMs: ms(m.get("edgeraft_event_loop_own_delay_max_seconds")),
      loopOwnP99Ms: ms(m.get("edgeraft_event_loop_own_delay_p99_seconds")),
      heapUsedBytes: m.get("deno_heap_used_bytes"),
      heapTotalBytes: m.get("deno_heap_total_bytes"),
      externalBytes: m.get("deno_external_memory_bytes"),
    };
  }
  const [status, m] = await Promise.all([
    jsonOrUndefined(`${url}/v3/maintenance/status`, {}, 2000),
    metricsOf(url),
  ]);
  const term = Number((status as { raftTerm?: string } | undefined)?.raftTerm);
  if (status === undefined) return undefined;
  return {
    term: Number.isFinite(term) ? term : undefined,
    // etcd's Raft snapshots (every --snapshot-count entries, 100,000 by default in 3.4).
    snapshots: m?.get("etcd_debugging_snap_save_total_duration_seconds_count"),
  };
}

/**
 * The highest of the defined numbers, or undefined when there is none.
 *
 * @example
 * ```ts
 * import { maxDefined } from "./scale_sampler.ts";
 * maxDefined([undefined, 3, 1]); // 3
 * ```
 */
export function maxDefined(values: (number | undefined)[]): number | undefined {
  const defined = values.filter((v): v is number => v !== undefined);
  return defined.length === 0 ? undefined : Math.max(...defined);
}

/**
 * The maxima of the event loop's delay over a window (one batch), across members.
 *
 * @example
 * ```ts
 * import type { LoopWindow } from "./scale_sampler.ts";
 * const w: LoopWindow = { maxMs: 30, p99Ms: 8, samples: 40 };
 * ```
 */
export interface LoopWindow {
  maxMs?: number;
  p99Ms?: number;
  /** The same without the time the loops waited for a CPU. */
  ownMaxMs?: number;
  ownP99Ms?: number;
  /** Member readings taken in the window. */
  samples: number;
}

/**
 * Reads every running member every `intervalMs` in the background, keeping the last reading
 * of each and the event loop maxima since the last {@linkcode ScaleSampler.takeWindow}.
 *
 * @example
 * ```ts ignore
 * import { ScaleSampler } from "./scale_sampler.ts";
 * const sampler = new ScaleSampler(cluster);
 * sampler.start();
 * // ... load ...
 * const { maxMs } = sampler.takeWindow();
 * await sampler.stop();
 * ```
 */
export class ScaleSampler {
  readonly system: SystemName;
  #cluster: BenchCluster;
  #intervalMs: number;
  #last = new Map<number, MemberReading>();
  #window: LoopWindow = { samples: 0 };
  #running?: Promise<void>;
  #stopped = false;

  constructor(cluster: BenchCluster, intervalMs = 1000) {
    this.system = cluster.system;
    this.#cluster = cluster;
    this.#intervalMs = intervalMs;
  }

  /** Starts the background readings. */
  start(): void {
    this.#stopped = false;
    this.#running = (async () => {
      while (!this.#stopped) {
        const started = performance.now();
        await this.sampleNow();
        const wait = this.#intervalMs - (performance.now() - started);
        if (wait > 0 && !this.#stopped) await new Promise((r) => setTimeout(r, wait));
      }
    })();
  }

  /** Ends the background readings once the current one is done. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#running;
  }

  /** Reads every running member now (the event loop readings count in the window). */
  async sampleNow(): Promise<void> {
    const ids = this.#cluster.ids.filter((id) => this.#cluster.pid(id) !== undefined);
    const readings = await Promise.all(ids.map((id) => readMember(this.#cluster, id)));
    ids.forEach((id, i) => {
      const r = readings[i];
      if (!r) return;
      this.#last.set(id, r);
      this.#window = {
        maxMs: maxDefined([this.#window.maxMs, r.loopMaxMs]),
        p99Ms: maxDefined([this.#window.p99Ms, r.loopP99Ms]),
        ownMaxMs: maxDefined([this.#window.ownMaxMs, r.loopOwnMaxMs]),
        ownP99Ms: maxDefined([this.#window.ownP99Ms, r.loopOwnP99Ms]),
        samples: this.#window.samples + 1,
      };
    });
  }

  /** The highest term any member reported last (terms only grow). */
  term(): number | undefined {
    return maxDefined([...this.#last.values()].map((r) => r.term));
  }

  /** Snapshots taken, summed over the members' last readings. */
  snapshots(): number | undefined {
    const counts = [...this.#last.values()].map((r) => r.snapshots);
    return counts.some((c) => c !== undefined)
      ? counts.reduce<number>((sum, c) => sum + (c ?? 0), 0)
      : undefined;
  }

  /** The event loop maxima since the last call, and a fresh window. */
  takeWindow(): LoopWindow {
    const w = this.#window;
    this.#window = { samples: 0 };
    return w;
  }
}
