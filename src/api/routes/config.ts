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

import type { Context, Hono } from "hono";
import type { DeleteCommand, PutCommand } from "../../state/commands.ts";
import type { ApplyOutcome, DeleteResult, PutResult } from "../../state/results.ts";
import type { ApiDeps, ApiEnv } from "../app_env.ts";
import { authorize } from "../middleware/auth/auth.ts";
import { methodNotAllowed } from "../middleware/problem_errors/problem_errors.ts";
import { outcomeHeaders, readAt, submitCommand, succeeded } from "../node_calls.ts";
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
import { parseWith, type Schemas } from "../schemas.ts";
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
    const cmd = putCommandOf(
      schemas,
      key,
      c.req.header("if-match"),
      c.req.header("if-none-match"),
      () => jsonBody(c),
    );
    return answerWith(c, configWriteAnswer(cmd, await submitCommand(deps, c, cmd)));
  });

  app.delete("/v1/config/*", async (c) => {
    const key = configKey(c, schemas);
    authorize(c, { scopes: ["write"], key });
    const cmd = deleteCommandOf(key, c.req.header("if-match"));
    return answerWith(c, configWriteAnswer(cmd, await submitCommand(deps, c, cmd)));
  });
  app.all("/v1/config/*", methodNotAllowed("GET", "HEAD", "PUT", "DELETE"));

  describe(deps);
}

/**
 * The command of `PUT /v1/config/{key}`: the value (`body()`, the JSON body, read after the
 * headers are checked) under `schemas.value`, `If-Match` as `ifRevision`, `If-None-Match: *`
 * as `ifAbsent`. Throws the 400 (or 413, 415) problem of a malformed part. The route and the
 * client port's write shortcut (`fast_config_write.ts`) both build their command here.
 *
 * @example
 * ```ts
 * import { putCommandOf } from "./config.ts";
 * import { buildSchemas } from "../schemas.ts";
 * import { DEFAULT_LIMITS } from "../limits.ts";
 * putCommandOf(buildSchemas(DEFAULT_LIMITS), "a", '"3"', undefined, () => 1);
 * // { op: "put", key: "a", value: 1, ifRevision: 3 }
 * ```
 */
export function putCommandOf(
  schemas: Schemas,
  key: string,
  ifMatch: string | undefined,
  ifNoneMatch: string | undefined,
  body: () => unknown,
): PutCommand {
  const ifRevision = ifMatchRevision(ifMatch);
  const ifAbsent = ifNoneMatchStar(ifNoneMatch);
  if (ifRevision !== undefined && ifAbsent) {
    throw invalidRequest("If-Match and If-None-Match do not go together");
  }
  const value = parseWith(schemas.value, body(), "body");
  const cmd: PutCommand = { op: "put", key, value: value as PutCommand["value"] };
  if (ifRevision !== undefined) cmd.ifRevision = ifRevision;
  if (ifAbsent) cmd.ifAbsent = true;
  return cmd;
}

/**
 * The command of `DELETE /v1/config/{key}`, `If-Match` as `ifRevision` (a malformed one: the
 * 400 problem).
 *
 * @example
 * ```ts
 * import { deleteCommandOf } from "./config.ts";
 * deleteCommandOf("a", undefined); // { op: "delete", key: "a" }
 * ```
 */
export function deleteCommandOf(key: string, ifMatch: string | undefined): DeleteCommand {
  const cmd: DeleteCommand = { op: "delete", key };
  const ifRevision = ifMatchRevision(ifMatch);
  if (ifRevision !== undefined) cmd.ifRevision = ifRevision;
  return cmd;
}

/**
 * An answer as its status-200 parts: headers in the order a `Response` lists them (sorted by
 * name, lower case), without the `x-leader` every answer gets last, and the body.
 *
 * @example
 * ```ts
 * import type { WriteAnswer } from "./config.ts";
 * const a: WriteAnswer = { headers: [["content-type", "application/json"]], body: "{}" };
 * ```
 */
export interface WriteAnswer {
  headers: [string, string][];
  body: string;
}

/**
 * The answer to a config write whose outcome is `outcome`: the result's JSON, `etag` (puts),
 * and the outcome's `x-revision` and `idempotent-replayed`; the problem of a refusal (412, 404,
 * 409, 422) is thrown, carrying the outcome's headers. The one place both the route and the
 * client port's write shortcut (`fast_config_write.ts`) build it, so they cannot differ.
 *
 * @example
 * ```ts
 * import { configWriteAnswer } from "./config.ts";
 * const answer = configWriteAnswer({ op: "delete", key: "a" }, {
 *   index: 4, events: [], revision: 3, duplicate: false,
 *   result: { ok: true, revision: 3, prevRevision: 2 },
 * });
 * answer.body; // '{"key":"a","revision":3,"prevRevision":2}'
 * ```
 */
export function configWriteAnswer(
  cmd: PutCommand | DeleteCommand,
  outcome: ApplyOutcome,
): WriteAnswer {
  const key = cmd.key;
  const headers: [string, string][] = [["content-type", "application/json"]];
  let body: string;
  if (cmd.op === "put") {
    const { revision, createRevision, version, prevRevision } = succeeded<PutResult>(outcome);
    headers.push(["etag", `"${revision}"`]);
    body = JSON.stringify({ key, revision, createRevision, version, prevRevision });
  } else {
    const { revision, prevRevision } = succeeded<DeleteResult>(outcome);
    body = JSON.stringify({ key, revision, prevRevision });
  }
  for (const [name, value] of Object.entries(outcomeHeaders(outcome))) headers.push([name, value]);
  headers.sort(([a], [b]) => (a < b ? -1 : 1));
  return { headers, body };
}

/** `answer` as the route's response (the middleware adds `x-leader`). */
function answerWith(c: Context<ApiEnv>, answer: WriteAnswer): Response {
  for (const [name, value] of answer.headers) c.header(name, value);
  return c.body(answer.body);
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
