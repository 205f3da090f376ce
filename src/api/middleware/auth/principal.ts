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
 * `id` is who the request acts as for exactly-once purposes: idempotency keys and client
 * sessions belong to it (see {@linkcode principalId}). Without it, the name stands in.
 *
 * @example
 * ```ts
 * import type { Principal } from "./principal.ts";
 * const p: Principal = { name: "ops", scopes: new Set(["admin"]) };
 * ```
 */
export interface Principal {
  name: string;
  id?: string;
  scopes: ReadonlySet<Scope>;
  keyPrefixes?: readonly string[];
  lockPrefixes?: readonly string[];
}

/**
 * A token's identity for exactly-once purposes: the first 128 bits of a SHA-256 of the token,
 * in hex, under a label of its own (so it is not the digest tokens are looked up by). It is
 * the same on every node configured with the token, whatever its name or place in the file,
 * and it goes into the log, so it must not be the token itself.
 *
 * @example
 * ```ts
 * import { principalId } from "./principal.ts";
 * const id = await principalId("s3cr3t-s3cr3t-s3cr3t");
 * id.length; // 32
 * ```
 */
export async function principalId(token: string): Promise<string> {
  const bytes = new TextEncoder().encode(`edgeraft principal\0${token}`);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest.subarray(0, 16), (b) => b.toString(16).padStart(2, "0")).join("");
}
