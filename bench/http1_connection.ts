/**
 * The load generator's HTTP client: one keep-alive HTTP/1.1 connection over `Deno.connect`,
 * one request at a time, Nagle off. It costs ~9 µs of CPU per request where Deno's `fetch`
 * costs ~35-45 µs and `node:http` ~28-34 µs (bench/http_client_cost.ts), and the load generator
 * shares the machine's two cores with the cluster it measures: every microsecond it spends is
 * one the servers do not get. That measurement is why it stays hand-written while the histogram
 * and the chart come from libraries (issue 15).
 *
 * @module
 */

import { type ParsedResponse, ResponseParser } from "./http1_response_parser.ts";

/**
 * One answer, with the body as text (every API measured here speaks JSON).
 *
 * @example
 * ```ts
 * import type { HttpAnswer } from "./http1_connection.ts";
 * const a: HttpAnswer = { status: 200, body: "{}" };
 * ```
 */
export interface HttpAnswer {
  status: number;
  body: string;
}

/**
 * A request: the path with its query, and an optional JSON body.
 *
 * @example
 * ```ts
 * import type { HttpRequest } from "./http1_connection.ts";
 * const r: HttpRequest = { method: "PUT", path: "/v1/config/a", body: '"x"' };
 * ```
 */
export interface HttpRequest {
  method: string;
  path: string;
  body?: string;
  /** Closes the connection and rejects when no answer came in this many ms. */
  timeoutMs?: number;
}

/**
 * The request did not get its answer within `timeoutMs`.
 *
 * @example
 * ```ts ignore
 * import { RequestTimeoutError } from "./http1_connection.ts";
 * try {
 *   await connection.request({ method: "GET", path: "/", timeoutMs: 100 });
 * } catch (e) {
 *   if (e instanceof RequestTimeoutError) console.log("no answer");
 * }
 * ```
 */
export class RequestTimeoutError extends Error {
  override name = "RequestTimeoutError";
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * A keep-alive HTTP/1.1 connection to one origin (`http://host:port`).
 *
 * @example
 * ```ts ignore
 * import { Http1Connection } from "./http1_connection.ts";
 * const c = await Http1Connection.open("http://127.0.0.1:7001");
 * const { status, body } = await c.request({ method: "GET", path: "/healthz" });
 * c.close();
 * ```
 */
export class Http1Connection {
  #conn: Deno.TcpConn;
  #host: string;
  #parser = new ResponseParser();
  #readBuf = new Uint8Array(64 * 1024);
  #busy = false;
  #closed = false;
  /** When the request in flight times out (`performance.now()`); Infinity when none is. */
  #deadline = Infinity;
  #watchdog?: ReturnType<typeof setTimeout>;
  /** When `#watchdog` fires. */
  #watchdogAt = Infinity;
  #timedOut = false;

  private constructor(conn: Deno.TcpConn, host: string) {
    this.#conn = conn;
    this.#host = host;
  }

  /** Connects to `origin`, e.g. `http://127.0.0.1:7001`. */
  static async open(origin: string): Promise<Http1Connection> {
    const url = new URL(origin);
    if (url.protocol !== "http:") throw new Error(`only http: origins, not ${origin}`);
    const conn = await Deno.connect({ hostname: url.hostname, port: Number(url.port || 80) });
    conn.setNoDelay(true);
    return new Http1Connection(conn, url.host);
  }

  /** False once the connection closed (by us, by the server, or after an error). */
  get usable(): boolean {
    return !this.#closed;
  }

  /** Sends one request and reads its answer; the connection must not be busy. */
  async request(req: HttpRequest): Promise<HttpAnswer> {
    if (this.#closed) throw new Error("the connection is closed");
    if (this.#busy) throw new Error("one request at a time on a connection");
    this.#busy = true;
    if (req.timeoutMs !== undefined) this.#watch(req.timeoutMs);
    try {
      await this.#writeAll(this.#encode(req));
      const res = await this.#readResponse();
      if (res.close) this.close();
      return { status: res.status, body: decoder.decode(res.body) };
    } catch (e) {
      this.close();
      if (this.#timedOut) {
        throw new RequestTimeoutError(
          `${req.method} ${req.path}: no answer in ${req.timeoutMs} ms`,
        );
      }
      throw e;
    } finally {
      this.#deadline = Infinity;
      this.#busy = false;
    }
  }

  /**
   * Closes the connection if the request in flight is not answered within `timeoutMs`. One
   * timer per connection, re-armed only when it fires early or too late for this deadline: a
   * timer set and cleared per request was a few % of the generator's CPU, which the servers
   * under test share.
   */
  #watch(timeoutMs: number): void {
    const now = performance.now();
    this.#deadline = now + timeoutMs;
    if (this.#watchdog !== undefined && this.#watchdogAt <= this.#deadline) return;
    clearTimeout(this.#watchdog);
    this.#arm(now, timeoutMs);
  }

  #arm(now: number, ms: number): void {
    this.#watchdogAt = now + ms;
    this.#watchdog = setTimeout(() => {
      this.#watchdog = undefined;
      if (this.#closed || this.#deadline === Infinity) return;
      const now = performance.now();
      if (now < this.#deadline) return this.#arm(now, this.#deadline - now);
      this.#timedOut = true;
      this.close();
    }, ms);
  }

  /** Closes the socket; a request in flight fails. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#watchdog);
    try {
      this.#conn.close();
    } catch {
      // already closed by the peer
    }
  }

  #encode(req: HttpRequest): Uint8Array {
    const body = req.body === undefined ? undefined : encoder.encode(req.body);
    let head = `${req.method} ${req.path} HTTP/1.1\r\nhost: ${this.#host}\r\n`;
    if (body) head += `content-type: application/json\r\ncontent-length: ${body.length}\r\n`;
    const headBytes = encoder.encode(head + "\r\n");
    if (!body) return headBytes;
    const out = new Uint8Array(headBytes.length + body.length);
    out.set(headBytes);
    out.set(body, headBytes.length);
    return out;
  }

  async #writeAll(bytes: Uint8Array): Promise<void> {
    let written = 0;
    while (written < bytes.length) written += await this.#conn.write(bytes.subarray(written));
  }

  async #readResponse(): Promise<ParsedResponse> {
    for (;;) {
      const res = this.#parser.next();
      if (res) return res;
      const n = await this.#conn.read(this.#readBuf);
      if (n === null) {
        this.#parser.end();
        const last = this.#parser.next();
        if (last) return last;
        throw new Error("the server closed the connection before answering");
      }
      this.#parser.push(this.#readBuf.subarray(0, n));
    }
  }
}
