/**
 * `GET /v1/watch?prefix=&fromRevision=`: changes as Server-Sent Events (see watch_stream.ts).
 * `Last-Event-ID` (sent by a reconnecting EventSource) wins over `fromRevision`: the stream
 * resumes at the revision after it. Without either, it starts with the next change.
 *
 * A watch is served from this node's state: its events are in log order and complete, but a
 * follower's may lag the leader's by its replication delay.
 *
 * @module
 */

import type { Hono } from "hono";
import type { ApiDeps, ApiEnv } from "../app_env.ts";
import { authorize } from "../middleware/auth/auth.ts";
import { methodNotAllowed } from "../middleware/problem_errors/problem_errors.ts";
import { describeRoute, problemResponses } from "../openapi.ts";
import { limitExceeded } from "../problem.ts";
import { queryOf } from "../request_parts.ts";
import { parseWith } from "../schemas.ts";
import { watchStream } from "../watch_stream.ts";
import { z } from "../zod.ts";

/**
 * Mounts the watch route and describes it in the registry.
 *
 * @example
 * ```ts ignore
 * watchRoutes(app, deps);
 * ```
 */
export function watchRoutes(app: Hono<ApiEnv>, deps: ApiDeps): void {
  const { node, schemas, metrics, limits } = deps;

  app.get("/v1/watch", (c) => {
    const query = queryOf(c, schemas.watchQuery);
    const prefix = query.prefix ?? "";
    authorize(c, { scopes: ["read"], keyPrefix: prefix });
    const lastEventId = c.req.header("last-event-id");
    const revision = node.revision();
    const fromRevision = lastEventId !== undefined
      ? parseWith(schemas.lastEventId, lastEventId.trim(), "Last-Event-ID") + 1
      : query.fromRevision ?? revision + 1;
    if (metrics.watchers >= limits.maxWatchers) {
      throw limitExceeded(
        "maxWatchers",
        `this node already serves maxWatchers = ${limits.maxWatchers} watches`,
        429,
      );
    }
    metrics.watchers++;
    const stream = watchStream(node, {
      prefix,
      fromRevision,
      heartbeatMs: deps.watchHeartbeatMs,
      onClose: () => metrics.watchers--,
      // No request signal: Deno cancels the body when the client goes away, which ends the
      // stream, and reading `request.signal` opts into its deprecated abort-on-success.
    });
    return new Response(stream, {
      headers: {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-store",
        "x-revision": String(revision),
        // Proxies such as nginx would otherwise hold events back in their buffers.
        "x-accel-buffering": "no",
      },
    });
  });
  app.all("/v1/watch", methodNotAllowed("GET"));

  describeRoute(deps.registry, {
    method: "get",
    path: "/v1/watch",
    summary: "Stream changes under a prefix as Server-Sent Events",
    description: "Events `put` and `delete` with `id` = revision and JSON `data`; " +
      "`compacted` (then the stream ends) when history before the start is gone; " +
      "comment heartbeats. Resume with `Last-Event-ID`.",
    request: {
      query: schemas.watchQuery,
      headers: z.object({
        "Last-Event-ID": z.string().optional().openapi({ description: "Resume after this id." }),
      }),
    },
    responses: {
      200: {
        description: "The event stream",
        content: { "text/event-stream": { schema: z.string() } },
      },
      ...problemResponses({ 429: "Too many watches on this node (limit maxWatchers)" }),
    },
  }, { auth: !deps.open });
}
