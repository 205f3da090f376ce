/**
 * The HTTP API of a node (docs/architecture.md#the-http-api-layer) as a Hono app: mount it with
 * `Deno.serve({ hostname, port }, app.fetch)`.
 *
 * @module
 */

import { Hono } from "hono";
import type { Logger } from "../node/logger.ts";
import type { NodeId } from "../raft/types.ts";
import type { ApiNode } from "./api_node.ts";
import type { ApiDeps, ApiEnv } from "./app_env.ts";
import { type Limits, resolveLimits } from "./limits.ts";
import { ApiMetrics } from "./metrics.ts";
import { bearerAuth } from "./middleware/auth/auth.ts";
import type { TokenConfig } from "./middleware/auth/principal.ts";
import { bodyLimit } from "./middleware/body_limit/body_limit.ts";
import { contentEncoding } from "./middleware/content_encoding/content_encoding.ts";
import { clusterHeaders } from "./middleware/headers/headers.ts";
import {
  methodNotAllowed,
  problemErrorHandler,
  problemNotFound,
} from "./middleware/problem_errors/problem_errors.ts";
import { pathSegments } from "./middleware/path_segments/path_segments.ts";
import { requestMetrics } from "./middleware/request_metrics/request_metrics.ts";
import { configWriteFromHead } from "./fast_config_write.ts";
import { lockFromHead } from "./fast_lock.ts";
import { configReadFromHead, fastStaleRead } from "./fast_stale_read.ts";
import type { Head } from "./http1_head.ts";
import { withFrontHooks } from "./http_front.ts";
import { openApiDocument } from "./openapi.ts";
import { clusterRoutes } from "./routes/cluster.ts";
import { configRoutes } from "./routes/config.ts";
import { healthRoutes } from "./routes/health.ts";
import { lockRoutes } from "./routes/locks.ts";
import { memberRoutes } from "./routes/members.ts";
import { snapshotRoutes } from "./routes/snapshot.ts";
import { statusPageRoute, statusRoutes } from "./routes/status.ts";
import { watchRoutes } from "./routes/watch.ts";
import { buildSchemas } from "./schemas.ts";
import { OpenAPIRegistry } from "./zod.ts";

/**
 * How to build the API of one node.
 *
 * @example
 * ```ts
 * import type { ApiOptions } from "./app.ts";
 * const options: ApiOptions = {
 *   clusterId: "dev",
 *   peers: new Map([[1, "http://127.0.0.1:7101"]]),
 *   clientUrls: new Map([[1, "http://127.0.0.1:7001"]]),
 * };
 * ```
 */
export interface ApiOptions {
  clusterId: string;
  /**
   * The founding members' client URLs, for `X-Leader` and `/v1/cluster` (else the leader's
   * id); members that joined later are found in the node's directory.
   */
  clientUrls?: Map<NodeId, string>;
  /** The founding members' peer URLs, for `/v1/cluster` (the directory is asked first). */
  peers: Map<NodeId, string>;
  /** Bearer tokens; none (the default) leaves the API open. */
  tokens?: TokenConfig[];
  /** Overrides of the default limits (docs/architecture.md#limits). */
  limits?: Partial<Limits>;
  logger?: Logger;
  /** Between watch heartbeats (comments). Default 15 s. */
  watchHeartbeatMs?: number;
  /** ms since the epoch, for `X-Last-Contact-Ms`. Default `Date.now`. */
  clock?: () => number;
  /**
   * Serve config reads of found keys, config writes and lock calls past the router
   * (`fast_stale_read.ts`, `fast_config_write.ts`, `fast_lock.ts`). Default true; false
   * compares the two (benchmarks, tests).
   */
  fastPaths?: boolean;
}

/** The head shortcuts, by method: reads without a body, lock calls, config writes. */
function fromHead(
  deps: ApiDeps,
): (
  head: Head,
  body: Uint8Array | undefined,
  signal?: () => AbortSignal,
) => Promise<Uint8Array | undefined> | Uint8Array | undefined {
  const read = configReadFromHead(deps);
  const write = configWriteFromHead(deps);
  const lock = lockFromHead(deps);
  return (head, body, signal) => {
    const method = head.method;
    if (method === "GET") return read(head);
    return method === "POST" ? lock(head, body, signal) : write(head, body);
  };
}

/**
 * Builds the API of `node`. Throws a `RangeError` or `TypeError` for bad limits or tokens.
 *
 * @example
 * ```ts ignore
 * const app = createApp(node, { clusterId: "dev", peers });
 * Deno.serve({ hostname: "127.0.0.1", port: 7001 }, app.fetch);
 * ```
 */
export function createApp(node: ApiNode, options: ApiOptions): Hono<ApiEnv> {
  const limits = resolveLimits(options.limits);
  const tokens = options.tokens ?? [];
  const deps: ApiDeps = {
    node,
    clusterId: options.clusterId,
    limits,
    schemas: buildSchemas(limits),
    metrics: new ApiMetrics(),
    registry: new OpenAPIRegistry(),
    clock: options.clock ?? Date.now,
    open: tokens.length === 0,
    clientUrls: options.clientUrls ?? new Map(),
    peers: options.peers,
    watchHeartbeatMs: options.watchHeartbeatMs ?? 15_000,
    logger: options.logger,
  };
  if (deps.open) {
    options.logger?.log("warn", "no API tokens configured: the API is open to anyone", {});
  }

  const app = new Hono<ApiEnv>();
  app.onError(problemErrorHandler(options.logger));
  app.notFound(problemNotFound);
  app.use("*", requestMetrics(deps.metrics));
  app.use("*", clusterHeaders(node, deps.clientUrls));
  app.use("*", pathSegments());
  // Before auth: the page holds no data and asks for a token itself (its data, /v1/status, is
  // behind auth like every other route).
  statusPageRoute(app);
  app.use("*", bearerAuth(tokens));
  app.use("*", contentEncoding());
  app.use("*", bodyLimit(() => limits.maxBodyBytes));

  configRoutes(app, deps);
  lockRoutes(app, deps);
  watchRoutes(app, deps);
  clusterRoutes(app, deps);
  memberRoutes(app, deps);
  snapshotRoutes(app, deps);
  healthRoutes(app, deps);
  statusRoutes(app, deps);

  let document: string | undefined;
  app.get("/openapi.json", (c) => {
    document ??= JSON.stringify(openApiDocument(deps.registry));
    c.header("content-type", "application/json");
    c.header("cache-control", "public, max-age=300");
    return c.body(document);
  });
  app.all("/openapi.json", methodNotAllowed("GET", "HEAD"));

  const fastPaths = options.fastPaths ?? true;
  if (fastPaths) {
    // In front of the router, not a middleware: what it saves is the router and the context.
    // `app.request()` goes through `fetch` too, so tests see what Deno.serve sees.
    const fast = fastStaleRead(deps);
    const routed = app.fetch;
    app.fetch = (req, ...rest) => fast(req) ?? routed(req, ...rest);
  }
  // For the client port's own server: config reads and writes and lock calls from the request
  // head, and its own 400/408/431/505 answers in the request metrics.
  app.fetch = withFrontHooks(app.fetch, {
    answerHead: fastPaths ? fromHead(deps) : undefined,
    countOwnAnswer: (status) => deps.metrics.countRequest("other", "connection", status),
  });
  return app;
}
