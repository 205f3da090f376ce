/**
 * The HTTP clients the load generator can use, behind one interface, so that their cost can be
 * compared (bench/http_client_cost.ts) and a run can be repeated with another client to see
 * that the numbers do not depend on it (`--http-client`). Each worker owns one client.
 *
 * @module
 */

import http from "node:http";
import { joinParts } from "../src/transport/peer_client.ts";
import { Http1Connection, type HttpAnswer, type HttpRequest } from "./http1_connection.ts";

/**
 * `raw`: {@linkcode Http1Connection} (the default, the cheapest); `fetch`: Deno's `fetch`;
 * `node`: `node:http` with a keep-alive agent.
 *
 * @example
 * ```ts
 * import type { HttpClientKind } from "./http_clients.ts";
 * const kind: HttpClientKind = "raw";
 * ```
 */
export type HttpClientKind = "raw" | "fetch" | "node";

/**
 * The kinds, in the order the cost comparison runs them.
 *
 * @example
 * ```ts
 * import { HTTP_CLIENT_KINDS } from "./http_clients.ts";
 * HTTP_CLIENT_KINDS.includes("fetch"); // true
 * ```
 */
export const HTTP_CLIENT_KINDS: readonly HttpClientKind[] = ["raw", "fetch", "node"];

/**
 * Requests to one origin, one at a time, over a kept-alive connection.
 *
 * @example
 * ```ts ignore
 * import { openHttpClient } from "./http_clients.ts";
 * const client = openHttpClient("raw", "http://127.0.0.1:7001");
 * await client.request({ method: "GET", path: "/healthz" });
 * client.close();
 * ```
 */
export interface HttpClient {
  request(req: HttpRequest): Promise<HttpAnswer>;
  close(): void;
}

/** Reconnects when the server (or a timeout) closed the previous connection. */
class RawClient implements HttpClient {
  #connection?: Http1Connection;
  #origin: string;

  constructor(origin: string) {
    this.#origin = origin;
  }

  async request(req: HttpRequest): Promise<HttpAnswer> {
    if (!this.#connection?.usable) this.#connection = await Http1Connection.open(this.#origin);
    return await this.#connection.request(req);
  }

  close(): void {
    this.#connection?.close();
  }
}

class FetchClient implements HttpClient {
  #origin: string;
  #client = Deno.createHttpClient({});

  constructor(origin: string) {
    this.#origin = origin;
  }

  async request(req: HttpRequest): Promise<HttpAnswer> {
    const res = await fetch(this.#origin + req.path, {
      method: req.method,
      body: req.body,
      headers: req.body === undefined ? undefined : { "content-type": "application/json" },
      signal: req.timeoutMs === undefined ? undefined : AbortSignal.timeout(req.timeoutMs),
      client: this.#client,
    });
    return { status: res.status, body: await res.text() };
  }

  close(): void {
    this.#client.close();
  }
}

class NodeClient implements HttpClient {
  #origin: string;
  #agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

  constructor(origin: string) {
    this.#origin = origin;
  }

  request(req: HttpRequest): Promise<HttpAnswer> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = {};
      if (req.body !== undefined) {
        headers["content-type"] = "application/json";
        headers["content-length"] = String(new TextEncoder().encode(req.body).length);
      }
      const r = http.request(this.#origin + req.path, {
        method: req.method,
        agent: this.#agent,
        headers,
        timeout: req.timeoutMs,
      }, (res) => {
        const chunks: Uint8Array[] = [];
        res.on("data", (chunk: Uint8Array) => chunks.push(chunk));
        res.on("end", () => {
          const body = new TextDecoder().decode(joinParts(chunks));
          resolve({ status: res.statusCode ?? 0, body });
        });
        res.on("error", reject);
      });
      r.on("timeout", () => r.destroy(new Error(`no answer in ${req.timeoutMs} ms`)));
      r.on("error", reject);
      r.end(req.body);
    });
  }

  close(): void {
    this.#agent.destroy();
  }
}

/**
 * A client of `kind` for `origin`; it connects on its first request.
 *
 * @example
 * ```ts ignore
 * import { openHttpClient } from "./http_clients.ts";
 * const client = openHttpClient("fetch", "http://127.0.0.1:7001");
 * ```
 */
export function openHttpClient(kind: HttpClientKind, origin: string): HttpClient {
  switch (kind) {
    case "raw":
      return new RawClient(origin);
    case "fetch":
      return new FetchClient(origin);
    case "node":
      return new NodeClient(origin);
  }
}
