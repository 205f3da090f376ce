/**
 * A `PeerClient` on the `node:http2` client: one connection per peer (h2c with prior knowledge
 * for `http://`, h2 over TLS for `https://`), one stream per request.
 *
 * WARNING (Deno 2.9.6): when the peer sends GOAWAY (as `Deno.serve` does on a graceful
 * shutdown) to a session that has carried a few hundred streams, Deno can abort (nghttp2
 * assertion `stream->closed_next == NULL`) or segfault: denoland/deno#36788, reproduced here.
 * Nothing in JavaScript can catch it. Prefer `FetchHttp1Client` until that is fixed.
 *
 * @module
 */

import http2 from "node:http2";
import { h2Request } from "./h2_request.ts";
import type { PeerAnswer, PeerClient, PeerRequest } from "./peer_client.ts";

/**
 * Posts to one peer over a single `node:http2` session, reconnecting after `reset()` or when
 * the session closed.
 *
 * @example
 * ```ts
 * import { NodeHttp2Client } from "./node_http2_client.ts";
 * const client = new NodeHttp2Client("http://127.0.0.1:7102");
 * await client.close();
 * ```
 */
export class NodeHttp2Client implements PeerClient {
  #session: http2.ClientHttp2Session | undefined;
  /** Every session not yet closed, with the promise of its 'close' event. */
  readonly #open = new Map<http2.ClientHttp2Session, Promise<void>>();

  /** `ca`: PEM certificate(s) to trust for an `https://` peer. */
  constructor(readonly baseUrl: string, private readonly ca?: string | string[]) {}

  post(request: PeerRequest): Promise<PeerAnswer> {
    const { path, headers, parts, timeoutMs, maxAnswerBytes, signal } = request;
    const h2Headers = { ":method": "POST", ":path": path, ...headers };
    return h2Request(this.#connect(), h2Headers, parts, { timeoutMs, maxAnswerBytes, signal });
  }

  reset(): void {
    const session = this.#session;
    this.#session = undefined;
    if (session) this.#destroy(session);
  }

  async close(): Promise<void> {
    this.reset();
    await Promise.all(this.#open.values());
  }

  #connect(): http2.ClientHttp2Session {
    const current = this.#session;
    if (current && !current.closed && !current.destroyed) return current;
    const session = http2.connect(this.baseUrl, this.ca === undefined ? {} : { ca: this.ca });
    // Failures surface on the streams; without a listener an 'error' event would be thrown.
    session.on("error", () => {});
    const closed = new Promise<void>((resolve) => {
      session.once("close", () => {
        if (this.#session === session) this.#session = undefined;
        this.#open.delete(session);
        resolve();
      });
    });
    this.#open.set(session, closed);
    this.#session = session;
    return session;
  }

  /** Destroys a session, cancelling its streams; `close()` waits for its 'close' event. */
  #destroy(session: http2.ClientHttp2Session): void {
    if (!session.destroyed) session.destroy();
  }
}
