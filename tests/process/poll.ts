/**
 * Waiting with a deadline: tests poll for a condition instead of sleeping and hoping.
 *
 * @module
 */

import { setTimeout as delay } from "node:timers/promises";

/**
 * Calls `probe` every `intervalMs` until it returns a value other than undefined, or throws
 * after `timeoutMs` naming `what` was awaited.
 *
 * @example
 * ```ts
 * import { poll } from "./poll.ts";
 * let n = 0;
 * const v = await poll(() => (++n >= 3 ? n : undefined), { what: "n to reach 3" });
 * ```
 */
export async function poll<T>(
  probe: () => T | undefined | Promise<T | undefined>,
  opts: { what: string; timeoutMs?: number; intervalMs?: number },
): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (e) {
      lastError = e;
    }
    await delay(opts.intervalMs ?? 25);
  }
  throw new Error(
    `timed out after ${opts.timeoutMs ?? 10_000} ms waiting for ${opts.what}` +
      (lastError ? ` (last error: ${lastError})` : ""),
  );
}
