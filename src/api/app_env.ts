/**
 * What every route and middleware shares: the Hono environment (per-request variables) and
 * the app-wide dependencies.
 *
 * @module
 */

import type { Logger } from "../node/logger.ts";
import type { ApiNode } from "./api_node.ts";
import type { Limits } from "./limits.ts";
import type { ApiMetrics } from "./metrics.ts";
import type { Principal } from "./middleware/auth/principal.ts";
import type { Schemas } from "./schemas.ts";
import type { OpenAPIRegistry } from "./zod.ts";

/**
 * Per-request variables: the authenticated principal (`null` when the API is open) and the
 * request body, read once under the body limit.
 *
 * @example
 * ```ts
 * import type { ApiEnv } from "./app_env.ts";
 * import { Hono } from "hono";
 * const app = new Hono<ApiEnv>();
 * ```
 */
export interface ApiEnv {
  Variables: {
    principal: Principal | null;
    body: Uint8Array | undefined;
  };
}

/**
 * The app-wide dependencies routes are built with.
 *
 * @example
 * ```ts ignore
 * import type { ApiDeps } from "./app_env.ts";
 * const revisionOf = (deps: ApiDeps) => deps.node.revision();
 * ```
 */
export interface ApiDeps {
  node: ApiNode;
  clusterId: string;
  limits: Readonly<Limits>;
  schemas: Schemas;
  metrics: ApiMetrics;
  registry: OpenAPIRegistry;
  /** ms since the epoch; for `X-Last-Contact-Ms` and wait deadlines. */
  clock: () => number;
  /** No tokens are configured: anyone may do anything (and caches may share answers). */
  open: boolean;
  clientUrls: ReadonlyMap<number, string>;
  peers: ReadonlyMap<number, string>;
  watchHeartbeatMs: number;
  logger?: Logger;
}
