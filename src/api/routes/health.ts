/**
 * Operations: `GET /healthz` (the process answers), `GET /readyz` (a leader is known, was heard
 * from within a second, and this node has applied all but at most 1,000 entries of what the
 * leader last said it committed), `GET /metrics` (Prometheus text; admin scope).
 *
 * @module
 */

import type { Hono } from "hono";
import type { ApiDeps, ApiEnv } from "../app_env.ts";
import { authorize } from "../middleware/auth/auth.ts";
import { methodNotAllowed } from "../middleware/problem_errors/problem_errors.ts";
import { describeRoute, problemResponses } from "../openapi.ts";
import { lastContactMs } from "../node_calls.ts";
import { ProblemError } from "../problem.ts";
import { z } from "../zod.ts";

/**
 * How many entries a ready node's applied index may trail the leader's commit index (as last
 * heard): a healthy follower trails by the entries in flight, a restarted one by its backlog.
 *
 * @example
 * ```ts
 * import { READY_MAX_LAG_ENTRIES } from "./health.ts";
 * console.log(READY_MAX_LAG_ENTRIES); // 1000
 * ```
 */
export const READY_MAX_LAG_ENTRIES = 1000;

/**
 * How long a ready follower may go without hearing from the leader (heartbeats come every
 * 50 ms; a follower that hears none for an election timeout campaigns).
 *
 * @example
 * ```ts
 * import { READY_MAX_SILENCE_MS } from "./health.ts";
 * console.log(READY_MAX_SILENCE_MS); // 1000
 * ```
 */
export const READY_MAX_SILENCE_MS = 1000;

function notReady(detail: string, extensions: Record<string, unknown> = {}): ProblemError {
  return new ProblemError(503, "not-ready", detail, extensions, { "retry-after": "1" });
}

/**
 * Mounts the routes and describes them in the registry.
 *
 * @example
 * ```ts ignore
 * healthRoutes(app, deps);
 * ```
 */
export function healthRoutes(app: Hono<ApiEnv>, deps: ApiDeps): void {
  const { node } = deps;
  app.get("/healthz", (c) => c.json({ ok: true }));
  app.all("/healthz", methodNotAllowed("GET", "HEAD"));

  app.get("/readyz", (c) => {
    const status = node.status();
    const applied = node.appliedIndex();
    if (node.leaderId() === 0) throw notReady("no leader is known");
    const silentMs = lastContactMs(deps);
    if (silentMs < 0 || silentMs > READY_MAX_SILENCE_MS) {
      throw notReady(
        silentMs < 0
          ? "this node has not heard from the leader yet"
          : `this node last heard from the leader ${silentMs} ms ago`,
      );
    }
    // Not this node's own commit index: a follower that lags (after a restart) learns that only
    // as its log catches up, so it would look caught up at every step of the way.
    const leaderCommit = Math.max(status.commit, status.leaderCommit ?? 0);
    if (applied + READY_MAX_LAG_ENTRIES < leaderCommit) {
      throw notReady(
        `applied index ${applied} is behind the leader's commit index ${leaderCommit}`,
        { appliedIndex: applied, leaderCommit },
      );
    }
    return c.json({ ok: true, leaderId: node.leaderId(), appliedIndex: applied, leaderCommit });
  });
  app.all("/readyz", methodNotAllowed("GET", "HEAD"));

  app.get("/metrics", (c) => {
    authorize(c, { scopes: ["admin"] });
    c.header("content-type", "text/plain; version=0.0.4; charset=utf-8");
    return c.body(deps.metrics.render(node));
  });
  app.all("/metrics", methodNotAllowed("GET", "HEAD"));

  const ok = z.object({ ok: z.literal(true) });
  describeRoute(deps.registry, {
    method: "get",
    path: "/healthz",
    summary: "Liveness: the process answers",
    responses: { 200: { description: "Up", content: { "application/json": { schema: ok } } } },
  }, { auth: false, probe: true });
  describeRoute(deps.registry, {
    method: "get",
    path: "/readyz",
    summary: "Readiness: a leader is known and this node has caught up",
    responses: {
      200: {
        description: "Ready",
        content: {
          "application/json": {
            schema: ok.extend({
              leaderId: z.number().int(),
              appliedIndex: z.number().int(),
              leaderCommit: z.number().int(),
            }),
          },
        },
      },
      ...problemResponses({
        503: "No leader, not heard from it for a second, or more than 1,000 entries behind its " +
          "commit index",
      }),
    },
  }, { auth: false, probe: true });
  describeRoute(deps.registry, {
    method: "get",
    path: "/metrics",
    summary: "Prometheus metrics (admin scope when tokens are configured)",
    responses: {
      200: { description: "Prometheus text", content: { "text/plain": { schema: z.string() } } },
    },
  }, { auth: !deps.open, probe: true });
}
