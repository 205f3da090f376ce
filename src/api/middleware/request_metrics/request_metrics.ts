/**
 * Counts answered requests by method, route template and status for `/metrics`.
 *
 * @module
 */

import type { MiddlewareHandler } from "hono";
import type { ApiMetrics } from "../../metrics.ts";

const METHODS = new Set(["GET", "HEAD", "PUT", "POST", "DELETE", "PATCH", "OPTIONS"]);

/** Route templates; a raw path would give one time series per key. */
const ROUTES: [RegExp, string][] = [
  [/^\/v1\/config$/, "/v1/config"],
  [/^\/v1\/config\/.+/s, "/v1/config/{key}"],
  [/^\/v1\/locks\/[^/]+\/acquire$/, "/v1/locks/{name}/acquire"],
  [/^\/v1\/locks\/[^/]+\/renew$/, "/v1/locks/{name}/renew"],
  [/^\/v1\/locks\/[^/]+\/release$/, "/v1/locks/{name}/release"],
  [/^\/v1\/locks\/[^/]+$/, "/v1/locks/{name}"],
  [/^\/v1\/watch$/, "/v1/watch"],
  [/^\/v1\/cluster$/, "/v1/cluster"],
  [/^\/v1\/status$/, "/v1/status"],
  [/^\/$/, "/"],
  [/^\/(healthz|readyz|metrics|openapi\.json)$/, "/$1"],
];

/**
 * The route template a path belongs to, or `other`.
 *
 * @example
 * ```ts
 * import { routeLabel } from "./request_metrics.ts";
 * routeLabel("/v1/config/app/flags"); // "/v1/config/{key}"
 * ```
 */
export function routeLabel(path: string): string {
  for (const [pattern, label] of ROUTES) {
    const match = pattern.exec(path);
    if (match) return label.replace("$1", match[1] ?? "");
  }
  return "other";
}

/**
 * The middleware.
 *
 * @example
 * ```ts ignore
 * app.use("*", requestMetrics(metrics));
 * ```
 */
export function requestMetrics(metrics: ApiMetrics): MiddlewareHandler {
  return async (c, next) => {
    await next();
    const method = METHODS.has(c.req.method) ? c.req.method : "other";
    metrics.countRequest(method, routeLabel(c.req.path), c.res.status);
  };
}
