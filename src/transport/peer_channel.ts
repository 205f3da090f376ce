/**
 * The client side of the HTTP/2 peer stream: one `node:http2` session to a peer (h2c with prior
 * knowledge for `http://`, h2 over TLS for `https://`) carrying two long-lived `POST
 * /raft/v1/stream` streams, gRPC style, never a stream per message:
 * - `main`: batches of Raft messages (no answer) and calls (answered by id);
 * - `bulk`: snapshot chunks (answered by id), so that a multi-MiB chunk never sits in front of
 *   a heartbeat: HTTP/2 interleaves the two streams' DATA frames, and the chunk is handed over
 *   in slices as the socket drains.
 * The cluster secret and this node's id go once, in each stream's headers.
 *
 * Frames may be written as soon as `connect()` returns: `node:http2` holds them until the
 * session is up. When the session or a stream fails or ends, every pending call fails and
 * `onClose` is called once; the owner (`PeerLink`) reconnects after its back-off.
 *
 * Why `node:http2` (and not `fetch`): Deno's `fetch` leaves Nagle on and writes a DATA frame
 * over 1 KB in two syscalls, so every 22 KB message stalls ~40 ms; `node:http2` does not.
 * Why one stream per peer: in Deno 2.9.6 a session that carried more than ~70 streams can abort
 * the process when the peer sends GOAWAY (denoland/deno#36788); a session here carries two.
 *
 * @module
 */

import http2 from "node:http2";
import {
  bearer,
  FROM_HEADER,
  LANE_HEADER,
  STREAM_MEDIA_TYPE,
  STREAM_PATH,
} from "./peer_protocol.ts";
import { joinParts } from "./peer_client.ts";
import { callPayload, encodeFrame, FrameKind, FrameReader, parseAnswer } from "./peer_frames.ts";

/** A snapshot chunk is written in slices of this, so a heartbeat waits at most one slice. */
const WRITE_SLICE_BYTES = 64 * 1024;
/** The flow-control window this side grants, per stream and for the session. */
const WINDOW_BYTES = 8 * 1024 * 1024;
/**
 * The largest DATA frame this side accepts (HTTP/2's maximum; the default is 16 KiB). The peer
 * then sends a 22 KB batch as one DATA frame, which reaches us as one chunk and one 'data'
 * event, not two. Measured (`BENCH_ONLY=raft BENCH_WIRES=h2c,ws deno task bench:transport 2000`,
 * same runs): h2c p50 0.36-0.37 -> 0.28-0.35 ms, CPU per round trip 465-470 -> 400-415 us. Over
 * TLS it changes nothing (TLS records hold at most 16 KiB).
 */
const MAX_FRAME_BYTES = (1 << 24) - 1;

/**
 * How to reach and authenticate to a peer.
 *
 * @example
 * ```ts
 * import type { PeerChannelOptions } from "./peer_channel.ts";
 * const o: PeerChannelOptions = {
 *   url: "http://127.0.0.1:7102", nodeId: 1, clusterSecret: "s3cret",
 *   connectTimeoutMs: 5_000, maxFrameBytes: 32 * 1024 * 1024,
 * };
 * ```
 */
export interface PeerChannelOptions {
  /** The peer's base URL (`http://` or `https://`). */
  url: string;
  nodeId: number;
  clusterSecret: string;
  /** The streams must be answered (response headers) within this. */
  connectTimeoutMs: number;
  /** The largest answer frame accepted. */
  maxFrameBytes: number;
  /** PEM CA certificate(s) to trust for an `https://` peer. */
  ca?: string | string[];
  /** A client certificate and key for mutual TLS. */
  clientCert?: { cert: string; key: string };
}

/**
 * What a channel tells its owner.
 *
 * @example
 * ```ts
 * import type { PeerChannelEvents } from "./peer_channel.ts";
 * const e: PeerChannelEvents = { onUp: () => {}, onClose: (reason) => console.log(reason) };
 * ```
 */
export interface PeerChannelEvents {
  /** The peer answered the main stream with 200: frames are being read. */
  onUp(): void;
  /** The session or a stream failed or ended without `close()`; called once per `connect()`. */
  onClose(reason: string): void;
  /**
   * A batch the peer sent down the main stream (its messages to us); returns why it was bad,
   * which closes the stream, or `undefined`. Without it such frames close the stream.
   */
  onBatch?(batch: Uint8Array): string | undefined;
}

/**
 * An answer to a call or a snapshot chunk.
 *
 * @example
 * ```ts
 * import type { ChannelAnswer } from "./peer_channel.ts";
 * const a: ChannelAnswer = { status: 204, body: new Uint8Array() };
 * ```
 */
export interface ChannelAnswer {
  status: number;
  body: Uint8Array;
}

interface Pending {
  resolve(answer: ChannelAnswer): void;
  reject(error: Error): void;
}

interface Connection {
  session: http2.ClientHttp2Session;
  main: http2.ClientHttp2Stream;
  bulk: http2.ClientHttp2Stream;
  pending: Map<number, Pending>;
  /** Slices of snapshot frames not yet handed to `bulk`. */
  bulkQueue: Uint8Array[];
  up: boolean;
  ended: boolean;
  /** Fails the connection when the main stream is not answered in time. */
  timer?: ReturnType<typeof setTimeout>;
  closed: Promise<void>;
}

/**
 * The peer answered the stream with an error status (401: another cluster secret), so the
 * requests on it fail with that status.
 *
 * @example
 * ```ts
 * import { StreamRefusedError } from "./peer_channel.ts";
 * console.log(new StreamRefusedError(401, "refused").status); // 401
 * ```
 */
export class StreamRefusedError extends Error {
  /** `status`: the HTTP status the peer answered the stream with. */
  constructor(readonly status: number, message: string) {
    super(message);
    this.name = "StreamRefusedError";
  }
}

/**
 * One peer's HTTP/2 session and its two long-lived streams.
 *
 * @example
 * ```ts ignore
 * const channel = new PeerChannel(options, { onUp() {}, onClose(reason) {} });
 * channel.connect();
 * channel.sendMessages(batchBytes);
 * const answer = await channel.request("call", "propose", body, 5_000);
 * await channel.close();
 * ```
 */
export class PeerChannel {
  #conn: Connection | undefined;
  #nextId = 1;
  #closedForGood = false;
  /** Bytes and frames written since the channel was made, for `/metrics`. */
  bytesSent = 0;
  framesSent = 0;

  constructor(readonly options: PeerChannelOptions, private readonly events: PeerChannelEvents) {}

  /** `"h2c"` for an `http://` peer, `"h2"` (TLS) for `https://`. */
  get protocol(): "h2c" | "h2" {
    return this.options.url.startsWith("https:") ? "h2" : "h2c";
  }

  /** Whether a session is being opened or is open. */
  get active(): boolean {
    return this.#conn !== undefined;
  }

  /** Whether the peer answered the main stream and it has not ended since. */
  get up(): boolean {
    return this.#conn?.up ?? false;
  }

  /** Bytes written to the streams that the session has not sent yet. */
  get bufferedBytes(): number {
    const c = this.#conn;
    if (!c) return 0;
    let queued = 0;
    for (const slice of c.bulkQueue) queued += slice.byteLength;
    return c.main.writableLength + c.bulk.writableLength + queued;
  }

  /** Opens the session and both streams; frames may be written at once. */
  connect(): void {
    if (this.#conn || this.#closedForGood) return;
    const { url, ca, clientCert } = this.options;
    const tls = url.startsWith("https:")
      ? { ...(ca === undefined ? {} : { ca }), ...(clientCert ?? {}) }
      : {};
    let session: http2.ClientHttp2Session;
    try {
      // Large windows: a snapshot chunk or a burst of appends need no WINDOW_UPDATE round trip.
      session = http2.connect(url, {
        ...tls,
        settings: { initialWindowSize: WINDOW_BYTES, maxFrameSize: MAX_FRAME_BYTES },
      });
    } catch (e) {
      queueMicrotask(() => this.events.onClose(String(e)));
      return;
    }
    // Failures surface through `close`; without a listener an 'error' event would be thrown.
    session.on("error", () => {});
    session.once("connect", () => {
      try {
        session.setLocalWindowSize(WINDOW_BYTES);
      } catch {
        // Not supported: the default window does, with more WINDOW_UPDATEs.
      }
    });
    const headers = (lane: string) => ({
      ":method": "POST",
      ":path": STREAM_PATH,
      "authorization": bearer(this.options.clusterSecret),
      "content-type": STREAM_MEDIA_TYPE,
      [FROM_HEADER]: String(this.options.nodeId),
      [LANE_HEADER]: lane,
    });
    const main = session.request(headers("main"), { endStream: false });
    const bulk = session.request(headers("bulk"), { endStream: false });
    const closed = new Promise<void>((resolve) => session.once("close", () => resolve()));
    const conn: Connection = {
      session,
      main,
      bulk,
      pending: new Map(),
      bulkQueue: [],
      up: false,
      ended: false,
      closed,
    };
    this.#conn = conn;
    conn.timer = setTimeout(
      () => this.#end(conn, `no answer within ${this.options.connectTimeoutMs} ms`),
      this.options.connectTimeoutMs,
    );
    session.once("close", () => this.#end(conn, "the session closed"));
    session.once("goaway", () => this.#end(conn, "the peer is going away (GOAWAY)"));
    const markUp = () => {
      clearTimeout(conn.timer);
      conn.up = true;
      this.events.onUp();
    };
    for (const [stream, isMain] of [[main, true], [bulk, false]] as const) {
      const reader = new FrameReader(this.options.maxFrameBytes);
      let garbled = false;
      stream.on("response", (h) => {
        const status = Number(h[":status"]);
        if (status !== 200) {
          this.#end(conn, `the peer refused the stream (${status})`, status);
          return;
        }
        if (isMain && !conn.up) markUp();
      });
      stream.on("data", (chunk: Uint8Array) => {
        if (garbled || conn.ended) return;
        try {
          for (const frame of reader.push(chunk)) {
            // Nothing after the end counts (a `close` frame, a bad batch earlier in the chunk).
            if (conn.ended) return;
            // Deno's node:http2 may hand over data before the 'response' event: the server's
            // first frame (an answer with id 0) says the stream was accepted.
            if (isMain && !conn.up && !conn.ended) markUp();
            if (frame.kind === FrameKind.answer) {
              const answer = parseAnswer(frame.payload);
              const pending = conn.pending.get(frame.id);
              conn.pending.delete(frame.id);
              if (answer) pending?.resolve({ status: answer.status, body: answer.body.slice() });
            } else if (frame.kind === FrameKind.messages && isMain) {
              const onBatch = this.events.onBatch;
              const wrong = onBatch ? onBatch(frame.payload) : "messages are not expected";
              if (wrong !== undefined) {
                this.#end(conn, `the peer sent a bad batch: ${wrong}`);
                return;
              }
            } else if (frame.kind === FrameKind.close) {
              const reason = new TextDecoder().decode(frame.payload).slice(0, 200);
              this.#end(conn, `the peer closed the stream: ${reason}`);
            }
          }
        } catch (e) {
          const reason = `the peer sent a bad frame: ${(e as Error).message}`;
          if (conn.up) {
            this.#end(conn, reason);
            return;
          }
          // Before the first frame this is likely a refusal's body (401 problem+json), which
          // Deno's node:http2 may hand over before the 'response' event with its status.
          garbled = true;
          setTimeout(() => this.#end(conn, reason), 200);
        }
      });
      stream.on("drain", () => this.#pumpBulk(conn));
      stream.on("error", (e) => this.#end(conn, `stream error: ${e.message}`));
      stream.on("close", () => this.#end(conn, `the stream closed (code ${stream.rstCode})`));
    }
  }

  /** Writes one batch of Raft messages to the main stream; no answer comes. */
  sendMessages(batch: readonly Uint8Array[]): void {
    const conn = this.#conn;
    if (!conn || conn.ended) return;
    this.#write(conn.main, encodeFrame(FrameKind.messages, 0, batch));
  }

  /**
   * Sends a call (main stream) or a snapshot chunk (bulk stream) and resolves with its answer;
   * rejects when the channel ends first, on `timeoutMs`, or when `signal` aborts.
   */
  request(
    kind: "call" | "snapshot",
    method: string,
    body: readonly Uint8Array[],
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<ChannelAnswer> {
    signal?.throwIfAborted();
    const conn = this.#conn;
    if (!conn || conn.ended) return Promise.reject(new Error("the stream is not open"));
    const id = this.#nextId;
    this.#nextId = this.#nextId >= 0xffff_fff0 ? 1 : this.#nextId + 1;
    return new Promise<ChannelAnswer>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        conn.pending.delete(id);
      };
      const onAbort = () => {
        done();
        reject(signal?.reason);
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      signal?.addEventListener("abort", onAbort, { once: true });
      conn.pending.set(id, {
        resolve: (a) => {
          done();
          resolve(a);
        },
        reject: (e) => {
          done();
          reject(e);
        },
      });
      if (kind === "call") {
        this.#write(
          conn.main,
          encodeFrame(FrameKind.call, id, callPayload(method, joinParts(body))),
        );
        return;
      }
      const frame = encodeFrame(FrameKind.snapshot, id, body);
      this.bytesSent += frame.byteLength;
      this.framesSent++;
      for (let at = 0; at < frame.byteLength; at += WRITE_SLICE_BYTES) {
        conn.bulkQueue.push(frame.subarray(at, at + WRITE_SLICE_BYTES));
      }
      this.#pumpBulk(conn);
    });
  }

  /** Drops the session (after a failure) so that the next `connect()` starts afresh. */
  reset(): void {
    const conn = this.#conn;
    if (!conn) return;
    this.#detach(conn, "the stream was reset");
    destroyLater(conn.session);
  }

  /** Ends both streams and the session cleanly, and waits (at most 1 s) until it closed. */
  async close(): Promise<void> {
    this.#closedForGood = true;
    const conn = this.#conn;
    if (!conn) return;
    this.#detach(conn, "the transport is closed");
    try {
      conn.main.end();
      conn.bulk.end();
      conn.session.close();
    } catch {
      // Already closing.
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([conn.closed, new Promise<void>((r) => timer = setTimeout(r, 1000))]);
    clearTimeout(timer);
    if (!conn.session.destroyed) conn.session.destroy();
  }

  #write(stream: http2.ClientHttp2Stream, frame: Uint8Array): void {
    this.bytesSent += frame.byteLength;
    this.framesSent++;
    stream.write(frame);
  }

  /** Hands snapshot slices to the bulk stream while it takes them without buffering more. */
  #pumpBulk(conn: Connection): void {
    while (conn.bulkQueue.length > 0 && !conn.ended) {
      if (!conn.bulk.write(conn.bulkQueue.shift()!)) return;
    }
  }

  /** The connection failed: forget it, fail its calls, tell the owner once. */
  #end(conn: Connection, reason: string, status?: number): void {
    if (conn.ended) return;
    const ours = this.#conn === conn;
    this.#detach(conn, reason, status);
    destroyLater(conn.session);
    if (ours && !this.#closedForGood) this.events.onClose(reason);
  }

  #detach(conn: Connection, reason: string, status?: number): void {
    if (this.#conn === conn) this.#conn = undefined;
    if (conn.ended) return;
    conn.ended = true;
    conn.up = false;
    clearTimeout(conn.timer);
    conn.bulkQueue = [];
    const error = status === undefined ? new Error(reason) : new StreamRefusedError(status, reason);
    const pending = [...conn.pending.values()];
    conn.pending.clear();
    for (const p of pending) p.reject(error);
  }
}

/**
 * Destroys a session on a later turn, never from inside one of its own events (a 'data' or
 * 'close' handler): destroying it there hung or crashed Deno 2.9.6's `node:http2`.
 */
function destroyLater(session: http2.ClientHttp2Session): void {
  setTimeout(() => {
    if (!session.destroyed) session.destroy();
  }, 0);
}
