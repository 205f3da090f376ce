/**
 * Virtual time for the simulator: a priority queue of timers, message deliveries and disk
 * completions, run in order of (time, insertion) from one seed. Each node gets a
 * {@linkcode NodeClock} on this time, so the real `RaftNode` ticks, times out reads and slices
 * snapshots in virtual milliseconds; a crash kills the node's clock and with it every timer
 * the dead incarnation set.
 *
 * Between two events the scheduler lets every pending microtask run (a macrotask turn), so an
 * event's consequences (the node's Ready loop, promise chains) finish at the virtual time of
 * the event, and the run is the same for a seed every time: nothing else is on the event loop.
 *
 * @module
 */

import { setImmediate } from "node:timers";
import type { NodeClock, TimerHandle } from "../../src/node/clock.ts";
import type { Prng } from "../checker/prng.ts";

interface Event {
  at: number;
  seq: number;
  fn: () => void;
  /** The clock that set it, if any: a killed clock's events are skipped. */
  owner?: SimClock;
  cancelled: boolean;
}

/** Lets every queued microtask run. */
function drain(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * The event queue and the virtual time.
 *
 * @example
 * ```ts
 * import { Scheduler } from "./scheduler.ts";
 * import { Prng } from "../checker/prng.ts";
 * const s = new Scheduler(new Prng(1));
 * s.at(5, () => console.log(s.now)); // 5
 * await s.runUntil(10);
 * ```
 */
export class Scheduler {
  now = 0;
  /** Events run so far: the simulator's "steps". */
  events = 0;
  #seq = 0;
  readonly #heap: Event[] = [];

  constructor(readonly prng: Prng) {}

  /** Runs `fn` at virtual time `time` (not before now). */
  at(time: number, fn: () => void, owner?: SimClock): Event {
    const e: Event = {
      at: Math.max(time, this.now),
      seq: this.#seq++,
      fn,
      owner,
      cancelled: false,
    };
    this.#push(e);
    return e;
  }

  /** Runs `fn` after `delay` virtual ms. */
  after(delay: number, fn: () => void, owner?: SimClock): Event {
    return this.at(this.now + delay, fn, owner);
  }

  /** A clock for one incarnation of a node; set its `driftPpm` to skew its wall clock. */
  clock(epochMs = 1_700_000_000_000): SimClock {
    return new SimClock(this, epochMs);
  }

  /**
   * Runs events until virtual time `until` or until `stop()` says true (asked after every
   * event, with `check` run first, e.g. the safety checks).
   */
  async runUntil(until: number, after?: () => boolean | void): Promise<boolean> {
    await drain();
    while (this.#heap.length > 0 && this.#heap[0].at <= until) {
      const e = this.#pop();
      if (e.cancelled || e.owner?.dead) continue;
      this.now = e.at;
      this.events++;
      e.fn();
      await drain();
      if (after?.() === true) return true;
    }
    this.now = Math.max(this.now, until);
    return false;
  }

  #push(e: Event): void {
    const h = this.#heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(h[i], h[p])) break;
      [h[i], h[p]] = [h[p], h[i]];
      i = p;
    }
  }

  #pop(): Event {
    const h = this.#heap;
    const top = h[0];
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && before(h[l], h[m])) m = l;
        if (r < h.length && before(h[r], h[m])) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m], h[i]];
        i = m;
      }
    }
    return top;
  }
}

function before(a: Event, b: Event): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

/**
 * One node incarnation's view of virtual time. `kill()` (a crash) cancels all its timers.
 *
 * @example
 * ```ts
 * import { Scheduler } from "./scheduler.ts";
 * import { Prng } from "../checker/prng.ts";
 * const clock = new Scheduler(new Prng(1)).clock();
 * clock.setTimeout(() => console.log("never"), 10);
 * clock.kill();
 * ```
 */
export class SimClock implements NodeClock {
  dead = false;
  /** Wall-clock skew in parts per million (within the documented 1 %: ±10,000). */
  driftPpm = 0;

  constructor(readonly scheduler: Scheduler, readonly epochMs: number) {}

  now(): number {
    return Math.floor(this.epochMs + this.scheduler.now * (1 + this.driftPpm / 1e6));
  }

  monotonic(): number {
    return this.scheduler.now;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    return this.scheduler.after(Math.max(0, ms), fn, this);
  }

  clearTimeout(handle: TimerHandle | undefined): void {
    if (handle) (handle as Event).cancelled = true;
  }

  setInterval(fn: () => void, ms: number): TimerHandle {
    // One handle for every round: clearing it stops the interval.
    const handle = { cancelled: false } as Event;
    const round = () => {
      if (handle.cancelled) return;
      this.scheduler.after(Math.max(1, ms), round, this);
      fn();
    };
    this.scheduler.after(Math.max(1, ms), round, this);
    return handle;
  }

  random(): number {
    return this.scheduler.prng.next();
  }

  /** The node crashed: none of its timers fire any more. */
  kill(): void {
    this.dead = true;
  }
}
