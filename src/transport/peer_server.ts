/**
 * The server side of the peer transport: a `fetch`-style handler that authenticates, bounds,
 * decodes and validates every request and every stream frame before the node sees it, and a
 * helper that serves it over HTTP/1.1 and h2c (plain) or h2 over TLS.
 *
 * The handler never throws and never hands `onMessages` anything the codec did not validate.
 *
 * @module
 */

import type { Message, NodeId } from "../raft/types.ts";
import { type DecodeLimits, decodeMessages, MessageDecodeError } from "./codec.ts";
import {
  CALL_PATH_PREFIX,
  FROM_HEADER,
  isCallMethod,
  LANE_HEADER,
  MESSAGES_PATH,
  problem,
  secretChecker,
  STREAM_MEDIA_TYPE,
  STREAM_PATH,
} from "./peer_protocol.ts";
import { joinParts } from "./peer_client.ts";
import {
  answerPayload,
  encodeFrame,
  FrameError,
  FrameKind,
  FrameReader,
  parseCall,
} from "./peer_frames.ts";
import { CallError } from "./transport.ts";

/**
 * The largest request body accepted by default: a snapshot chunk of a few MiB fits with room
 * to spare, while a flood of bodies this size still fits in memory.
 *
 * @example
 * ```ts
 * import { DEFAULT_MAX_BODY_BYTES } from "./peer_server.ts";
 * console.log(DEFAULT_MAX_BODY_BYTES / 1024 / 1024); // 32
 * ```
 */
export const DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024;

/**
 * What the peer handler serves.
 *
 * @example
 * ```ts
 * import type { PeerHandlerOptions } from "./peer_server.ts";
 * const options: PeerHandlerOptions = { clusterSecret: "s3cret", onMessages: () => {} };
 * ```
 */
export interface PeerHandlerOptions {
  /** Every request must carry `Authorization: Bearer <clusterSecret>`. */
  clusterSecret: string;
  /** Receives each validated batch; it should only queue them (the response waits for it). */
  onMessages(messages: Message[]): void;
  /** Answers `call`s; without it, calls get 404. Throw `CallError` to choose the status. */
  onCall?: (method: string, body: Uint8Array, from: NodeId) => Promise<Uint8Array>;
  /** When set, a batch holding a message for another node is refused (a stale peer map). */
  nodeId?: NodeId;
  /** Bodies larger than this get 413. Default `DEFAULT_MAX_BODY_BYTES`. */
  maxBodyBytes?: number;
  /** Further bounds for the decoder (message and entry counts...). */
  limits?: Partial<Omit<DecodeLimits, "maxBytes">>;
  /** Told when `onMessages` or `onCall` fails unexpectedly. Default: `console.error`. */
  onError?: (error: unknown) => void;
  /** Aborting it closes every open message stream (a server's `shutdown()` waits for them). */
  signal?: AbortSignal;
  /** Where open main streams are registered, so the node can send down them (`ServedStream`). */
  streams?: ServedStreams;
}

/**
 * What was wrong with a batch: 400 for a bad one, 500 when the node could not take it.
 *
 * @example
 * ```ts
 * import type { DeliveryFault } from "./peer_server.ts";
 * const f: DeliveryFault = { status: 400, detail: "undecodable body" };
 * ```
 */
export interface DeliveryFault {
  status: 400 | 500;
  detail: string;
}

/**
 * Builds the function that decodes, checks and delivers one batch to `onMessages`, saying what
 * was wrong, or `undefined`. Used for every batch a peer sends, whichever way it came.
 *
 * @example
 * ```ts
 * import { batchDeliverer } from "./peer_server.ts";
 * const deliver = batchDeliverer({ nodeId: 2, onMessages: () => {} });
 * console.log(deliver(new Uint8Array([0xc1]))?.status); // 400
 * ```
 */
export function batchDeliverer(
  options: Pick<
    PeerHandlerOptions,
    "onMessages" | "nodeId" | "maxBodyBytes" | "limits" | "onError"
  >,
): (body: Uint8Array) => DeliveryFault | undefined {
  const maxBody = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const limits: Partial<DecodeLimits> = { ...options.limits, maxBytes: maxBody };
  const onError = options.onError ?? ((e: unknown) => console.error("peer handler:", e));
  return (body) => {
    let messages: Message[];
    try {
      messages = decodeMessages(body, limits);
    } catch (e) {
      const detail = e instanceof MessageDecodeError ? e.message : "undecodable body";
      return { status: 400, detail };
    }
    if (options.nodeId !== undefined) {
      const stray = messages.find((m) => m.to !== options.nodeId);
      if (stray) {
        const detail = `a message for node ${stray.to} reached node ${options.nodeId}`;
        return { status: 400, detail };
      }
    }
    try {
      options.onMessages(messages);
    } catch (e) {
      onError(e);
      return { status: 500, detail: "the node could not accept the messages" };
    }
    return undefined;
  };
}

/**
 * The way back down a peer's main stream (its response body), for this node's own messages to
 * that peer: writing there is cheaper than on this node's own client stream (measured: a 22 KB
 * Raft round trip p50 ~0.3 ms against ~0.6 ms, `deno task bench:transport`).
 *
 * @example
 * ```ts
 * import type { ServedStream } from "./peer_server.ts";
 * function send(s: ServedStream, frame: Uint8Array): void {
 *   if (s.bufferedBytes < 1 << 20) s.send(frame);
 * }
 * ```
 */
export interface ServedStream {
  /** Queues a frame on the response body. */
  send(frame: Uint8Array): void;
  /** Bytes queued that the server has not taken yet. */
  readonly bufferedBytes: number;
  /** Ends the stream, telling the peer why (it reconnects after its back-off). */
  close(reason: string): void;
}

/**
 * The open main streams this node serves, by the peer that opened them (the latest wins).
 *
 * @example
 * ```ts
 * import { ServedStreams } from "./peer_server.ts";
 * const streams = new ServedStreams();
 * console.log(streams.get(2)); // undefined
 * ```
 */
export class ServedStreams {
  readonly #byPeer = new Map<NodeId, ServedStream>();

  /** The open main stream from `peer`, if any. */
  get(peer: NodeId): ServedStream | undefined {
    return this.#byPeer.get(peer);
  }

  /** Records a newly opened stream from `peer`. */
  add(peer: NodeId, stream: ServedStream): void {
    this.#byPeer.set(peer, stream);
  }

  /** Forgets a stream that ended (unless a newer one replaced it). */
  delete(peer: NodeId, stream: ServedStream): void {
    if (this.#byPeer.get(peer) === stream) this.#byPeer.delete(peer);
  }
}

/**
 * Builds the handler the node mounts on its peer port.
 *
 * @example
 * ```ts
 * import { createPeerHandler } from "./peer_server.ts";
 * const handler = createPeerHandler({ clusterSecret: "s3cret", onMessages: () => {} });
 * const res = await handler(new Request("http://x/raft/v1/messages", { method: "POST" }));
 * console.log(res.status); // 401
 * ```
 */
export function createPeerHandler(
  options: PeerHandlerOptions,
): (req: Request) => Promise<Response> {
  const authorized = secretChecker(options.clusterSecret);
  const maxBody = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const onError = options.onError ?? ((e: unknown) => console.error("peer handler:", e));

  const deliver = batchDeliverer({ ...options, onError, maxBodyBytes: maxBody });

  async function receiveMessages(req: Request): Promise<Response> {
    const body = await readBody(req, maxBody);
    if (body instanceof Response) return body;
    const wrong = deliver(body);
    if (!wrong) return new Response(null, { status: 204 });
    const title = wrong.status === 400 ? "Bad Request" : "Internal Server Error";
    return problem(wrong.status, title, wrong.detail);
  }

  const streams = new Set<WebSocket>();
  options.signal?.addEventListener("abort", () => {
    for (const socket of streams) socket.close(1001, "the node is stopping");
  }, { once: true });

  function openStream(req: Request): Response {
    if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return problem(426, "Upgrade Required", "the stream is a WebSocket", {
        upgrade: "websocket",
      });
    }
    if (options.signal?.aborted) {
      return problem(503, "Service Unavailable", "the node is stopping");
    }
    const { socket, response } = Deno.upgradeWebSocket(req);
    socket.binaryType = "arraybuffer";
    streams.add(socket);
    socket.onclose = () => streams.delete(socket);
    socket.onerror = () => streams.delete(socket);
    socket.onmessage = (event) => {
      // A bad frame closes the stream with the reason (1003: not binary, 1009: too big,
      // 1008: invalid); the sender reconnects after its back-off. Nothing of it is delivered.
      if (!(event.data instanceof ArrayBuffer)) {
        socket.close(1003, "frames must be binary batches");
        return;
      }
      if (event.data.byteLength > maxBody) {
        socket.close(1009, `frame of ${event.data.byteLength} bytes exceeds ${maxBody}`);
        return;
      }
      const wrong = deliver(new Uint8Array(event.data));
      // A close reason may hold at most 123 bytes.
      if (wrong) socket.close(wrong.status === 400 ? 1008 : 1011, wrong.detail.slice(0, 120));
    };
    return response;
  }

  /** Ends every served frame stream; set by `openFrameStream`. */
  const frameStreams = new Set<(reason: string) => void>();
  options.signal?.addEventListener("abort", () => {
    for (const end of [...frameStreams]) end("the node is stopping");
  }, { once: true });

  /**
   * A long-lived HTTP/2 stream from a peer (`peer_channel.ts`): frames in the request body,
   * answers in the response body. The secret was checked once, on the headers. A bad frame
   * ends the stream with a `close` frame saying why; nothing of it is delivered.
   */
  function openFrameStream(req: Request): Response {
    const fromText = req.headers.get(FROM_HEADER) ?? "";
    const from = /^[1-9][0-9]{0,15}$/.test(fromText) ? Number(fromText) : NaN;
    if (!Number.isSafeInteger(from) || !req.body) {
      discard(req);
      return problem(400, "Bad Request", `a stream needs a body and a ${FROM_HEADER} node id`);
    }
    if (options.signal?.aborted) {
      discard(req);
      return problem(503, "Service Unavailable", "the node is stopping");
    }
    const reader = req.body.getReader();
    let out!: ReadableStreamDefaultController<Uint8Array>;
    let ended = false;
    const end = (reason?: string) => {
      if (ended) return;
      ended = true;
      frameStreams.delete(end);
      options.streams?.delete(from, served);
      try {
        if (reason !== undefined) {
          out.enqueue(encodeFrame(FrameKind.close, 0, [new TextEncoder().encode(reason)]));
        }
        out.close();
      } catch {
        // The peer already went away.
      }
      reader.cancel().catch(() => {});
    };
    const lane = req.headers.get(LANE_HEADER) === "bulk" ? "bulk" : "main";
    let queuedBytes = 0;
    const served: ServedStream = {
      send(frame) {
        if (ended) return;
        queuedBytes += frame.byteLength;
        out.enqueue(frame);
      },
      get bufferedBytes() {
        return queuedBytes;
      },
      close(reason) {
        end(reason);
      },
    };
    const answer = (id: number, status: number, body: Uint8Array) => {
      if (!ended) out.enqueue(encodeFrame(FrameKind.answer, id, answerPayload(status, body)));
    };
    const problemText = (detail: string) => new TextEncoder().encode(detail);
    const call = async (id: number, payload: Uint8Array) => {
      const parsed = parseCall(payload);
      if (!parsed || !isCallMethod(parsed.method) || !options.onCall) {
        answer(id, 404, problemText(`no call method "${parsed?.method.slice(0, 64) ?? ""}"`));
        return;
      }
      try {
        // Copied: the payload is a view into bytes the reader may reuse.
        answer(id, 200, await options.onCall(parsed.method, parsed.body.slice(), from));
      } catch (e) {
        if (e instanceof CallError && e.status >= 400 && e.status <= 599) {
          answer(id, e.status, problemText(e.message));
          return;
        }
        onError(e);
        answer(id, 500, problemText(`call "${parsed.method}" failed`));
      }
    };
    const pump = async () => {
      const frames = new FrameReader(maxBody);
      for (;;) {
        const { done, value } = await reader.read();
        if (done || ended) break;
        for (const frame of frames.push(value)) {
          if (frame.kind === FrameKind.messages || frame.kind === FrameKind.snapshot) {
            const wrong = deliver(frame.payload);
            if (frame.kind === FrameKind.snapshot) {
              answer(frame.id, wrong?.status ?? 204, problemText(wrong?.detail ?? ""));
            }
            // A bad batch closes the stream; a node that could not take a good one does not.
            if (wrong && (wrong.status === 400 || frame.kind === FrameKind.messages)) {
              end(`${wrong.status}: ${wrong.detail}`.slice(0, 200));
              return;
            }
          } else if (frame.kind === FrameKind.call) {
            call(frame.id, frame.payload);
          } else {
            end(`frame kind ${frame.kind} is not sent to a server`);
            return;
          }
        }
      }
      end();
    };
    const body = new ReadableStream<Uint8Array>({
      pull() {
        // Everything queued was taken: the reader (the server) keeps up.
        queuedBytes = 0;
      },
      start(controller) {
        out = controller;
        // The first frame tells the client the stream was accepted (see `peer_channel.ts`).
        controller.enqueue(encodeFrame(FrameKind.answer, 0, answerPayload(200, new Uint8Array())));
      },
      cancel() {
        end();
      },
    });
    frameStreams.add(end);
    if (lane === "main") options.streams?.add(from, served);
    pump().catch((e) => end(e instanceof FrameError ? e.message : "the stream failed"));
    return new Response(body, { status: 200, headers: { "content-type": STREAM_MEDIA_TYPE } });
  }

  async function answerCall(req: Request, method: string): Promise<Response> {
    if (!options.onCall) {
      discard(req);
      return problem(404, "Not Found", "this node serves no calls");
    }
    if (!isCallMethod(method)) {
      discard(req);
      return problem(404, "Not Found", `no call method "${method.slice(0, 64)}"`);
    }
    const fromText = req.headers.get(FROM_HEADER) ?? "";
    const from = /^[1-9][0-9]{0,15}$/.test(fromText) ? Number(fromText) : NaN;
    if (!Number.isSafeInteger(from)) {
      discard(req);
      return problem(400, "Bad Request", `the ${FROM_HEADER} header must be a node id`);
    }
    const body = await readBody(req, maxBody);
    if (body instanceof Response) return body;
    try {
      const answer = await options.onCall(method, body, from);
      return new Response(ownBuffer(answer), {
        status: 200,
        headers: { "content-type": "application/octet-stream" },
      });
    } catch (e) {
      if (e instanceof CallError && e.status >= 400 && e.status <= 599) {
        return problem(e.status, "Call Failed", e.message);
      }
      onError(e);
      return problem(500, "Internal Server Error", `call "${method}" failed`);
    }
  }

  async function route(req: Request): Promise<Response> {
    if (!authorized(req.headers.get("authorization"))) {
      discard(req);
      return problem(401, "Unauthorized", "a valid cluster secret is required", {
        "www-authenticate": 'Bearer realm="edgeraft-peer"',
      });
    }
    const path = new URL(req.url).pathname;
    const known = path === MESSAGES_PATH || path.startsWith(CALL_PATH_PREFIX);
    if (path === STREAM_PATH && req.method === "GET") return openStream(req);
    if (path === STREAM_PATH && req.method === "POST") return openFrameStream(req);
    if (!known) {
      discard(req);
      return problem(404, "Not Found", `no peer endpoint at ${path.slice(0, 200)}`);
    }
    if (req.method !== "POST") {
      discard(req);
      return problem(405, "Method Not Allowed", "peer endpoints take POST", { allow: "POST" });
    }
    if (path === MESSAGES_PATH) return await receiveMessages(req);
    return await answerCall(req, path.slice(CALL_PATH_PREFIX.length));
  }

  return async (req) => {
    try {
      return await route(req);
    } catch (e) {
      // A body stream that broke off mid-way (the peer went away), or a bug: answer, carry on.
      onError(e);
      return problem(500, "Internal Server Error", "the request could not be handled");
    }
  };
}

/** `Response` wants bytes over a plain `ArrayBuffer`; copy only when they are not. */
function ownBuffer(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes.buffer instanceof ArrayBuffer ? bytes as Uint8Array<ArrayBuffer> : bytes.slice();
}

/** Drops a body we will not read, so its stream is released at once. */
function discard(req: Request): void {
  if (req.body && !req.bodyUsed) req.body.cancel().catch(() => {});
}

/**
 * Reads a request body of at most `limit` bytes, or returns the 400/413 response to send.
 * With a `content-length` the buffer is allocated once and filled in place.
 */
async function readBody(req: Request, limit: number): Promise<Uint8Array | Response> {
  const tooLarge = (size: string) =>
    problem(413, "Content Too Large", `body of ${size} bytes exceeds the limit of ${limit}`);
  const declared = req.headers.get("content-length");
  let expected: number | undefined;
  if (declared !== null) {
    if (!/^[0-9]{1,15}$/.test(declared)) {
      discard(req);
      return problem(400, "Bad Request", "invalid content-length");
    }
    expected = Number(declared);
    if (expected > limit) {
      discard(req);
      return tooLarge(declared);
    }
  }
  if (!req.body) return new Uint8Array(0);
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  const whole = expected === undefined ? undefined : new Uint8Array(expected);
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    const capacity = whole ? whole.byteLength : limit;
    if (size + value.byteLength > capacity) {
      reader.cancel().catch(() => {});
      return whole
        ? problem(400, "Bad Request", "body longer than its content-length")
        : tooLarge(`more than ${limit}`);
    }
    if (whole) whole.set(value, size);
    else chunks.push(value);
    size += value.byteLength;
  }
  if (whole) {
    if (size !== whole.byteLength) return problem(400, "Bad Request", "body shorter than declared");
    return whole;
  }
  return joinParts(chunks);
}

/**
 * Where and how to serve the peer handler over plain TCP.
 *
 * @example
 * ```ts
 * import type { ServePeerOptions } from "./peer_server.ts";
 * const o: Omit<ServePeerOptions, "handler"> = { hostname: "127.0.0.1", port: 7101 };
 * ```
 */
export interface ServePeerOptions {
  /** The address to listen on, e.g. "127.0.0.1" or "0.0.0.0". */
  hostname: string;
  /** 0 picks a free port; read it from the returned server's `addr`. */
  port: number;
  /** Usually made by `createPeerHandler`. */
  handler: (req: Request) => Promise<Response>;
  /** Aborting it shuts the server down. */
  signal?: AbortSignal;
  /** Told the bound address; by default nothing is printed. */
  onListen?: (addr: Deno.NetAddr) => void;
}

/**
 * Serves the peer handler with `Deno.serve` on plain TCP: h2c with prior knowledge (the peer
 * stream) and HTTP/1.1 (the fallback client). TLS is served by `serveNodeTls`
 * (`node_tls_server.ts`) instead. Stop it with `server.shutdown()` after ending the streams
 * it serves (abort the handler's `signal`), so that peers see each stream end cleanly before
 * the GOAWAY.
 *
 * @example
 * ```ts
 * import { createPeerHandler, servePeer } from "./peer_server.ts";
 * const handler = createPeerHandler({ clusterSecret: "s3cret", onMessages: () => {} });
 * const server = servePeer({ hostname: "127.0.0.1", port: 0, handler });
 * console.log(server.addr.port);
 * await server.shutdown();
 * ```
 */
export function servePeer(options: ServePeerOptions): Deno.HttpServer<Deno.NetAddr> {
  const { hostname, port, handler, signal } = options;
  const onListen = options.onListen ?? (() => {});
  const onError = () => problem(500, "Internal Server Error", "the request could not be handled");
  return Deno.serve({ hostname, port, signal, onListen, onError }, handler);
}
