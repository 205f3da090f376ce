/**
 * The status page: `GET /` serves it (src/api/status_page/page.ts, no token needed: it holds
 * no data), and `GET /v1/status` answers what it shows, in one JSON read (admin scope when
 * tokens are configured: it lists every lock and key changed, across all prefixes).
 *
 * @module
 */

import type { Hono } from "hono";
import type { NodeId } from "../../raft/types.ts";
import type { ApiDeps, ApiEnv } from "../app_env.ts";
import { EDGERAFT_VERSION, peerHealth } from "../metrics.ts";
import { authorize } from "../middleware/auth/auth.ts";
import { methodNotAllowed } from "../middleware/problem_errors/problem_errors.ts";
import { describeRoute, jsonResponse } from "../openapi.ts";
import { STATUS_PAGE_CSP, statusPageHtml } from "../status_page/page.ts";
import { z } from "../zod.ts";
import { clusterView } from "./cluster.ts";

/**
 * At most this many locks and config changes in one answer: the page shows the first locks by
 * name and the latest changes, and says when there are more locks.
 *
 * @example
 * ```ts
 * import { STATUS_MAX_LOCKS, STATUS_MAX_CHANGES } from "./status.ts";
 * console.log(STATUS_MAX_LOCKS, STATUS_MAX_CHANGES); // 100 20
 * ```
 */
export const STATUS_MAX_LOCKS = 100;

/** See {@linkcode STATUS_MAX_LOCKS}. */
export const STATUS_MAX_CHANGES = 20;

/**
 * The `GET /v1/status` body.
 *
 * @example
 * ```ts
 * import { StatusSchema } from "./status.ts";
 * console.log(Object.keys(StatusSchema.shape).includes("locks")); // true
 * ```
 */
export const StatusSchema = z.object({
  clusterId: z.string(),
  nodeId: z.number().int(),
  version: z.string(),
  deno: z.string(),
  startedAt: z.number().openapi({ description: "When the process started (ms since the epoch)." }),
  uptimeMs: z.number(),
  now: z.number().openapi({ description: "The node's clock (ms since the epoch)." }),
  leaderId: z.number().int().nullable(),
  term: z.number().int(),
  role: z.string().openapi({ description: "This node's role in the core." }),
  commitIndex: z.number().int(),
  appliedIndex: z.number().int(),
  applyLagEntries: z.number().int().openapi({
    description: "The leader's commit index (as last heard) minus this node's applied index.",
  }),
  lastContactMs: z.number().nullable().openapi({
    description: "ms since this node last heard from a leader (or led); null: never.",
  }),
  watchStreams: z.number().int(),
  lockWaitersHere: z.number().int(),
  members: z.array(z.object({
    id: z.number().int(),
    url: z.string().nullable(),
    self: z.boolean(),
    role: z.enum(["leader", "follower", "learner", "unknown"]),
    reachable: z.boolean().nullable().openapi({ description: "null for this node itself." }),
    matchIndex: z.number().int().nullable().openapi({ description: "Known on the leader only." }),
    appliedIndex: z.number().int().nullable().openapi({ description: "This node's only." }),
    lagEntries: z.number().int().nullable().openapi({ description: "Known on the leader only." }),
  })),
  locksTotal: z.number().int(),
  locks: z.array(z.object({
    name: z.string(),
    holder: z.object({
      token: z.number().int(),
      owner: z.string(),
      ttlMs: z.number().int(),
      expiresAt: z.number(),
    }),
    waiters: z.array(z.object({
      waiterId: z.number().int(),
      owner: z.string(),
      deadline: z.number(),
    })),
  })),
  changes: z.array(z.object({
    revision: z.number().int(),
    key: z.string(),
    type: z.enum(["put", "delete"]),
    appliedAt: z.number().nullable().openapi({
      description: "When it was applied, in log time (the leader's clock, ms since the epoch); " +
        "null: no longer known here (older, or from before a snapshot this node restored).",
    }),
  })).openapi({ description: "The latest config changes, newest first." }),
}).openapi("Status");

/** The status body's type. */
export type StatusView = z.infer<typeof StatusSchema>;

/** The latest config changes as applied here, newest first. */
function recentChanges(deps: ApiDeps): StatusView["changes"] {
  const { node } = deps;
  const from = Math.max(1, node.revision() - STATUS_MAX_CHANGES + 1);
  let answer = node.eventsSince("", from, STATUS_MAX_CHANGES);
  // The history keeps a bounded window: start where it does.
  if (answer.compacted) answer = node.eventsSince("", answer.compactedRevision + 1);
  if (answer.compacted) return [];
  return answer.events.slice(-STATUS_MAX_CHANGES).reverse().map((e) => ({
    revision: e.revision,
    key: e.key,
    type: e.type,
    appliedAt: node.counters?.revisionTimes.at(e.revision) ?? null,
  }));
}

/**
 * The `/v1/status` body: the cluster as this node sees it, its locks and latest changes.
 *
 * @example
 * ```ts ignore
 * const body = statusView(deps);
 * ```
 */
function statusView(deps: ApiDeps): StatusView {
  const { node } = deps;
  const cluster = clusterView(deps);
  const status = node.status();
  const health = new Map<NodeId, ReturnType<typeof peerHealth>[number]>(
    peerHealth(node, deps.peers.keys()).map((p) => [p.id, p]),
  );
  const now = deps.clock();
  const applied = cluster.appliedIndex;
  const locks = node.listLocks?.() ?? [];
  return {
    clusterId: cluster.clusterId,
    nodeId: node.id,
    version: EDGERAFT_VERSION,
    deno: Deno.version.deno,
    startedAt: Math.round(performance.timeOrigin),
    uptimeMs: Math.round(performance.now()),
    now,
    leaderId: cluster.leaderId,
    term: cluster.term,
    role: status.role,
    commitIndex: cluster.commitIndex,
    appliedIndex: applied,
    applyLagEntries: Math.max(0, Math.max(status.commit, status.leaderCommit ?? 0) - applied),
    lastContactMs: node.isLeader()
      ? 0
      : node.lastContact > 0
      ? Math.max(0, now - node.lastContact)
      : null,
    watchStreams: deps.metrics.watchers,
    lockWaitersHere: deps.metrics.lockWaits,
    members: cluster.members.map((m) => {
      const self = m.id === node.id;
      const peer = health.get(m.id);
      return {
        id: m.id,
        url: m.url,
        self,
        role: m.role as "leader" | "follower" | "learner" | "unknown",
        reachable: self ? null : peer?.reachable ?? null,
        matchIndex: self && node.isLeader() ? status.lastIndex ?? status.commit : m.matchIndex,
        appliedIndex: self ? applied : null,
        lagEntries: self ? (node.isLeader() ? 0 : null) : peer?.lagEntries ?? null,
      };
    }),
    locksTotal: locks.length,
    locks: locks.slice(0, STATUS_MAX_LOCKS).flatMap(({ name, holder, waiters }) =>
      holder === null ? [] : [{
        name,
        holder: {
          token: holder.token,
          owner: holder.owner,
          ttlMs: holder.ttlMs,
          expiresAt: holder.expiresAt,
        },
        waiters: waiters.map(({ waiterId, owner, deadline }) => ({ waiterId, owner, deadline })),
      }]
    ),
    changes: recentChanges(deps),
  };
}

/**
 * Mounts `GET /v1/status` (the page's data) and describes it in the registry. The page,
 * `GET /`, is `statusPageRoute`'s, mounted before the auth middleware.
 *
 * @example
 * ```ts ignore
 * statusPageRoute(app);   // before bearerAuth
 * statusRoutes(app, deps); // with the other routes
 * ```
 */
export function statusRoutes(app: Hono<ApiEnv>, deps: ApiDeps): void {
  app.get("/v1/status", (c) => {
    authorize(c, { scopes: ["admin"] });
    c.header("cache-control", "no-store");
    return c.json(statusView(deps));
  });
  app.all("/v1/status", methodNotAllowed("GET", "HEAD"));
  describeRoute(deps.registry, {
    method: "get",
    path: "/v1/status",
    summary: "What the status page at / shows: members, leader, indexes, locks, latest changes " +
      "(admin scope when tokens are configured)",
    responses: { 200: jsonResponse("The status", StatusSchema) },
  }, { auth: !deps.open });
}

/**
 * Mounts `GET /`: the status page, the same bytes on every request.
 *
 * @example
 * ```ts ignore
 * statusPageRoute(app);
 * ```
 */
export function statusPageRoute(app: Hono<ApiEnv>): void {
  const html = statusPageHtml();
  app.get("/", (c) => {
    c.header("content-type", "text/html; charset=utf-8");
    c.header("content-security-policy", STATUS_PAGE_CSP);
    c.header("cache-control", "no-cache");
    c.header("x-content-type-options", "nosniff");
    return c.body(html);
  });
  app.all("/", methodNotAllowed("GET", "HEAD"));
}
