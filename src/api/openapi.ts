/**
 * The pieces every route's OpenAPI description shares, and the document itself, generated
 * from the registry that the routes fill with the very schemas they validate with.
 *
 * @module
 */

import { DEFAULT_CONNECTION_LIMITS } from "./http_front.ts";
import { ProblemSchema } from "./response_schemas.ts";
import { OpenApiGeneratorV31, type OpenAPIRegistry, type RouteConfig, type z } from "./zod.ts";

/**
 * One route's description, as the registry takes it.
 *
 * @example
 * ```ts
 * import type { RouteDoc } from "./openapi.ts";
 * const doc: RouteDoc = {
 *   method: "get", path: "/healthz", summary: "Liveness", responses: { 200: { description: "up" } },
 * };
 * ```
 */
export type RouteDoc = RouteConfig;

/** Headers on every answer. */
const COMMON_HEADERS = {
  "X-Revision": {
    description: "The config revision of the state the answer reflects.",
    schema: { type: "integer" as const },
  },
  "X-Leader": {
    description: "The leader's client URL when known, else its node id; absent with no leader.",
    schema: { type: "string" as const },
  },
};

/**
 * A JSON response entry with the common headers.
 *
 * @example
 * ```ts
 * import { jsonResponse } from "./openapi.ts";
 * import { z } from "./zod.ts";
 * jsonResponse("the value", z.object({ ok: z.boolean() }));
 * ```
 */
export function jsonResponse(
  description: string,
  schema: z.ZodType,
  headers: Record<string, { description: string; schema: { type: "integer" | "string" } }> = {},
) {
  return {
    description,
    headers: { ...COMMON_HEADERS, ...headers },
    content: { "application/json": { schema } },
  };
}

/**
 * Problem response entries for the given statuses, each with a short reason.
 *
 * @example
 * ```ts
 * import { problemResponses } from "./openapi.ts";
 * problemResponses({ 404: "no such key" });
 * ```
 */
export function problemResponses(
  reasons: Record<number, string>,
  schema: z.ZodType = ProblemSchema,
) {
  const responses: Record<number, unknown> = {};
  for (const [status, description] of Object.entries(reasons)) {
    responses[Number(status)] = {
      description,
      headers: COMMON_HEADERS,
      content: { "application/problem+json": { schema } },
    };
  }
  return responses as Record<number, ReturnType<typeof jsonResponse>>;
}

/**
 * What a route does, as far as the answers it can give are concerned. `describeRoute` derives
 * the shared problem responses from it, so that every route documents the statuses the common
 * code paths (middleware, body parsing, the node's errors) can answer, and a new route cannot
 * forget one.
 *
 * @example
 * ```ts
 * import type { RouteTraits } from "./openapi.ts";
 * const put: RouteTraits = { auth: true, body: "json", write: true };
 * ```
 */
export interface RouteTraits {
  /** Needs a bearer token (the node has tokens): 401 without a valid one, 403 when refused. */
  auth: boolean;
  /** A liveness or readiness probe: takes no parameters, so never answers 400. */
  probe?: boolean;
  /** Reads a JSON body: 400 when it is not JSON, 413 when too large, 415 when not JSON-typed. */
  body?: "json";
  /**
   * Proposes a command to the log: 503 without a leader, 504 when the outcome is unknown, 409
   * for a stale `X-Client-Seq`, 422 for an idempotency key or sequence reused for another
   * request, 400 for bad session headers; and, as every request with a body, 413 over
   * `maxBodyBytes`.
   */
  write?: boolean;
  /** Reads at the linearizable default: 503 when no quorum confirms the read in time. */
  read?: boolean;
}

/** The shared problems, by the trait that brings them; a route's own entry keeps its schema. */
const SHARED_PROBLEMS: {
  when: (traits: RouteTraits) => boolean;
  status: number;
  reason: string;
}[] = [
  {
    when: (t) => !t.probe,
    status: 400,
    reason: "Malformed request, or a limit exceeded (`detail` and `limit` name it)",
  },
  { when: (t) => t.auth, status: 401, reason: "A valid bearer token is required" },
  { when: (t) => t.auth, status: 403, reason: "The token's scopes or prefixes do not allow this" },
  {
    when: () => true,
    status: 405,
    reason: "Another method than the path takes (`Allow` lists those it does)",
  },
  { when: (t) => t.write === true, status: 409, reason: "`X-Client-Seq` is below the last one" },
  {
    when: (t) => t.write === true,
    status: 422,
    reason: "The `Idempotency-Key` (or `X-Client-Id` with `X-Client-Seq`) was used for a " +
      "different request; nothing was applied",
  },
  {
    when: (t) => t.body === "json" || t.write === true,
    status: 413,
    reason: "The body is over `maxBodyBytes`",
  },
  { when: (t) => t.body === "json", status: 415, reason: "The body is not `application/json`" },
  {
    // Checked ahead of the routes for any request with a body: it would otherwise be misread.
    when: (t) => t.body === "json" || t.write === true,
    status: 415,
    reason: "A `Content-Encoding` other than `identity` (send the body uncompressed)",
  },
  // The client port's front (http_front.ts) answers these itself, before any route, to any
  // request: so every operation may get them.
  {
    when: () => true,
    status: 408,
    reason: "The request head or body did not arrive in time (`--header-timeout-ms`, " +
      "`--body-timeout-ms`)",
  },
  {
    when: () => true,
    status: 431,
    reason: `The request head is too large (by default over ${
      DEFAULT_CONNECTION_LIMITS.maxHeaderBytes / 1024
    } KiB or ${DEFAULT_CONNECTION_LIMITS.maxHeaders} header lines)`,
  },
  { when: () => true, status: 505, reason: "Only HTTP/1.0 and HTTP/1.1 are served" },
  { when: () => true, status: 500, reason: "An unexpected error (a bug; it is logged)" },
  {
    when: (t) => t.write === true,
    status: 503,
    reason: "No leader is available (with `Retry-After`)",
  },
  {
    when: (t) => t.read === true,
    status: 503,
    reason: "No leader, or a quorum did not confirm the read in time (with `Retry-After`)",
  },
  {
    when: (t) => t.write === true,
    status: 504,
    reason: "The outcome is unknown: the write may still be applied (retry with the same key)",
  },
];

/**
 * The shared problem statuses of a route with these traits, each with its reason (when two
 * traits bring one status, the reasons are joined).
 *
 * @example
 * ```ts
 * import { sharedProblems } from "./openapi.ts";
 * Object.keys(sharedProblems({ auth: false, body: "json", write: true }));
 * // ["400", "405", "408", "409", "413", "415", "422", "431", "500", "503", "504", "505"]
 * ```
 */
export function sharedProblems(traits: RouteTraits): Record<number, string> {
  const reasons: Record<number, string> = {};
  for (const { when, status, reason } of SHARED_PROBLEMS) {
    if (!when(traits)) continue;
    reasons[status] = reasons[status] === undefined ? reason : `${reasons[status]}; or ${reason}`;
  }
  return reasons;
}

/**
 * Adds a route's description to the registry, with the problems its traits bring (see
 * `RouteTraits`) and the bearer security scheme when the route needs a token. Where the route
 * describes a shared status itself (a 409 with the lock holder, say), its entry is kept and the
 * shared reason is added to its description.
 *
 * @example
 * ```ts
 * import { describeRoute } from "./openapi.ts";
 * import { OpenAPIRegistry } from "./zod.ts";
 * describeRoute(new OpenAPIRegistry(), {
 *   method: "get", path: "/healthz", summary: "Liveness", responses: { 200: { description: "up" } },
 * }, { auth: false, probe: true });
 * ```
 */
export function describeRoute(registry: OpenAPIRegistry, doc: RouteDoc, traits: RouteTraits): void {
  const responses: Record<number, unknown> = { ...problemResponses(sharedProblems(traits)) };
  for (const [status, response] of Object.entries(doc.responses)) {
    const shared = responses[Number(status)] as { description: string } | undefined;
    const own = response as { description: string };
    responses[Number(status)] = shared === undefined
      ? own
      : { ...own, description: `${own.description}; or ${shared.description}` };
  }
  const allow = responses[405] as ReturnType<typeof jsonResponse>;
  responses[405] = {
    ...allow,
    headers: {
      ...allow.headers,
      Allow: { description: "The methods the path takes.", schema: { type: "string" } },
    },
  };
  registry.registerPath({
    ...doc,
    security: traits.auth ? [{ bearer: [] }] : [],
    responses: responses as RouteDoc["responses"],
  });
}

/**
 * The OpenAPI 3.1 document of everything registered.
 *
 * @example
 * ```ts
 * import { openApiDocument } from "./openapi.ts";
 * import { OpenAPIRegistry } from "./zod.ts";
 * openApiDocument(new OpenAPIRegistry()).openapi; // "3.1.0"
 * ```
 */
export function openApiDocument(registry: OpenAPIRegistry) {
  // The document describes itself too (served by app.ts, to anyone, with or without tokens).
  describeRoute(registry, {
    method: "get",
    path: "/openapi.json",
    summary: "This document (OpenAPI 3.1), with this node's limits in its schemas",
    responses: {
      200: { description: "The document", content: { "application/json": { schema: {} } } },
    },
  }, { auth: false, probe: true });
  registry.registerComponent("securitySchemes", "bearer", {
    type: "http",
    scheme: "bearer",
    description: "Required when the node is configured with tokens; see docs/api.md.",
  });
  return new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: "3.1.0",
    info: {
      title: "edgeraft",
      version: "1",
      description: "Locks with fencing tokens and config values, replicated with Raft.",
    },
  });
}
