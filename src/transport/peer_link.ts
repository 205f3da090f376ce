/**
 * Everything the transport keeps per peer: its connection (an HTTP/2 session, or an HTTP/1.1
 * client, `peer_client.ts`), three outgoing lanes, and the back-off state after a failure.
 *
 * Lanes keep small messages from waiting behind big ones, as etcd's rafthttp does:
 * - `control`: heartbeats, votes and every response; small, up to `maxInFlight` requests;
 * - `append`: `app` and `prop`, which carry entries; up to `maxInFlight` requests;
 * - `snapshot`: `snap` chunks, one per request, one request at a time.
 * Each request carries everything its lane queued meanwhile (up to `maxBatchBytes`).
 *
 * With the `h2` protocol (the default), everything goes over one `node:http2` session per peer
 * (`peer_channel.ts`): control and append batches as frames on its main stream (or down the
 * main stream the peer opened to us, when open), calls on the main stream, snapshot chunks on
 * the bulk stream, one at a time and acknowledged. Nothing opens a stream per message.
 *
 * With the `ws` protocol, the control and append lanes go over one WebSocket to the peer instead
 * (`peer_stream.ts`): each batch is one frame, in the order queued, and messages queued while
 * it connects wait for it. Snapshot chunks and calls stay on HTTP requests, so a multi-MiB
 * chunk never sits in front of a heartbeat. A stream whose unsent bytes pile up past
 * `maxStreamBufferedBytes` (a peer that stopped reading) is treated as a failed request.
 *
 * When a request fails the link reports the peer unreachable once, drops what it queued, and
 * drops new messages until the back-off (doubling from `initialMs` to `maxMs`) has passed;
 * the next message after that reconnects. Raft retransmits, so nothing is buffered for a peer
 * that is down. A success resets the back-off.
 *
 * @module
 */

import type { MessageType, NodeId } from "../raft/types.ts";
import { batchHeader } from "./codec.ts";
import { joinParts, type PeerClient } from "./peer_client.ts";
import {
  bearer,
  CALL_PATH_PREFIX,
  FROM_HEADER,
  MESSAGES_MEDIA_TYPE,
  MESSAGES_PATH,
  problemDetail,
  STREAM_PATH,
} from "./peer_protocol.ts";
import { PeerChannel, StreamRefusedError } from "./peer_channel.ts";
import { encodeFrame, FrameKind } from "./peer_frames.ts";
import type { ServedStream } from "./peer_server.ts";
import { PeerStream } from "./peer_stream.ts";
import { CallError, PeerUnreachableError } from "./transport.ts";

/**
 * A message encoded when it was queued; `snapDone` is set for snapshot chunks.
 *
 * @example
 * ```ts
 * import type { QueuedMessage } from "./peer_link.ts";
 * const q: QueuedMessage = { type: "heartbeat", bytes: new Uint8Array([0x9c]) };
 * ```
 */
export interface QueuedMessage {
  type: MessageType;
  bytes: Uint8Array;
  /** For a `snap` chunk: whether it is the last one. */
  snapDone?: boolean;
}

/**
 * The settings of a link, shared by all links of a transport.
 *
 * @example
 * ```ts
 * import type { PeerLinkSettings } from "./peer_link.ts";
 * type Backoff = PeerLinkSettings["backoffInitialMs"];
 * ```
 */
export interface PeerLinkSettings {
  nodeId: NodeId;
  clusterSecret: string;
  /** Makes the HTTP client for a peer's base URL (the `http1` and `ws` protocols). */
  createClient(url: string): PeerClient;
  /**
   * How messages travel: `h2` (one `node:http2` session with two long-lived streams,
   * `peer_channel.ts`), `http1` (a request per batch) or `ws` (a WebSocket for messages).
   */
  protocol: "h2" | "http1" | "ws";
  /** PEM CA certificate(s) to trust for `https://` peers (`h2`). */
  ca?: string | string[];
  /** A client certificate for mutual TLS. */
  clientCert?: { cert: string; key: string };
  /** The main stream `peer` opened to this node, if open: messages to it go down there. */
  servedStream?(peer: NodeId): ServedStream | undefined;
  /** Decodes, checks and delivers a batch a peer sent down our own stream; says what was bad. */
  deliver?(batch: Uint8Array): string | undefined;
  requestTimeoutMs: number;
  snapshotTimeoutMs: number;
  backoffInitialMs: number;
  backoffMaxMs: number;
  maxInFlight: number;
  maxQueuedMessages: number;
  maxQueuedBytes: number;
  maxBatchBytes: number;
  maxCallAnswerBytes: number;
  /** A stream with more unsent bytes than this is closed as failed. */
  maxStreamBufferedBytes: number;
  /** Runs a callback of the node later (never inside `send()`), shielding the link from it. */
  defer(callback: () => void): void;
  onUnreachable(peer: NodeId): void;
  onConnectionLost(peer: NodeId): void;
  onSnapshotStatus(peer: NodeId, ok: boolean): void;
}

interface Lane {
  queue: QueuedMessage[];
  queuedBytes: number;
  inFlight: number;
  maxInFlight: number;
  timeoutMs: number;
  /** A snapshot lane sends one chunk per request. */
  single: boolean;
}

/** An error status from the peer, as opposed to a failure to reach it. */
class PeerAnswerError extends Error {}

/**
 * The connection to one peer and its outgoing queues.
 *
 * @example
 * ```ts ignore
 * import { PeerLink, type PeerLinkSettings } from "./peer_link.ts";
 * const settings: PeerLinkSettings = makeSettings(); // as `PeerTransport` builds them
 * const link = new PeerLink(2, "http://127.0.0.1:7102", settings);
 * await link.close();
 * ```
 */
export class PeerLink {
  readonly #lanes: Record<"control" | "append" | "snapshot", Lane>;
  readonly #pending = new Set<Promise<void>>();
  readonly #client: PeerClient | undefined;
  readonly #stream: PeerStream | undefined;
  readonly #channel: PeerChannel | undefined;
  #bytesSent = 0;
  #framesSent = 0;
  #retryAt = 0;
  #backoffMs = 0;
  #flushScheduled = false;
  #closed = false;

  constructor(readonly peer: NodeId, readonly url: string, private readonly s: PeerLinkSettings) {
    if (s.protocol === "h2") {
      this.#channel = new PeerChannel({
        url,
        nodeId: s.nodeId,
        clusterSecret: s.clusterSecret,
        connectTimeoutMs: s.requestTimeoutMs,
        maxFrameBytes: s.maxCallAnswerBytes + 64,
        ca: s.ca,
        clientCert: s.clientCert,
      }, {
        onUp: () => {
          // The peer took the stream: as good a sign of a live peer as a 204 was.
          this.#backoffMs = 0;
          this.#flush();
        },
        onClose: (reason) => this.#fail([], new Error(reason)),
        onBatch: s.deliver,
      });
    } else this.#client = s.createClient(url);
    const lane = (maxInFlight: number, timeoutMs: number, single: boolean): Lane => ({
      queue: [],
      queuedBytes: 0,
      inFlight: 0,
      maxInFlight,
      timeoutMs,
      single,
    });
    this.#lanes = {
      control: lane(s.maxInFlight, s.requestTimeoutMs, false),
      append: lane(s.maxInFlight, s.requestTimeoutMs, false),
      snapshot: lane(1, s.snapshotTimeoutMs, true),
    };
    // Over TLS the stream would need the cluster CA, which Deno's WebSocket cannot be given.
    if (s.protocol === "ws" && url.startsWith("http://")) {
      const wsUrl = url.replace(/^http/, "ws").replace(/\/$/, "") + STREAM_PATH;
      const headers = { authorization: bearer(s.clusterSecret), [FROM_HEADER]: String(s.nodeId) };
      this.#stream = new PeerStream(wsUrl, headers, {
        onOpen: () => this.#flush(),
        onClose: (reason) => this.#fail([], new Error(reason)),
      }, s.requestTimeoutMs);
    }
  }

  /** Queues an encoded message, or drops it when the peer is backing off or the lane is full. */
  enqueue(message: QueuedMessage): void {
    if (this.#closed) return;
    const lane = this.#laneFor(message.type);
    const full = lane.queue.length >= this.s.maxQueuedMessages ||
      lane.queuedBytes + message.bytes.byteLength > this.s.maxQueuedBytes;
    if (performance.now() < this.#retryAt || full) {
      this.#drop([message]);
      if (full) this.s.defer(() => this.s.onUnreachable(this.peer));
      return;
    }
    lane.queue.push(message);
    lane.queuedBytes += message.bytes.byteLength;
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      // Everything queued in this turn of the event loop goes out in one request per lane.
      queueMicrotask(() => this.#flush());
    }
  }

  /** Asks the peer's `onCall`; see `Transport.call`. */
  async call(method: string, body: Uint8Array, signal?: AbortSignal): Promise<Uint8Array> {
    if (this.#closed) throw new PeerUnreachableError(this.peer, "the transport is closed");
    if (this.#channel) return await this.#callOverChannel(this.#channel, method, body, signal);
    const client = this.#client!;
    const headers = this.#headers("application/octet-stream", body);
    headers[FROM_HEADER] = String(this.s.nodeId);
    let answer;
    try {
      this.#count(body.byteLength);
      answer = await client.post({
        path: CALL_PATH_PREFIX + method,
        headers,
        parts: [body],
        timeoutMs: this.s.requestTimeoutMs,
        maxAnswerBytes: this.s.maxCallAnswerBytes,
        signal,
      });
    } catch (e) {
      if (signal?.aborted) throw signal.reason;
      const reason = e instanceof Error ? e.message : String(e);
      throw new PeerUnreachableError(this.peer, reason, { cause: e });
    }
    if (answer.status === 200) return answer.body;
    throw new CallError(answer.status, problemDetail(answer.body));
  }

  async #callOverChannel(
    channel: PeerChannel,
    method: string,
    body: Uint8Array,
    signal?: AbortSignal,
  ): Promise<Uint8Array> {
    // A call does not wait out the messages' back-off: the caller decides whether to retry.
    channel.connect();
    let answer;
    try {
      answer = await channel.request("call", method, [body], this.s.requestTimeoutMs, signal);
    } catch (e) {
      if (signal?.aborted) throw signal.reason;
      if (e instanceof StreamRefusedError) throw new CallError(e.status, e.message);
      const reason = e instanceof Error ? e.message : String(e);
      throw new PeerUnreachableError(this.peer, reason, { cause: e });
    }
    if (answer.status === 200) return answer.body;
    throw new CallError(answer.status, new TextDecoder().decode(answer.body).slice(0, 200));
  }

  /**
   * What `/metrics` shows of this link: whether its stream is up (`h2` only) and what it sent.
   */
  stats(): { protocol: string; up: boolean; bytesSent: number; framesSent: number } {
    const c = this.#channel;
    if (c) {
      return {
        protocol: c.protocol,
        up: c.up,
        bytesSent: c.bytesSent + this.#bytesSent,
        framesSent: c.framesSent + this.#framesSent,
      };
    }
    return {
      protocol: this.s.protocol,
      up: this.#stream?.open ?? false,
      bytesSent: this.#bytesSent,
      framesSent: this.#framesSent,
    };
  }

  #count(bytes: number): void {
    this.#bytesSent += bytes;
    this.#framesSent++;
  }

  /** Drops the queues, cancels what is in flight and closes the client. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const lane of Object.values(this.#lanes)) {
      lane.queue = [];
      lane.queuedBytes = 0;
    }
    await Promise.all([this.#client?.close(), this.#stream?.close(), this.#channel?.close()]);
    await Promise.allSettled([...this.#pending]);
  }

  #laneFor(type: MessageType): Lane {
    if (type === "snap") return this.#lanes.snapshot;
    if (type === "app" || type === "prop") return this.#lanes.append;
    return this.#lanes.control;
  }

  #flush(): void {
    this.#flushScheduled = false;
    if (this.#closed) return;
    for (const lane of Object.values(this.#lanes)) {
      if (this.#channel) {
        this.#flushToChannel(lane, this.#channel);
        continue;
      }
      if (this.#stream && !lane.single) {
        this.#flushToStream(lane, this.#stream);
        continue;
      }
      while (lane.inFlight < lane.maxInFlight && lane.queue.length > 0) {
        this.#post(lane, this.#takeBatch(lane));
      }
    }
  }

  /**
   * Writes a lane's batches to the peer's main stream, or hands its snapshot chunk to the bulk
   * stream (one at a time: the answer says it was delivered). A back-off delays reconnecting.
   */
  #flushToChannel(lane: Lane, channel: PeerChannel): void {
    if (lane.queue.length === 0) return;
    if (!channel.active) {
      if (performance.now() < this.#retryAt) return;
      channel.connect();
    }
    if (lane.single) {
      while (lane.inFlight < lane.maxInFlight && lane.queue.length > 0) {
        this.#post(lane, this.#takeBatch(lane), async (parts) => {
          const answer = await channel.request("snapshot", "", parts, lane.timeoutMs);
          const detail = new TextDecoder().decode(answer.body).slice(0, 200);
          return answer.status === 204 ? undefined : `${answer.status} ${detail}`;
        });
      }
      return;
    }
    // Down the peer's own stream to us when it is open (cheaper than our client stream, see
    // `ServedStream`); ours stays connected all the same, for the peer's messages and our calls.
    const served = this.s.servedStream?.(this.peer);
    // Checked before writing, so that one frame larger than the limit cannot trip it alone:
    // what is still unsent from earlier turns says the peer stopped reading.
    const unsent = served ? served.bufferedBytes : channel.bufferedBytes;
    if (unsent > this.s.maxStreamBufferedBytes) {
      const reason = `${unsent} bytes unsent: the peer is not reading`;
      // Ended, or the next attempt after the back-off would find the same pile in it.
      served?.close(reason);
      this.#fail([], new Error(reason));
      return;
    }
    while (lane.queue.length > 0) {
      const batch = this.#takeBatch(lane);
      const parts = [batchHeader(batch.length), ...batch.map((m) => m.bytes)];
      if (!served) {
        channel.sendMessages(parts);
        continue;
      }
      const frame = encodeFrame(FrameKind.messages, 0, parts);
      this.#count(frame.byteLength);
      served.send(frame);
    }
  }

  #flushToStream(lane: Lane, stream: PeerStream): void {
    if (lane.queue.length === 0) return;
    if (!stream.open) {
      // Queued messages wait for the socket (bounded by `enqueue`); a back-off delays it.
      if (!stream.active && performance.now() >= this.#retryAt) stream.connect();
      return;
    }
    // Checked before sending, so that one frame larger than the limit cannot trip it alone:
    // what is still unsent from earlier turns says the peer stopped reading.
    if (stream.bufferedAmount > this.s.maxStreamBufferedBytes) {
      this.#fail([], new Error(`${stream.bufferedAmount} bytes unsent: the peer is not reading`));
      return;
    }
    while (lane.queue.length > 0) {
      const batch = this.#takeBatch(lane);
      const frame = joinParts([batchHeader(batch.length), ...batch.map((m) => m.bytes)]);
      this.#count(frame.byteLength);
      stream.send(frame);
    }
    // Bytes went out on an open socket: as good a sign of a live peer as a 204 was.
    this.#backoffMs = 0;
  }

  #takeBatch(lane: Lane): QueuedMessage[] {
    let count = 0;
    let bytes = 0;
    while (count < lane.queue.length) {
      const next = lane.queue[count].bytes.byteLength;
      if (count > 0 && (lane.single || bytes + next > this.s.maxBatchBytes)) break;
      bytes += next;
      count++;
    }
    lane.queuedBytes -= bytes;
    return lane.queue.splice(0, count);
  }

  /**
   * Sends a batch that wants an answer, by `ask` (a request of the client, by default): it
   * resolves with what the peer found wrong, or `undefined` when the batch was delivered.
   */
  #post(
    lane: Lane,
    batch: QueuedMessage[],
    ask: (parts: Uint8Array[]) => Promise<string | undefined> = (parts) =>
      this.#request(parts, lane.timeoutMs),
  ): void {
    const sent = this.#send(lane, batch, ask);
    this.#pending.add(sent);
    sent.finally(() => this.#pending.delete(sent));
  }

  /** Posts a batch as a request; says what the peer found wrong, if anything. */
  async #request(parts: Uint8Array[], timeoutMs: number): Promise<string | undefined> {
    this.#count(parts.reduce((n, p) => n + p.byteLength, 0));
    const answer = await this.#client!.post({
      path: MESSAGES_PATH,
      headers: this.#headers(MESSAGES_MEDIA_TYPE, ...parts),
      parts,
      timeoutMs,
      maxAnswerBytes: 64 * 1024,
    });
    if (answer.status >= 200 && answer.status <= 299) return undefined;
    return `${answer.status} ${problemDetail(answer.body)}`;
  }

  /** Never rejects: a failure is reported and handled here. */
  async #send(
    lane: Lane,
    batch: QueuedMessage[],
    ask: (parts: Uint8Array[]) => Promise<string | undefined>,
  ): Promise<void> {
    lane.inFlight++;
    try {
      const wrong = await ask([batchHeader(batch.length), ...batch.map((m) => m.bytes)]);
      if (wrong !== undefined) throw new PeerAnswerError(wrong);
      this.#backoffMs = 0;
      this.#retryAt = 0;
      if (batch.some((m) => m.snapDone)) {
        this.s.defer(() => this.s.onSnapshotStatus(this.peer, true));
      }
    } catch (e) {
      this.#fail(batch, e);
    } finally {
      lane.inFlight--;
      this.#flush();
    }
  }

  /** One failure report and one back-off step per outage, however many requests were out. */
  #fail(batch: QueuedMessage[], error: unknown): void {
    if (this.#closed) return;
    this.#drop(batch);
    if (!(error instanceof PeerAnswerError)) {
      // A refused, reset or silent connection: start over with a fresh one after the back-off.
      this.#client?.reset();
      this.#stream?.reset();
      this.#channel?.reset();
      this.s.defer(() => this.s.onConnectionLost(this.peer));
    }
    if (performance.now() < this.#retryAt) return;
    this.#backoffMs = this.#backoffMs === 0
      ? this.s.backoffInitialMs
      : Math.min(this.#backoffMs * 2, this.s.backoffMaxMs);
    this.#retryAt = performance.now() + this.#backoffMs;
    for (const lane of Object.values(this.#lanes)) {
      this.#drop(lane.queue);
      lane.queue = [];
      lane.queuedBytes = 0;
    }
    this.s.defer(() => this.s.onUnreachable(this.peer));
  }

  /** Dropped snapshot chunks must be reported, or the core would wait for them forever. */
  #drop(messages: QueuedMessage[]): void {
    if (messages.some((m) => m.type === "snap")) {
      this.s.defer(() => this.s.onSnapshotStatus(this.peer, false));
    }
  }

  #headers(contentType: string, ...parts: Uint8Array[]): Record<string, string> {
    let length = 0;
    for (const p of parts) length += p.byteLength;
    return {
      "authorization": bearer(this.s.clusterSecret),
      "content-type": contentType,
      "content-length": String(length),
    };
  }
}
