/**
 * Refuses request bodies sent with a content coding (`Content-Encoding: gzip`, `br`, ...):
 * 415 `unsupported-media-type`. The API reads bodies as plain JSON; without this check a
 * compressed body was taken for JSON and failed with a misleading 400, or, worse, a body
 * that happened to parse was stored as sent. `identity` (no coding) is accepted.
 *
 * @module
 */

import type { MiddlewareHandler } from "hono";
import { ProblemError } from "../../problem.ts";

/**
 * The middleware.
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { contentEncoding } from "./content_encoding.ts";
 * const app = new Hono();
 * app.use("*", contentEncoding());
 * ```
 */
export function contentEncoding(): MiddlewareHandler {
  return async (c, next) => {
    // Only a body is decoded: a stray header on a GET changes nothing, so it is let be.
    const coding = c.req.raw.body === null ? null : c.req.raw.headers.get("content-encoding");
    if (coding !== null) {
      const codings = coding.split(",").map((t) => t.trim().toLowerCase()).filter((t) =>
        t !== "" && t !== "identity"
      );
      if (codings.length > 0) {
        throw new ProblemError(
          415,
          "unsupported-media-type",
          `Content-Encoding ${
            JSON.stringify(coding.slice(0, 100))
          } is not supported: send the body uncompressed (identity)`,
          {},
          { "accept-encoding": "identity" },
        );
      }
    }
    await next();
  };
}
