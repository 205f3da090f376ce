/**
 * Round trips to each peer, timed from the leader's heartbeats to their answers, so that a node
 * can say when its timing is wrong for its network (issue 18: a cluster whose round trips neared
 * the election timeout climbed through 130 terms while its nodes logged nothing).
 *
 * Only heartbeats are timed: they carry no entries, so their answers come back without a disk
 * write in between, and the leader sends one to every follower each heartbeat interval. A
 * heartbeat whose answer never comes is simply replaced by the next one.
 *
 * @module
 */

import type { NodeId } from "../raft/types.ts";

/** How many round trips per peer the quantiles are taken over. */
const WINDOW = 256;

/**
 * The median and the 99th percentile of a peer's recent round trips, in milliseconds.
 *
 * @example
 * ```ts
 * import type { RttSummary } from "./peer_rtt.ts";
 * const s: RttSummary = { peer: 2, samples: 256, p50Ms: 0.4, p99Ms: 1.9 };
 * ```
 */
export interface RttSummary {
  peer: NodeId;
  samples: number;
  p50Ms: number;
  p99Ms: number;
}

interface PeerWindow {
  /** When the newest heartbeat to the peer left (monotonic ms), or undefined once answered. */
  sentAt: number | undefined;
  rtts: Float64Array;
  count: number;
}

/**
 * Times heartbeats per peer over a window of the last 256 round trips.
 *
 * @example
 * ```ts
 * import { PeerRtt } from "./peer_rtt.ts";
 * const rtt = new PeerRtt();
 * rtt.sent(2, 1000);
 * rtt.answered(2, 1000.8);
 * console.log(rtt.summary(2)?.p50Ms); // ~0.8
 * ```
 */
export class PeerRtt {
  readonly #peers = new Map<NodeId, PeerWindow>();

  /** A heartbeat to `peer` left at `now` (monotonic ms). */
  sent(peer: NodeId, now: number): void {
    const w = this.#window(peer);
    // Only the first heartbeat since the last answer: one still unanswered is the one timed,
    // so a late answer counts the whole wait rather than the latest interval.
    if (w.sentAt === undefined) w.sentAt = now;
  }

  /** `peer` answered a heartbeat at `now`; returns the round trip, if one was timed. */
  answered(peer: NodeId, now: number): number | undefined {
    const w = this.#peers.get(peer);
    if (w?.sentAt === undefined) return undefined;
    const rtt = Math.max(0, now - w.sentAt);
    w.sentAt = undefined;
    w.rtts[w.count % WINDOW] = rtt;
    w.count++;
    return rtt;
  }

  /** The peer's recent round trips, or undefined before the first. */
  summary(peer: NodeId): RttSummary | undefined {
    const w = this.#peers.get(peer);
    if (!w || w.count === 0) return undefined;
    const n = Math.min(w.count, WINDOW);
    const sorted = w.rtts.slice(0, n).sort();
    const at = (q: number) => sorted[Math.min(n - 1, Math.floor(q * n))];
    return { peer, samples: n, p50Ms: at(0.5), p99Ms: at(0.99) };
  }

  /** Every peer timed so far, by id. */
  summaries(): RttSummary[] {
    const out: RttSummary[] = [];
    for (const peer of [...this.#peers.keys()].sort((a, b) => a - b)) {
      const s = this.summary(peer);
      if (s) out.push(s);
    }
    return out;
  }

  #window(peer: NodeId): PeerWindow {
    let w = this.#peers.get(peer);
    if (!w) {
      w = { sentAt: undefined, rtts: new Float64Array(WINDOW), count: 0 };
      this.#peers.set(peer, w);
    }
    return w;
  }
}

/**
 * Whether a peer's round trips are too long for the election timeout: its p99 (over at least 100
 * round trips) above a fifth of the timeout, or its median (over at least 20) above a tenth. Beyond that, heartbeats and votes arrive late enough
 * that followers start elections a healthy leader would have prevented (docs/operations.md,
 * "Timing": keep the election timeout at least 10x the worst round trip).
 *
 * @example
 * ```ts
 * import { tooSlowForElections } from "./peer_rtt.ts";
 * const s = { peer: 2, samples: 256, p50Ms: 30, p99Ms: 80 };
 * console.log(tooSlowForElections(s, 150), tooSlowForElections(s, 1000)); // true false
 * ```
 */
export function tooSlowForElections(s: RttSummary, electionTimeoutMs: number): boolean {
  // The p99 of a few round trips is their worst, and the first ones after an election meet a
  // busy start: only the median counts until there are enough for a p99 that means one.
  if (s.samples >= 20 && s.p50Ms > electionTimeoutMs / 10) return true;
  return s.samples >= 100 && s.p99Ms > electionTimeoutMs / 5;
}
