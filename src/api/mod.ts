/**
 * The HTTP API of edgeraft: a Hono app over a node.
 *
 * @example
 * ```ts ignore
 * import { createApp } from "./mod.ts";
 * const app = createApp(node, { clusterId: "dev", peers });
 * Deno.serve({ port: 7001 }, app.fetch);
 * ```
 *
 * @module
 */

export { type ApiOptions, createApp } from "./app.ts";
export type { ApiNode, NodeStatusView } from "./api_node.ts";
export { DEFAULT_LIMITS, type Limits, resolveLimits } from "./limits.ts";
export type { Principal, Scope, TokenConfig } from "./middleware/auth/principal.ts";
