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
  headers: Map<string, string>;
  bodyStart: number;
}

function parseHead(buf: Uint8Array, end: number): Head {
  const lines = latin1.decode(buf.subarray(0, end)).split("\r\n");
  const statusLine = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]);
  if (!statusLine) throw new MalformedResponseError(`bad status line: ${lines[0].slice(0, 80)}`);
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    if (colon <= 0) throw new MalformedResponseError(`bad header line: ${line.slice(0, 80)}`);
    headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return { status: Number(statusLine[1]), headers, bodyStart: end + 4 };
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
    const close = (head.headers.get("connection") ?? "").toLowerCase() === "close";
    return { status: head.status, headers: head.headers, body, close };
  }

  #incomplete(): undefined {
    if (this.#ended && this.#len > 0) {
      throw new MalformedResponseError("the connection closed in the middle of a response");
    }
    return undefined;
  }

  #frameBody(head: Head): { body: Uint8Array; consumed: number } | undefined {
    const { status, headers, bodyStart } = head;
    if (status === 204 || status === 304 || (status >= 100 && status < 200)) {
      return { body: new Uint8Array(), consumed: bodyStart };
    }
    if ((headers.get("transfer-encoding") ?? "").toLowerCase().includes("chunked")) {
      return this.#chunked(bodyStart);
    }
    const lengthHeader = headers.get("content-length");
    if (lengthHeader !== undefined) {
      // Number("") is 0: an empty value is as malformed as a negative one.
      const length = /^[0-9]+$/.test(lengthHeader) ? Number(lengthHeader) : NaN;
      if (!Number.isSafeInteger(length)) {
        throw new MalformedResponseError(`bad content-length: ${lengthHeader}`);
      }
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
