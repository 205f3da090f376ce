/**
 * Incremental parsing of HTTP/1.1 responses as they arrive on a keep-alive connection: the
 * status, the headers a client needs, and a body framed by `content-length`, by
 * `transfer-encoding: chunked`, or (with neither) by the end of the connection.
 *
 * @module
 */

/**
 * One parsed response.
 *
 * @example
 * ```ts
 * import type { ParsedResponse } from "./http1_response_parser.ts";
 * const r: ParsedResponse = { status: 200, headers: new Map(), body: new Uint8Array(), close: false };
 * ```
 */
export interface ParsedResponse {
  status: number;
  /** Header names in lower case; a repeated header keeps its last value. */
  headers: Map<string, string>;
  body: Uint8Array;
  /** The server will close the connection after this response (`connection: close`). */
  close: boolean;
}

const CR = 13;
const LF = 10;
const SP = 32;
const COLON = 58;
const ZERO = 48;
const STATUS_PREFIX = [..."HTTP/1."].map((c) => c.charCodeAt(0));
const isDigit = (b: number) => b >= ZERO && b <= ZERO + 9;
const latin1 = new TextDecoder("latin1");

function indexOfHeadEnd(buf: Uint8Array, from: number, to: number): number {
  for (let i = from; i + 3 < to; i++) {
    if (buf[i] === CR && buf[i + 1] === LF && buf[i + 2] === CR && buf[i + 3] === LF) return i;
  }
  return -1;
}

function indexOfLineEnd(buf: Uint8Array, from: number, to: number): number {
  for (let i = from; i + 1 < to; i++) if (buf[i] === CR && buf[i + 1] === LF) return i;
  return -1;
}

/**
 * A response that breaks HTTP/1.1 framing; the connection cannot be used any more.
 *
 * @example
 * ```ts
 * import { MalformedResponseError, ResponseParser } from "./http1_response_parser.ts";
 * const p = new ResponseParser();
 * p.push(new TextEncoder().encode("SSH-2.0\r\n\r\n"));
 * try {
 *   p.next();
 * } catch (e) {
 *   e instanceof MalformedResponseError; // true
 * }
 * ```
 */
export class MalformedResponseError extends Error {
  override name = "MalformedResponseError";
}

interface Head {
  status: number;
  /** `content-length`, or -1 without one. */
  contentLength: number;
  chunked: boolean;
  close: boolean;
  /** The status line and headers, copied, for `headers` (decoded only when asked for). */
  bytes: Uint8Array;
  bodyStart: number;
}

/** Whether `buf[from, to)` is `name` (lower case ASCII) in any case, spaces around it aside. */
function isName(buf: Uint8Array, from: number, to: number, name: string): boolean {
  while (from < to && buf[from] === SP) from++;
  while (to > from && buf[to - 1] === SP) to--;
  if (to - from !== name.length) return false;
  for (let i = 0; i < name.length; i++) {
    // ASCII letters differ from their lower case only in bit 0x20; the names have no other bytes
    // that bit could confuse with a letter.
    if ((buf[from + i] | 0x20) !== name.charCodeAt(i)) return false;
  }
  return true;
}

/**
 * Reads what framing needs (status, content-length, chunked, close) straight from the bytes:
 * the bench's generator parses every response, and decoding every head into strings cost it a
 * tenth of its CPU (`deno run --cpu-prof`), CPU the servers under test share with it.
 */
function parseHead(buf: Uint8Array, end: number): Head {
  const lineEnd = indexOfLineEnd(buf, 0, end + 2);
  const statusOk = lineEnd >= 12 && STATUS_PREFIX.every((b, i) => buf[i] === b) &&
    (buf[7] === ZERO || buf[7] === ZERO + 1) && buf[8] === SP &&
    isDigit(buf[9]) && isDigit(buf[10]) && isDigit(buf[11]);
  if (!statusOk) {
    const line = latin1.decode(buf.subarray(0, Math.min(lineEnd < 0 ? end : lineEnd, 80)));
    throw new MalformedResponseError(`bad status line: ${line}`);
  }
  const status = (buf[9] - ZERO) * 100 + (buf[10] - ZERO) * 10 + (buf[11] - ZERO);
  let contentLength = -1;
  let chunked = false;
  let close = false;
  for (let at = lineEnd + 2; at < end;) {
    const next = indexOfLineEnd(buf, at, end + 2);
    let colon = at;
    while (colon < next && buf[colon] !== COLON) colon++;
    if (colon === at || colon === next) {
      const line = latin1.decode(buf.subarray(at, Math.min(next, at + 80)));
      throw new MalformedResponseError(`bad header line: ${line}`);
    }
    if (isName(buf, at, colon, "content-length")) {
      contentLength = digitsOf(buf, colon + 1, next);
    } else if (isName(buf, at, colon, "transfer-encoding")) {
      chunked = valueOf(buf, colon + 1, next).toLowerCase().includes("chunked");
    } else if (isName(buf, at, colon, "connection")) {
      close = valueOf(buf, colon + 1, next).toLowerCase() === "close";
    }
    at = next + 2;
  }
  return { status, contentLength, chunked, close, bytes: buf.slice(0, end), bodyStart: end + 4 };
}

function valueOf(buf: Uint8Array, from: number, to: number): string {
  return latin1.decode(buf.subarray(from, to)).trim();
}

/** A `content-length` value: digits, spaces around them aside. */
function digitsOf(buf: Uint8Array, from: number, to: number): number {
  while (from < to && buf[from] === SP) from++;
  while (to > from && buf[to - 1] === SP) to--;
  let n = from < to ? 0 : NaN;
  for (let i = from; i < to; i++) n = isDigit(buf[i]) ? n * 10 + buf[i] - ZERO : NaN;
  if (!Number.isSafeInteger(n)) {
    throw new MalformedResponseError(`bad content-length: ${valueOf(buf, from, to).slice(0, 20)}`);
  }
  return n;
}

/** Header names in lower case; a repeated header keeps its last value. */
function headersOf(head: Uint8Array): Map<string, string> {
  const headers = new Map<string, string>();
  for (const line of latin1.decode(head).split("\r\n").slice(1)) {
    const colon = line.indexOf(":");
    headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return headers;
}

/**
 * Accumulates the bytes of a connection and hands out each complete response.
 *
 * @example
 * ```ts
 * import { ResponseParser } from "./http1_response_parser.ts";
 * const p = new ResponseParser();
 * p.push(new TextEncoder().encode("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"));
 * p.next()?.status; // 200
 * ```
 */
export class ResponseParser {
  #buf = new Uint8Array(16 * 1024);
  #len = 0;
  #head?: Head;
  /** Set by `end()`: the peer closed, which ends a body framed by nothing else. */
  #ended = false;

  /** Appends bytes received from the connection. */
  push(bytes: Uint8Array): void {
    if (this.#len + bytes.length > this.#buf.length) {
      const grown = new Uint8Array(Math.max(this.#buf.length * 2, this.#len + bytes.length));
      grown.set(this.#buf.subarray(0, this.#len));
      this.#buf = grown;
    }
    this.#buf.set(bytes, this.#len);
    this.#len += bytes.length;
  }

  /** Marks the end of the connection. */
  end(): void {
    this.#ended = true;
  }

  /** How many received bytes are not yet part of a returned response. */
  get buffered(): number {
    return this.#len;
  }

  /**
   * The next complete response, or undefined until more bytes arrive. Throws
   * {@linkcode MalformedResponseError} on bytes that are not HTTP/1.1, and when the connection
   * ended in the middle of a response.
   */
  next(): ParsedResponse | undefined {
    if (!this.#head) {
      const end = indexOfHeadEnd(this.#buf, 0, this.#len);
      if (end < 0) return this.#incomplete();
      this.#head = parseHead(this.#buf, end);
    }
    const head = this.#head;
    const framed = this.#frameBody(head);
    if (!framed) return this.#incomplete();
    const { body, consumed } = framed;
    this.#buf.copyWithin(0, consumed, this.#len);
    this.#len -= consumed;
    this.#head = undefined;
    let headers: Map<string, string> | undefined;
    return {
      status: head.status,
      get headers() {
        return headers ??= headersOf(head.bytes);
      },
      body,
      close: head.close,
    };
  }

  #incomplete(): undefined {
    if (this.#ended && this.#len > 0) {
      throw new MalformedResponseError("the connection closed in the middle of a response");
    }
    return undefined;
  }

  #frameBody(head: Head): { body: Uint8Array; consumed: number } | undefined {
    const { status, contentLength: length, bodyStart } = head;
    if (status === 204 || status === 304 || (status >= 100 && status < 200)) {
      return { body: new Uint8Array(), consumed: bodyStart };
    }
    if (head.chunked) return this.#chunked(bodyStart);
    if (length >= 0) {
      if (this.#len < bodyStart + length) return undefined;
      return { body: this.#buf.slice(bodyStart, bodyStart + length), consumed: bodyStart + length };
    }
    if (!this.#ended) return undefined;
    return { body: this.#buf.slice(bodyStart, this.#len), consumed: this.#len };
  }

  #chunked(bodyStart: number): { body: Uint8Array; consumed: number } | undefined {
    const parts: Uint8Array[] = [];
    let at = bodyStart;
    for (;;) {
      const lineEnd = indexOfLineEnd(this.#buf, at, this.#len);
      if (lineEnd < 0) return undefined;
      const sizeText = latin1.decode(this.#buf.subarray(at, lineEnd)).split(";")[0].trim();
      if (!/^[0-9a-fA-F]+$/.test(sizeText)) {
        throw new MalformedResponseError(`bad chunk size: ${sizeText.slice(0, 20)}`);
      }
      const size = parseInt(sizeText, 16);
      at = lineEnd + 2;
      if (size === 0) {
        // Trailers, if any, end with an empty line.
        for (;;) {
          const trailerEnd = indexOfLineEnd(this.#buf, at, this.#len);
          if (trailerEnd < 0) return undefined;
          const empty = trailerEnd === at;
          at = trailerEnd + 2;
          if (empty) break;
        }
        const body = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
        let offset = 0;
        for (const part of parts) {
          body.set(part, offset);
          offset += part.length;
        }
        return { body, consumed: at };
      }
      if (this.#len < at + size + 2) return undefined;
      parts.push(this.#buf.subarray(at, at + size));
      at += size + 2;
    }
  }
}
