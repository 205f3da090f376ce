/**
 * The real transport between peers, and optionally the server for this node's own peer port.
 *
 * Protocols (`protocol`):
 * - `"h2"` (default): one `node:http2` session per peer carrying two long-lived streams, gRPC
 *   style (`peer_channel.ts`): Raft messages and calls on one, snapshot chunks on the other, as
 *   length-prefixed frames (`peer_frames.ts`); h2c for `http://` peers, h2 over TLS for
 *   `https://`. Never a stream per message (a `node:http2` session that carried many streams
 *   can abort Deno 2.9.6 on GOAWAY, denoland/deno#36788).
 * - `"http1"`: the fallback for peers behind an HTTP/1.1-only proxy: a `fetch` request per
 *   batch and per call over HTTP/1.1 keep-alive (`fetch_http1_client.ts`).
 * - `"ws"`: messages over a WebSocket per `http://` peer, the rest as `http1`.
 *
 * The server side serves all of them on one port: `Deno.serve` (h2c and HTTP/1.1) on plain
 * TCP, `node:http2`'s secure server (h2 and HTTP/1.1) over TLS (`node_tls_server.ts`).
 * `bench/transport_rtt.ts` measures them. Per-peer queues, lanes, batching and back-off live in
 * `peer_link.ts`.
 *
 * @module
 */

import type { Message, NodeId } from "../raft/types.ts";
import { encodeMessage, isWireMessageType } from "./codec.ts";
import { FetchHttp1Client } from "./fetch_http1_client.ts";
import { type PeerServer, serveNodeTls } from "./node_tls_server.ts";
import { PeerLink, type PeerLinkSettings, type QueuedMessage } from "./peer_link.ts";
import {
  batchDeliverer,
  createPeerHandler,
  DEFAULT_MAX_BODY_BYTES,
  ServedStreams,
  servePeer,
} from "./peer_server.ts";
import { isCallMethod } from "./peer_protocol.ts";
import { PeerUnreachableError, type Transport, type TransportEvents } from "./transport.ts";

/**
 * How messages travel to peers: see `PeerTransport`'s module doc.
 *
 * @example
 * ```ts
 * import type { PeerProtocol } from "./peer_transport.ts";
 * const p: PeerProtocol = "h2";
 * ```
 */
export type PeerProtocol = "h2" | "http1" | "ws";

/**
 * What `/metrics` shows of one peer link.
 *
 * @example
 * ```ts
 * import type { PeerLinkStats } from "./peer_transport.ts";
 * const s: PeerLinkStats = { peer: 2, protocol: "h2c", up: true, bytesSent: 10, framesSent: 1 };
 * ```
 */
export interface PeerLinkStats {
  peer: NodeId;
  /** `"h2c"` or `"h2"` for the HTTP/2 stream; `"http1"` or `"ws"` for the others. */
  protocol: string;
  /** Whether the stream to the peer is open (always false for `http1`). */
  up: boolean;
  /** Bytes and frames (requests, for `http1`) sent to the peer since this node started. */
  bytesSent: number;
  framesSent: number;
}

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
  /**
   * Serve this node's peer port too (stopped by `close()`); TLS when `cert` and `key` are set,
   * and then mutual TLS when `requireClientCert` is (peers' certificates must chain to `ca`).
   */
  listen?: {
    hostname: string;
    port: number;
    cert?: string;
    key?: string;
    requireClientCert?: boolean;
  };
  /** How messages travel to peers; see the module doc. Default `"h2"`. */
  protocol?: PeerProtocol;
  /** A client certificate and key presented to `https://` peers (mutual TLS). */
  clientCert?: { cert: string; key: string };
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
 * The transport between peers. `send()` never blocks: messages are encoded, queued per
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
  readonly #server: Promise<PeerServer | undefined>;
  #addr: Deno.NetAddr | undefined;
  readonly #links = new Map<NodeId, PeerLink>();
  readonly #closing = new Set<Promise<void>>();
  readonly #stopStreams = new AbortController();
  readonly #served = new ServedStreams();
  /** What links of peers since removed had sent, so that the counters never go back. */
  readonly #retiredStats = new Map<NodeId, PeerLinkStats>();
  #peers = new Map<NodeId, string>();
  #closed = false;

  /** Starts the server at once when `listen` is given (see `listening`); connects lazily. */
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
    this.#settings = {
      nodeId,
      clusterSecret,
      createClient: (url) => new FetchHttp1Client(url, ca, options.clientCert),
      protocol: options.protocol ?? "h2",
      ca,
      clientCert: options.clientCert,
      requestTimeoutMs: options.requestTimeoutMs ?? 5_000,
      snapshotTimeoutMs: options.snapshotTimeoutMs ?? 60_000,
      backoffInitialMs: options.backoff?.initialMs ?? 50,
      backoffMaxMs: options.backoff?.maxMs ?? 1_000,
      maxInFlight: options.maxInFlight ?? 4,
      maxQueuedMessages: options.maxQueuedMessages ?? 4_096,
      maxQueuedBytes: options.maxQueuedBytes ?? 64 * 1024 * 1024,
      maxBatchBytes: options.maxBatchBytes ?? 1024 * 1024,
      maxCallAnswerBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
      maxStreamBufferedBytes: options.maxStreamBufferedBytes ?? 16 * 1024 * 1024,
      defer,
      onUnreachable: (peer) => events.onUnreachable(peer),
      onConnectionLost: (peer) => events.onConnectionLost?.(peer),
      onSnapshotStatus: (peer, ok) => events.onSnapshotStatus?.(peer, ok),
    };
    const deliver = batchDeliverer({
      nodeId,
      maxBodyBytes: options.maxBodyBytes,
      onMessages: (messages) => events.onMessages(messages),
    });
    this.#settings.deliver = (batch) => deliver(batch)?.detail;
    const listen = options.listen;
    if (!listen) {
      this.#server = Promise.resolve(undefined);
      return;
    }
    const handler = createPeerHandler({
      clusterSecret,
      nodeId,
      maxBodyBytes: options.maxBodyBytes,
      onMessages: (messages) => events.onMessages(messages),
      onCall: events.onCall?.bind(events),
      signal: this.#stopStreams.signal,
      streams: this.#served,
    });
    this.#settings.servedStream = (peer) => this.#served.get(peer);
    const { hostname, port, cert, key } = listen;
    if ((cert === undefined) !== (key === undefined)) {
      throw new TypeError("listen needs both cert and key for TLS, or neither");
    }
    if (cert === undefined || key === undefined) {
      const server = servePeer({ hostname, port, handler });
      this.#addr = server.addr;
      this.#server = Promise.resolve(server);
      return;
    }
    const requestCert = listen.requireClientCert ?? false;
    if (requestCert && ca === undefined) {
      throw new TypeError("listen.requireClientCert needs the cluster CA (ca)");
    }
    this.#server = serveNodeTls({ hostname, port, cert, key, ca, requestCert }, handler);
    this.#server.then((server) => this.#addr = server?.addr, (e) => {
      // The node checked the port before it started, so this is rare; say it loudly.
      console.error(`transport: the TLS peer port ${hostname}:${port} could not listen:`, e);
    });
  }

  /** The address this node's peer port listens on, once it does. */
  get addr(): Deno.NetAddr | undefined {
    return this.#addr;
  }

  /** Resolves with the peer port's address once it listens (a TLS server starts later). */
  async listening(): Promise<Deno.NetAddr | undefined> {
    return (await this.#server)?.addr;
  }

  /** Per peer: whether its stream is up, and bytes and frames sent (`GET /metrics`). */
  stats(): PeerLinkStats[] {
    const out = new Map(this.#retiredStats);
    for (const [peer, link] of this.#links) {
      const now = link.stats();
      const before = this.#retiredStats.get(peer);
      out.set(peer, {
        peer,
        protocol: now.protocol,
        up: now.up,
        bytesSent: now.bytesSent + (before?.bytesSent ?? 0),
        framesSent: now.framesSent + (before?.framesSent ?? 0),
      });
    }
    return [...out.values()].sort((a, b) => a.peer - b.peer);
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
    // The served streams end first, so peers see a clean end rather than a GOAWAY on them.
    this.#stopStreams.abort();
    const server = await this.#server.catch(() => undefined);
    await Promise.all([...this.#closing, server?.shutdown()]);
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
    const { bytesSent, framesSent, protocol } = link.stats();
    const before = this.#retiredStats.get(link.peer);
    this.#retiredStats.set(link.peer, {
      peer: link.peer,
      protocol,
      up: false,
      bytesSent: bytesSent + (before?.bytesSent ?? 0),
      framesSent: framesSent + (before?.framesSent ?? 0),
    });
    const closing = link.close();
    this.#closing.add(closing);
    closing.finally(() => this.#closing.delete(closing));
  }
}
