/**
 * Running long work (encoding or restoring a snapshot of tens of MB) as steps, in slices of a
 * few milliseconds with the event loop free in between: the node's ticks, heartbeats, disk
 * writes and client requests go on while it runs.
 *
 * @module
 */

import { type NodeClock, systemClock } from "./clock.ts";

/**
 * How long one slice may hold the event loop, by default: a tenth of the default heartbeat
 * interval (50 ms).
 *
 * @example
 * ```ts
 * import { DEFAULT_SLICE_MS } from "./run_in_slices.ts";
 * console.log(DEFAULT_SLICE_MS); // 5
 * ```
 */
export const DEFAULT_SLICE_MS = 5;

/** Settings of {@linkcode runInSlices}. */
export interface SliceOptions {
  /** How long a slice may run before the event loop gets a turn. Default `DEFAULT_SLICE_MS`. */
  sliceMs?: number;
  /** Asked between slices: when it says true, the steps are abandoned. */
  cancelled?: () => boolean;
  /** Measures the slices and gives the turns. Default {@linkcode systemClock}. */
  clock?: NodeClock;
}

/**
 * The work was abandoned because {@linkcode SliceOptions.cancelled} said so.
 *
 * @example
 * ```ts
 * import { SlicedWorkCancelled } from "./run_in_slices.ts";
 * new SlicedWorkCancelled().name; // "SlicedWorkCancelled"
 * ```
 */
export class SlicedWorkCancelled extends Error {
  override name = "SlicedWorkCancelled";
}

/**
 * A turn of the event loop: timers and I/O run before it resolves. `setTimeout(0)`, because in
 * Deno 2.9.6 a chain of `setImmediate` (or `MessageChannel` messages) starves network I/O: a
 * server answered one request in a second of 5 ms slices joined by `setImmediate`, and 487
 * with `setTimeout(0)`. Nested timeouts are clamped to 4 ms, which leaves the CPU to the rest
 * of the node (and to the other nodes on a shared machine) between slices.
 *
 * @example
 * ```ts
 * import { nextTurn } from "./run_in_slices.ts";
 * await nextTurn();
 * ```
 */
export function nextTurn(clock: NodeClock = systemClock): Promise<void> {
  return new Promise((resolve) => clock.setTimeout(resolve, 0));
}

/**
 * Runs `steps` to their end, giving the event loop a turn whenever a slice has run for
 * `sliceMs`, and resolves with their result. Throws {@linkcode SlicedWorkCancelled} (after
 * closing the steps) when `cancelled` says so between slices.
 *
 * @example
 * ```ts
 * import { runInSlices } from "./run_in_slices.ts";
 * function* sum(n: number): Generator<void, number> {
 *   let total = 0;
 *   for (let i = 1; i <= n; i++) {
 *     total += i;
 *     yield;
 *   }
 *   return total;
 * }
 * await runInSlices(sum(100_000)); // 5000050000
 * ```
 */
export async function runInSlices<T>(
  steps: Iterator<unknown, T>,
  options: SliceOptions = {},
): Promise<T> {
  const sliceMs = options.sliceMs ?? DEFAULT_SLICE_MS;
  const clock = options.clock ?? systemClock;
  let sliceStart = clock.monotonic();
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
    if (clock.monotonic() - sliceStart < sliceMs) continue;
    await nextTurn(clock);
    if (options.cancelled?.()) {
      steps.return?.(undefined as T);
      throw new SlicedWorkCancelled("the work was cancelled");
    }
    sliceStart = clock.monotonic();
  }
}
