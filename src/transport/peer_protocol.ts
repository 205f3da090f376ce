/**
 * The HTTP surface between peers, shared by the server and the client: paths, headers, the
 * cluster-secret check and problem+json errors.
 *
 * - `POST /raft/v1/stream` over HTTP/2 (the default, `peer_channel.ts`): a long-lived stream,
 *   length-prefixed frames both ways (`peer_frames.ts`); `X-Edgeraft-Lane: main` (batches,
 *   calls) or `bulk` (snapshot chunks), `X-Edgeraft-From: <node id>`.
 * - `POST /raft/v1/messages`: body = an encoded batch (`codec.ts`); answer 204.
 * - `GET /raft/v1/stream`: a WebSocket upgrade; each binary frame from the client is a batch,
 *   like a `messages` body. Nothing flows back on it.
 * - `POST /raft/v1/call/{method}`: body = opaque bytes, `X-Edgeraft-From: <node id>`;
 *   answer 200 with opaque bytes.
 * - Every request and stream carries `Authorization: Bearer <cluster secret>`. Errors are
 *   `application/problem+json` (RFC 9457).
 *
 * @module
 */

import { createHash, timingSafeEqual } from "node:crypto";

/** Where batches of Raft messages are posted. */
export const MESSAGES_PATH = "/raft/v1/messages";
/** Where a peer opens its HTTP/2 stream (POST) or its WebSocket (GET, `peer_stream.ts`). */
export const STREAM_PATH = "/raft/v1/stream";
/** Calls go to this prefix followed by the method name. */
export const CALL_PATH_PREFIX = "/raft/v1/call/";
/** The header naming the calling node. */
export const FROM_HEADER = "x-edgeraft-from";
/** Which of a peer's two streams this is: `main` (messages, calls) or `bulk` (snapshots). */
export const LANE_HEADER = "x-edgeraft-lane";
/** The media type of a peer stream's frames (`peer_frames.ts`), both ways. */
export const STREAM_MEDIA_TYPE = "application/vnd.edgeraft.frames";
/** The media type of an encoded batch. */
export const MESSAGES_MEDIA_TYPE = "application/vnd.edgeraft.raft+msgpack";

/** Method names: short and plain, so they fit a path segment unescaped. */
const METHOD_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;

/**
 * Whether `method` is a valid call method name (letters, digits, `_ . : -`, at most 64).
 *
 * @example
 * ```ts
 * import { isCallMethod } from "./peer_protocol.ts";
 * console.log(isCallMethod("forward.put"), isCallMethod("../x")); // true false
 * ```
 */
export function isCallMethod(method: string): boolean {
  return METHOD_PATTERN.test(method);
}

/**
 * Builds a checker for `Authorization: Bearer <secret>` headers that takes the same time
 * whatever the guess: both sides are hashed first, so neither length nor content leaks.
 *
 * @example
 * ```ts
 * import { secretChecker } from "./peer_protocol.ts";
 * const ok = secretChecker("s3cret");
 * console.log(ok("Bearer s3cret"), ok("Bearer guess"), ok(null)); // true false false
 * ```
 */
export function secretChecker(clusterSecret: string): (authorization: string | null) => boolean {
  if (typeof clusterSecret !== "string" || clusterSecret.length === 0) {
    throw new TypeError("the cluster secret must be a non-empty string");
  }
  const expected = sha256(`Bearer ${clusterSecret}`);
  return (authorization) => {
    // Hash even when the header is missing, so a missing header costs the same.
    const given = sha256(authorization ?? "");
    return timingSafeEqual(given, expected) && authorization !== null;
  };
}

function sha256(text: string): Uint8Array {
  return createHash("sha256").update(text).digest();
}

/**
 * The `Authorization` header value a client sends.
 *
 * @example
 * ```ts
 * import { bearer } from "./peer_protocol.ts";
 * console.log(bearer("s3cret")); // "Bearer s3cret"
 * ```
 */
export function bearer(clusterSecret: string): string {
  return `Bearer ${clusterSecret}`;
}

/**
 * An RFC 9457 problem response.
 *
 * @example
 * ```ts
 * import { problem } from "./peer_protocol.ts";
 * const res = problem(400, "Bad Request", "messages[0].term: expected a non-negative integer");
 * console.log(res.status); // 400
 * ```
 */
export function problem(
  status: number,
  title: string,
  detail: string,
  headers?: Record<string, string>,
): Response {
  return new Response(JSON.stringify({ type: "about:blank", title, status, detail }), {
    status,
    headers: { "content-type": "application/problem+json", ...headers },
  });
}

/**
 * Pulls `detail` out of a problem+json body, or falls back to the text (shortened).
 *
 * @example
 * ```ts
 * import { problemDetail } from "./peer_protocol.ts";
 * const body = new TextEncoder().encode('{"detail":"not the leader"}');
 * console.log(problemDetail(body)); // "not the leader"
 * ```
 */
export function problemDetail(body: Uint8Array): string {
  const text = new TextDecoder().decode(body.subarray(0, 4096));
  try {
    const parsed = JSON.parse(text);
    if (typeof parsed?.detail === "string") return parsed.detail;
  } catch {
    // not JSON: the raw text is the best we have
  }
  return text.slice(0, 200);
}
