/**
 * What a node counts about itself for `GET /metrics` and the status page: elections, failed
 * proposals, disk writes, snapshots, and how late its ticks fire (event-loop delay). Plain
 * fields and preallocated arrays: recording is an increment or an array store, never an
 * allocation, because some of it sits on the write path.
 *
 * @module
 */

/**
 * Upper bounds (seconds) of the disk write duration buckets: a KV commit takes 0.1-2 ms on a
 * quiet disk; a busy one stalls for 100s of ms, which is what an operator must see.
 *
 * @example
 * ```ts
 * import { DISK_WRITE_BUCKETS_SECONDS } from "./node_counters.ts";
 * console.log(DISK_WRITE_BUCKETS_SECONDS.at(-1)); // 2.5
 * ```
 */
export const DISK_WRITE_BUCKETS_SECONDS: readonly number[] = [
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
];

/**
 * How many tick delays the event-loop window keeps: at the node's 10 ms tick, the last 10 s.
 *
 * @example
 * ```ts
 * import { DELAY_WINDOW_SAMPLES } from "./node_counters.ts";
 * console.log(DELAY_WINDOW_SAMPLES); // 1000
 * ```
 */
export const DELAY_WINDOW_SAMPLES = 1000;

/**
 * A cumulative histogram with fixed buckets (Prometheus semantics: bucket `i` counts the
 * observations `<= bounds[i]`).
 *
 * @example
 * ```ts
 * import { FixedHistogram } from "./node_counters.ts";
 * const h = new FixedHistogram([0.001, 0.01]);
 * h.observe(0.004);
 * console.log(h.counts[0], h.counts[1], h.count); // 0 1 1
 * ```
 */
export class FixedHistogram {
  readonly bounds: readonly number[];
  /** Cumulative count per bucket, in the order of `bounds`. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(bounds: readonly number[]) {
    this.bounds = bounds;
    this.counts = new Float64Array(bounds.length);
  }

  /** Records one observation. */
  observe(value: number): void {
    this.sum += value;
    this.count++;
    const { bounds, counts } = this;
    for (let i = bounds.length - 1; i >= 0 && value <= bounds[i]; i--) counts[i]++;
  }
}

/**
 * The last `capacity` samples of a delay, in a ring; `p99()` and `max()` read the window.
 *
 * @example
 * ```ts
 * import { DelayWindow } from "./node_counters.ts";
 * const w = new DelayWindow(4);
 * for (const ms of [1, 2, 3, 40, 5]) w.record(ms);
 * console.log(w.max(), w.size); // 40 4
 * ```
 */
export class DelayWindow {
  readonly #samples: Float64Array;
  #next = 0;
  #size = 0;

  constructor(capacity: number = DELAY_WINDOW_SAMPLES) {
    this.#samples = new Float64Array(capacity);
  }

  /** How many samples the window holds. */
  get size(): number {
    return this.#size;
  }

  /** Records one delay (ms). */
  record(ms: number): void {
    this.#samples[this.#next] = ms;
    this.#next = (this.#next + 1) % this.#samples.length;
    if (this.#size < this.#samples.length) this.#size++;
  }

  /** The largest delay in the window (0 when empty). */
  max(): number {
    let max = 0;
    for (let i = 0; i < this.#size; i++) max = Math.max(max, this.#samples[i]);
    return max;
  }

  /** The 99th percentile delay in the window (0 when empty); sorts a copy, on read only. */
  p99(): number {
    if (this.#size === 0) return 0;
    const sorted = this.#samples.slice(0, this.#size).sort();
    return sorted[Math.min(this.#size - 1, Math.ceil(0.99 * this.#size) - 1)];
  }
}

/**
 * When each of the latest config revisions was applied, in log time (the leader's stamp, the
 * same on every node): a ring of typed arrays, so recording is two stores. Older revisions,
 * and those from before a snapshot was restored, are not known.
 *
 * @example
 * ```ts
 * import { RevisionTimes } from "./node_counters.ts";
 * const t = new RevisionTimes(2);
 * t.record(1, 1000); t.record(2, 2000); t.record(3, 3000);
 * console.log(t.at(3), t.at(1)); // 3000 undefined
 * ```
 */
export class RevisionTimes {
  readonly #revisions: Float64Array;
  readonly #times: Float64Array;
  #last = 0;

  constructor(capacity = 64) {
    this.#revisions = new Float64Array(capacity);
    this.#times = new Float64Array(capacity);
  }

  /** Records that `revision` was applied at `time`; the same revision again is a no-op. */
  record(revision: number, time: number): void {
    if (revision === this.#last) return;
    this.#last = revision;
    const slot = revision % this.#revisions.length;
    this.#revisions[slot] = revision;
    this.#times[slot] = time;
  }

  /** When `revision` was applied (ms since the epoch, log time), if it is still known. */
  at(revision: number): number | undefined {
    const slot = revision % this.#revisions.length;
    return this.#revisions[slot] === revision && revision > 0 ? this.#times[slot] : undefined;
  }
}

/**
 * A node's own counters. The node writes them; `/metrics` and the status page read them.
 *
 * @example
 * ```ts
 * import { NodeCounters } from "./node_counters.ts";
 * const c = new NodeCounters();
 * c.proposalsFailed++;
 * c.diskWrites.observe(0.002);
 * ```
 */
export class NodeCounters {
  /** Campaigns this node started (pre-votes included): many mean an unstable cluster. */
  campaigns = 0;
  /** Times this node saw the leader change to a new, known one. */
  leaderChanges = 0;
  /** Times this node saw the leader lost (none known). */
  leaderLosses = 0;
  /** Submissions that ended in an error after being accepted (no leader, timeout, ...). */
  proposalsFailed = 0;
  /** The loop's own log and hard state writes (seconds). */
  readonly diskWrites: FixedHistogram = new FixedHistogram(DISK_WRITE_BUCKETS_SECONDS);
  /** Snapshots this node took of its own state (log compactions). */
  snapshotsTaken = 0;
  /** Leader snapshots this node installed. */
  snapshotsInstalled = 0;
  /** Times the leader read its snapshot back from disk to send it (`snapshot_data.ts`). */
  snapshotReadsBack = 0;
  /** Heartbeat rounds sent by the keeper thread while the event loop stalled. */
  keeperHeartbeats = 0;
  /** Heartbeat rounds sent while the leader waited on its own disk write. */
  diskWaitHeartbeats = 0;
  /** Size of the last snapshot taken or installed (bytes; 0: none yet). */
  lastSnapshotBytes = 0;
  /** How late the node's ticks fired (ms past their interval): the event loop's delay. */
  readonly tickDelay: DelayWindow = new DelayWindow();
  /**
   * The same delays less the time the loop's thread waited, runnable, for a CPU: what the
   * node's own work cost (empty where that wait cannot be read; `run_queue_wait.ts`).
   */
  readonly tickOwnDelay: DelayWindow = new DelayWindow();
  /** When the latest config revisions were applied (log time): the status page's "when". */
  readonly revisionTimes: RevisionTimes = new RevisionTimes();
}
