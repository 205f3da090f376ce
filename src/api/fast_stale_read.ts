/**
 * A shortcut for the API's hottest request, the one edge functions and CDNs repeat most:
 * `GET /v1/config/{key}?consistency=stale` on an open node (no tokens). It answers a found key
 * (200, or 304 for a matching `If-None-Match`) without the router, the context and the five
 * middleware layers, which cost about a third of the request's CPU (`bench/README.md`).
 *
 * It answers exactly what the router would, headers included; anything else (another
 * method, path or query, escapes in the key, a missing key, tokens) it declines by returning
 * `undefined`, and the full app handles the request from scratch. A stale read has no side
 * effects, so declining late is safe. `tests/api/fast_stale_read_test.ts` compares both
 * answers for each case.
 *
 * @module
 */

import type { ApiDeps } from "./app_env.ts";
import { lastContactMs } from "./node_calls.ts";
import { noneMatch } from "./request_parts.ts";
import { readCacheControl } from "./routes/config.ts";

const PREFIX = "/v1/config/";
const QUERY = "?consistency=stale";
/** Keys the shortcut takes: no escapes, no empty or dot segments, nothing to decode. */
const PLAIN_KEY = /^[A-Za-z0-9_-][A-Za-z0-9_.-]*(\/[A-Za-z0-9_-][A-Za-z0-9_.-]*)*$/;

/**
 * Builds the shortcut; put it in front of the app's `fetch`.
 *
 * @example
 * ```ts ignore
 * const fast = fastStaleRead(deps);
 * const handler = (req: Request) => fast(req) ?? app.fetch(req);
 * ```
 */
export function fastStaleRead(
  deps: Pick<ApiDeps, "node" | "metrics" | "clientUrls" | "open" | "limits" | "clock">,
): (req: Request) => Response | undefined {
  const { node, metrics, clientUrls } = deps;
  const cacheControl = readCacheControl(true, deps.open);
  return (req) => {
    if (!deps.open || req.method !== "GET") return undefined;
    const url = req.url;
    // An absolute URL: skip "scheme://authority", then expect the path.
    const pathStart = url.indexOf("/", url.indexOf("//") + 2);
    if (pathStart < 0 || !url.startsWith(PREFIX, pathStart) || !url.endsWith(QUERY)) {
      return undefined;
    }
    const key = url.slice(pathStart + PREFIX.length, url.length - QUERY.length);
    if (key.length > deps.limits.maxKeyBytes || !PLAIN_KEY.test(key)) return undefined;
    const found = node.sm.get(key);
    if (found === undefined) return undefined; // the 404 problem is the router's to write
    const headers = new Headers({
      "x-revision": String(node.sm.revision),
      "cache-control": cacheControl,
      "x-last-contact-ms": String(lastContactMs(deps)),
      "etag": `"${found.revision}"`,
    });
    const leader = node.leaderId();
    if (leader !== 0) headers.set("x-leader", clientUrls.get(leader) ?? String(leader));
    let res: Response;
    if (noneMatch(req.headers.get("if-none-match") ?? undefined, `"${found.revision}"`)) {
      res = new Response(null, { status: 304, headers });
    } else {
      headers.set("content-type", "application/json");
      res = new Response(JSON.stringify(found), { status: 200, headers });
    }
    metrics.countRequest("GET", "/v1/config/{key}", res.status);
    return res;
  };
}
