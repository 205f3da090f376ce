/**
 * A watch as a Server-Sent Events stream: the changes under a prefix from a revision on, first
 * from the state machine's history (catch-up), then live as entries are applied, without gaps
 * or duplicates.
 *
 * One cursor does both: the stream asks the history for the changes after the last revision it
 * has covered. So the live phase cannot skip a change (even when a snapshot replaces the state
 * machine and revisions jump) and cannot repeat one.
 *
 * The catch-up is pulled, not pushed: the stream reads the history a slice at a time, only when
 * its consumer has drained what was queued before, so a catch-up of any size costs the node
 * about `highWaterMark` of memory per watcher and never trips the slow-consumer rule. (It used
 * to be queued whole, and a catch-up over 4 MiB disconnected the watcher before its first
 * byte, on every resume too.) Once the cursor reaches the newest revision the watch is live:
 * each applied entry is queued at once, and a watcher that leaves more than 4 MiB of live
 * events unread is disconnected, because only then would the node hold its backlog in memory.
 *
 * Events: `id:` is the revision (so `Last-Event-ID` resumes), `event:` is `put` or `delete`,
 * `data:` the change as JSON. When the history no longer reaches back to the requested
 * revision the stream sends `event: compacted` with the compacted revision and closes: the
 * client must re-read and watch from the current revision. Comments keep idle connections
 * open. A client that reads too slowly is disconnected (it may resume with `Last-Event-ID`).
 *
 * @module
 */

import type { ApiNode } from "./api_node.ts";
import type { ChangeEvent } from "../state/results.ts";

/** Bytes of live events a slow client may leave unread before it is disconnected. */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;
/** What the stream queues before it waits for its consumer (the catch-up's step). */
const QUEUE_BYTES = 64 * 1024;
/** Changes read from the history at a time during catch-up. */
const CATCH_UP_SLICE = 32;

/**
 * What to watch.
 *
 * @example
 * ```ts
 * import type { WatchSpec } from "./watch_stream.ts";
 * const spec: WatchSpec = { prefix: "app/", fromRevision: 10, heartbeatMs: 15_000 };
 * ```
 */
export interface WatchSpec {
  prefix: string;
  /** The first revision to send. */
  fromRevision: number;
  heartbeatMs: number;
  /** Called once when the stream ends, however it ends. */
  onClose?: () => void;
  /** The request's signal: the stream ends when the client goes away. */
  signal?: AbortSignal;
}

/**
 * One SSE event's text.
 *
 * @example
 * ```ts
 * import { sseEvent } from "./watch_stream.ts";
 * sseEvent("delete", { key: "a", revision: 3 }, 3); // "id: 3\nevent: delete\ndata: {...}\n\n"
 * ```
 */
export function sseEvent(event: string, data: unknown, id?: number): string {
  // JSON.stringify escapes line breaks, so the data is always one `data:` line.
  return `${id === undefined ? "" : `id: ${id}\n`}event: ${event}\ndata: ${
    JSON.stringify(data)
  }\n\n`;
}

function changeData(change: ChangeEvent): unknown {
  if (change.type === "delete") return { key: change.key, revision: change.revision };
  const { key, value, revision, createRevision, version } = change;
  return { key, value, revision, createRevision, version };
}

/**
 * The stream of a watch. It starts with a comment naming the first revision, so that the
 * response's headers go out at once.
 *
 * @example
 * ```ts ignore
 * return new Response(watchStream(node, { prefix: "", fromRevision: 1, heartbeatMs: 15_000 }), {
 *   headers: { "content-type": "text/event-stream" },
 * });
 * ```
 */
export function watchStream(node: ApiNode, spec: WatchSpec): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  /** The last revision covered: every change up to it was queued or is not under the prefix. */
  let cursor = spec.fromRevision - 1;
  /** Whether the cursor has reached the newest revision once (then changes are pushed). */
  let live = false;
  /**
   * The rest of the last slice read from the history, not yet queued: the changes after the
   * cursor up to `sliceEnd` under the prefix (shared with the history, not copied). Keeping them
   * saves reading a slice again per queued change when changes are larger than the queue.
   */
  let slice: ChangeEvent[] = [];
  let sliceEnd = 0;
  let closed = false;
  /** Set while `advance` runs: `enqueue` may call `pull`, which must not read the same changes. */
  let advancing = false;
  let unsubscribe = () => {};
  let heartbeat: ReturnType<typeof setInterval> | undefined;
  let controller!: ReadableStreamDefaultController<Uint8Array>;

  const onAbort = () => {
    if (closed) return;
    finish();
    controller.close();
  };
  const finish = () => {
    if (closed) return;
    closed = true;
    unsubscribe();
    clearInterval(heartbeat);
    spec.signal?.removeEventListener("abort", onAbort);
    spec.onClose?.();
  };
  const send = (text: string) => {
    if (closed) return;
    // Only live events can pile up here: the catch-up waits for room (see `advance`).
    if ((controller.desiredSize ?? 0) < -MAX_BUFFERED_BYTES) {
      finish();
      controller.error(new Error("the watcher reads too slowly"));
      return;
    }
    controller.enqueue(encoder.encode(text));
  };
  /** Queues the changes after the cursor: all of them when live, else while there is room. */
  const advance = () => {
    if (advancing) return; // the running loop re-checks the room and the revision
    advancing = true;
    try {
      advanceLoop();
    } finally {
      advancing = false;
    }
  };
  const advanceLoop = () => {
    while (!closed) {
      // Synchronous from here to the end of the turn: both reads see the same applied state.
      const revision = node.revision();
      if (revision <= cursor) {
        live = true;
        return;
      }
      if (!live && (controller.desiredSize ?? 0) <= 0) return; // `pull` comes back for more
      if (slice.length === 0) {
        const answer = node.eventsSince(spec.prefix, cursor + 1, CATCH_UP_SLICE);
        if (answer.compacted) {
          const { compactedRevision } = answer;
          send(sseEvent("compacted", { compactedRevision, fromRevision: cursor + 1 }));
          finish();
          controller.close();
          return;
        }
        slice = answer.events;
        // A short slice means the history had nothing more under the prefix up to its end.
        sliceEnd = slice.length < CATCH_UP_SLICE ? revision : slice[slice.length - 1].revision;
      }
      while (slice.length > 0) {
        if (!live && (controller.desiredSize ?? 0) <= 0) return;
        const change = slice.shift()!;
        // The cursor moves first: `send` may call `pull`, and must not see this change again.
        cursor = change.revision;
        send(sseEvent(change.type, changeData(change), change.revision));
        if (closed) return;
      }
      cursor = Math.max(cursor, sliceEnd);
    }
  };

  return new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
      send(`: watching ${JSON.stringify(spec.prefix)} from revision ${spec.fromRevision}\n\n`);
      unsubscribe = node.onApply(advance);
      heartbeat = setInterval(() => send(": heartbeat\n\n"), spec.heartbeatMs);
      spec.signal?.addEventListener("abort", onAbort, { once: true });
      advance();
      if (spec.signal?.aborted) onAbort();
    },
    pull() {
      advance();
    },
    cancel() {
      finish();
    },
  }, new ByteLengthQueuingStrategy({ highWaterMark: QUEUE_BYTES }));
}
