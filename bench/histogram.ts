/**
 * A latency histogram: HdrHistogram (the npm package `hdr-histogram-js`, the JavaScript port of
 * Gil Tene's HdrHistogram) over microseconds, with 3 significant digits: exact below 2048 µs and
 * within 0.1 % above, O(1) to record, and no memory growing with the number of samples. It
 * replaced a hand-written log-linear histogram (1/128 precision) with the same interface.
 * Count, min, max and mean are kept exactly beside it.
 *
 * @module
 */

import * as hdr from "hdr-histogram-js";

/** Up to 2^31 µs (about 36 minutes); longer samples are clamped and counted there. */
const MAX_MICROS = 2 ** 31 - 1;

/** A fresh HdrHistogram: plain JavaScript (the WebAssembly build needs an async init). */
function buildHdr(): hdr.Histogram {
  return hdr.build({
    bitBucketSize: 32,
    lowestDiscernibleValue: 1,
    highestTrackableValue: MAX_MICROS,
    numberOfSignificantValueDigits: 3,
    autoResize: false,
    useWebAssembly: false,
  });
}

/**
 * Latencies of one measurement, in milliseconds in and out.
 *
 * @example
 * ```ts
 * import { LatencyHistogram } from "./histogram.ts";
 * const h = new LatencyHistogram();
 * for (const ms of [1, 2, 3, 40]) h.record(ms);
 * h.percentile(50); // 2
 * h.max; // 40
 * ```
 */
export class LatencyHistogram {
  readonly #hdr = buildHdr();
  #count = 0;
  #sum = 0;
  #min = Infinity;
  #max = 0;

  /** Adds one sample (milliseconds; negative values count as 0). */
  record(ms: number): void {
    const value = Math.max(0, ms);
    this.#hdr.recordValue(Math.min(MAX_MICROS, Math.round(value * 1000)));
    this.#count++;
    this.#sum += value;
    if (value < this.#min) this.#min = value;
    if (value > this.#max) this.#max = value;
  }

  /** Adds every sample of `other` (the histogram of another worker or interval). */
  merge(other: LatencyHistogram): void {
    this.#hdr.add(other.#hdr);
    this.#count += other.#count;
    this.#sum += other.#sum;
    this.#min = Math.min(this.#min, other.#min);
    this.#max = Math.max(this.#max, other.#max);
  }

  /** How many samples were recorded. */
  get count(): number {
    return this.#count;
  }

  /** The exact largest sample (0 when empty). */
  get max(): number {
    return this.#max;
  }

  /** The exact smallest sample (0 when empty). */
  get min(): number {
    return this.#count === 0 ? 0 : this.#min;
  }

  /** The exact mean (0 when empty). */
  get mean(): number {
    return this.#count === 0 ? 0 : this.#sum / this.#count;
  }

  /**
   * The value below which `p` percent of the samples fall (HdrHistogram's rank, rounded to
   * the nearest sample), within the precision and never outside [min, max]; 0 when empty.
   */
  percentile(p: number): number {
    if (this.#count === 0) return 0;
    const ms = this.#hdr.getValueAtPercentile(Math.min(100, Math.max(0, p))) / 1000;
    return Math.min(this.#max, Math.max(this.#min, ms));
  }
}
