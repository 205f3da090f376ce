/**
 * HTTP/1.1 request heads for the client port's server (`http_front.ts`): finding where a head
 * ends, parsing it into what the handler's `Request` needs, and the problems (400, 431, 408,
 * 505) the server answers itself, before any handler.
 *
 * @module
 */

import { ProblemError, type ProblemKind } from "./problem.ts";

/**
 * How a request's body is framed, from its head.
 *
 * @example
 * ```ts
 * import type { Framing } from "./http1_head.ts";
 * const f: Framing = { kind: "length", length: 12 };
 * ```
 */
export type Framing = { kind: "none" } | { kind: "length"; length: number } | {
  kind: "chunked";
};

/**
 * A parsed request head.
 *
 * @example
 * ```ts
 * import { parseHead } from "./http1_head.ts";
 * const head = parseHead(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
 * head.method; // "GET"
 * ```
 */
export interface Head {
  method: string;
  /** The request target as sent (origin form, or absolute form). */
  target: string;
  /** Header lines in order, as `[name, value]`, values trimmed. */
  headers: [string, string][];
  /** The `Host` header, if sent. */
  host: string | undefined;
  framing: Framing;
  /** The client asked for the connection to end after this answer (or speaks HTTP/1.0). */
  close: boolean;
  /** HTTP/1.0: answers of unknown length end with the connection. */
  http10: boolean;
  /** `Expect: 100-continue` on a request with a body. */
  expectContinue: boolean;
}

/**
 * A request the server answers itself, with a problem, and then closes.
 *
 * @example
 * ```ts
 * import { FrontProblem, frontProblem } from "./http1_head.ts";
 * const e = frontProblem(400, "invalid-request", "a malformed request line");
 * e instanceof FrontProblem; // true
 * ```
 */
export class FrontProblem extends Error {
  /** @param problem what the client is told */
  constructor(readonly problem: ProblemError) {
    super(problem.detail);
  }
}

/**
 * A {@linkcode FrontProblem}.
 *
 * @example
 * ```ts
 * import { frontProblem } from "./http1_head.ts";
 * frontProblem(431, "limit-exceeded", "too many header lines", { limit: "maxHeaders" });
 * ```
 */
export function frontProblem(
  status: number,
  kind: ProblemKind,
  detail: string,
  extra = {},
): FrontProblem {
  return new FrontProblem(new ProblemError(status, kind, detail, extra));
}

const REASONS: Record<number, string> = {
  400: "Bad Request",
  408: "Request Timeout",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  505: "HTTP Version Not Supported",
};

const encoder = new TextEncoder();

/**
 * The bytes of the answer to a {@linkcode FrontProblem}: problem+json, `Connection: close`.
 *
 * @example
 * ```ts
 * import { frontProblem, problemAnswer } from "./http1_head.ts";
 * problemAnswer(frontProblem(408, "request-timeout", "too slow")).byteLength > 0; // true
 * ```
 */
export function problemAnswer(e: FrontProblem): Uint8Array {
  const status = e.problem.status;
  const body = JSON.stringify(e.problem.body());
  return encoder.encode(
    `HTTP/1.1 ${status} ${REASONS[status] ?? "Error"}\r\n` +
      "content-type: application/problem+json\r\n" +
      `content-length: ${encoder.encode(body).byteLength}\r\n` +
      `date: ${httpDate()}\r\n` +
      "connection: close\r\n\r\n" + body,
  );
}

let dateSecond = 0;
let dateText = "";

/**
 * Now as an HTTP date (`Date` header), computed at most once a second.
 *
 * @example
 * ```ts
 * import { httpDate } from "./http1_head.ts";
 * httpDate().endsWith(" GMT"); // true
 * ```
 */
export function httpDate(): string {
  const second = Math.floor(Date.now() / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateText = new Date(second * 1000).toUTCString();
  }
  return dateText;
}

/**
 * The index just past the blank line ending a head (CRLF CRLF, or bare LFs), or -1.
 *
 * @example
 * ```ts
 * import { headEnd } from "./http1_head.ts";
 * headEnd(new TextEncoder().encode("GET / HTTP/1.1\r\n\r\nrest")); // 18
 * ```
 */
export function headEnd(buf: Uint8Array, from = 0): number {
  let i = buf.indexOf(10, from);
  while (i >= 0) {
    if (buf[i + 1] === 10) return i + 2;
    if (buf[i + 1] === 13 && buf[i + 2] === 10) return i + 3;
    i = buf.indexOf(10, i + 1);
  }
  return -1;
}

/**
 * The LFs in `buf`: the lines of a head seen so far.
 *
 * @example
 * ```ts
 * import { countLines } from "./http1_head.ts";
 * countLines(new TextEncoder().encode("a\nb\n")); // 2
 * ```
 */
export function countLines(buf: Uint8Array): number {
  let lines = 0;
  for (let i = buf.indexOf(10); i >= 0; i = buf.indexOf(10, i + 1)) lines++;
  return lines;
}

const latin1 = new TextDecoder("latin1");

/**
 * The size in a chunk-size line (`1a;ext=1\r\n`), or undefined when malformed.
 *
 * @example
 * ```ts
 * import { chunkSize } from "./http1_head.ts";
 * chunkSize(new TextEncoder().encode("1a;x=1\r\n")); // 26
 * ```
 */
export function chunkSize(line: Uint8Array): number | undefined {
  const match = /^([0-9a-fA-F]{1,15})[ \t]*(;[^\r\n]*)?\r?\n$/.exec(latin1.decode(line));
  return match === null ? undefined : parseInt(match[1], 16);
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const REQUEST_LINE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) (\S+) HTTP\/1\.([01])$/;
const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Parses a request head (the bytes up to and including its blank line). Throws the 400 (or
 * 505) {@linkcode FrontProblem} for a head the server cannot serve.
 *
 * @example
 * ```ts
 * import { parseHead } from "./http1_head.ts";
 * const head = parseHead(
 *   new TextEncoder().encode("PUT /a HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n"),
 * );
 * head.framing; // { kind: "length", length: 2 }
 * ```
 */
export function parseHead(bytes: Uint8Array): Head {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw frontProblem(400, "invalid-request", "the request head is not valid UTF-8");
  }
  const lines = text.split(/\r?\n/);
  while (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  const requestLine = REQUEST_LINE.exec(lines[0]);
  if (requestLine === null) {
    if (/^\S+ \S+ HTTP\/\d/.test(lines[0])) {
      throw frontProblem(505, "invalid-request", "only HTTP/1.0 and HTTP/1.1 are served here");
    }
    throw frontProblem(400, "invalid-request", "a malformed request line");
  }
  const http10 = requestLine[3] === "0";
  const headers: [string, string][] = [];
  let length: number | undefined;
  let chunked = false;
  let connection = "";
  let host: string | undefined;
  let expect = false;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    const colon = line.indexOf(":");
    const name = colon > 0 ? line.slice(0, colon) : "";
    if (!TOKEN.test(name)) throw frontProblem(400, "invalid-request", "a malformed header line");
    const value = line.slice(colon + 1).trim();
    headers.push([name, value]);
    // Names of the few headers the server itself looks at, by length first: most are none.
    switch (name.length) {
      case 4:
        if (name.toLowerCase() === "host") host = value;
        break;
      case 6:
        if (name.toLowerCase() === "expect") expect = value.toLowerCase() === "100-continue";
        break;
      case 10:
        if (name.toLowerCase() === "connection") connection += "," + value.toLowerCase();
        break;
      case 14:
        if (name.toLowerCase() !== "content-length") break;
        if (!/^[0-9]{1,15}$/.test(value) || (length !== undefined && length !== Number(value))) {
          throw frontProblem(400, "invalid-request", "Content-Length must be one decimal number");
        }
        length = Number(value);
        break;
      case 17:
        if (name.toLowerCase() !== "transfer-encoding") break;
        // Only `chunked` is served, alone: other codings (and lists) are refused rather than
        // guessed at.
        if (value.toLowerCase() !== "chunked" || chunked) {
          throw frontProblem(400, "invalid-request", "Transfer-Encoding must be chunked, once");
        }
        chunked = true;
        break;
    }
  }
  if (chunked && length !== undefined) {
    // A message with both is how requests are smuggled past proxies (RFC 9112 section 6.1).
    throw frontProblem(
      400,
      "invalid-request",
      "Content-Length and Transfer-Encoding do not go together",
    );
  }
  let close = http10;
  if (connection !== "") {
    const tokens = connection.split(",").map((t) => t.trim());
    close = tokens.includes("close") || (http10 && !tokens.includes("keep-alive"));
  }
  const framing: Framing = chunked
    ? { kind: "chunked" }
    : length !== undefined && length > 0
    ? { kind: "length", length }
    : { kind: "none" };
  return {
    method: requestLine[1],
    target: requestLine[2],
    headers,
    host,
    framing,
    close,
    http10,
    expectContinue: expect && !http10 && framing.kind !== "none",
  };
}
