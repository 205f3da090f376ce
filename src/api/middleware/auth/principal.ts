/**
 * Who a request acts as, and what the configured tokens may do.
 *
 * @module
 */

/**
 * What a token may do. `read`: GET config, lists, watches and lock state; `write`: PUT and
 * DELETE config; `lock`: acquire, renew, release (and read lock state); `admin`: everything,
 * whatever the prefixes, including `/metrics`.
 *
 * @example
 * ```ts
 * import type { Scope } from "./principal.ts";
 * const scopes: Scope[] = ["read", "lock"];
 * ```
 */
export type Scope = "read" | "write" | "lock" | "admin";

/**
 * A configured bearer token. Without `keyPrefixes` (or `lockPrefixes`) it reaches every key
 * (or lock); with them, only keys (lock names) that start with one of them, and only list or
 * watch prefixes that do.
 *
 * @example
 * ```ts
 * import type { TokenConfig } from "./principal.ts";
 * const edge: TokenConfig = {
 *   name: "edge-functions", token: "s3cr3t-s3cr3t-s3cr3t", scopes: ["read"], keyPrefixes: ["app/"],
 * };
 * ```
 */
export interface TokenConfig {
  token: string;
  /** A label for logs and metrics (never the token itself). */
  name?: string;
  scopes: Scope[];
  keyPrefixes?: string[];
  lockPrefixes?: string[];
}

/**
 * The token a request authenticated with; `null` in the context when the API is open.
 *
 * @example
 * ```ts
 * import type { Principal } from "./principal.ts";
 * const p: Principal = { name: "ops", scopes: new Set(["admin"]) };
 * ```
 */
export interface Principal {
  name: string;
  scopes: ReadonlySet<Scope>;
  keyPrefixes?: readonly string[];
  lockPrefixes?: readonly string[];
}
