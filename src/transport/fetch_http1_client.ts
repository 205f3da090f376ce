/**
 * A `PeerClient` on Deno's own `fetch` over HTTP/1.1 with keep-alive.
 *
 * Why HTTP/1.1: Deno's `fetch` over h2c stalls ~40 ms on every body of ~1.5-22 KB (Nagle; see
 * docs/architecture.md#peer-transport), but over HTTP/1.1 it does not (22 KB round trip well
 * under 1 ms, `bench/transport_rtt.ts`). Concurrent requests each take a pooled connection of
 * their own, so a heartbeat never waits behind a snapshot body on the same socket. The client is
 * Rust (hyper) end to end, unlike `node:http2` in Deno 2.9.6, which can crash the process when a
 * peer sends GOAWAY (denoland/deno#36788).
 *
 * @module
 */

import { joinParts, type PeerAnswer, type PeerClient, type PeerRequest } from "./peer_client.ts";

/**
 * Posts to one peer with `fetch` over HTTP/1.1.
 *
 * @example
 * ```ts
 * import { FetchHttp1Client } from "./fetch_http1_client.ts";
 * const client = new FetchHttp1Client("http://127.0.0.1:7102");
 * await client.close();
 * ```
 */
export class FetchHttp1Client implements PeerClient {
  readonly #http: Deno.HttpClient;
  readonly #inFlight = new Map<AbortController, Promise<unknown>>();

  /**
   * `ca`: PEM certificate(s) to trust for an `https://` peer; `clientCert`: the certificate
   * to show it (mutual TLS).
   */
  constructor(
    readonly baseUrl: string,
    ca?: string | string[],
    clientCert?: { cert: string; key: string },
  ) {
    this.#http = Deno.createHttpClient({
      http1: true,
      http2: false,
      caCerts: ca === undefined ? undefined : [ca].flat(),
      ...(clientCert ?? {}),
    });
  }

  post(request: PeerRequest): Promise<PeerAnswer> {
    request.signal?.throwIfAborted();
    const abort = new AbortController();
    const done = this.#post(request, abort).finally(() => this.#inFlight.delete(abort));
    this.#inFlight.set(abort, done.catch(() => {}));
    return done;
  }

  async #post(request: PeerRequest, abort: AbortController): Promise<PeerAnswer> {
    const { path, headers, parts, timeoutMs, maxAnswerBytes, signal } = request;
    const onAbort = () => abort.abort(signal?.reason);
    signal?.addEventListener("abort", onAbort, { once: true });
    const timer = setTimeout(
      () => abort.abort(new Error(`no answer within ${timeoutMs} ms`)),
      timeoutMs,
    );
    try {
      // fetch sets content-length from the body itself.
      const { "content-length": _, ...rest } = headers;
      const res = await fetch(this.baseUrl + path, {
        method: "POST",
        headers: rest,
        body: joinParts(parts),
        client: this.#http,
        signal: abort.signal,
      });
      return { status: res.status, body: await readLimited(res, maxAnswerBytes) };
    } catch (e) {
      throw abort.signal.aborted ? abort.signal.reason : e;
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    }
  }

  reset(): void {
    // Nothing to do: the pool never reuses a connection that failed or was aborted.
  }

  async close(): Promise<void> {
    for (const abort of this.#inFlight.keys()) abort.abort(new Error("the transport is closed"));
    await Promise.all(this.#inFlight.values());
    this.#http.close();
  }
}

/** Reads a response body, failing once it grows past `max` bytes. */
async function readLimited(res: Response, max: number): Promise<Uint8Array> {
  if (!res.body) return new Uint8Array();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of res.body) {
    size += chunk.byteLength;
    if (size > max) throw new Error(`answer longer than ${max} bytes`);
    chunks.push(chunk);
  }
  return joinParts(chunks);
}
