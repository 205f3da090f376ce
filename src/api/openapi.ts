/**
 * The pieces every route's OpenAPI description shares, and the document itself, generated
 * from the registry that the routes fill with the very schemas they validate with.
 *
 * @module
 */

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

/** The problems any API route may answer, whatever it does. */
const COMMON_PROBLEMS = {
  400: "Malformed request, or a limit exceeded (`detail` and `limit` name it)",
  503: "No leader is available (with Retry-After)",
};

/** The problems of a route that needs a token. */
const AUTH_PROBLEMS = {
  401: "A valid bearer token is required",
  403: "The token's scopes or prefixes do not allow this",
};

/**
 * Adds a route's description to the registry, with the common problems, and the bearer
 * security scheme when the route needs a token (`auth`).
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
export function describeRoute(
  registry: OpenAPIRegistry,
  doc: RouteDoc,
  { auth, probe = false }: { auth: boolean; probe?: boolean },
): void {
  registry.registerPath({
    ...doc,
    security: auth ? [{ bearer: [] }] : [],
    responses: {
      ...(probe ? {} : problemResponses(COMMON_PROBLEMS)),
      ...(auth ? problemResponses(AUTH_PROBLEMS) : {}),
      ...doc.responses,
    },
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
