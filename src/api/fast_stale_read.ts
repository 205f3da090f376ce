/**
 * Shortcuts for the API's hottest requests, the ones edge functions and CDNs repeat most:
 * `GET /v1/config/{key}?consistency=stale` and `GET /v1/config/{key}` on an open node (no
 * tokens). They answer a found key (200, or 304 for a matching `If-None-Match`) without the
 * router, the context and the five middleware layers, which cost about a third of the
 * request's CPU (`bench/README.md`).
 *
 * Two forms: {@linkcode fastStaleRead} takes stale reads from a `Request` (in front of the
 * app's `fetch`, for any server), and {@linkcode configReadFromHead} takes stale and
 * linearizable reads from the parsed request head, for the client port's own server
 * (`http_front.ts`), writing the answer's bytes directly. Both answer through one function, so
 * they cannot differ.
 *
 * They answer exactly what the router would, headers included; anything else (another
 * method, path or query, escapes in the key, a missing key, tokens) they decline by returning
 * `undefined`, and the full app handles the request from scratch. A read has no side
 * effects, so declining late is safe. `tests/api/fast_stale_read_test.ts` compares the
 * answers for each case, byte for byte over sockets for the head form.
 *
 * Writes have their shortcut in `fast_config_write.ts`, which takes its keys, headers and
 * problem answers from here (`plainKey`, `headerOf`, `problemAnswerOf`, `answerBytes`).
 *
 * @module
 */

import type { ApiDeps } from "./app_env.ts";
import { wholeAnswer } from "./http1_answer.ts";
import type { Head } from "./http1_head.ts";
import { problemFor } from "./middleware/problem_errors/problem_errors.ts";
import { leaderHeader } from "./member_urls.ts";
import { lastContactMs } from "./node_calls.ts";
import type { ProblemError } from "./problem.ts";
import { noneMatch } from "./request_parts.ts";
import { readCacheControl } from "./routes/config.ts";

const PREFIX = "/v1/config/";
const QUERY = "?consistency=stale";
/** Keys the shortcut takes: no escapes, no empty or dot segments, nothing to decode. */
const PLAIN_KEY = /^[A-Za-z0-9_~-][A-Za-z0-9_.~-]*(\/[A-Za-z0-9_~-][A-Za-z0-9_.~-]*)*$/;
/** A `/` sent as `%2F`, as the client package (`encodeURIComponent`) sends every one. */
const ENCODED_SLASH = /%2f/gi;

/** What the shortcut needs of the API's dependencies. */
type StaleReadDeps = Pick<ApiDeps, "node" | "metrics" | "clientUrls" | "open" | "limits" | "clock">;

/**
 * An answer a shortcut writes itself: its status, its headers in the order `Headers` lists
 * them (sorted by name, which is how both servers write a `Response`'s headers), its body.
 *
 * @example
 * ```ts
 * import type { HeadAnswer } from "./fast_stale_read.ts";
 * const a: HeadAnswer = { status: 304, headers: [["etag", '"3"']], body: null };
 * ```
 */
export interface HeadAnswer {
  status: number;
  headers: [string, string][];
  body: string | null;
}

/**
 * The key of a plain `/v1/config/{key}` path (no query), or undefined: only keys of unreserved
 * characters that the key schema cannot read two ways (`PLAIN_KEY`: no empty, `.` or `..`
 * segment), within `maxKeyBytes`. A `/` may come raw or as `%2F` (the client package encodes
 * every one): decoding those alone gives the key the router's one decoding gives; a path with
 * any other escape is the router's.
 *
 * @example
 * ```ts
 * import { plainKey } from "./fast_stale_read.ts";
 * import { DEFAULT_LIMITS } from "./limits.ts";
 * plainKey({ limits: DEFAULT_LIMITS }, "/v1/config/app/flags"); // "app/flags"
 * plainKey({ limits: DEFAULT_LIMITS }, "/v1/config/app%2Fflags"); // "app/flags"
 * plainKey({ limits: DEFAULT_LIMITS }, "/v1/config/a%20b"); // undefined
 * ```
 */
export function plainKey(deps: Pick<ApiDeps, "limits">, path: string): string | undefined {
  if (!path.startsWith(PREFIX)) return undefined;
  const raw = path.slice(PREFIX.length);
  const key = raw.includes("%") ? raw.replace(ENCODED_SLASH, "/") : raw;
  return key.length <= deps.limits.maxKeyBytes && PLAIN_KEY.test(key) ? key : undefined;
}

/**
 * The one place a read of `key` is answered, from the node's applied state as it is now and
 * the request's `If-None-Match`; undefined declines (a missing key: the 404 problem is the
 * router's to write). Every shortcut below goes through it, so they cannot answer differently.
 */
function readAnswerer(
  deps: StaleReadDeps,
): (key: string, ifNoneMatch: string | undefined, stale: boolean) => HeadAnswer | undefined {
  const { node, metrics } = deps;
  const staleCacheControl = readCacheControl(true, deps.open);
  const cacheControl = readCacheControl(false, deps.open);
  return (key, ifNoneMatch, stale) => {
    const found = node.getValue(key);
    if (found === undefined) return undefined;
    const etag = `"${found.revision}"`;
    const leader = leaderHeader(deps);
    const notModified = noneMatch(ifNoneMatch, etag);
    // Sorted by name: cache-control, content-type, etag, x-last-contact-ms, x-leader, x-revision.
    const headers: [string, string][] = [[
      "cache-control",
      stale ? staleCacheControl : cacheControl,
    ]];
    if (!notModified) headers.push(["content-type", "application/json"]);
    headers.push(["etag", etag]);
    if (stale) headers.push(["x-last-contact-ms", String(lastContactMs(deps))]);
    if (leader !== undefined) headers.push(["x-leader", leader]);
    headers.push(["x-revision", String(node.revision())]);
    const status = notModified ? 304 : 200;
    metrics.countRequest("GET", "/v1/config/{key}", status);
    return { status, headers, body: notModified ? null : JSON.stringify(found) };
  };
}

/**
 * The router's answer to a linearizable read that failed with `error`. Undefined for an error
 * the router would log as internal: the router is left to do that.
 */
function failedReadAnswer(deps: StaleReadDeps, error: unknown): HeadAnswer | undefined {
  const problem = problemFor(error);
  if (problem.kind === "internal") return undefined;
  return problemAnswerOf(deps, "GET", problem);
}

/**
 * The router's answer to a request that ended in `problem`, as the error handler and the
 * middleware make it: the problem's headers, `content-type`, `x-revision` (unless the problem
 * has its own) and `x-leader`; counted in the request metrics under `route` (its label there,
 * `/v1/config/{key}` unless said otherwise).
 *
 * @example
 * ```ts ignore
 * const answer = problemAnswerOf(deps, "PUT", problemFor(error));
 * const held = problemAnswerOf(deps, "POST", problem, "/v1/locks/{name}/acquire");
 * ```
 */
export function problemAnswerOf(
  deps: Pick<ApiDeps, "node" | "metrics" | "clientUrls">,
  method: string,
  problem: ProblemError,
  route = "/v1/config/{key}",
): HeadAnswer {
  const { node } = deps;
  const headers = new Headers(problem.headers);
  headers.set("content-type", "application/problem+json");
  if (!headers.has("x-revision")) headers.set("x-revision", String(node.revision()));
  const leader = leaderHeader(deps);
  if (leader !== undefined) headers.set("x-leader", leader);
  deps.metrics.countRequest(method, route, problem.status);
  return { status: problem.status, headers: [...headers], body: JSON.stringify(problem.body()) };
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
  const answer = readAnswerer(deps);
  return (req) => {
    if (!deps.open || req.method !== "GET") return undefined;
    const url = req.url;
    // An absolute URL: skip "scheme://authority", then expect the path.
    const pathStart = url.indexOf("/", url.indexOf("//") + 2);
    if (pathStart < 0 || !url.endsWith(QUERY)) return undefined;
    const key = plainKey(deps, url.slice(pathStart, url.length - QUERY.length));
    if (key === undefined) return undefined;
    const found = answer(key, req.headers.get("if-none-match") ?? undefined, true);
    if (found === undefined) return undefined;
    return new Response(found.body, { status: found.status, headers: found.headers });
  };
}

/**
 * The same shortcut for the client port's own server (`http_front.ts`), one step earlier, for
 * linearizable reads (`GET /v1/config/{key}`) too: it answers from the parsed request head,
 * with the answer's bytes as that server would write them for the router's `Response`
 * (`tests/api/fast_stale_read_test.ts` compares the bytes), so that no `Request`, `Headers`,
 * `URL`, context or `Response` is made. Only origin-form `GET`s without a body come here (the
 * server checks `Host` and framing first).
 *
 * A linearizable read waits for `linearizableRead` as the route does, then answers; a read
 * that fails gets the router's problem (503 `no-leader`). A key found missing after the wait
 * is declined, and the router reads again (a second wait, for a 404 only).
 *
 * @example
 * ```ts ignore
 * const fromHead = configReadFromHead(deps);
 * const bytes = fromHead(head); // undefined: declined, serve it the long way
 * ```
 */
export function configReadFromHead(
  deps: StaleReadDeps,
): (head: Head) => Uint8Array | Promise<Uint8Array | undefined> | undefined {
  const answer = readAnswerer(deps);
  return (head) => {
    if (!deps.open || head.method !== "GET" || head.framing.kind !== "none") return undefined;
    const target = head.target;
    const stale = target.endsWith(QUERY);
    const key = plainKey(deps, stale ? target.slice(0, target.length - QUERY.length) : target);
    if (key === undefined) return undefined;
    const ifNoneMatch = headerOf(head, "if-none-match");
    if (stale) return answerBytes(answer(key, ifNoneMatch, true), head);
    return deps.node.linearizableRead().then(
      () => answerBytes(answer(key, ifNoneMatch, false), head),
      (e) => answerBytes(failedReadAnswer(deps, e), head),
    );
  };
}

/**
 * The bytes the client port's server writes for `answer` to the request `head` (undefined:
 * none, the request was declined).
 *
 * @example
 * ```ts ignore
 * const bytes = answerBytes({ status: 200, headers: [], body: "{}" }, head);
 * ```
 */
export function answerBytes(
  answer: HeadAnswer | undefined,
  head: Pick<Head, "close">,
): Uint8Array | undefined {
  return answer && wholeAnswer(answer.status, answer.headers, answer.body, head.close);
}

/**
 * The values of header `name` (lower case) in `head`, joined with ", ", as `Headers.get`
 * gives them; undefined when there are none.
 *
 * @example
 * ```ts
 * import { headerOf } from "./fast_stale_read.ts";
 * import { parseHead } from "./http1_head.ts";
 * const head = parseHead(new TextEncoder().encode("GET / HTTP/1.1\r\nA: 1\r\na: 2\r\n\r\n"));
 * headerOf(head, "a"); // "1, 2"
 * ```
 */
export function headerOf(head: Pick<Head, "headers">, name: string): string | undefined {
  let value: string | undefined;
  for (const [n, v] of head.headers) {
    if (n.length !== name.length || n.toLowerCase() !== name) continue;
    value = value === undefined ? v : `${value}, ${v}`;
  }
  return value;
}
