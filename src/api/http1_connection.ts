/**
 * One client connection of the client port's HTTP/1.1 server (`http_front.ts`): it reads
 * request heads with their deadline and caps, hands each request to the handler as a
 * `Request` (its body a stream read from the socket), and writes the `Response` back.
 *
 * Requests on a connection are served one at a time, in order (pipelined requests wait in the
 * buffer, as with `Deno.serve`). While a request is under way the socket is still read, so
 * that a client that leaves aborts `request.signal` (a lock wait withdraws, a watch ends).
 *
 * @module
 */

import type { ConnectionLimits } from "./http_front.ts";
import { chunk, isStaticBody, joinHead, LAST_CHUNK, reason } from "./http1_answer.ts";
import { BodyReader } from "./http1_body.ts";
import {
  countLines,
  FrontProblem,
  frontProblem,
  type Head,
  headEnd,
  httpDate,
  parseHead,
  problemAnswer,
} from "./http1_head.ts";

const READ_SIZE = 16 * 1024;
/** Bytes of later (pipelined) requests read ahead while one is under way, at most. */
const READ_AHEAD = 64 * 1024;
const EMPTY = new Uint8Array(0);
const encoder = new TextEncoder();
const CONTINUE = encoder.encode("HTTP/1.1 100 Continue\r\n\r\n");
/** A `Host` header: a name or address and a port, nothing that would change the URL's path. */
const HOST = /^[A-Za-z0-9._~%!$&'()*+,;=:[\]-]+$/;
const ABSOLUTE_TARGET = /^https?:\/\//i;
/** A header value `Headers` refuses: a NUL, or a character beyond Latin-1 (the head is UTF-8). */
const NOT_BYTE_STRING = /[\0\u0100-\uffff]/;

/** What ended a wait for bytes. */
type Filled = "data" | "eof" | "timeout";

/**
 * What every connection of one server shares.
 *
 * @example
 * ```ts ignore
 * const server: ServerContext = {
 *   limits, handler: app.fetch, scheme: "http", defaultHost: "127.0.0.1:7001",
 * };
 * ```
 */
export interface ServerContext {
  limits: ConnectionLimits;
  handler: Deno.ServeHandler;
  scheme: "http" | "https";
  /** `host:port` of the listener, for requests without a `Host` header. */
  defaultHost: string;
  /** A shortcut answering some requests from their head (see `FrontHooks` in http_front.ts). */
  answerHead?: (
    head: Head,
    body: Uint8Array | undefined,
    signal?: () => AbortSignal,
  ) => Uint8Array | Promise<Uint8Array | undefined> | undefined;
  /** Told of each answer the server writes itself, for the metrics. */
  countOwnAnswer?: (status: number) => void;
}

/** The request under way on a connection. */
interface Exchange {
  /** Made when the handler first asks for `request.signal` (most never do). */
  controller: AbortController | undefined;
  /** The client left or the request was cut off: `request.signal` is (or will be) aborted. */
  aborted: boolean;
  /** Cancels the answer's stream being written, if one is (a watch). */
  cancelAnswer?: () => void;
  body: BodyReader | undefined;
  /** Some bytes of the answer were written (or queued). */
  answerStarted: boolean;
  active: boolean;
}

/** A request under way, not answered, its client still there. */
function newExchange(): Exchange {
  return {
    controller: undefined,
    aborted: false,
    body: undefined,
    answerStarted: false,
    active: true,
  };
}

/**
 * One client connection; {@linkcode ClientConnection.run} serves it until it ends.
 *
 * @example
 * ```ts ignore
 * const c = new ClientConnection(await listener.accept(), server);
 * await c.run();
 * ```
 */
export class ClientConnection {
  /** Bytes read from the client and not yet used. */
  #buf: Uint8Array<ArrayBuffer> = EMPTY;
  /** The client read under way, if any (one at a time, so no bytes are lost). */
  #reading: Promise<void> | undefined;
  #scratch: Uint8Array | undefined;
  #eof = false;
  #exchange: Exchange | undefined;
  /** When the last answer ended (or the connection opened): the idle timeout runs from it. */
  #idleSince = Date.now();
  /** When the write under way started, if one is (see {@linkcode ClientConnection.sweep}). */
  #writingSince: number | undefined;
  /** The last write started, so that closing waits for it. */
  #lastWrite: Promise<void> = Promise.resolve();
  /** Set when the connection must end: no more reads of requests, no more answers. */
  #dead = false;
  readonly #info: Deno.ServeHandlerInfo;

  /**
   * @param conn the accepted connection
   * @param server what all connections share
   */
  constructor(readonly conn: Deno.Conn, readonly server: ServerContext) {
    this.#info = {
      remoteAddr: conn.remoteAddr as Deno.NetAddr,
      completed: Promise.resolve(),
    };
  }

  /** Serves requests until the client leaves, idles out, or a request is refused. */
  async run(): Promise<void> {
    try {
      while (!this.#dead) {
        const head = await this.#readHead();
        if (head === undefined) return;
        let answer = this.#answerFromHead(head);
        if (answer instanceof Promise) {
          // A shortcut that fails once under way may have had effects (a write proposed): the
          // request is not served again the long way; the connection ends unanswered.
          answer = await answer;
          this.#endHeadExchange();
          // Closed meanwhile (the server stopped, or the client left: its answer, a 499, was
          // counted and logged, as the long way's is, and is not written).
          if (this.#dead) return;
        } else this.#endHeadExchange();
        if (answer !== undefined) {
          // The shortcut took the body that came with the head.
          if (head.framing.kind === "length") this.consume(head.framing.length);
          // The shortcut: no exchange, no Request nor Response, one write.
          try {
            await this.#write(answer);
          } catch {
            return; // the client is gone or took no bytes in time
          }
          this.#idleSince = Date.now();
          if (head.close) return;
          continue;
        }
        if (!await this.#serve(head)) return;
      }
    } catch (e) {
      if (e instanceof FrontProblem && !this.#dead) {
        this.#dead = true;
        this.server.countOwnAnswer?.(e.problem.status);
        await this.#write(problemAnswer(e)).catch(() => {});
      }
      // Otherwise the client vanished mid-write or mid-read: nothing to answer.
    } finally {
      this.#dead = true;
      if (this.#exchange !== undefined) abort(this.#exchange);
      await this.#lastWrite.catch(() => {});
    }
  }

  /**
   * Closes the connection when a write to it has taken no bytes for `idleTimeoutMs` (a
   * client that stopped reading must not hold an answer, nor its file descriptor, for ever),
   * or when a request's body is overdue while its handler does not read it. Called every
   * second by the server, rather than a timer per write, which showed in every answer's cost.
   */
  sweep(now: number): void {
    const body = this.#exchange?.body;
    if (body !== undefined && !body.done && now >= body.deadline) this.#bodyFailed("timeout", "");
    if (this.#writingSince === undefined) return;
    if (now - this.#writingSince < this.server.limits.idleTimeoutMs) return;
    this.close();
  }

  /** Ends the connection now; the request under way is aborted. */
  close(): void {
    this.#dead = true;
    this.#disarm();
    if (this.#exchange !== undefined) abort(this.#exchange);
    try {
      this.conn.close();
    } catch {
      // already closed
    }
  }

  /** Serves one request; resolves whether the connection may carry another. */
  async #serve(head: Head): Promise<boolean> {
    const exchange = newExchange();
    this.#exchange = exchange;
    try {
      let body: Uint8Array<ArrayBuffer> | ReadableStream<Uint8Array> | null = null;
      const framing = head.framing;
      // A GET or HEAD cannot carry a body in a `Request`: one sent is read and dropped.
      const carries = head.method !== "GET" && head.method !== "HEAD";
      if (
        framing.kind === "length" && this.#buf.byteLength >= framing.length &&
        !head.expectContinue
      ) {
        // The usual case: the whole body came with its head.
        if (carries) body = this.#buf.slice(0, framing.length);
        this.consume(framing.length);
      } else if (framing.kind !== "none") {
        const deadline = Date.now() + this.server.limits.bodyTimeoutMs;
        exchange.body = new BodyReader(
          this,
          framing,
          deadline,
          head.expectContinue,
          (failure, detail) => this.#bodyFailed(failure, detail),
        );
        if (carries) body = exchange.body.stream();
      }
      const url = this.#url(head);
      let request: Request;
      try {
        request = new FrontRequest(url, { method: head.method, headers: head.headers, body });
        (request as FrontRequest).exchange = exchange;
      } catch (e) {
        throw frontProblem(400, "invalid-request", `a malformed request: ${(e as Error).message}`);
      }
      void this.#watchDisconnect(exchange);
      let response: Response;
      try {
        response = await this.server.handler(request, this.#info);
      } catch (e) {
        // What Deno.serve does with a handler that throws (Hono catches its own errors).
        console.error(e);
        response = new Response("Internal Server Error", { status: 500 });
      }
      if (this.#dead) {
        // The client left, or its body timed out and got its 408.
        await response.body?.cancel().catch(() => {});
        return false;
      }
      let keep = await this.#writeAnswer(head, response, exchange);
      const rest = exchange.body;
      if (keep && rest !== undefined && !rest.done) {
        // The handler did not read the whole body. Without a 100 Continue the client may be
        // holding it back; otherwise the rest is read (in time) and dropped.
        keep = !rest.waitsForContinue && await rest.drain() === "done";
      }
      return keep && !this.#dead;
    } finally {
      exchange.active = false;
      this.#exchange = undefined;
      this.#idleSince = Date.now();
    }
  }

  /**
   * The server's shortcut's answer to `head`, or undefined when there is none: only for an
   * origin-form request that {@linkcode ClientConnection.#serve} would make a `Request` of
   * without a 400 (its `Host` and header values), with no body or with the whole body already
   * in the buffer (no `Expect: 100-continue`), which the shortcut gets as it is. A shortcut that
   * throws declines.
   */
  #answerFromHead(
    head: Head,
  ): Uint8Array | Promise<Uint8Array | undefined> | undefined {
    const answerHead = this.server.answerHead;
    if (answerHead === undefined || head.target.charCodeAt(0) !== 47 /* "/" */) return undefined;
    const framing = head.framing;
    let body: Uint8Array | undefined;
    if (framing.kind === "length") {
      if (head.expectContinue || this.#buf.byteLength < framing.length) return undefined;
      // A view, not a copy: the buffer's bytes are never written over, only dropped.
      body = this.#buf.subarray(0, framing.length);
    } else if (framing.kind !== "none") return undefined;
    if (!this.#requestable(head)) return undefined;
    try {
      return answerHead(head, body, this.#headSignal);
    } catch {
      return undefined;
    }
  }

  /**
   * The shortcut's `signal()`: the signal of an exchange made for the request under way on
   * first call, watched for the client's departure as {@linkcode ClientConnection.#serve}
   * watches its own. Made once per connection, so that offering it costs nothing per request.
   */
  readonly #headSignal = (): AbortSignal => {
    let exchange = this.#exchange;
    if (exchange === undefined) {
      exchange = newExchange();
      this.#exchange = exchange;
      void this.#watchDisconnect(exchange);
    }
    if (exchange.controller === undefined) {
      exchange.controller = new AbortController();
      if (exchange.aborted) exchange.controller.abort();
    }
    return exchange.controller.signal;
  };

  /** The shortcut's request ended (answered or declined): its exchange, if any, too. */
  #endHeadExchange(): void {
    const exchange = this.#exchange;
    if (exchange === undefined) return;
    exchange.active = false;
    this.#exchange = undefined;
  }

  /** The last `Host` found well formed on this connection (clients repeat theirs). */
  #goodHost: string | undefined;

  /**
   * Whether `new Request` would take what {@linkcode ClientConnection.#serve} makes of `head`:
   * a URL from its `Host` that parses, and header values that are byte strings without NUL.
   * (Header names and the method were checked by the parser.)
   */
  #requestable(head: Head): boolean {
    const host = head.host;
    if (host !== undefined && host !== this.#goodHost) {
      if (!HOST.test(host)) return false;
      try {
        new URL(`${this.server.scheme}://${host}/`);
      } catch {
        return false;
      }
      this.#goodHost = host;
    }
    for (const header of head.headers) if (NOT_BYTE_STRING.test(header[1])) return false;
    return true;
  }

  /** The request's URL, as `Deno.serve` makes it: scheme, `Host` (else the listener), target. */
  #url(head: Head): string {
    const target = head.target;
    if (target.charCodeAt(0) !== 47 /* "/" */) {
      if (ABSOLUTE_TARGET.test(target)) return target;
      throw frontProblem(400, "invalid-request", "a malformed request target");
    }
    const host = head.host ?? this.server.defaultHost;
    // A Host with a "/", "?", "#" or "@" would move the target inside the URL.
    if (!HOST.test(host)) throw frontProblem(400, "invalid-request", "a malformed Host header");
    return `${this.server.scheme}://${host}${target}`;
  }

  /**
   * Reads on while a request is under way: bytes of later requests wait in the buffer, and the
   * end of the connection aborts the request's signal, as `Deno.serve` does.
   */
  async #watchDisconnect(exchange: Exchange): Promise<void> {
    while (exchange.active && !this.#dead) {
      if (this.#buf.byteLength > READ_AHEAD) return; // enough read ahead: TCP holds the rest
      if (await this.#fill(Infinity) === "eof") {
        if (exchange.active) {
          this.#dead = true;
          abort(exchange);
        }
        return;
      }
    }
  }

  /**
   * The body under way missed its deadline (408), or broke its chunked framing (400): the
   * problem is the answer when nothing was answered yet; the connection ends either way.
   */
  #bodyFailed(failure: "timeout" | "malformed", detail: string): void {
    const exchange = this.#exchange;
    if (exchange === undefined || this.#dead) return;
    exchange.body?.expire();
    this.#dead = true;
    abort(exchange);
    if (exchange.answerStarted) {
      this.close();
      return;
    }
    exchange.answerStarted = true;
    const { bodyTimeoutMs } = this.server.limits;
    const problem = failure === "timeout"
      ? frontProblem(
        408,
        "request-timeout",
        `the request body did not arrive within bodyTimeoutMs = ${bodyTimeoutMs} ms`,
        { limit: "bodyTimeoutMs" },
      )
      : frontProblem(400, "invalid-request", detail);
    this.server.countOwnAnswer?.(problem.problem.status);
    void this.#write(problemAnswer(problem)).catch(() => {}).finally(() => this.close());
  }

  /** Writes an answer; resolves whether the connection may carry another request. */
  async #writeAnswer(head: Head, response: Response, exchange: Exchange): Promise<boolean> {
    const status = response.status;
    let close = head.close;
    let text = `HTTP/1.1 ${status} ${reason(status)}\r\n`;
    let hasDate = false;
    // forEach rather than the iterator: measurably cheaper, per answer.
    response.headers.forEach((value, name) => {
      switch (name) {
        case "content-length":
        case "transfer-encoding":
          return; // the server frames the body itself
        case "connection":
          if (/\bclose\b/i.test(value)) close = true;
          return;
        case "date":
          hasDate = true;
      }
      text += `${name}: ${value}\r\n`;
    });
    if (!hasDate) text += `date: ${httpDate()}\r\n`;
    const noBody = head.method === "HEAD" || status === 204 || status === 304 ||
      (status >= 100 && status < 200);
    // Asked first: reading `response.body` turns a static body into a stream.
    const streamed = !isStaticBody(response) && response.body !== null;
    if (close) text += "connection: close\r\n";
    exchange.answerStarted = true;
    try {
      if (!streamed) {
        const bytes = await response.bytes();
        if (noBody) {
          if (head.method === "HEAD" && bytes.byteLength > 0) {
            text += `content-length: ${bytes.byteLength}\r\n`;
          }
          await this.#write(encoder.encode(text + "\r\n"));
        } else {
          await this.#write(joinHead(text + `content-length: ${bytes.byteLength}\r\n\r\n`, bytes));
        }
        return !close;
      }
      if (noBody) {
        await response.body!.cancel().catch(() => {});
        await this.#write(encoder.encode(text + "\r\n"));
        return !close;
      }
      // A stream of unknown length: chunked, each chunk written before the next is read, so
      // that a slow client slows the stream (a watch's slow-consumer rule sees it). HTTP/1.0
      // has no chunks: the body ends with the connection.
      const chunked = !head.http10;
      if (chunked) text += "transfer-encoding: chunked\r\n";
      else if (!close) {
        close = true;
        text += "connection: close\r\n";
      }
      await this.#write(encoder.encode(text + "\r\n"));
      const reader = response.body!.getReader();
      // A client that leaves ends the stream, even one that does not listen to the signal.
      exchange.cancelAnswer = () => void reader.cancel().catch(() => {});
      if (exchange.aborted) exchange.cancelAnswer();
      try {
        while (true) {
          const { done, value } = await reader.read();
          if (done) break;
          if (value.byteLength === 0) continue;
          await this.#write(chunked ? chunk(value) : value);
        }
      } catch (e) {
        await reader.cancel(e).catch(() => {});
        throw e;
      }
      if (chunked) await this.#write(LAST_CHUNK);
      return !close;
    } catch {
      // The client is gone or took no bytes in time; the stream, if any, was cancelled.
      this.close();
      return false;
    }
  }

  /** Writes to the client, timed by {@linkcode ClientConnection.sweep}. */
  #write(bytes: Uint8Array): Promise<void> {
    // Writes go out in order; the usual case (none under way) skips the queue's promise.
    const write = this.#writes === 0
      ? this.#writeNow(bytes)
      : this.#lastWrite.then(() => this.#writeNow(bytes));
    this.#writes++;
    const done = () => {
      this.#writes--;
    };
    this.#lastWrite = write.then(done, done);
    return write;
  }

  /** Writes under way or queued. */
  #writes = 0;

  async #writeNow(bytes: Uint8Array): Promise<void> {
    this.#writingSince = Date.now();
    try {
      let at = 0;
      while (at < bytes.byteLength) at += await this.conn.write(bytes.subarray(at));
    } finally {
      this.#writingSince = undefined;
    }
  }

  /** Sends `100 Continue`, once, when a body that waits for it is first read. */
  sendContinue(): Promise<void> {
    return this.#write(CONTINUE);
  }

  /** Bytes read and not used yet. */
  get buffered(): Uint8Array {
    return this.#buf;
  }

  /** Drops the first `n` buffered bytes (they were used). */
  consume(n: number): void {
    this.#buf = n === this.#buf.byteLength ? EMPTY : this.#buf.subarray(n);
  }

  /** Waits for more client bytes until `deadline` (ms since the epoch; Infinity: none). */
  async fill(deadline: number): Promise<Filled> {
    return await this.#fill(deadline);
  }

  async #fill(deadline: number): Promise<Filled> {
    if (this.#eof) return "eof";
    this.#reading ??= this.#startRead();
    if (deadline === Infinity) {
      await this.#reading;
      return this.#eof ? "eof" : "data";
    }
    const timeout = Promise.withResolvers<"timeout">();
    this.#deadline = deadline;
    this.#onDeadline = () => timeout.resolve("timeout");
    this.#arm(deadline);
    const got = await Promise.race([this.#reading, timeout.promise]);
    this.#deadline = Infinity;
    this.#onDeadline = undefined;
    // On a timeout the read stays under way: its bytes are taken by the next wait.
    if (got === "timeout") return "timeout";
    return this.#eof ? "eof" : "data";
  }

  /** The deadline of the timed wait under way (Infinity: none). */
  #deadline = Infinity;
  #onDeadline: (() => void) | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** When the armed timer fires. */
  #timerAt = Infinity;

  /**
   * Makes sure a timer fires by `deadline`. One timer per connection, moved only when a
   * deadline comes earlier than it; when it fires early (the deadline moved later: another
   * request came) it re-arms for the rest. Setting a timer per wait, i.e. per request, showed
   * in every answer's cost.
   */
  #arm(deadline: number): void {
    if (this.#timer !== undefined && this.#timerAt <= deadline) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timerAt = deadline;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#timerAt = Infinity;
      if (this.#deadline === Infinity) return; // no timed wait now: the next one arms
      if (Date.now() >= this.#deadline) this.#onDeadline?.();
      else this.#arm(this.#deadline);
    }, Math.max(0, deadline - Date.now()));
  }

  /** Stops the connection's timer (it ended). */
  #disarm(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /**
   * Starts a read of the client. The read itself appends what it got (or marks the end), so
   * that several waits on one read never take its bytes twice.
   */
  #startRead(): Promise<void> {
    const scratch = this.#scratch ??= new Uint8Array(READ_SIZE);
    return this.conn.read(scratch).then(
      (n) => {
        this.#reading = undefined;
        if (n === null) this.#eof = true;
        else this.#buf = append(this.#buf, scratch, n);
      },
      () => {
        this.#reading = undefined;
        this.#eof = true;
      },
    );
  }

  /**
   * Reads one request head: undefined when the client closed or stayed idle between
   * requests; a problem when the head is too large, too slow or malformed.
   */
  async #readHead(): Promise<Head | undefined> {
    const { headerTimeoutMs, idleTimeoutMs, maxHeaderBytes, maxHeaders } = this.server.limits;
    let headerDeadline = this.#buf.byteLength > 0 ? Date.now() + headerTimeoutMs : undefined;
    while (true) {
      // Empty lines before a request line are allowed (RFC 9112 section 2.2).
      let start = 0;
      while (start < this.#buf.byteLength && (this.#buf[start] === 13 || this.#buf[start] === 10)) {
        start++;
      }
      if (start > 0) this.consume(start);
      const end = headEnd(this.#buf);
      const seen = end < 0 ? this.#buf : this.#buf.subarray(0, end);
      if (seen.byteLength > maxHeaderBytes) {
        throw frontProblem(
          431,
          "limit-exceeded",
          `the request head is more than maxHeaderBytes = ${maxHeaderBytes} bytes`,
          { limit: "maxHeaderBytes" },
        );
      }
      // Header lines: not the request line, nor the blank line that ends a whole head.
      const headers = countLines(seen) - 1 - (end >= 0 ? 1 : 0);
      if (headers > maxHeaders) {
        throw frontProblem(
          431,
          "limit-exceeded",
          `the request has more than maxHeaders = ${maxHeaders} header lines`,
          { limit: "maxHeaders" },
        );
      }
      if (end >= 0) {
        const head = parseHead(seen);
        this.consume(end);
        return head;
      }
      if (this.#buf.byteLength > 0) headerDeadline ??= Date.now() + headerTimeoutMs;
      const idle = headerDeadline === undefined;
      const filled = await this.#fill(headerDeadline ?? this.#idleSince + idleTimeoutMs);
      if (filled === "eof") {
        if (this.#buf.byteLength === 0) return undefined;
        throw frontProblem(400, "invalid-request", "the connection ended inside a request head");
      }
      if (filled === "timeout") {
        if (idle) return undefined; // idle: close without a word
        throw frontProblem(
          408,
          "request-timeout",
          `the request head did not arrive within headerTimeoutMs = ${headerTimeoutMs} ms`,
          { limit: "headerTimeoutMs" },
        );
      }
    }
  }
}

/**
 * The handler's `Request`, with `signal` made on first use: a signal passed to `new Request`
 * costs about as much as the rest of the request (Deno makes a second signal that follows
 * it), and only lock waits and watches listen to it. A getter on the class rather than on
 * each request (`Object.defineProperty`), which cost another 2 µs per request.
 */
class FrontRequest extends Request {
  exchange: Exchange | undefined;

  override get signal(): AbortSignal {
    const exchange = this.exchange;
    if (exchange === undefined) return super.signal;
    if (exchange.controller === undefined) {
      exchange.controller = new AbortController();
      if (exchange.aborted) exchange.controller.abort();
    }
    return exchange.controller.signal;
  }
}

/** Aborts the exchange's `request.signal`, now or when it is made. */
function abort(exchange: Exchange): void {
  exchange.aborted = true;
  exchange.controller?.abort();
  exchange.cancelAnswer?.();
}

/** `buf` followed by the first `n` bytes of `scratch`, in a new array. */
function append(buf: Uint8Array, scratch: Uint8Array, n: number): Uint8Array<ArrayBuffer> {
  if (buf.byteLength === 0) return scratch.slice(0, n) as Uint8Array<ArrayBuffer>;
  const out = new Uint8Array(buf.byteLength + n);
  out.set(buf, 0);
  out.set(scratch.subarray(0, n), buf.byteLength);
  return out;
}
