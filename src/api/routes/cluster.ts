/**
 * `GET /v1/cluster`: the cluster as this node sees it. Any valid token may read it.
 *
 * @module
 */

import type { Hono } from "hono";
import type { ApiDeps, ApiEnv } from "../app_env.ts";
import { authorize } from "../middleware/auth/auth.ts";
import { clientUrlOf, peerUrlOf } from "../member_urls.ts";
import { methodNotAllowed } from "../middleware/problem_errors/problem_errors.ts";
import { describeRoute, jsonResponse } from "../openapi.ts";
import { ClusterSchema } from "../response_schemas.ts";

/**
 * The `/v1/cluster` body. Roles are "unknown" while no leader is known; match indexes are
 * known only on the leader. The members are the core's (voters and learners); a node without
 * a member directory (an older fake) also lists the founding peers, as before membership
 * could change. URLs come from the directory, else the founding flags.
 *
 * @example
 * ```ts ignore
 * const body = clusterView(deps);
 * ```
 */
export function clusterView(deps: ApiDeps) {
  const { node } = deps;
  const status = node.status();
  const leader = node.leaderId();
  const learners = new Set(status.conf.learners);
  const ids = new Set([...status.conf.voters, ...learners]);
  if (!node.directory) { for (const id of deps.peers.keys()) ids.add(id); }
  const members = [...ids].sort((a, b) => a - b).map((id) => ({
    id,
    url: clientUrlOf(deps, id) ?? null,
    peerUrl: peerUrlOf(deps, id) ?? null,
    role: roleOf(id, leader, learners),
    matchIndex: node.isLeader() ? status.progress.get(id)?.match ?? null : null,
  }));
  return {
    clusterId: deps.clusterId,
    nodeId: node.id,
    leaderId: leader === 0 ? null : leader,
    term: status.term,
    commitIndex: status.commit,
    appliedIndex: node.appliedIndex(),
    members,
  };
}

function roleOf(
  id: number,
  leader: number,
  learners: ReadonlySet<number>,
): "leader" | "follower" | "learner" | "unknown" {
  if (learners.has(id)) return "learner";
  if (leader === 0) return "unknown";
  return id === leader ? "leader" : "follower";
}

/**
 * Mounts the route and describes it in the registry.
 *
 * @example
 * ```ts ignore
 * clusterRoutes(app, deps);
 * ```
 */
export function clusterRoutes(app: Hono<ApiEnv>, deps: ApiDeps): void {
  app.get("/v1/cluster", (c) => {
    authorize(c, { scopes: [] });
    c.header("cache-control", "no-store");
    return c.json(clusterView(deps));
  });
  app.all("/v1/cluster", methodNotAllowed("GET", "HEAD"));
  describeRoute(deps.registry, {
    method: "get",
    path: "/v1/cluster",
    summary: "Members, roles, term and indexes as this node sees them",
    responses: { 200: jsonResponse("The cluster", ClusterSchema) },
  }, { auth: !deps.open });
}
