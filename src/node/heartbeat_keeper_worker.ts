/**
 * The worker of `heartbeat_keeper.ts`: sends the leader's heartbeats while the main thread is
 * stalled. It runs in its own isolate, with its own timer and its own HTTP/1.1 connections to the
 * peers' `POST /raft/v1/messages`, so that nothing the main thread does can hold it up.
 *
 * @module
 */

import { newMessage } from "../raft/message.ts";
import type { NodeId } from "../raft/types.ts";
import { encodeMessages } from "../transport/codec.ts";
import { FetchHttp1Client } from "../transport/fetch_http1_client.ts";
import {
  bearer,
  FROM_HEADER,
  MESSAGES_MEDIA_TYPE,
  MESSAGES_PATH,
} from "../transport/peer_protocol.ts";
import {
  countRoundSent,
  type KeeperConfig,
  keeperShouldBeat,
  MainSilence,
  readMainWord,
  sharedNow,
} from "./heartbeat_keeper.ts";

type Command =
  | { kind: "start"; config: KeeperConfig; shared: Float64Array }
  | { kind: "peers"; peers: [NodeId, string][] };

const clients = new Map<NodeId, FetchHttp1Client>();
let config: KeeperConfig | undefined;
let shared: Float64Array | undefined;
let lastSentAt = 0;
/** When the main thread was last alive, on this thread's clock. */
const silence = new MainSilence();

function setPeers(peers: [NodeId, string][]): void {
  const wanted = new Map(peers.filter(([id]) => id !== config?.nodeId));
  for (const [id, client] of clients) {
    if (wanted.get(id) !== client.baseUrl) {
      client.close().catch(() => {});
      clients.delete(id);
    }
  }
  for (const [id, url] of wanted) {
    if (!clients.has(id)) {
      clients.set(id, new FetchHttp1Client(url, config?.ca, config?.clientCert));
    }
  }
}

function check(): void {
  if (!config || !shared) return;
  // On this thread's own clock (see `MainSilence`).
  const now = sharedNow();
  const word = readMainWord(shared);
  const seen = {
    aliveAt: silence.aliveAt(word.aliveAt, now),
    leaderTerm: word.leaderTerm,
    lastSentAt,
  };
  if (!keeperShouldBeat(seen, now, config.heartbeatMs, config.maxStallMs)) {
    return;
  }
  lastSentAt = now;
  countRoundSent(shared);
  for (const [to, client] of clients) {
    const body = encodeMessages([
      newMessage({ type: "heartbeat", from: config.nodeId, to, term: word.leaderTerm }),
    ]);
    // Best effort: a peer that does not answer is the main thread's business once it is back.
    client.post({
      path: MESSAGES_PATH,
      headers: {
        "authorization": bearer(config.clusterSecret),
        "content-type": MESSAGES_MEDIA_TYPE,
        "content-length": String(body.byteLength),
        // As the node's own links say who sends (a partitioning proxy goes by it).
        [FROM_HEADER]: String(config.nodeId),
      },
      parts: [body],
      timeoutMs: config.maxStallMs,
      maxAnswerBytes: 64 * 1024,
    }).catch(() => {});
  }
}

// A worker's global scope; typed here, not through the deno.worker lib, which the rest of src/
// is not checked against.
const scope = globalThis as unknown as { onmessage: (event: MessageEvent<Command>) => void };
scope.onmessage = (event) => {
  const command = event.data;
  if (command.kind === "start") {
    config = command.config;
    shared = command.shared;
    setPeers(config.peers);
    // Checked several times per interval: a stall is noticed within a fraction of it.
    setInterval(check, Math.max(1, Math.floor(config.heartbeatMs / 5)));
    (globalThis as unknown as { postMessage(m: unknown): void }).postMessage({ kind: "ready" });
  } else if (command.kind === "peers") {
    setPeers(command.peers);
  }
};
