/**
 * Locks: `POST /v1/locks/{name}/acquire|renew|release` and `GET /v1/locks/{name}`
 * (docs/architecture.md#the-http-api-layer). Every grant carries its fencing token.
 *
 * @module
 */

import type { Context, Hono } from "hono";
import { type AcquireAnswer, LockWaits } from "../../node/lock_waits.ts";
import type { AcquireCommand, ReleaseCommand, RenewCommand } from "../../state/commands.ts";
import { holderView } from "../../state/lock_table.ts";
import type { ApplyOutcome, HolderView, ReleaseResult, RenewResult } from "../../state/results.ts";
import type { ApiDeps, ApiEnv } from "../app_env.ts";
import { authorize } from "../middleware/auth/auth.ts";
import { methodNotAllowed } from "../middleware/problem_errors/problem_errors.ts";
import {
  outcomeHeaders,
  problemOfFailure,
  readAt,
  submitCommand,
  succeeded,
} from "../node_calls.ts";
import { ProblemError } from "../problem.ts";
import { describeRoute, jsonResponse, problemResponses } from "../openapi.ts";
import { jsonBody, lockName, queryOf } from "../request_parts.ts";
import {
  LockGrantSchema,
  LockHeldSchema,
  LockInfoSchema,
  ReleaseResultSchema,
  RenewResultSchema,
} from "../response_schemas.ts";
import { parseWith, type Schemas } from "../schemas.ts";
import type { WriteAnswer } from "./config.ts";
import { z } from "../zod.ts";

/**
 * Mounts the lock routes and describes them in the registry.
 *
 * @example
 * ```ts ignore
 * lockRoutes(app, deps);
 * ```
 */
export function lockRoutes(app: Hono<ApiEnv>, deps: ApiDeps): void {
  const { node, schemas } = deps;
  // Waiting in line is the node's business (src/node/lock_waits.ts): the route proposes with
  // the request's session headers and says how the wait ended.
  const lockWaits = lockWaitsOf(deps);

  app.post("/v1/locks/:name/acquire", async (c) => {
    const name = lockName(c, schemas);
    authorize(c, { scopes: ["lock"], lock: name });
    const cmd = acquireCommandOf(schemas, name, jsonBody(c));
    const answer = await lockWaits.acquire(cmd, {
      propose: () => submitCommand(deps, c, cmd),
      signal: c.req.raw.signal,
      onWait: (delta) => deps.metrics.lockWaits += delta,
    });
    return answerWith(c, acquireAnswer(cmd, answer));
  });

  app.post("/v1/locks/:name/renew", async (c) => {
    const name = lockName(c, schemas);
    authorize(c, { scopes: ["lock"], lock: name });
    const cmd = tokenCommandOf(schemas, "renew", name, jsonBody(c));
    return answerWith(c, tokenAnswer(cmd, await submitCommand(deps, c, cmd)));
  });

  app.post("/v1/locks/:name/release", async (c) => {
    const name = lockName(c, schemas);
    authorize(c, { scopes: ["lock"], lock: name });
    const cmd = tokenCommandOf(schemas, "release", name, jsonBody(c));
    return answerWith(c, tokenAnswer(cmd, await submitCommand(deps, c, cmd)));
  });
  app.all("/v1/locks/:name/:action{acquire|renew|release}", methodNotAllowed("POST"));

  app.get("/v1/locks/:name", async (c) => {
    const name = lockName(c, schemas);
    authorize(c, { scopes: ["read", "lock"], lock: name });
    const query = queryOf(c, schemas.readQuery);
    await readAt(deps, c, query);
    const { holder, waiters } = node.lockInfo(name);
    c.header("x-revision", String(node.revision()));
    c.header("cache-control", "no-store");
    return c.json({
      name,
      holder: holderView(holder),
      waiters: waiters.map(({ waiterId, owner, deadline }) => ({ waiterId, owner, deadline })),
    });
  });
  app.all("/v1/locks/:name", methodNotAllowed("GET", "HEAD"));

  describe(deps);
}

const lockWaitsByNode = new WeakMap<ApiDeps["node"], LockWaits>();

/**
 * The lock waits the API's acquires go through: the node's own (a `RaftNode` has one), else
 * one made for the node, the same for the route and the client port's lock shortcut
 * (`fast_lock.ts`), so that both see every wait on a lock.
 *
 * @example
 * ```ts ignore
 * const { end } = await lockWaitsOf(deps).acquire(cmd, { signal });
 * ```
 */
export function lockWaitsOf(deps: Pick<ApiDeps, "node" | "logger">): LockWaits {
  const node = deps.node;
  if (node.lockWaits !== undefined) return node.lockWaits;
  let waits = lockWaitsByNode.get(node);
  if (waits === undefined) {
    waits = new LockWaits(node, { logger: deps.logger });
    lockWaitsByNode.set(node, waits);
  }
  return waits;
}

/**
 * The command of `POST /v1/locks/{name}/acquire` with the JSON body `body` (undefined: none).
 * Throws the 400 problem of a body the schema refuses. The route and the client port's lock
 * shortcut (`fast_lock.ts`) both build their command here.
 *
 * @example
 * ```ts
 * import { acquireCommandOf } from "./locks.ts";
 * import { buildSchemas } from "../schemas.ts";
 * import { DEFAULT_LIMITS } from "../limits.ts";
 * acquireCommandOf(buildSchemas(DEFAULT_LIMITS), "cron", { ttlMs: 5000 });
 * // { op: "acquire", name: "cron", owner: "", ttlMs: 5000, waitMs: 0 }
 * ```
 */
export function acquireCommandOf(schemas: Schemas, name: string, body: unknown): AcquireCommand {
  const parsed = parseWith(schemas.acquireBody, body, "body");
  return {
    op: "acquire",
    name,
    owner: parsed.owner ?? "",
    ttlMs: parsed.ttlMs,
    waitMs: parsed.waitMs ?? 0,
  };
}

/**
 * The command of `POST /v1/locks/{name}/renew` or `/release` with the JSON body `body`.
 * Throws the 400 problem of a body the schema refuses; shared as {@linkcode acquireCommandOf}.
 *
 * @example
 * ```ts
 * import { tokenCommandOf } from "./locks.ts";
 * import { buildSchemas } from "../schemas.ts";
 * import { DEFAULT_LIMITS } from "../limits.ts";
 * tokenCommandOf(buildSchemas(DEFAULT_LIMITS), "release", "cron", { token: 7 });
 * // { op: "release", name: "cron", token: 7 }
 * ```
 */
export function tokenCommandOf(
  schemas: Schemas,
  op: "renew" | "release",
  name: string,
  body: unknown,
): RenewCommand | ReleaseCommand {
  const { token } = parseWith(schemas.tokenBody, body, "body");
  return { op, name, token };
}

/**
 * The answer to an acquire that ended as `answer` says: the grant's JSON with the acquire's
 * `x-revision` and `idempotent-replayed`; every other end is thrown as its problem (409
 * `lock-held`, 504 `timeout`, 499 `client-closed`, ...). The one place both the route and the
 * client port's lock shortcut (`fast_lock.ts`) build it, so they cannot differ.
 *
 * @example
 * ```ts
 * import { acquireAnswer } from "./locks.ts";
 * const cmd = { op: "acquire", name: "a", owner: "", ttlMs: 5000, waitMs: 0 } as const;
 * const answer = acquireAnswer(cmd, {
 *   outcome: { index: 4, events: [], revision: 3, duplicate: false,
 *     result: { ok: true, queued: false, token: 4, expiresAt: 9000 } },
 *   end: { type: "granted", token: 4, expiresAt: 9000 },
 * });
 * answer.body; // '{"name":"a","token":4,"owner":"","ttlMs":5000,"expiresAt":9000}'
 * ```
 */
export function acquireAnswer(cmd: AcquireCommand, answer: AcquireAnswer): WriteAnswer {
  const { outcome, end } = answer;
  switch (end.type) {
    case "granted": {
      const { name, owner, ttlMs } = cmd;
      return jsonAnswer(
        outcome,
        JSON.stringify({ name, token: end.token, owner, ttlMs, expiresAt: end.expiresAt }),
      );
    }
    case "refused":
      throw problemOfFailure(end.failure, outcomeHeaders(outcome));
    case "ended":
      // A replay (the record of a wait that ran out) says it is one.
      throw stayedHeld(
        cmd,
        end.holder,
        end.expiresAt,
        end.replayed ? outcomeHeaders(outcome) : {},
      );
    case "timeout":
      throw new ProblemError(504, "timeout", "the wait did not end in time; it was withdrawn");
    case "abandoned":
      throw new ProblemError(
        499,
        "client-closed",
        "the client went away; the wait was withdrawn",
      );
    case "stopped":
      // The acquire was applied and queued: it may still be granted, so the outcome is
      // unknown (504), never "not applied" (503). A retry with the same key finds out.
      throw new ProblemError(
        504,
        "timeout",
        "the node stopped before the wait ended; the outcome is unknown",
      );
  }
}

/**
 * The answer to a renew or a release whose outcome is `outcome` (the refusal, 409
 * `not-holder`, is thrown); shared as {@linkcode acquireAnswer} is.
 *
 * @example
 * ```ts
 * import { tokenAnswer } from "./locks.ts";
 * const answer = tokenAnswer({ op: "release", name: "a", token: 4 }, {
 *   index: 5, events: [], revision: 3, duplicate: false, result: { ok: true },
 * });
 * answer.body; // '{"name":"a","token":4}'
 * ```
 */
export function tokenAnswer(
  cmd: RenewCommand | ReleaseCommand,
  outcome: ApplyOutcome,
): WriteAnswer {
  const { name, token } = cmd;
  if (cmd.op === "renew") {
    const { expiresAt } = succeeded<RenewResult>(outcome);
    return jsonAnswer(outcome, JSON.stringify({ name, token, expiresAt }));
  }
  succeeded<ReleaseResult>(outcome);
  return jsonAnswer(outcome, JSON.stringify({ name, token }));
}

/** A 200 JSON answer with the outcome's headers, sorted by name as `Headers` lists them. */
function jsonAnswer(outcome: ApplyOutcome, body: string): WriteAnswer {
  const headers: [string, string][] = [["content-type", "application/json"]];
  if (outcome.duplicate) headers.push(["idempotent-replayed", "true"]);
  headers.push(["x-revision", String(outcome.revision)]);
  return { headers, body };
}

function answerWith(c: Context<ApiEnv>, answer: WriteAnswer): Response {
  for (const [name, value] of answer.headers) c.header(name, value);
  return c.body(answer.body);
}

/** The 409 of a wait that ran out, in the same words for the first answer and a replay. */
function stayedHeld(
  cmd: AcquireCommand,
  holder: HolderView | null,
  expiresAt: number | null,
  headers: Record<string, string>,
): ProblemError {
  const detail = `the lock ${cmd.name} stayed held for waitMs = ${cmd.waitMs}`;
  return new ProblemError(409, "lock-held", detail, { holder, expiresAt }, headers);
}

function describe({ registry, schemas, open }: ApiDeps): void {
  const auth = !open;
  const lockWrite = { auth, body: "json", write: true } as const;
  const params = z.object({ name: schemas.lockName });
  const sessionHeaders = z.object({
    "X-Client-Id": schemas.clientId.optional(),
    "X-Client-Seq": z.string().optional().openapi({ description: "With X-Client-Id." }),
    "Idempotency-Key": schemas.idempotencyKey.optional(),
  });
  const body = (schema: z.ZodType) => ({
    required: true,
    content: { "application/json": { schema } },
  });
  describeRoute(registry, {
    method: "post",
    path: "/v1/locks/{name}/acquire",
    summary: "Take a lock (try-lock, or wait in line up to waitMs as a long poll)",
    request: { params, headers: sessionHeaders, body: body(schemas.acquireBody) },
    responses: {
      200: jsonResponse("Granted; `token` is the fencing token", LockGrantSchema),
      ...problemResponses({ 409: "The lock is held (or stayed held for waitMs)" }, LockHeldSchema),
      ...problemResponses({ 504: "The wait did not end in time and was withdrawn" }),
    },
  }, lockWrite);
  describeRoute(registry, {
    method: "post",
    path: "/v1/locks/{name}/renew",
    summary: "Extend the lease of the holder with this token",
    request: { params, headers: sessionHeaders, body: body(schemas.tokenBody) },
    responses: {
      200: jsonResponse("Renewed", RenewResultSchema),
      ...problemResponses({ 409: "The token no longer holds the lock" }),
    },
  }, lockWrite);
  describeRoute(registry, {
    method: "post",
    path: "/v1/locks/{name}/release",
    summary: "Release the lock held with this token",
    request: { params, headers: sessionHeaders, body: body(schemas.tokenBody) },
    responses: {
      200: jsonResponse("Released", ReleaseResultSchema),
      ...problemResponses({ 409: "The token no longer holds the lock" }),
    },
  }, lockWrite);
  describeRoute(registry, {
    method: "get",
    path: "/v1/locks/{name}",
    summary: "A lock's holder and waiters",
    request: { params, query: schemas.readQuery },
    responses: { 200: jsonResponse("The lock", LockInfoSchema) },
  }, { auth, read: true });
}
