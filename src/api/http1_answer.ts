/**
 * Pieces of the answers the client port's HTTP/1.1 server writes (`http1_connection.ts`): the
 * reason phrases, chunk framing, and whether a `Response`'s body is whole (sent with a
 * `Content-Length`) or a stream (sent in chunks).
 *
 * @module
 */

import { httpDate } from "./http1_head.ts";

const encoder = new TextEncoder();

/**
 * The last chunk of a chunked body, without trailers.
 *
 * @example
 * ```ts
 * import { LAST_CHUNK } from "./http1_answer.ts";
 * LAST_CHUNK.byteLength; // 5
 * ```
 */
export const LAST_CHUNK: Uint8Array = encoder.encode("0\r\n\r\n");

/**
 * An answer's head (a string of ASCII) followed by its body, in one array: one write.
 *
 * @example
 * ```ts
 * import { joinHead } from "./http1_answer.ts";
 * joinHead("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n", new Uint8Array(2)).byteLength; // 40
 * ```
 */
export function joinHead(head: string, body: Uint8Array): Uint8Array {
  const headBytes = encoder.encode(head);
  const out = new Uint8Array(headBytes.byteLength + body.byteLength);
  out.set(headBytes, 0);
  out.set(body, headBytes.byteLength);
  return out;
}

/**
 * A whole answer's bytes, head and body, exactly as the server writes a `Response` with
 * these headers (lower-case names, in `Headers` order) and a whole body: the handler's
 * headers, `date`, `connection: close` when the connection ends after it, `content-length`
 * unless the status has no body. For shortcuts that answer without a `Response`
 * (`fast_stale_read.ts`).
 *
 * @example
 * ```ts
 * import { wholeAnswer } from "./http1_answer.ts";
 * const bytes = wholeAnswer(200, [["content-type", "application/json"]], "{}", false);
 * new TextDecoder().decode(bytes).endsWith("content-length: 2\r\n\r\n{}"); // true
 * ```
 */
export function wholeAnswer(
  status: number,
  headers: readonly (readonly [string, string])[],
  body: string | null,
  close: boolean,
): Uint8Array {
  let text = `HTTP/1.1 ${status} ${reason(status)}\r\n`;
  for (const [name, value] of headers) text += `${name}: ${value}\r\n`;
  text += `date: ${httpDate()}\r\n`;
  if (close) text += "connection: close\r\n";
  if (status === 204 || status === 304 || status < 200) return encoder.encode(text + "\r\n");
  const payload = body ?? "";
  // One encoding of head and body together: the body's length in UTF-8 is counted, not encoded.
  return encoder.encode(`${text}content-length: ${utf8Length(payload)}\r\n\r\n${payload}`);
}

/** The length of `text` in UTF-8 (lone surrogates count as U+FFFD, as `TextEncoder` writes). */
function utf8Length(text: string): number {
  let n = text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 2; // a pair: 2 UTF-16 units, 4 bytes
        i++;
      } else n += 2;
    } else n += 2;
  }
  return n;
}

/**
 * `value` as one chunk of a chunked body.
 *
 * @example
 * ```ts
 * import { chunk } from "./http1_answer.ts";
 * new TextDecoder().decode(chunk(new TextEncoder().encode("hi"))); // "2\r\nhi\r\n"
 * ```
 */
export function chunk(value: Uint8Array): Uint8Array {
  const size = encoder.encode(`${value.byteLength.toString(16)}\r\n`);
  const out = new Uint8Array(size.byteLength + value.byteLength + 2);
  out.set(size, 0);
  out.set(value, size.byteLength);
  out[out.byteLength - 2] = 13;
  out[out.byteLength - 1] = 10;
  return out;
}

/** The symbol under which Deno keeps a `Response`'s inner state, if it can be found. */
const INNER = Object.getOwnPropertySymbols(new Response("")).find((s) =>
  s.description === "response"
);

/**
 * Whether a response's body is a string or bytes given whole (what the API's handlers
 * answer), which is read at once and sent with a `Content-Length`, rather than a stream
 * (a watch), sent in chunks as it comes. Deno does not say so publicly; its inner state does
 * (`body.streamOrStatic`, or no inner body at all for its lazy static bodies). Anything
 * unexpected there counts as a stream: slower, never wrong.
 *
 * @example
 * ```ts
 * import { isStaticBody } from "./http1_answer.ts";
 * isStaticBody(Response.json({ a: 1 })); // true
 * isStaticBody(new Response(new ReadableStream())); // false
 * ```
 */
export function isStaticBody(response: Response): boolean {
  if (INNER === undefined) return false;
  const inner = (response as unknown as Record<symbol, { body?: unknown } | undefined>)[INNER];
  if (inner === undefined || typeof inner !== "object") return false;
  const body = inner.body as { streamOrStatic?: unknown } | null | undefined;
  if (body === null || body === undefined) return true;
  const source = body.streamOrStatic;
  return source !== undefined && !(source instanceof ReadableStream);
}

const REASONS: Record<number, string> = {
  100: "Continue",
  101: "Switching Protocols",
  200: "OK",
  201: "Created",
  202: "Accepted",
  204: "No Content",
  206: "Partial Content",
  301: "Moved Permanently",
  302: "Found",
  304: "Not Modified",
  307: "Temporary Redirect",
  308: "Permanent Redirect",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  406: "Not Acceptable",
  408: "Request Timeout",
  409: "Conflict",
  410: "Gone",
  411: "Length Required",
  412: "Precondition Failed",
  413: "Content Too Large",
  415: "Unsupported Media Type",
  416: "Range Not Satisfiable",
  421: "Misdirected Request",
  422: "Unprocessable Content",
  423: "Locked",
  428: "Precondition Required",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  499: "Client Closed Request",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
  505: "HTTP Version Not Supported",
};

/**
 * The reason phrase of a status, as `Deno.serve` (hyper) writes it.
 *
 * @example
 * ```ts
 * import { reason } from "./http1_answer.ts";
 * reason(404); // "Not Found"
 * ```
 */
export function reason(status: number): string {
  return REASONS[status] ?? "Unknown";
}
