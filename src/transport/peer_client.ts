/**
 * The HTTP client a `PeerLink` posts through with the `http1` (and `ws`) protocols: Deno's
 * `fetch` over HTTP/1.1 (a small pool of keep-alive connections, `fetch_http1_client.ts`).
 *
 * @module
 */

/**
 * The status and body of an answer.
 *
 * @example
 * ```ts
 * import type { PeerAnswer } from "./peer_client.ts";
 * const a: PeerAnswer = { status: 204, body: new Uint8Array() };
 * ```
 */
export interface PeerAnswer {
  status: number;
  body: Uint8Array;
}

/**
 * One POST: where, what, and how long to wait.
 *
 * @example
 * ```ts
 * import type { PeerRequest } from "./peer_client.ts";
 * const r: PeerRequest = {
 *   path: "/raft/v1/messages",
 *   headers: { "content-type": "application/octet-stream" },
 *   parts: [new Uint8Array([0x92, 0x01, 0x90])],
 *   timeoutMs: 5_000,
 *   maxAnswerBytes: 65_536,
 * };
 * ```
 */
export interface PeerRequest {
  path: string;
  headers: Record<string, string>;
  /** Sent back to back as one body. */
  parts: readonly Uint8Array[];
  /** The whole exchange must finish within this, or the request is cancelled. */
  timeoutMs: number;
  /** A longer answer fails the request. */
  maxAnswerBytes: number;
  signal?: AbortSignal;
}

/**
 * A client bound to one peer's base URL.
 *
 * @example
 * ```ts
 * import type { PeerClient } from "./peer_client.ts";
 * async function ping(client: PeerClient): Promise<number> {
 *   const answer = await client.post({
 *     path: "/raft/v1/call/ping", headers: {}, parts: [], timeoutMs: 1_000, maxAnswerBytes: 64,
 *   });
 *   return answer.status;
 * }
 * ```
 */
export interface PeerClient {
  /** Resolves with any answer (whatever its status); rejects when none came. */
  post(request: PeerRequest): Promise<PeerAnswer>;
  /** Drops the connection(s) after a failure, so that the next post starts afresh. */
  reset(): void;
  /** Cancels what is in flight and releases every socket. */
  close(): Promise<void>;
}

/**
 * Joins parts into one buffer (a no-op for a single part).
 *
 * @example
 * ```ts
 * import { joinParts } from "./peer_client.ts";
 * console.log(joinParts([new Uint8Array([1]), new Uint8Array([2, 3])])); // Uint8Array [1, 2, 3]
 * ```
 */
export function joinParts(parts: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  if (parts.length === 1 && parts[0].buffer instanceof ArrayBuffer) {
    return parts[0] as Uint8Array<ArrayBuffer>;
  }
  let size = 0;
  for (const p of parts) size += p.byteLength;
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}
