/**
 * Refuses request paths with a dot segment (`.` or `..`, raw or percent-encoded as `%2E`):
 * 400 `invalid-request`. `Deno.serve` hands the path over as the client sent it, but
 * `new URL()` (and so every later reading of the request's URL) resolves `q/../b` to `b`:
 * a key or lock name would then depend on which spelling was parsed. One rule instead: no
 * dot segments anywhere in a path. (Dot segments inside a key sent as `%2F`, like
 * `q%2F..%2Fb`, are refused by the key and lock-name schemas.)
 *
 * @module
 */

import type { MiddlewareHandler } from "hono";
import { invalidRequest } from "../../problem.ts";

const DOT_SEGMENT = /^(?:\.|%2e){1,2}$/i;

/**
 * The raw (not normalised, still percent-encoded) path of a request URL as `Deno.serve`
 * gives it: everything from the first `/` after the authority to `?` or `#`.
 *
 * @example
 * ```ts
 * import { rawPathOf } from "./path_segments.ts";
 * rawPathOf("http://h/v1/config/q/../b?x=1"); // "/v1/config/q/../b"
 * ```
 */
export function rawPathOf(url: string): string {
  const authority = url.indexOf("//");
  const start = url.indexOf("/", authority < 0 ? 0 : authority + 2);
  if (start < 0) return "/";
  let end = url.length;
  for (const mark of ["?", "#"]) {
    const at = url.indexOf(mark, start);
    if (at >= 0 && at < end) end = at;
  }
  return url.slice(start, end);
}

/**
 * Whether a raw path has a `.` or `..` segment (also as `%2E`, in any case).
 *
 * @example
 * ```ts
 * import { hasDotSegment } from "./path_segments.ts";
 * hasDotSegment("/v1/config/q/%2e%2E/b"); // true
 * hasDotSegment("/v1/config/a..b/.c"); // false
 * ```
 */
export function hasDotSegment(path: string): boolean {
  return path.split("/").some((segment) => DOT_SEGMENT.test(segment));
}

/**
 * The middleware.
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { pathSegments } from "./path_segments.ts";
 * const app = new Hono();
 * app.use("*", pathSegments());
 * ```
 */
export function pathSegments(): MiddlewareHandler {
  return async (c, next) => {
    if (hasDotSegment(rawPathOf(c.req.url))) {
      throw invalidRequest(
        "the path has a . or .. segment (raw or percent-encoded): keys and lock names may not " +
          "contain them, and paths are not normalised",
      );
    }
    await next();
  };
}
