/**
 * The client port's HTTP/1.1 server, in place of `Deno.serve`, with connection limits.
 *
 * Why it exists: `Deno.serve` (hyper underneath) in Deno 2.9.6 has no header-read, idle, body
 * or write timeouts (measured: a connection that sends nothing, a request head dribbled a byte
 * a second, a keep-alive connection after its answer, and a body dribbled a byte a second were
 * all still open after 65 s), exposes no option to set them, answers a head of more than 100
 * header lines or about 90 KB with a bare `400` and no body, and has no public API to hand it a
 * connection whose first bytes were already read. So this module owns the socket:
 *
 * - it accepts client connections itself (`Deno.listen`, or `Deno.listenTls`);
 * - reads each request head with a deadline (`headerTimeoutMs`, from the head's first byte)
 *   and a cap (`maxHeaderBytes`, `maxHeaders`), answering `431` or `408` as
 *   `application/problem+json` itself, and a malformed head with `400`;
 * - closes a connection that sends no request for `idleTimeoutMs` (also before the first
 *   one), whose body does not arrive within `bodyTimeoutMs` of its head (`408` when no answer
 *   was started), or that does not take an answer's bytes for `idleTimeoutMs`;
 * - serves each request itself, one at a time per connection (pipelined ones wait, as with
 *   `Deno.serve`): it builds the handler's `Request` from the parsed head (the body a stream
 *   read from the socket within `bodyTimeoutMs`, or the bytes when they came with the head)
 *   and writes the `Response` back: a whole body with `Content-Length`, a stream (a watch) in
 *   chunks, each written before the next is read, so a slow client slows the stream;
 * - keeps reading while a request is under way, so that a client that leaves aborts the
 *   request's `signal` (a lock wait withdraws, a watch ends), as `Deno.serve` does.
 *
 * It also does what `Deno.serve` did for free: `Date`, `100 Continue` for `Expect`, chunked
 * request bodies, HTTP/1.0 (a close after the answer unless keep-alive), `Connection: close`
 * either way, a `500` for a handler that throws. HTTP/1.x only, over TLS too: no ALPN is
 * offered, so clients speak HTTP/1.1.
 *
 * A handler may carry {@linkcode FrontHooks} ({@linkcode withFrontHooks}; the app's `fetch`
 * does): a shortcut that answers some requests from their parsed head, with the bytes the
 * long way would write (config reads, `fast_stale_read.ts`, and config writes and lock calls
 * whose body came with the head, `fast_config_write.ts` and `fast_lock.ts`: no `Request`,
 * `Headers`, `URL`, router or `Response`, one write), and a counter of the server's own
 * 400/408/431/505 answers (`edgeraft_http_requests_total{method="other",route="connection"}`).
 *
 * The cost, against plain `Deno.serve` on the same code (`deno task bench:client-port --serve
 * both`, one node, the two alternated; bench/README.md "The client port"): node CPU per stale
 * read at 1/16/64 clients 77-93/28-50/24-41 µs against 64-126/33-42/26-38 µs, and per
 * linearizable read 114-128/30-46/27-38 µs against 129-209/96-160/98-138 µs (there the router
 * answers). Config writes whose body came with the head take their own shortcut: node CPU per
 * put at 1/16/64 clients 661/235/112 µs against 849/318/195 µs the long way (`--versus`, c9694dd
 * against its parent without the shortcut, 5f3e95b). Other requests (watches, lists, lock
 * reads) take the long way, at about `Deno.serve`'s CPU from 16 clients on. Before the head
 * shortcut a stale read took about twice `Deno.serve`'s CPU (91-124 µs against 40-57 µs); the
 * layer's first version, a worker in front of `Deno.serve` on a Unix socket copying every byte
 * once more, took 97-162 µs.
 *
 * Heads are parsed in `http1_head.ts`, connections served in `http1_connection.ts` (bodies in
 * `http1_body.ts`, answers in `http1_answer.ts`).
 *
 * @module
 */

import { ClientConnection, type ServerContext } from "./http1_connection.ts";
import type { Head } from "./http1_head.ts";

/**
 * What a handler may offer the client port's server besides itself (see
 * {@linkcode withFrontHooks}); `Deno.serve` ignores them.
 *
 * @example
 * ```ts ignore
 * const hooks: FrontHooks = {
 *   answerHead: configReadFromHead(deps),
 *   countOwnAnswer: (status) => metrics.countRequest("other", "connection", status),
 * };
 * ```
 */
export interface FrontHooks {
  /**
   * Answers a request from its parsed head (and its body, when the request has one), with the
   * answer's bytes (head and body, as the server would write them), now or later, or declines
   * with undefined (thrown errors decline too): then the handler gets the request, body
   * included. Offered only origin-form requests the server could make a `Request` of (a
   * well-formed `Host`, header values it takes) that have no body, or a `Content-Length` body
   * already read whole with the head (not one waiting for `100 Continue`). While a later
   * answer is awaited no later request is served; a later answer that rejects ends the
   * connection unanswered (a write may have been made: it is not served twice).
   *
   * `signal()` is the request's `request.signal` of the long way, made on first call: from
   * then until the answer, the connection reads on (later requests wait in the buffer), and
   * aborts it when the client leaves (a lock wait withdraws); the answer is then not written.
   * Valid only while the request is under way. Without it (a caller that has none) a
   * shortcut that needs it declines.
   */
  answerHead?: (
    head: Head,
    body: Uint8Array | undefined,
    signal?: () => AbortSignal,
  ) => Uint8Array | Promise<Uint8Array | undefined> | undefined;
  /** Told of each answer the server writes itself (400, 408, 431, 505), for the metrics. */
  countOwnAnswer?: (status: number) => void;
}

const HOOKS = Symbol("edgeraft.frontHooks");

/**
 * `handler`, marked with `hooks` for {@linkcode serveClientPort} to find. It marks and returns
 * the function itself, so that serving it costs no extra call per request; to serve one handler
 * with other hooks, wrap it first (`(req, info) => handler(req, info)`).
 *
 * @example
 * ```ts ignore
 * app.fetch = withFrontHooks(app.fetch, { answerHead: configReadFromHead(deps) });
 * ```
 */
export function withFrontHooks<T extends Deno.ServeHandler>(handler: T, hooks: FrontHooks): T {
  (handler as T & { [HOOKS]?: FrontHooks })[HOOKS] = hooks;
  return handler;
}

/**
 * The hooks `handler` was marked with, if any.
 *
 * @example
 * ```ts
 * import { frontHooksOf } from "./http_front.ts";
 * frontHooksOf(() => new Response("hi")); // {}
 * ```
 */
export function frontHooksOf(handler: Deno.ServeHandler): FrontHooks {
  return (handler as Deno.ServeHandler & { [HOOKS]?: FrontHooks })[HOOKS] ?? {};
}

/**
 * The connection limits of the client port.
 *
 * @example
 * ```ts
 * import type { ConnectionLimits } from "./http_front.ts";
 * const tight: Partial<ConnectionLimits> = { headerTimeoutMs: 2000, idleTimeoutMs: 5000 };
 * ```
 */
export interface ConnectionLimits {
  /** A request head must arrive whole within this long of its first byte (else 408). */
  headerTimeoutMs: number;
  /**
   * A connection with no request under way is closed after this long without a byte (also
   * before its first request); an answer whose bytes the client does not take for this long
   * ends the connection too.
   */
  idleTimeoutMs: number;
  /** A request body must arrive whole within this long of its head (else 408 and close). */
  bodyTimeoutMs: number;
  /** The request line and headers, in bytes (else 431). */
  maxHeaderBytes: number;
  /** Header lines in one request (else 431). */
  maxHeaders: number;
}

/**
 * The defaults: a head within 10 s, idle connections closed after 30 s, a body within 30 s of
 * its head, heads of at most 16 KiB and 100 header lines.
 *
 * @example
 * ```ts
 * import { DEFAULT_CONNECTION_LIMITS } from "./http_front.ts";
 * DEFAULT_CONNECTION_LIMITS.headerTimeoutMs; // 10000
 * ```
 */
export const DEFAULT_CONNECTION_LIMITS: Readonly<ConnectionLimits> = Object.freeze({
  headerTimeoutMs: 10_000,
  idleTimeoutMs: 30_000,
  bodyTimeoutMs: 30_000,
  maxHeaderBytes: 16 * 1024,
  maxHeaders: 100,
});

/**
 * How to serve the client API.
 *
 * @example
 * ```ts
 * import type { ClientServeOptions } from "./http_front.ts";
 * const options: ClientServeOptions = { hostname: "127.0.0.1", port: 7001 };
 * ```
 */
export interface ClientServeOptions {
  hostname: string;
  port: number;
  /** PEM certificate chain and key: with both, the port speaks HTTPS (HTTP/1.1). */
  cert?: string;
  key?: string;
  /** Overrides of {@linkcode DEFAULT_CONNECTION_LIMITS}. */
  limits?: Partial<ConnectionLimits>;
  /** Called once the port listens, with its address. */
  onListen?: (addr: Deno.NetAddr) => void;
}

/**
 * A running client API server.
 *
 * @example
 * ```ts ignore
 * const server = await serveClientPort({ hostname: "127.0.0.1", port: 7001 }, app.fetch);
 * await server.shutdown();
 * ```
 */
export interface ClientServer {
  /** The address the client port listens on. */
  readonly addr: Deno.NetAddr;
  /** Client connections open right now. */
  connections(): Promise<number>;
  /** Stops accepting, closes every connection, stops the backend. */
  shutdown(): Promise<void>;
}

/**
 * The limits with `overrides` applied. Throws a `RangeError` for a value that is not a
 * positive safe integer.
 *
 * @example
 * ```ts
 * import { resolveConnectionLimits } from "./http_front.ts";
 * resolveConnectionLimits({ idleTimeoutMs: 5000 }).idleTimeoutMs; // 5000
 * ```
 */
export function resolveConnectionLimits(
  overrides: Partial<ConnectionLimits> = {},
): ConnectionLimits {
  const limits = { ...DEFAULT_CONNECTION_LIMITS };
  for (const [name, value] of Object.entries(overrides)) {
    if (value === undefined) continue;
    if (!(name in limits)) throw new RangeError(`unknown connection limit ${name}`);
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw new RangeError(`connection limit ${name} must be a positive integer, not ${value}`);
    }
    limits[name as keyof ConnectionLimits] = value;
  }
  return limits;
}

/**
 * Serves `handler` on the client port (see the module doc): accepts connections, serves
 * HTTP/1.1 on them with the connection limits, and calls `handler` as `Deno.serve` would.
 * Rejects, like `Deno.serve` throws, when the port cannot be bound
 * (`Deno.errors.AddrInUse`, ...).
 *
 * @example
 * ```ts ignore
 * import { serveClientPort } from "./http_front.ts";
 * const server = await serveClientPort(
 *   { hostname: "127.0.0.1", port: 7001, limits: { headerTimeoutMs: 5000 } },
 *   (req) => new Response("hello"),
 * );
 * ```
 */
export function serveClientPort(
  options: ClientServeOptions,
  handler: Deno.ServeHandler,
): Promise<ClientServer> {
  try {
    return Promise.resolve(startServer(options, handler));
  } catch (e) {
    return Promise.reject(e);
  }
}

function startServer(options: ClientServeOptions, handler: Deno.ServeHandler): ClientServer {
  const limits = resolveConnectionLimits(options.limits);
  const tls = options.cert !== undefined && options.key !== undefined;
  const listener: Deno.Listener = tls
    ? Deno.listenTls({
      hostname: options.hostname,
      port: options.port,
      cert: options.cert!,
      key: options.key!,
    })
    : Deno.listen({ hostname: options.hostname, port: options.port });
  const addr = listener.addr as Deno.NetAddr;
  const hooks = frontHooksOf(handler);
  const server: ServerContext = {
    limits,
    handler,
    answerHead: hooks.answerHead,
    countOwnAnswer: hooks.countOwnAnswer,
    scheme: tls ? "https" : "http",
    defaultHost: addr.hostname.includes(":")
      ? `[${addr.hostname}]:${addr.port}`
      : `${addr.hostname}:${addr.port}`,
  };
  const open = new Set<ClientConnection>();
  const sweeper = setInterval(() => {
    const now = Date.now();
    for (const connection of open) connection.sweep(now);
  }, 1000);
  Deno.unrefTimer(sweeper);
  const accepting = (async () => {
    while (true) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch (e) {
        if (e instanceof Deno.errors.BadResource) return; // closed by shutdown
        // Out of file descriptors (EMFILE) or a connection reset before accept: wait a little
        // rather than spin, and keep serving.
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      // Answers are written in pieces (a head, then a stream's events): no Nagle delay.
      if ("setNoDelay" in conn) (conn as Deno.TcpConn).setNoDelay(true);
      const connection = new ClientConnection(conn, server);
      open.add(connection);
      void connection.run().finally(() => {
        open.delete(connection);
        connection.close();
      });
    }
  })();
  options.onListen?.(addr);
  let stopped: Promise<void> | undefined;
  return {
    addr,
    connections: () => Promise.resolve(open.size),
    shutdown() {
      stopped ??= (async () => {
        try {
          listener.close();
        } catch {
          // already closed
        }
        await accepting;
        clearInterval(sweeper);
        for (const connection of open) connection.close();
      })();
      return stopped;
    },
  };
}
