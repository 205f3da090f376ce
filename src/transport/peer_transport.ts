/**
 * The real transport between peers, and optionally the server for this node's own peer port
 * (`Deno.serve`: the message stream, HTTP/1.1, h2c and h2 over TLS).
 *
 * Raft messages other than snapshot chunks go as frames over one WebSocket per peer, opened on
 * the peer port (`peer_stream.ts`), when `stream` is on: the default with the `"fetch-http1"`
 * client and `http://` peers. Calls, snapshot chunks, and every message when the stream is off,
 * are HTTP requests through the client chosen with `client`:
 * - `"fetch-http1"` (default): Deno's `fetch` over HTTP/1.1 keep-alive, a few pooled
 *   connections per peer. No Nagle stall (unlike `fetch` over h2c), memory-safe.
 * - `"node-http2"`: the `node:http2` client, one h2 connection per peer, many streams. Fast,
 *   but in Deno 2.9.6 a GOAWAY from the peer (its graceful shutdown) can crash this process
 *   (denoland/deno#36788; see `node_http2_client.ts`). Use it once that is fixed.
 * `bench/transport_rtt.ts` measures all three ways.
 *
 * Per-peer queues, lanes, batching and back-off live in `peer_link.ts`.
 *
 * @module
 */

import type { Message, NodeId } from "../raft/types.ts";
import { encodeMessage, isWireMessageType } from "./codec.ts";
import { FetchHttp1Client } from "./fetch_http1_client.ts";
import { NodeHttp2Client } from "./node_http2_client.ts";
import type { PeerClientKind } from "./peer_client.ts";
import { PeerLink, type PeerLinkSettings, type QueuedMessage } from "./peer_link.ts";
import { createPeerHandler, DEFAULT_MAX_BODY_BYTES, servePeer } from "./peer_server.ts";
import { isCallMethod } from "./peer_protocol.ts";
import { PeerUnreachableError, type Transport, type TransportEvents } from "./transport.ts";

/**
 * How an `PeerTransport` connects, listens and bounds its queues. Only `nodeId`,
 * `clusterSecret` and `events` are required.
 *
 * @example
 * ```ts
 * import type { PeerTransportOptions } from "./peer_transport.ts";
 * const options: PeerTransportOptions = {
 *   nodeId: 1,
 *   clusterSecret: "s3cret",
 *   events: { onMessages: () => {}, onUnreachable: () => {} },
 *   listen: { hostname: "127.0.0.1", port: 7101 },
 * };
 * ```
 */
export interface PeerTransportOptions {
  /** This node: sent as the caller of `call`s, and checked on incoming batches. */
  nodeId: NodeId;
  /** Shared by every node; sent and checked as `Authorization: Bearer <secret>`. */
  clusterSecret: string;
  /** Where incoming messages, failures and calls go. */
  events: TransportEvents;
  /** Serve this node's peer port too (stopped by `close()`); TLS when `cert` and `key` are set. */
  listen?: { hostname: string; port: number; cert?: string; key?: string };
  /** The HTTP client for outgoing requests; see the module doc. Default `"fetch-http1"`. */
  client?: PeerClientKind;
  /**
   * Messages other than snapshot chunks over one WebSocket per peer (`http://` peers only).
   * Default: on with the `"fetch-http1"` client.
   */
  stream?: boolean;
  /** A stream with more unsent bytes than this is dropped as failed. Default 16 MiB. */
  maxStreamBufferedBytes?: number;
  /** PEM CA certificate(s) to trust for `https://` peers (e.g. a self-signed cluster CA). */
  ca?: string | string[];
  /** Largest body this node's server accepts. Default 32 MiB. */
  maxBodyBytes?: number;
  /** A message or call request must be answered within this. Default 5000 ms. */
  requestTimeoutMs?: number;
  /** A snapshot chunk request must be answered within this. Default 60000 ms. */
  snapshotTimeoutMs?: number;
  /** Back-off after a failure: doubles from `initialMs` (50) up to `maxMs` (1000). */
  backoff?: { initialMs?: number; maxMs?: number };
  /** Requests in flight per peer, for each of the control and append lanes. Default 4. */
  maxInFlight?: number;
  /** Messages queued per peer and lane before new ones are dropped. Default 4096. */
  maxQueuedMessages?: number;
  /** Bytes queued per peer and lane before new messages are dropped. Default 64 MiB. */
  maxQueuedBytes?: number;
  /** A request closes its batch before it grows past this. Default 1 MiB. */
  maxBatchBytes?: number;
}

/**
 * The HTTP transport between peers. `send()` never blocks: messages are encoded, queued per
 * peer and sent in the background; failures come back through `events.onUnreachable`.
 *
 * @example
 * ```ts
 * import { PeerTransport } from "./peer_transport.ts";
 * const t = new PeerTransport({
 *   nodeId: 1,
 *   clusterSecret: "s3cret",
 *   events: { onMessages: (m) => console.log(m), onUnreachable: () => {} },
 *   listen: { hostname: "127.0.0.1", port: 0 },
 * });
 * t.setPeers(new Map([[2, "http://127.0.0.1:7102"]]));
 * await t.close();
 * ```
 */
export class PeerTransport implements Transport {
  readonly #nodeId: NodeId;
  readonly #events: TransportEvents;
  readonly #settings: PeerLinkSettings;
  readonly #server: Deno.HttpServer<Deno.NetAddr> | undefined;
  readonly #links = new Map<NodeId, PeerLink>();
  readonly #closing = new Set<Promise<void>>();
  readonly #stopStreams = new AbortController();
  #peers = new Map<NodeId, string>();
  #closed = false;

  /** Starts the server at once when `listen` is given; connects to peers lazily. */
  constructor(options: PeerTransportOptions) {
    const { nodeId, clusterSecret, events } = options;
    this.#nodeId = nodeId;
    this.#events = events;
    const defer = (callback: () => void) =>
      queueMicrotask(() => {
        if (this.#closed) return;
        try {
          callback();
        } catch (e) {
          console.error("transport: a node callback threw:", e);
        }
      });
    const { ca } = options;
    const kind = options.client ?? "fetch-http1";
    this.#settings = {
      nodeId,
      clusterSecret,
      createClient: (url) =>
        kind === "node-http2" ? new NodeHttp2Client(url, ca) : new FetchHttp1Client(url, ca),
      requestTimeoutMs: options.requestTimeoutMs ?? 5_000,
      snapshotTimeoutMs: options.snapshotTimeoutMs ?? 60_000,
      backoffInitialMs: options.backoff?.initialMs ?? 50,
      backoffMaxMs: options.backoff?.maxMs ?? 1_000,
      maxInFlight: options.maxInFlight ?? 4,
      maxQueuedMessages: options.maxQueuedMessages ?? 4_096,
      maxQueuedBytes: options.maxQueuedBytes ?? 64 * 1024 * 1024,
      maxBatchBytes: options.maxBatchBytes ?? 1024 * 1024,
      maxCallAnswerBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
      stream: options.stream ?? kind === "fetch-http1",
      maxStreamBufferedBytes: options.maxStreamBufferedBytes ?? 16 * 1024 * 1024,
      defer,
      onUnreachable: (peer) => events.onUnreachable(peer),
      onSnapshotStatus: (peer, ok) => events.onSnapshotStatus?.(peer, ok),
    };
    if (options.listen) {
      const handler = createPeerHandler({
        clusterSecret,
        nodeId,
        maxBodyBytes: options.maxBodyBytes,
        onMessages: (messages) => events.onMessages(messages),
        onCall: events.onCall?.bind(events),
        signal: this.#stopStreams.signal,
      });
      this.#server = servePeer({ ...options.listen, handler });
    }
  }

  /** The address this node's peer port listens on, when `listen` was given. */
  get addr(): Deno.NetAddr | undefined {
    return this.#server?.addr;
  }

  send(messages: Message[]): void {
    if (this.#closed) return;
    // Encode all first: a bad message throws before any of the batch is queued.
    const encoded: QueuedMessage[] = messages.map((m) => {
      if (!isWireMessageType(m.type)) {
        throw new TypeError(`message type "${m.type}" is local and cannot be sent`);
      }
      return { type: m.type, bytes: encodeMessage(m), snapDone: m.snapshot?.done };
    });
    for (let i = 0; i < messages.length; i++) {
      const to = messages[i].to;
      const link = this.#link(to);
      if (link) {
        link.enqueue(encoded[i]);
        continue;
      }
      this.#settings.defer(() => this.#events.onUnreachable(to));
      if (encoded[i].type === "snap") {
        this.#settings.defer(() => this.#events.onSnapshotStatus?.(to, false));
      }
    }
  }

  setPeers(peers: Map<NodeId, string>): void {
    for (const [id, url] of peers) {
      const protocol = URL.canParse(url) ? new URL(url).protocol : "";
      if (protocol !== "http:" && protocol !== "https:") {
        throw new TypeError(`peer ${id}: "${url}" is not an http:// or https:// URL`);
      }
    }
    this.#peers = new Map(peers);
    for (const [id, link] of this.#links) {
      if (this.#peers.get(id) !== link.url) {
        this.#links.delete(id);
        this.#retire(link);
      }
    }
  }

  async call(
    peer: NodeId,
    method: string,
    body: Uint8Array,
    signal?: AbortSignal,
  ): Promise<Uint8Array> {
    if (!isCallMethod(method)) throw new TypeError(`"${method}" is not a valid call method name`);
    const link = this.#closed ? undefined : this.#link(peer);
    if (!link) throw new PeerUnreachableError(peer, this.#closed ? "transport closed" : "unknown");
    return await link.call(method, body, signal);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const link of this.#links.values()) this.#retire(link);
    this.#links.clear();
    this.#stopStreams.abort();
    await Promise.all([...this.#closing, this.#server?.shutdown()]);
  }

  #link(peer: NodeId): PeerLink | undefined {
    const existing = this.#links.get(peer);
    if (existing) return existing;
    const url = this.#peers.get(peer);
    if (url === undefined || peer === this.#nodeId) return undefined;
    const link = new PeerLink(peer, url, this.#settings);
    this.#links.set(peer, link);
    return link;
  }

  #retire(link: PeerLink): void {
    const closing = link.close();
    this.#closing.add(closing);
    closing.finally(() => this.#closing.delete(closing));
  }
}
