/**
 * Durations on the command line: `30s`, `500ms`, `2m`, `1h`, or decimals like `1.5s`.
 *
 * @module
 */

import { UsageError } from "./usage_error.ts";

const UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/**
 * Milliseconds in a duration; a bare number or an unknown unit is a {@linkcode UsageError}
 * (a bare `30` could mean seconds or milliseconds, so it is refused rather than guessed).
 *
 * @example
 * ```ts
 * import { parseDuration } from "./duration.ts";
 * parseDuration("--ttl", "30s"); // 30000
 * parseDuration("--wait", "500ms"); // 500
 * ```
 */
export function parseDuration(flag: string, text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(text.trim());
  if (!match) {
    throw new UsageError(`${flag} takes a duration like 30s, 500ms or 2m, not "${text}"`);
  }
  return Math.round(Number(match[1]) * UNITS[match[2]]);
}

/**
 * The duration flag `--name` in ms, when it was given.
 *
 * @example
 * ```ts
 * import { durationFlag } from "./duration.ts";
 * durationFlag({ wait: "2m" }, "wait"); // 120000
 * durationFlag({}, "wait"); // undefined
 * ```
 */
export function durationFlag(
  flags: Record<string, string | boolean | undefined>,
  name: string,
): number | undefined {
  const text = flags[name];
  return typeof text === "string" ? parseDuration(`--${name}`, text) : undefined;
}
