/**
 * Messages and helpers shared by the transport tests.
 *
 * @module
 */

import { Prng } from "../checker/prng.ts";
import { newMessage } from "../../src/raft/message.ts";
import { setTimeout as delay } from "node:timers/promises";
import type { Entry, Message, MessageType } from "../../src/raft/types.ts";
import { WIRE_MESSAGE_TYPES } from "../../src/transport/wire_format.ts";

/**
 * A message with zero values for every field not given.
 *
 * @example
 * ```ts
 * import { message } from "./fixtures.ts";
 * const hb = message({ type: "heartbeat", commit: 4 });
 * ```
 */
export function message(fields: Partial<Message> & { type: MessageType }): Message {
  return newMessage({ from: 1, to: 2, ...fields });
}

/**
 * `count` consecutive entries after `after`, each carrying `size` bytes.
 *
 * @example
 * ```ts
 * import { entries } from "./fixtures.ts";
 * console.log(entries(10, 3, 100, 2).map((e) => e.index)); // [11, 12, 13]
 * ```
 */
export function entries(after: number, count: number, size: number, term = 1): Entry[] {
  return Array.from({ length: count }, (_, i) => ({
    term,
    index: after + 1 + i,
    type: i % 5 === 4 ? "conf" : "normal",
    data: new Uint8Array(size).fill((after + i) & 0xff),
  }));
}

/**
 * One realistic message of every type that may cross the wire.
 *
 * @example
 * ```ts
 * import { everyWireMessage } from "./fixtures.ts";
 * console.log(everyWireMessage().length); // 15
 * ```
 */
export function everyWireMessage(): Message[] {
  const ctx = new Uint8Array([7, 7, 7, 7, 7, 7, 7, 7]);
  const special: Partial<Record<MessageType, Message>> = {
    prop: message({ type: "prop", entries: [{ term: 0, index: 0, type: "normal", data: ctx }] }),
    app: message({
      type: "app",
      term: 3,
      index: 9,
      logTerm: 2,
      commit: 8,
      entries: entries(9, 7, 40, 3),
    }),
    appResp: message({
      type: "appResp",
      term: 3,
      index: 7,
      reject: true,
      rejectHint: 5,
      logTerm: 2,
    }),
    vote: message({ type: "vote", term: 4, index: 20, logTerm: 3, context: ctx }),
    voteResp: message({ type: "voteResp", term: 4, reject: true }),
    snap: message({
      type: "snap",
      term: 5,
      snapshot: {
        metadata: { index: 100, term: 4, conf: { voters: [1, 2, 3], learners: [4] } },
        offset: 10,
        data: new Uint8Array([1, 2, 3, 4, 5]),
        done: false,
        total: 30,
      },
    }),
    heartbeat: message({ type: "heartbeat", term: 5, commit: 99, context: ctx }),
    readIndex: message({ type: "readIndex", context: ctx }),
    readIndexResp: message({ type: "readIndexResp", index: 42, context: ctx }),
  };
  return WIRE_MESSAGE_TYPES.map((type) => special[type] ?? message({ type, term: 2, index: 3 }));
}

/**
 * A small seeded PRNG (mulberry32), so that fuzz tests replay exactly.
 *
 * @example
 * ```ts
 * import { prng } from "./fixtures.ts";
 * const next = prng(42);
 * console.log(next() < 1); // true
 * ```
 */
export function prng(seed: number): () => number {
  const source = new Prng(seed);
  return () => source.next();
}

/**
 * Polls `check` every few milliseconds until it is true, or throws after `timeoutMs`.
 *
 * @example
 * ```ts
 * import { waitFor } from "./fixtures.ts";
 * let done = false;
 * setTimeout(() => (done = true), 10);
 * await waitFor(() => done, "the flag");
 * ```
 */
export async function waitFor(
  check: () => boolean,
  what: string,
  timeoutMs = 5_000,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${what}`);
    await delay(5);
  }
}

/**
 * A TCP listener that accepts connections and never answers them (a peer that hangs before the
 * first byte), for connect-timeout tests. `close()` ends the listener and every connection.
 *
 * @example
 * ```ts
 * import { unansweringListener } from "./fixtures.ts";
 * const silent = unansweringListener();
 * console.log(silent.port > 0); // true
 * await silent.close();
 * ```
 */
export function unansweringListener(): { port: number; close(): Promise<void> } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) held.push(conn); // accepted, never answered
  })();
  return {
    port: listener.addr.port,
    async close() {
      listener.close();
      for (const conn of held) conn.close();
      await accepting.catch(() => {});
    },
  };
}
