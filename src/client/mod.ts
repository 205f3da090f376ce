/**
 * A fetch-only client of edgeraft for edge functions; it imports nothing from the server and
 * uses no Deno APIs, so it runs unchanged on Deno, Node 18+, Bun and edge workers
 * (`deno task build:client` makes the npm package).
 *
 * @example
 * ```ts ignore
 * import { ConfigReader, EdgeraftClient } from "./mod.ts";
 * // Every node: the client fails over when one goes away (one URL works too).
 * const client = new EdgeraftClient({
 *   endpoints: ["http://127.0.0.1:7001", "http://127.0.0.1:7002", "http://127.0.0.1:7003"],
 * });
 * const flags = await client.get("app/flags", { consistency: "stale" });
 * const reader = new ConfigReader(client, { freshMs: 5_000, maxStaleMs: 300_000 });
 * const flag = await reader.get("app/flags/dark-mode");
 * ```
 *
 * @module
 */

export * from "./config_reader.ts";
export * from "./edgeraft_client.ts";
export * from "./errors.ts";
export * from "./lease_keeper.ts";
export * from "./sse.ts";
