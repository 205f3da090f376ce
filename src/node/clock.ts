/**
 * Everything time-dependent or random a node uses, behind one interface, so that the node that
 * ships runs unchanged under the simulator's virtual time and seed (tests/sim). Production uses
 * {@linkcode systemClock}.
 *
 * @module
 */

/** A timer handle, as returned by {@linkcode NodeClock.setTimeout}: opaque to its users. */
export type TimerHandle = unknown;

/**
 * The clock, timers and randomness of a node.
 *
 * @example
 * ```ts
 * import { type NodeClock, systemClock } from "./clock.ts";
 * const clock: NodeClock = systemClock;
 * const t = clock.setTimeout(() => console.log("late"), 10);
 * clock.clearTimeout(t);
 * ```
 */
export interface NodeClock {
  /** Wall-clock time in ms since the epoch (what the leader stamps into the log). */
  now(): number;
  /** Monotonic time in ms, for durations and deadlines. */
  monotonic(): number;
  /** Runs `fn` once after `ms`. */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  /** Cancels a timer from `setTimeout` or `setInterval`; unknown handles are ignored. */
  clearTimeout(handle: TimerHandle | undefined): void;
  /** Runs `fn` every `ms` until cleared with `clearTimeout`. */
  setInterval(fn: () => void, ms: number): TimerHandle;
  /** A number in [0, 1) (election jitter, read-round nonces). */
  random(): number;
}

/**
 * The real clock: `Date.now`, `performance.now`, the global timers and `Math.random`.
 *
 * @example
 * ```ts
 * import { systemClock } from "./clock.ts";
 * systemClock.monotonic() >= 0; // true
 * ```
 */
export const systemClock: NodeClock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  // clearTimeout and clearInterval share one pool of ids in Deno, as in browsers.
  clearTimeout: (handle) => clearTimeout(handle as number),
  setInterval: (fn, ms) => setInterval(fn, ms),
  random: () => Math.random(),
};
