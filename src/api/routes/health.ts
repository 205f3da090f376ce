/**
 * Operations: `GET /healthz` (the process answers), `GET /readyz` (a leader is known and this
 * node has applied all it knows committed), `GET /metrics` (Prometheus text; admin scope).
 *
 * @module
 */

import type { Hono } from "hono";
import type { ApiDeps, ApiEnv } from "../app_env.ts";
import { authorize } from "../middleware/auth/auth.ts";
import { methodNotAllowed } from "../middleware/problem_errors/problem_errors.ts";
import { describeRoute, problemResponses } from "../openapi.ts";
import { ProblemError } from "../problem.ts";
import { z } from "../zod.ts";

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
    const applied = node.sm.appliedIndex;
    if (node.leaderId() === 0) {
      throw new ProblemError(503, "not-ready", "no leader is known", {}, { "retry-after": "1" });
    }
    if (applied < status.commit) {
      throw new ProblemError(
        503,
        "not-ready",
        `applied index ${applied} is behind commit index ${status.commit}`,
        {},
        { "retry-after": "1" },
      );
    }
    return c.json({ ok: true, leaderId: node.leaderId(), appliedIndex: applied });
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
            schema: ok.extend({ leaderId: z.number().int(), appliedIndex: z.number().int() }),
          },
        },
      },
      ...problemResponses({ 503: "No leader, or behind the commit index" }),
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
