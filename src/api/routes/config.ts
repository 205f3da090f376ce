/**
 * Config values: `GET/PUT/DELETE /v1/config/{key}` and `GET /v1/config`
 * (docs/architecture.md#the-http-api-layer).
 *
 * Caching: a linearizable read answers `Cache-Control: no-cache` (a cache may keep it but must
 * revalidate with its `ETag`, which costs a 304 and no body); a stale read answers
 * `max-age=1, stale-while-revalidate=5`, marked `public` only when the API is open (with
 * tokens, a shared cache must not hand one token's answer to another request).
 *
 * @module
 */

import type { Hono } from "hono";
import type { DeleteCommand, PutCommand } from "../../state/commands.ts";
import type { DeleteResult, PutResult } from "../../state/results.ts";
import type { ApiDeps, ApiEnv } from "../app_env.ts";
import { authorize } from "../middleware/auth/auth.ts";
import { methodNotAllowed } from "../middleware/problem_errors/problem_errors.ts";
import { readAt, submitCommand, succeeded } from "../node_calls.ts";
import { describeRoute, jsonResponse, problemResponses } from "../openapi.ts";
import { invalidRequest, ProblemError } from "../problem.ts";
import {
  configKey,
  ifMatchRevision,
  ifNoneMatchStar,
  jsonBody,
  noneMatch,
  queryOf,
} from "../request_parts.ts";
import {
  DeleteResultSchema,
  KeyValueSchema,
  ListPageSchema,
  PutResultSchema,
} from "../response_schemas.ts";
import { parseWith } from "../schemas.ts";
import { z } from "../zod.ts";

/**
 * The `Cache-Control` of a read.
 *
 * @example
 * ```ts
 * import { readCacheControl } from "./config.ts";
 * readCacheControl(false, true); // "no-cache"
 * ```
 */
export function readCacheControl(stale: boolean, open: boolean): string {
  if (!stale) return "no-cache";
  return `${open ? "public, " : ""}max-age=1, stale-while-revalidate=5`;
}

/**
 * Mounts the config routes and describes them in the registry.
 *
 * @example
 * ```ts ignore
 * configRoutes(app, deps);
 * ```
 */
export function configRoutes(app: Hono<ApiEnv>, deps: ApiDeps): void {
  const { node, schemas } = deps;

  app.get("/v1/config", async (c) => {
    const query = queryOf(c, schemas.listQuery);
    authorize(c, { scopes: ["read"], keyPrefix: query.prefix ?? "" });
    const stale = await readAt(deps, c, query);
    const page = node.listValues({ prefix: query.prefix, after: query.after, limit: query.limit });
    const etag = `"${page.revision}"`;
    c.header("x-revision", String(page.revision));
    c.header("cache-control", readCacheControl(stale, deps.open));
    c.header("etag", etag);
    if (noneMatch(c.req.header("if-none-match"), etag)) return c.body(null, 304);
    return c.json(page);
  });
  app.all("/v1/config", methodNotAllowed("GET", "HEAD"));

  app.get("/v1/config/*", async (c) => {
    const key = configKey(c, schemas);
    authorize(c, { scopes: ["read"], key });
    const query = queryOf(c, schemas.readQuery);
    const stale = await readAt(deps, c, query);
    const found = node.getValue(key);
    const headers = {
      "x-revision": String(node.revision()),
      "cache-control": readCacheControl(stale, deps.open),
    };
    if (found === undefined) {
      throw new ProblemError(404, "not-found", `the key ${key} has no value`, {}, headers);
    }
    const etag = `"${found.revision}"`;
    for (const [name, value] of Object.entries({ ...headers, etag })) c.header(name, value);
    if (noneMatch(c.req.header("if-none-match"), etag)) return c.body(null, 304);
    return c.json(found);
  });

  app.put("/v1/config/*", async (c) => {
    const key = configKey(c, schemas);
    authorize(c, { scopes: ["write"], key });
    const ifRevision = ifMatchRevision(c.req.header("if-match"));
    const ifAbsent = ifNoneMatchStar(c.req.header("if-none-match"));
    if (ifRevision !== undefined && ifAbsent) {
      throw invalidRequest("If-Match and If-None-Match do not go together");
    }
    const value = parseWith(schemas.value, jsonBody(c), "body");
    const cmd: PutCommand = { op: "put", key, value: value as PutCommand["value"] };
    if (ifRevision !== undefined) cmd.ifRevision = ifRevision;
    if (ifAbsent) cmd.ifAbsent = true;
    const { revision, createRevision, version, prevRevision } = succeeded<PutResult>(
      await submitCommand(deps, c, cmd),
    );
    c.header("etag", `"${revision}"`);
    return c.json({ key, revision, createRevision, version, prevRevision });
  });

  app.delete("/v1/config/*", async (c) => {
    const key = configKey(c, schemas);
    authorize(c, { scopes: ["write"], key });
    const cmd: DeleteCommand = { op: "delete", key };
    const ifRevision = ifMatchRevision(c.req.header("if-match"));
    if (ifRevision !== undefined) cmd.ifRevision = ifRevision;
    const { revision, prevRevision } = succeeded<DeleteResult>(await submitCommand(deps, c, cmd));
    return c.json({ key, revision, prevRevision });
  });
  app.all("/v1/config/*", methodNotAllowed("GET", "HEAD", "PUT", "DELETE"));

  describe(deps);
}

function describe({ registry, schemas, open }: ApiDeps): void {
  const auth = !open;
  const key = z.object({ key: schemas.key });
  const readHeaders = {
    ETag: {
      description: 'The key\'s revision: "<revision>".',
      schema: { type: "string" as const },
    },
    "Cache-Control": {
      description: "See docs/api.md (Caching).",
      schema: { type: "string" as const },
    },
    "X-Last-Contact-Ms": {
      description: "Stale reads: ms since this node last heard from the leader (-1: never).",
      schema: { type: "integer" as const },
    },
  };
  const writtenTag = {
    description: 'The revision written: "<revision>" (for a later If-Match).',
    schema: { type: "string" as const },
  };
  const writeHeaders = z.object({
    "If-Match": z.string().optional().openapi({ description: 'Compare-and-set: "<revision>".' }),
    "X-Client-Id": schemas.clientId.optional(),
    "X-Client-Seq": z.string().optional().openapi({ description: "With X-Client-Id." }),
    "Idempotency-Key": schemas.idempotencyKey.optional(),
  });
  describeRoute(registry, {
    method: "get",
    path: "/v1/config/{key}",
    summary: "Read a config value",
    request: {
      params: key,
      query: schemas.readQuery,
      headers: z.object({ "If-None-Match": z.string().optional() }),
    },
    responses: {
      200: jsonResponse("The value and its revisions", KeyValueSchema, readHeaders),
      304: { description: "Not modified (If-None-Match matched the ETag)" },
      ...problemResponses({ 404: "The key has no value" }),
    },
  }, { auth, read: true });
  describeRoute(registry, {
    method: "put",
    path: "/v1/config/{key}",
    summary: "Write a config value",
    request: {
      params: key,
      headers: writeHeaders.extend({
        "If-None-Match": z.literal("*").optional().openapi({ description: "Create only." }),
      }),
      body: { required: true, content: { "application/json": { schema: schemas.value } } },
    },
    responses: {
      200: jsonResponse("Written", PutResultSchema, { ETag: writtenTag }),
      ...problemResponses({ 412: "If-Match or If-None-Match failed" }),
    },
  }, { auth, body: "json", write: true });
  describeRoute(registry, {
    method: "delete",
    path: "/v1/config/{key}",
    summary: "Delete a config value",
    request: { params: key, headers: writeHeaders },
    responses: {
      200: jsonResponse("Deleted", DeleteResultSchema),
      ...problemResponses({ 404: "The key has no value", 412: "If-Match failed" }),
    },
  }, { auth, write: true });
  describeRoute(registry, {
    method: "get",
    path: "/v1/config",
    summary: "List config values under a prefix, in pages",
    request: {
      query: schemas.listQuery,
      headers: z.object({ "If-None-Match": z.string().optional() }),
    },
    responses: {
      200: jsonResponse("One page", ListPageSchema, readHeaders),
      304: { description: "Not modified (If-None-Match matched the ETag)" },
    },
  }, { auth, read: true });
}
