/**
 * The peer port over TLS: `node:http2`'s secure server (h2 by ALPN, HTTP/1.1 allowed for the
 * fallback client) in front of the same `fetch`-style handler `Deno.serve` runs for plain TCP.
 *
 * Why not `Deno.serve` with a certificate: it sets TCP_NODELAY only on plain TCP, so over TLS
 * every small frame after a large one waits for the peer's delayed ACK: a 22 KB round trip had
 * a p99 of 45-48 ms, against 2.9-4.0 ms here (issue 12). This server sets it on every socket.
 *
 * With `ca` and `requestCert`, peers must present a certificate the CA signed (mutual TLS).
 *
 * @module
 */

import http2 from "node:http2";
import type { AddressInfo } from "node:net";

/**
 * A started peer server, whichever kind: its address and a graceful stop.
 *
 * @example
 * ```ts
 * import type { PeerServer } from "./node_tls_server.ts";
 * async function stop(server: PeerServer): Promise<void> {
 *   console.log("stopping", server.addr.port);
 *   await server.shutdown();
 * }
 * ```
 */
export interface PeerServer {
  readonly addr: Deno.NetAddr;
  /** Stops accepting, lets open exchanges finish (streams are ended by their handler). */
  shutdown(): Promise<void>;
}

/**
 * Where and with what to serve TLS.
 *
 * @example
 * ```ts
 * import type { NodeTlsServerOptions } from "./node_tls_server.ts";
 * const o: NodeTlsServerOptions = {
 *   hostname: "127.0.0.1",
 *   port: 0,
 *   cert: "-----BEGIN CERTIFICATE-----...",
 *   key: "-----BEGIN PRIVATE KEY-----...",
 * };
 * ```
 */
export interface NodeTlsServerOptions {
  hostname: string;
  port: number;
  cert: string;
  key: string;
  /** PEM CA certificate(s) client certificates must chain to (with `requestCert`). */
  ca?: string | string[];
  /** Require a client certificate signed by `ca` (mutual TLS). */
  requestCert?: boolean;
}

/**
 * Serves `handler` over TLS with `node:http2`; resolves once listening.
 *
 * @example
 * ```ts ignore
 * const server = await serveNodeTls({ hostname: "127.0.0.1", port: 0, cert, key }, handler);
 * await server.shutdown();
 * ```
 */
export async function serveNodeTls(
  options: NodeTlsServerOptions,
  handler: (req: Request) => Promise<Response>,
): Promise<PeerServer> {
  const { hostname, port, cert, key, ca, requestCert = false } = options;
  const server = http2.createSecureServer({
    cert,
    key,
    ...(ca === undefined ? {} : { ca }),
    requestCert,
    rejectUnauthorized: requestCert,
    allowHTTP1: true,
  });
  const sessions = new Set<http2.ServerHttp2Session>();
  const sockets = new Set<{ destroy(): void }>();
  server.on("secureConnection", (socket) => {
    socket.setNoDelay(true);
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  server.on("session", (session) => {
    sessions.add(session);
    session.on("error", () => {});
    session.once("close", () => sessions.delete(session));
  });
  // A failed handshake (a peer without the right certificate) is the peer's problem.
  server.on("tlsClientError", () => {});
  server.on("request", (req, res) => {
    serveOne(req, res, handler).catch(() => {
      if (!res.destroyed) res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, hostname, () => {
      server.off("error", reject);
      resolve();
    });
  });
  server.on("error", () => {});
  const bound = server.address() as AddressInfo;
  const closed = new Promise<void>((resolve) => server.once("close", () => resolve()));
  let stopping: Promise<void> | undefined;
  return {
    addr: { transport: "tcp", hostname: bound.address, port: bound.port },
    shutdown() {
      stopping ??= (async () => {
        server.close();
        // GOAWAY to every session; their streams were ended by the handler already.
        for (const session of sessions) session.close();
        let timer: ReturnType<typeof setTimeout> | undefined;
        await Promise.race([closed, new Promise<void>((r) => timer = setTimeout(r, 2000))]);
        clearTimeout(timer);
        for (const session of sessions) session.destroy();
        for (const socket of sockets) socket.destroy();
      })();
      return stopping;
    },
  };
}

type NodeRequest = http2.Http2ServerRequest;
type NodeResponse = http2.Http2ServerResponse;

/** Runs one request through the `fetch`-style handler, streaming both bodies. */
async function serveOne(
  req: NodeRequest,
  res: NodeResponse,
  handler: (req: Request) => Promise<Response>,
): Promise<void> {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (name.startsWith(":") || value === undefined) continue;
    headers.set(name, Array.isArray(value) ? value.join(", ") : String(value));
  }
  const authority = req.headers[":authority"] ?? req.headers.host ?? "peer";
  const hasBody = req.method !== "GET" && req.method !== "HEAD";
  const request = new Request(`https://${authority}${req.url}`, {
    method: req.method,
    headers,
    body: hasBody ? bodyOf(req) : null,
    // @ts-ignore: `duplex` is required for a stream body, but not yet in Deno's RequestInit type.
    duplex: "half",
  });
  const response = await handler(request);
  const out: Record<string, string> = {};
  response.headers.forEach((value, name) => out[name] = value);
  res.writeHead(response.status, out);
  if (!response.body) {
    res.end();
    return;
  }
  const reader = response.body.getReader();
  res.once("close", () => reader.cancel().catch(() => {}));
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (res.destroyed) {
      reader.cancel().catch(() => {});
      return;
    }
    if (!res.write(value)) await drainedOrClosed(res);
  }
  if (!res.destroyed) res.end();
}

/** Waits until `res` takes more, or is gone (then the next loop turn sees it destroyed). */
function drainedOrClosed(res: NodeResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.once("drain", done);
    res.once("close", done);
  });
}

/** The request body as a web stream, paused while its reader is behind. */
function bodyOf(req: NodeRequest): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    start(controller) {
      req.on("data", (chunk: Uint8Array) => {
        controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
        if ((controller.desiredSize ?? 1) <= 0) req.pause();
      });
      req.once("end", () => {
        try {
          controller.close();
        } catch {
          // Cancelled already.
        }
      });
      const fail = (e: unknown) => {
        try {
          controller.error(e);
        } catch {
          // Closed or cancelled already.
        }
      };
      req.once("error", fail);
      // A stream reset before its end: the reader must not wait forever.
      req.once("close", () => {
        if (!req.readableEnded) fail(new Error("the request was reset"));
      });
    },
    pull() {
      req.resume();
    },
    cancel() {
      req.destroy();
    },
  }, { highWaterMark: 16 });
}
