/**
 * Reads a request's body once, refusing it (413, naming `maxBodyBytes`) as soon as it is
 * larger than the limit: from `Content-Length` before reading, or while reading a body sent
 * without one. Handlers get the bytes from the context variable `body`.
 *
 * @module
 */

import type { MiddlewareHandler } from "hono";
import type { ApiEnv } from "../../app_env.ts";
import { invalidRequest, limitExceeded, ProblemError } from "../../problem.ts";

/** Methods whose bodies the API reads; others are never read (so never limited). */
const WITH_BODY = new Set(["POST", "PUT", "PATCH", "DELETE"]);

function tooLarge(maxBytes: number, what: string) {
  return limitExceeded(
    "maxBodyBytes",
    `the request body is ${what}, over the limit maxBodyBytes = ${maxBytes}`,
    413,
  );
}

/**
 * The problem for a body that could not be read because the client went away (or broke the
 * framing) mid-body: the client gets no answer, and the node logs one line at info, not the
 * runtime's error with its stack (one per slow client that gives up).
 */
function bodyLost(error: unknown): ProblemError {
  const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return new ProblemError(
    499,
    "client-closed",
    `the request body could not be read (${reason.slice(0, 200)})`,
  );
}

/** Reads a body; a failure that is not one of ours means the client went away mid-body. */
async function reading<T>(read: Promise<T>): Promise<T> {
  try {
    return await read;
  } catch (error) {
    if (error instanceof ProblemError) throw error;
    throw bodyLost(error);
  }
}

/**
 * Reads at most `maxBytes` of a stream; throws the 413 problem beyond that.
 *
 * @example
 * ```ts
 * import { readBounded } from "./body_limit.ts";
 * const bytes = await readBounded(new Response("hello").body!, 10); // 5 bytes
 * ```
 */
export async function readBounded(
  stream: ReadableStream<Uint8Array>,
  maxBytes: number,
): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = stream.getReader();
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > maxBytes) {
        await reader.cancel().catch(() => {});
        throw tooLarge(maxBytes, `more than ${maxBytes} bytes`);
      }
      chunks.push(value);
    }
  } finally {
    reader.releaseLock();
  }
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.byteLength;
  }
  return bytes;
}

/**
 * The middleware. `maxBytes` is read per request, so limits may be changed by a test.
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { bodyLimit } from "./body_limit.ts";
 * import type { ApiEnv } from "../../app_env.ts";
 * const app = new Hono<ApiEnv>();
 * app.use("*", bodyLimit(() => 1024 * 1024));
 * ```
 */
export function bodyLimit(maxBytes: () => number): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    const raw = c.req.raw;
    if (!WITH_BODY.has(raw.method) || raw.body === null) {
      c.set("body", undefined);
      return await next();
    }
    const max = maxBytes();
    const declared = raw.headers.get("content-length");
    if (declared !== null) {
      if (!/^[0-9]{1,16}$/.test(declared.trim())) {
        throw invalidRequest("Content-Length must be a decimal number of bytes");
      }
      const length = Number(declared.trim());
      if (length > max) throw tooLarge(max, `${length} bytes`);
      // The server holds the body to its declared length, so it may be read whole: cheaper
      // than a stream reader, which showed in the profile of every write.
      c.set("body", new Uint8Array(await reading(raw.arrayBuffer())));
      return await next();
    }
    c.set("body", await reading(readBounded(raw.body, max)));
    await next();
  };
}
