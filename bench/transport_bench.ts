/**
 * The codec on the hot path: encoding and decoding a 22 KB AppendEntries batch (10 entries of
 * 2.2 KB, the 22 KB message of docs/architecture.md#peer-transport), and a batch of small
 * heartbeats.
 *
 * Run: `deno bench bench/transport_bench.ts`
 *
 * @module
 */

import type { Message } from "../src/raft/types.ts";
import { decodeMessages, encodeMessage, encodeMessages } from "../src/transport/codec.ts";

const append: Message = {
  type: "app",
  from: 1,
  to: 2,
  term: 7,
  logTerm: 7,
  index: 1000,
  commit: 999,
  reject: false,
  rejectHint: 0,
  entries: Array.from({ length: 10 }, (_, i) => ({
    term: 7,
    index: 1001 + i,
    type: "normal" as const,
    data: new Uint8Array(2200).fill(i),
  })),
};
const heartbeats: Message[] = Array.from({ length: 100 }, (_, i) => ({
  type: "heartbeat",
  from: 1,
  to: 2 + (i % 4),
  term: 7,
  logTerm: 0,
  index: 0,
  entries: [],
  commit: 999,
  reject: false,
  rejectHint: 0,
}));

const appendBody = encodeMessages([append]);
const heartbeatsBody = encodeMessages(heartbeats);

Deno.bench("encode 22 KB append (encodeMessage)", { group: "22kb", baseline: true }, () => {
  encodeMessage(append);
});
Deno.bench("decode + validate 22 KB append", { group: "22kb" }, () => {
  decodeMessages(appendBody);
});
Deno.bench("encode 100 heartbeats", { group: "heartbeats", baseline: true }, () => {
  encodeMessages(heartbeats);
});
Deno.bench("decode + validate 100 heartbeats", { group: "heartbeats" }, () => {
  decodeMessages(heartbeatsBody);
});
