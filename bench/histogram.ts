/**
 * A latency histogram in the manner of HdrHistogram: log-linear buckets of microseconds, exact
 * below 256 µs and within 1/128 (0.8 %) above, so recording costs O(1) and no memory grows with
 * the number of samples, however long a run lasts.
 *
 * @module
 */

/** Below this many microseconds every bucket holds one value. */
const LINEAR_LIMIT = 256;
/** Sub-buckets per power of two above `LINEAR_LIMIT`: the relative precision is 1/128. */
const SUB_BUCKET_BITS = 7;
/** Up to 2^31 µs (about 36 minutes); longer samples are clamped and counted there. */
const MAX_MICROS = 2 ** 31 - 1;

function bucketOf(micros: number): number {
  if (micros < LINEAR_LIMIT) return micros;
  const exponent = 31 - Math.clz32(micros) - SUB_BUCKET_BITS;
  return (exponent << SUB_BUCKET_BITS) + (micros >>> exponent);
}

function bucketMidpoint(bucket: number): number {
  if (bucket < LINEAR_LIMIT) return bucket;
  const exponent = (bucket >>> SUB_BUCKET_BITS) - 1;
  const mantissa = bucket - (exponent << SUB_BUCKET_BITS);
  return mantissa * 2 ** exponent + (2 ** exponent - 1) / 2;
}

const BUCKETS = bucketOf(MAX_MICROS) + 1;

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
  #counts = new Float64Array(BUCKETS);
  #count = 0;
  #sum = 0;
  #min = Infinity;
  #max = 0;

  /** Adds one sample (milliseconds; negative values count as 0). */
  record(ms: number): void {
    const value = Math.max(0, ms);
    const micros = Math.min(MAX_MICROS, Math.round(value * 1000));
    this.#counts[bucketOf(micros)]++;
    this.#count++;
    this.#sum += value;
    if (value < this.#min) this.#min = value;
    if (value > this.#max) this.#max = value;
  }

  /** Adds every sample of `other` (the histogram of another worker or interval). */
  merge(other: LatencyHistogram): void {
    for (let i = 0; i < BUCKETS; i++) this.#counts[i] += other.#counts[i];
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
   * The smallest recorded value such that `p` percent of the samples are at most it (nearest
   * rank), within the bucket precision and never outside [min, max]; 0 when empty.
   */
  percentile(p: number): number {
    if (this.#count === 0) return 0;
    const rank = Math.max(1, Math.ceil((Math.min(100, Math.max(0, p)) / 100) * this.#count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.#counts[i];
      if (seen >= rank) {
        const ms = bucketMidpoint(i) / 1000;
        return Math.min(this.#max, Math.max(this.#min, ms));
      }
    }
    return this.#max;
  }
}
