/**
 * Requests as they go on the wire and answers as they come back, reduced to what the model
 * compares, with the client-side times the lease bounds are computed from.
 *
 * @module
 */

import { BEARER_TOKENS, type TokenName } from "./model_node.ts";

/**
 * One HTTP request, exactly as sent (a replay re-sends the same object).
 *
 * @example
 * ```ts
 * import type { WireRequest } from "./wire.ts";
 * const put: WireRequest = {
 *   method: "PUT", path: "/v1/config/m0/k1", headers: {}, body: "1", token: "alpha",
 * };
 * ```
 */
export interface WireRequest {
  method: string;
  /** Path and query, already percent-encoded. */
  path: string;
  /** Headers besides `authorization` (which `token` decides) and the JSON content type. */
  headers: Record<string, string>;
  /** The body text; sent as `application/json` unless `headers` names another type. */
  body?: string;
  token: TokenName;
}

/**
 * An answer: status, the headers the model reads, the parsed body, and when the request left and
 * its answer arrived (ms since the epoch, the same clock the node stamps its log with).
 *
 * @example
 * ```ts
 * import type { Answer } from "./wire.ts";
 * const a: Answer = {
 *   status: 404, headers: {}, body: null, text: "", sentAt: 1, receivedAt: 2,
 * };
 * ```
 */
export interface Answer {
  status: number;
  headers: Record<string, string>;
  body: unknown;
  text: string;
  sentAt: number;
  receivedAt: number;
}

const KEPT_HEADERS = [
  "content-type",
  "etag",
  "x-revision",
  "idempotent-replayed",
  "www-authenticate",
  "allow",
  "cache-control",
  "x-last-contact-ms",
];

/**
 * Sends `req` to the node at `baseUrl`. Resolves with the answer, or with `undefined` when the
 * request was aborted through `signal` before its answer was read.
 *
 * @example
 * ```ts ignore
 * import { send } from "./wire.ts";
 * const answer = await send("http://127.0.0.1:7001", {
 *   method: "GET", path: "/v1/config/a", headers: {}, token: "alpha",
 * });
 * ```
 */
export async function send(
  baseUrl: string,
  req: WireRequest,
  signal?: AbortSignal,
): Promise<Answer | undefined> {
  const headers: Record<string, string> = {};
  if (req.body !== undefined) headers["content-type"] = "application/json";
  Object.assign(headers, req.headers);
  if (req.token !== "none") headers["authorization"] = `Bearer ${BEARER_TOKENS[req.token]}`;
  // A hung node must fail the run, not hang it.
  const timeout = AbortSignal.timeout(30_000);
  const sentAt = Date.now();
  let res: Response;
  let text: string;
  try {
    res = await fetch(baseUrl + req.path, {
      method: req.method,
      headers,
      body: req.body,
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
    });
    text = await res.text();
  } catch (error) {
    if (signal?.aborted) return undefined;
    throw error;
  }
  const receivedAt = Date.now();
  const kept: Record<string, string> = {};
  for (const name of KEPT_HEADERS) {
    const value = res.headers.get(name);
    if (value !== null) kept[name] = value;
  }
  let body: unknown = null;
  if (text.length > 0) {
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
  }
  return { status: res.status, headers: kept, body, text, sentAt, receivedAt };
}

/**
 * One line describing a request, for reports: method, path, the principal, headers, body.
 *
 * @example
 * ```ts
 * import { describeRequest } from "./wire.ts";
 * describeRequest({ method: "GET", path: "/v1/config/a", headers: {}, token: "alpha" });
 * // "GET /v1/config/a [alpha]"
 * ```
 */
export function describeRequest(req: WireRequest): string {
  const headers = Object.entries(req.headers).map(([k, v]) => ` ${k}: ${v === "" ? '""' : v}`);
  const body = req.body === undefined ? "" : ` ${req.body.slice(0, 200)}`;
  return `${req.method} ${req.path} [${req.token}]${headers.join("")}${body}`;
}

/**
 * One line describing an answer, for reports.
 *
 * @example
 * ```ts
 * import { describeAnswer } from "./wire.ts";
 * describeAnswer({ status: 404, headers: {}, body: null, text: "", sentAt: 0, receivedAt: 3 });
 * // "404 (3 ms)"
 * ```
 */
export function describeAnswer(answer: Answer | undefined): string {
  if (answer === undefined) return "(aborted by the client)";
  const replayed = answer.headers["idempotent-replayed"] ? " Idempotent-Replayed" : "";
  const text = answer.text.length > 0 ? ` ${answer.text.slice(0, 300)}` : "";
  return `${answer.status}${replayed}${text} (${answer.receivedAt - answer.sentAt} ms)`;
}
