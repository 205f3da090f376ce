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
  context: Uint8Array;
  acks: Map<NodeId, boolean>;
}

/** Turns a read context into a map key. */
export function contextKey(ctx: Uint8Array): string {
  let s = "";
  for (let i = 0; i < ctx.length; i++) s += String.fromCharCode(ctx[i]);
  return s;
}

/**
 * Pending reads in arrival order. An acknowledgement of a later read's heartbeat confirms
 * every earlier one too, since that heartbeat was sent after they arrived.
 *
 * @example
 * ```ts
 * import { ReadOnlyQueue } from "./read_only.ts";
 * const q = new ReadOnlyQueue();
 * const ctx = new Uint8Array([1]);
 * q.add({ index: 5, from: 1, context: ctx, acks: new Map([[1, true]]) });
 * console.log(q.ack([1, 2, 3], 2, ctx).length); // 1: two of three confirmed
 * ```
 */
export class ReadOnlyQueue {
  #queue: PendingRead[] = [];
  #byKey = new Map<string, PendingRead>();

  add(read: PendingRead): void {
    const key = contextKey(read.context);
    if (this.#byKey.has(key)) return; // a retried read with the same context
    this.#byKey.set(key, read);
    this.#queue.push(read);
  }

  /** The context of the newest pending read, to piggyback on the next heartbeat. */
  lastContext(): Uint8Array | undefined {
    return this.#queue.at(-1)?.context;
  }

  get size(): number {
    return this.#queue.length;
  }

  /**
   * Records that `from` answered the heartbeat carrying `ctx`; returns the reads that are now
   * confirmed by a quorum of `voters`, oldest first, and removes them.
   */
  ack(voters: NodeId[], from: NodeId, ctx: Uint8Array): PendingRead[] {
    const read = this.#byKey.get(contextKey(ctx));
    if (!read) return [];
    read.acks.set(from, true);
    if (voteResult(voters, read.acks) !== "won") return [];
    const upTo = this.#queue.indexOf(read);
    const done = this.#queue.splice(0, upTo + 1);
    for (const r of done) this.#byKey.delete(contextKey(r.context));
    return done;
  }

  /** Forgets every pending read (the node stopped being leader). */
  clear(): PendingRead[] {
    const dropped = this.#queue;
    this.#queue = [];
    this.#byKey.clear();
    return dropped;
  }
}
