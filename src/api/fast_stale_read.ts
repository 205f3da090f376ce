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
import { wholeAnswer } from "./http1_answer.ts";
import type { Head } from "./http1_head.ts";
import { lastContactMs } from "./node_calls.ts";
import { noneMatch } from "./request_parts.ts";
import { readCacheControl } from "./routes/config.ts";

const PREFIX = "/v1/config/";
const QUERY = "?consistency=stale";
/** Keys the shortcut takes: no escapes, no empty or dot segments, nothing to decode. */
const PLAIN_KEY = /^[A-Za-z0-9_-][A-Za-z0-9_.-]*(\/[A-Za-z0-9_-][A-Za-z0-9_.-]*)*$/;

/** What the shortcut needs of the API's dependencies. */
type StaleReadDeps = Pick<ApiDeps, "node" | "metrics" | "clientUrls" | "open" | "limits" | "clock">;

/**
 * A stale read's answer: its status, its headers in the order `Headers` lists them (sorted by
 * name, which is how both servers write a `Response`'s headers), its body.
 */
interface StaleAnswer {
  status: 200 | 304;
  headers: [string, string][];
  body: string | null;
}

/**
 * The one place a stale read is answered, from the request target (path and query, as sent)
 * and its `If-None-Match`; undefined declines. Both shortcuts below go through it, so they
 * cannot answer differently.
 */
function staleAnswerer(
  deps: StaleReadDeps,
): (target: string, ifNoneMatch: string | undefined) => StaleAnswer | undefined {
  const { node, metrics, clientUrls } = deps;
  const cacheControl = readCacheControl(true, deps.open);
  return (target, ifNoneMatch) => {
    if (!deps.open || !target.startsWith(PREFIX) || !target.endsWith(QUERY)) return undefined;
    const key = target.slice(PREFIX.length, target.length - QUERY.length);
    if (key.length > deps.limits.maxKeyBytes || !PLAIN_KEY.test(key)) return undefined;
    const found = node.sm.get(key);
    if (found === undefined) return undefined; // the 404 problem is the router's to write
    const etag = `"${found.revision}"`;
    const leader = node.leaderId();
    const notModified = noneMatch(ifNoneMatch, etag);
    // Sorted by name: cache-control, content-type, etag, x-last-contact-ms, x-leader, x-revision.
    const headers: [string, string][] = [["cache-control", cacheControl]];
    if (!notModified) headers.push(["content-type", "application/json"]);
    headers.push(["etag", etag], ["x-last-contact-ms", String(lastContactMs(deps))]);
    if (leader !== 0) headers.push(["x-leader", clientUrls.get(leader) ?? String(leader)]);
    headers.push(["x-revision", String(node.sm.revision)]);
    const status = notModified ? 304 : 200;
    metrics.countRequest("GET", "/v1/config/{key}", status);
    return { status, headers, body: notModified ? null : JSON.stringify(found) };
  };
}

/**
 * Builds the shortcut; put it in front of the app's `fetch`.
 *
 * @example
 * ```ts ignore
 * const fast = fastStaleRead(deps);
 * const handler = (req: Request) => fast(req) ?? app.fetch(req);
 * ```
 */
export function fastStaleRead(deps: StaleReadDeps): (req: Request) => Response | undefined {
  const answer = staleAnswerer(deps);
  return (req) => {
    if (!deps.open || req.method !== "GET") return undefined;
    const url = req.url;
    // An absolute URL: skip "scheme://authority", then expect the path.
    const pathStart = url.indexOf("/", url.indexOf("//") + 2);
    if (pathStart < 0) return undefined;
    const found = answer(url.slice(pathStart), req.headers.get("if-none-match") ?? undefined);
    if (found === undefined) return undefined;
    return new Response(found.body, { status: found.status, headers: found.headers });
  };
}

/**
 * The same shortcut for the client port's own server (`http_front.ts`), one step earlier: it
 * answers from the parsed request head, with the answer's bytes as that server would write
 * them for the `Response` above (`tests/api/fast_stale_read_test.ts` compares the bytes), so
 * that no `Request`, `Headers`, `URL` or `Response` is made. Only origin-form `GET`s without a
 * body come here (the server checks `Host` and framing first).
 *
 * @example
 * ```ts ignore
 * const fromHead = staleReadFromHead(deps);
 * const bytes = fromHead(head); // undefined: declined, serve it the long way
 * ```
 */
export function staleReadFromHead(deps: StaleReadDeps): (head: Head) => Uint8Array | undefined {
  const answer = staleAnswerer(deps);
  return (head) => {
    if (head.method !== "GET") return undefined;
    const found = answer(head.target, headerOf(head, "if-none-match"));
    if (found === undefined) return undefined;
    return wholeAnswer(found.status, found.headers, found.body, head.close);
  };
}

/**
 * The values of header `name` (lower case) joined with ", ", as `Headers.get` gives them.
 */
function headerOf(head: Head, name: string): string | undefined {
  let value: string | undefined;
  for (const [n, v] of head.headers) {
    if (n.length !== name.length || n.toLowerCase() !== name) continue;
    value = value === undefined ? v : `${value}, ${v}`;
  }
  return value;
}
