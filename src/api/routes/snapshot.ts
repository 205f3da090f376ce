/**
 * `GET /v1/snapshot`: a backup file of this node's applied state (admin scope when tokens are
 * configured). A new node that joins starts from it, and a new cluster starts from one with
 * `--restore-from` (docs/api.md, "Membership and backups"; the layout is in
 * src/storage/backup_file.ts).
 *
 * @module
 */

import type { Hono } from "hono";
import { encodeBackup } from "../../storage/backup_file.ts";
import type { ApiDeps, ApiEnv } from "../app_env.ts";
import { authorize } from "../middleware/auth/auth.ts";
import { methodNotAllowed } from "../middleware/problem_errors/problem_errors.ts";
import { describeRoute, problemResponses } from "../openapi.ts";
import { lastContactMs } from "../node_calls.ts";
import { ProblemError } from "../problem.ts";
import { parseWith } from "../schemas.ts";
import { z } from "../zod.ts";

/**
 * The backup's file name: `edgeraft-<clusterId>-<index>.backup`, the cluster id reduced to
 * characters safe in a file name and a `Content-Disposition` header.
 *
 * @example
 * ```ts
 * import { backupFileName } from "./snapshot.ts";
 * backupFileName("prod eu", 42); // "edgeraft-prod_eu-42.backup"
 * ```
 */
export function backupFileName(clusterId: string, index: number): string {
  const safe = clusterId.replace(/[^A-Za-z0-9._-]/g, "_").slice(0, 100) || "cluster";
  return `edgeraft-${safe}-${index}.backup`;
}

/**
 * Mounts the route and describes it in the registry.
 *
 * @example
 * ```ts ignore
 * snapshotRoutes(app, deps);
 * ```
 */
export function snapshotRoutes(app: Hono<ApiEnv>, deps: ApiDeps): void {
  const query = z.object({
    consistency: z.enum(["linearizable", "stale"]).optional().openapi({
      description: "linearizable (default): the backup holds every write acknowledged before " +
        "the request (ReadIndex first); stale: this node's applied state as it is, also " +
        "without a quorum (X-Last-Contact-Ms says how stale).",
    }),
  });
  app.get("/v1/snapshot", async (c) => {
    authorize(c, { scopes: ["admin"] });
    const { node } = deps;
    if (!node.backup) {
      throw new ProblemError(501, "not-implemented", "this node does not offer backups");
    }
    const { consistency } = parseWith(query, c.req.query(), "query");
    // By default the backup holds every write acknowledged before it was asked for, from
    // whichever node answers; a stale one is this node's state as it is (a cluster that lost
    // its quorum can still be backed up).
    if (consistency === "stale") c.header("x-last-contact-ms", String(lastContactMs(deps)));
    else await node.linearizableRead();
    const backup = await node.backup();
    const bytes = await encodeBackup(backup);
    c.header("content-type", "application/octet-stream");
    c.header("cache-control", "no-store");
    c.header("x-snapshot-index", String(backup.index));
    c.header("x-snapshot-term", String(backup.term));
    c.header(
      "content-disposition",
      `attachment; filename="${backupFileName(backup.clusterId, backup.index)}"`,
    );
    return c.body(bytes as Uint8Array<ArrayBuffer>);
  });
  app.all("/v1/snapshot", methodNotAllowed("GET", "HEAD"));

  describeRoute(deps.registry, {
    method: "get",
    path: "/v1/snapshot",
    summary: "A consistent backup of the state machine, as a file (admin)",
    request: { query },
    description: "The state at this node's applied index, with that index, its term, the " +
      "membership and a SHA-256 of the data. Start a new cluster from it with `--restore-from " +
      "FILE`; a damaged file is refused before anything starts.",
    responses: {
      200: {
        description: "The backup file",
        headers: {
          "X-Snapshot-Index": {
            description: "The applied index the backup holds.",
            schema: { type: "integer" },
          },
          "X-Snapshot-Term": {
            description: "The term of the entry at that index.",
            schema: { type: "integer" },
          },
          "X-Last-Contact-Ms": {
            description: "consistency=stale: ms since this node last heard from a leader.",
            schema: { type: "integer" },
          },
          "Content-Disposition": {
            description: 'attachment; filename="edgeraft-<clusterId>-<index>.backup"',
            schema: { type: "string" },
          },
        },
        content: {
          "application/octet-stream": { schema: { type: "string", format: "binary" } },
        },
      },
      ...problemResponses({
        501: "`not-implemented`: this node offers no backups",
        503: "`no-leader`: the node is stopping",
      }),
    },
  }, { auth: !deps.open, read: true });
}
