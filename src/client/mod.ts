/**
 * A fetch-only client of edgeraft for edge functions; it imports nothing from the server.
 *
 * @example
 * ```ts ignore
 * import { EdgeraftClient } from "./mod.ts";
 * // Every node: the client fails over when one goes away (one URL works too).
 * const client = new EdgeraftClient({
 *   baseUrl: ["http://127.0.0.1:7001", "http://127.0.0.1:7002", "http://127.0.0.1:7003"],
 * });
 * const flags = await client.get("app/flags", { consistency: "stale" });
 * ```
 *
 * @module
 */

export * from "./edgeraft_client.ts";
export * from "./errors.ts";
export * from "./sse.ts";
