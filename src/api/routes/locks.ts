/**
 * Locks: `POST /v1/locks/{name}/acquire|renew|release` and `GET /v1/locks/{name}`
 * (docs/architecture.md#the-http-api-layer). Every grant carries its fencing token.
 *
 * @module
 */

import type { Hono } from "hono";
import { LockWaits } from "../../node/lock_waits.ts";
import type { AcquireCommand } from "../../state/commands.ts";
import { holderView } from "../../state/lock_table.ts";
import type { HolderView, ReleaseResult, RenewResult } from "../../state/results.ts";
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
import { parseWith } from "../schemas.ts";
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
  const lockWaits = node.lockWaits ?? new LockWaits(node, { logger: deps.logger });

  app.post("/v1/locks/:name/acquire", async (c) => {
    const name = lockName(c, schemas);
    authorize(c, { scopes: ["lock"], lock: name });
    const body = parseWith(schemas.acquireBody, jsonBody(c), "body");
    const cmd: AcquireCommand = {
      op: "acquire",
      name,
      owner: body.owner ?? "",
      ttlMs: body.ttlMs,
      waitMs: body.waitMs ?? 0,
    };
    const { outcome, end } = await lockWaits.acquire(cmd, {
      propose: () => submitCommand(deps, c, cmd),
      signal: c.req.raw.signal,
      onWait: (delta) => deps.metrics.lockWaits += delta,
    });
    switch (end.type) {
      case "granted": {
        const { owner, ttlMs } = cmd;
        return c.json({ name, token: end.token, owner, ttlMs, expiresAt: end.expiresAt });
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
  });

  app.post("/v1/locks/:name/renew", async (c) => {
    const name = lockName(c, schemas);
    authorize(c, { scopes: ["lock"], lock: name });
    const { token } = parseWith(schemas.tokenBody, jsonBody(c), "body");
    const outcome = await submitCommand(deps, c, { op: "renew", name, token });
    const { expiresAt } = succeeded<RenewResult>(outcome);
    return c.json({ name, token, expiresAt });
  });

  app.post("/v1/locks/:name/release", async (c) => {
    const name = lockName(c, schemas);
    authorize(c, { scopes: ["lock"], lock: name });
    const { token } = parseWith(schemas.tokenBody, jsonBody(c), "body");
    const outcome = await submitCommand(deps, c, { op: "release", name, token });
    succeeded<ReleaseResult>(outcome);
    return c.json({ name, token });
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
