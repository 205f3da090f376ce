/**
 * The size and range limits the API enforces before anything reaches the log
 * (docs/architecture.md#limits). They live here and not in the state machine because they are
 * per node and configurable: a replicated check that differed between nodes would split the
 * cluster's state.
 *
 * @module
 */

/**
 * Every limit, named as the `limit` member and the `detail` of a 4xx problem name it.
 *
 * @example
 * ```ts
 * import type { Limits } from "./limits.ts";
 * const tight: Partial<Limits> = { maxKeyBytes: 256, maxWaitMs: 10_000 };
 * ```
 */
export interface Limits {
  /** A config key, in bytes of UTF-8 (also bounds `prefix` and `after`). */
  maxKeyBytes: number;
  /** A config value, in bytes of its compact JSON text. */
  maxValueBytes: number;
  /** A lock name, in bytes of UTF-8. */
  maxLockNameBytes: number;
  /** A lock owner's label, in bytes of UTF-8. */
  maxOwnerBytes: number;
  /** The shortest lease. */
  minTtlMs: number;
  /** The longest lease. */
  maxTtlMs: number;
  /** The longest a lock request may wait in line. */
  maxWaitMs: number;
  /** A request body, in bytes as sent. */
  maxBodyBytes: number;
  /** The most keys one list page may ask for. */
  maxListLimit: number;
  /** `X-Client-Id`, in bytes of UTF-8. */
  maxClientIdBytes: number;
  /** `Idempotency-Key`, in bytes of UTF-8. */
  maxIdempotencyKeyBytes: number;
  /** Open watch streams on this node at once. */
  maxWatchers: number;
}

/**
 * The defaults of docs/architecture.md#limits (key 1 KiB, value 256 KiB, lock name 256 bytes,
 * ttl 1 s to 1 h, wait up to 60 s, body 1 MiB, and the rest).
 *
 * @example
 * ```ts
 * import { DEFAULT_LIMITS } from "./limits.ts";
 * DEFAULT_LIMITS.maxBodyBytes; // 1048576
 * ```
 */
export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  maxKeyBytes: 1024,
  maxValueBytes: 256 * 1024,
  maxLockNameBytes: 256,
  maxOwnerBytes: 256,
  minTtlMs: 1000,
  maxTtlMs: 3_600_000,
  maxWaitMs: 60_000,
  maxBodyBytes: 1024 * 1024,
  maxListLimit: 1000,
  maxClientIdBytes: 128,
  maxIdempotencyKeyBytes: 256,
  maxWatchers: 10_000,
});

/**
 * The defaults overridden by `overrides`. Throws a `RangeError` for a limit that is not a
 * positive safe integer, or a `minTtlMs` above `maxTtlMs`: a node must not start with limits
 * it cannot enforce.
 *
 * @example
 * ```ts
 * import { resolveLimits } from "./limits.ts";
 * resolveLimits({ maxWaitMs: 5000 }).maxWaitMs; // 5000
 * ```
 */
export function resolveLimits(overrides: Partial<Limits> = {}): Readonly<Limits> {
  const limits: Limits = { ...DEFAULT_LIMITS };
  for (const [name, value] of Object.entries(overrides)) {
    if (!Object.hasOwn(DEFAULT_LIMITS, name)) throw new RangeError(`unknown limit ${name}`);
    if (value === undefined) continue;
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new RangeError(`limit ${name} must be a positive integer, got ${value}`);
    }
    limits[name as keyof Limits] = value;
  }
  if (limits.minTtlMs > limits.maxTtlMs) {
    throw new RangeError(`minTtlMs ${limits.minTtlMs} is above maxTtlMs ${limits.maxTtlMs}`);
  }
  return Object.freeze(limits);
}

/**
 * The length of a string in bytes of UTF-8, without encoding it.
 *
 * @example
 * ```ts
 * import { utf8Length } from "./limits.ts";
 * utf8Length("é"); // 2
 * ```
 */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) bytes += 1;
    else if (unit < 0x800) bytes += 2;
    else if (unit >= 0xd800 && unit <= 0xdbff && isLowSurrogate(text.charCodeAt(i + 1))) {
      // A surrogate pair is one code point of four bytes.
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}

function isLowSurrogate(unit: number): boolean {
  return unit >= 0xdc00 && unit <= 0xdfff;
}
