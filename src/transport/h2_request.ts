/**
 * One request on a `node:http2` client session, as a promise.
 *
 * Bodies are written in slices with back-pressure, so that a multi-MiB snapshot chunk does not
 * hog the connection: frames of other streams (heartbeats) get written between its slices
 * instead of after the whole body (measured: a heartbeat behind an 8 MB body arrives ~10-20 ms
 * sooner).
 *
 * @module
 */

import http2 from "node:http2";
import { joinParts, type PeerAnswer } from "./peer_client.ts";

/** Slices of a large body; small enough that a heartbeat waits at most one slice. */
const WRITE_SLICE_BYTES = 64 * 1024;

/**
 * How long to wait and how much answer to keep.
 *
 * @example
 * ```ts
 * import type { H2RequestOptions } from "./h2_request.ts";
 * const o: H2RequestOptions = { timeoutMs: 5_000, maxAnswerBytes: 65_536 };
 * ```
 */
export interface H2RequestOptions {
  /** The whole exchange must finish within this; then the stream is cancelled. */
  timeoutMs: number;
  /** A longer answer fails the request. */
  maxAnswerBytes: number;
  signal?: AbortSignal;
}

/**
 * Posts `parts` (sent back to back as one body) and resolves with the answer. Rejects on a
 * stream or session error, a timeout, an abort, or an answer longer than allowed; the stream
 * is cancelled then, so nothing is left open.
 *
 * @example
 * ```ts
 * import http2 from "node:http2";
 * import { h2Request } from "./h2_request.ts";
 * const session = http2.connect("http://127.0.0.1:7102");
 * session.on("error", () => {});
 * const answer = await h2Request(session, { ":method": "POST", ":path": "/raft/v1/messages" },
 *   [new Uint8Array([0x92, 0x01, 0x90])], { timeoutMs: 1_000, maxAnswerBytes: 4_096 })
 *   .catch(() => undefined);
 * session.destroy();
 * ```
 */
export function h2Request(
  session: http2.ClientHttp2Session,
  headers: http2.OutgoingHttpHeaders,
  parts: readonly Uint8Array[],
  options: H2RequestOptions,
): Promise<PeerAnswer> {
  const { timeoutMs, maxAnswerBytes, signal } = options;
  return new Promise<PeerAnswer>((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    let stream: http2.ClientHttp2Stream;
    try {
      stream = session.request(headers, { endStream: false });
    } catch (e) {
      reject(e);
      return;
    }
    let settled = false;
    let status = 0;
    let size = 0;
    const chunks: Uint8Array[] = [];
    const finish = (error?: unknown): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      if (error === undefined) {
        resolve({ status, body: joinParts(chunks) });
        return;
      }
      if (!stream.destroyed) stream.close(http2.constants.NGHTTP2_CANCEL);
      reject(error);
    };
    const onAbort = () => finish(signal?.reason);
    const timer = setTimeout(
      () => finish(new Error(`no answer within ${timeoutMs} ms`)),
      timeoutMs,
    );
    signal?.addEventListener("abort", onAbort, { once: true });

    stream.on("response", (h) => {
      status = Number(h[":status"]);
    });
    stream.on("data", (chunk: Uint8Array) => {
      size += chunk.byteLength;
      if (size > maxAnswerBytes) finish(new Error(`answer longer than ${maxAnswerBytes} bytes`));
      else chunks.push(chunk);
    });
    stream.on("end", () => finish());
    stream.on("error", (e) => finish(e));
    stream.on("close", () => {
      // A clean close after the answer counts as the end; anything else is a broken stream.
      if (status !== 0 && stream.rstCode === http2.constants.NGHTTP2_NO_ERROR) finish();
      else finish(new Error(`stream closed before an answer (code ${stream.rstCode})`));
    });
    writeBody(stream, coalesce(parts));
  });
}

/**
 * Joins runs of small parts into slices of up to `WRITE_SLICE_BYTES`, so that a batch of many
 * small messages goes out as one write (one DATA frame), while big parts pass through as is.
 */
function coalesce(parts: readonly Uint8Array[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  let run: Uint8Array[] = [];
  let runSize = 0;
  const flush = () => {
    if (run.length === 1) out.push(run[0]);
    else if (run.length > 1) out.push(joinParts(run));
    run = [];
    runSize = 0;
  };
  for (const p of parts) {
    if (p.byteLength >= WRITE_SLICE_BYTES) {
      flush();
      out.push(p);
      continue;
    }
    if (runSize + p.byteLength > WRITE_SLICE_BYTES) flush();
    run.push(p);
    runSize += p.byteLength;
  }
  flush();
  return out;
}

/** Writes the parts in slices, waiting for `drain` whenever the stream's buffer is full. */
function writeBody(stream: http2.ClientHttp2Stream, parts: readonly Uint8Array[]): void {
  let part = 0;
  let offset = 0;
  const pump = (): void => {
    while (part < parts.length) {
      const bytes = parts[part];
      const slice = bytes.subarray(offset, offset + WRITE_SLICE_BYTES);
      offset += slice.byteLength;
      if (offset >= bytes.byteLength) {
        part++;
        offset = 0;
      }
      if (part === parts.length) {
        stream.end(slice);
        return;
      }
      if (slice.byteLength > 0 && !stream.write(slice)) {
        stream.once("drain", pump);
        return;
      }
    }
    stream.end();
  };
  pump();
}
