/**
 * Pieces of the answers the client port's HTTP/1.1 server writes (`http1_connection.ts`): the
 * reason phrases, chunk framing, and whether a `Response`'s body is whole (sent with a
 * `Content-Length`) or a stream (sent in chunks).
 *
 * @module
 */

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
