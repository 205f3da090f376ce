/**
 * The leader's queue of ReadIndex requests waiting for a quorum to confirm its leadership
 * (thesis 6.4): a read may be served at the commit index it recorded, once a majority has
 * answered a heartbeat sent after the read arrived.
 *
 * @module
 */

import { voteResult } from "./quorum/majority.ts";
import type { NodeId } from "./types.ts";

/** A read waiting for confirmation. */
export interface PendingRead {
  /** The commit index when the read arrived: the read is served once it is applied. */
  index: number;
  /** Who asked: this node, or a follower to answer with readIndexResp. */
  from: NodeId;
  /** The requester's context, handed back with the answer; opaque to the leader. */
  context: Uint8Array;
  acks: Map<NodeId, boolean>;
}

interface Queued {
  read: PendingRead;
  /** The number of the heartbeat round that confirms this read. */
  round: number;
}

/** Turns a read context into a string (for maps and logs). */
export function contextKey(ctx: Uint8Array): string {
  let s = "";
  for (let i = 0; i < ctx.length; i++) s += String.fromCharCode(ctx[i]);
  return s;
}

/** The heartbeat context of round `n`: "#" and the number in decimal. */
function encodeRound(n: number): Uint8Array {
  const s = `#${n}`;
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

function decodeRound(ctx: Uint8Array): number | undefined {
  if (ctx.length < 2 || ctx.length > 17 || ctx[0] !== 0x23) return undefined;
  let n = 0;
  for (let i = 1; i < ctx.length; i++) {
    const d = ctx[i] - 0x30;
    if (d < 0 || d > 9) return undefined;
    n = n * 10 + d;
  }
  return n;
}

/**
 * Pending reads in arrival order. Each read gets a heartbeat round number of the leader's own,
 * which the heartbeats carry as their context: the requesters' contexts are chosen by each
 * node's driver and may collide (two nodes both asking for "r1"), so they cannot name a round.
 * An acknowledgement of a later round confirms every earlier read too, since that heartbeat
 * was sent after they arrived.
 *
 * @example
 * ```ts
 * import { ReadOnlyQueue } from "./read_only.ts";
 * const q = new ReadOnlyQueue();
 * const hb = q.add({ index: 5, from: 1, context: new Uint8Array([1]), acks: new Map([[1, true]]) });
 * console.log(q.ack([1, 2, 3], 2, hb).length); // 1: two of three confirmed
 * ```
 */
export class ReadOnlyQueue {
  #queue: Queued[] = [];
  /** Round numbers only grow, across leaderships too, so a stale answer never matches. */
  #round = 0;

  /** Queues a read; returns the context of the heartbeat that can confirm it. */
  add(read: PendingRead): Uint8Array {
    const round = ++this.#round;
    this.#queue.push({ read, round });
    return encodeRound(round);
  }

  /** The heartbeat context of the newest pending read, to piggyback on the next heartbeat. */
  lastContext(): Uint8Array | undefined {
    const last = this.#queue.at(-1);
    return last && encodeRound(last.round);
  }

  get size(): number {
    return this.#queue.length;
  }

  /**
   * Records that `from` answered the heartbeat carrying `ctx`; returns the reads that are now
   * confirmed by a quorum of `voters`, oldest first, and removes them.
   */
  ack(voters: NodeId[], from: NodeId, ctx: Uint8Array): PendingRead[] {
    const round = decodeRound(ctx);
    if (round === undefined) return [];
    const at = this.#find(round);
    if (at < 0) return [];
    const { read } = this.#queue[at];
    read.acks.set(from, true);
    if (voteResult(voters, read.acks) !== "won") return [];
    return this.#queue.splice(0, at + 1).map((q) => q.read);
  }

  /** Where round `n` is in the queue (sorted by round), or -1. */
  #find(n: number): number {
    let lo = 0;
    let hi = this.#queue.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const r = this.#queue[mid].round;
      if (r === n) return mid;
      if (r < n) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  /** Forgets every pending read (the node stopped being leader). */
  clear(): PendingRead[] {
    const dropped = this.#queue.map((q) => q.read);
    this.#queue = [];
    return dropped;
  }
}
