/**
 * Bearer-token authentication and scoped authorization. Without configured tokens the API is
 * open (local development). With them, every request but the probes and the API document
 * needs `Authorization: Bearer <token>` (401 otherwise), and each route asks
 * {@linkcode authorize} whether the token's scopes and prefixes allow it (403 otherwise).
 *
 * Tokens are looked up by their SHA-256 digest, so the comparison leaks nothing through
 * timing about the tokens configured.
 *
 * @module
 */

import type { Context, MiddlewareHandler } from "hono";
import type { ApiEnv } from "../../app_env.ts";
import { ProblemError } from "../../problem.ts";
import { type Principal, principalId, type Scope, type TokenConfig } from "./principal.ts";

const SCOPES: ReadonlySet<string> = new Set(["read", "write", "lock", "admin"]);
/** RFC 6750's b64token, bounded so a huge header costs no hashing. */
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]{1,1024}=*) *$/i;
/** Paths any client may reach: probes (load balancers carry no token) and the API document. */
const PUBLIC_PATHS: ReadonlySet<string> = new Set(["/healthz", "/readyz", "/openapi.json"]);
/** The principal of a request to a public path when tokens are configured: it may do nothing. */
const ANONYMOUS: Principal = Object.freeze({ name: "anonymous", scopes: new Set<Scope>() });

async function digest(token: string): Promise<string> {
  const bytes = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token));
  return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
}

function checkTokenConfig(config: TokenConfig, at: number): void {
  const where = `tokens[${at}]`;
  if (typeof config.token !== "string" || !BEARER.test(`Bearer ${config.token}`)) {
    throw new TypeError(`${where}.token must be 1 to 1024 characters of [A-Za-z0-9-._~+/]`);
  }
  if (!Array.isArray(config.scopes) || config.scopes.length === 0) {
    throw new TypeError(`${where}.scopes must list at least one of read, write, lock, admin`);
  }
  for (const scope of config.scopes) {
    if (!SCOPES.has(scope)) throw new TypeError(`${where}.scopes: unknown scope ${scope}`);
  }
  for (const field of ["keyPrefixes", "lockPrefixes"] as const) {
    const prefixes = config[field];
    if (prefixes !== undefined && !prefixes.every((p) => typeof p === "string")) {
      throw new TypeError(`${where}.${field} must be strings`);
    }
  }
}

/**
 * The authentication middleware. Throws a `TypeError` at once for a malformed token list (a
 * node must not start with one).
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { bearerAuth } from "./auth.ts";
 * import type { ApiEnv } from "../../app_env.ts";
 * const app = new Hono<ApiEnv>();
 * app.use("*", bearerAuth([{ token: "t0ken-for-reads", scopes: ["read"] }]));
 * ```
 */
export function bearerAuth(tokens: readonly TokenConfig[] = []): MiddlewareHandler<ApiEnv> {
  tokens.forEach(checkTokenConfig);
  const seen = new Set<string>();
  for (const config of tokens) {
    if (seen.has(config.token)) throw new TypeError(`a token is configured twice`);
    seen.add(config.token);
  }
  const open = tokens.length === 0;
  const byDigest = Promise.all(tokens.map(async (config, i) => {
    const principal: Principal = {
      name: config.name ?? `token ${i + 1}`,
      id: await principalId(config.token),
      scopes: new Set(config.scopes),
      keyPrefixes: config.keyPrefixes && [...config.keyPrefixes],
      lockPrefixes: config.lockPrefixes && [...config.lockPrefixes],
    };
    return [await digest(config.token), principal] as const;
  })).then((entries) => new Map(entries));

  return async (c, next) => {
    if (open) {
      c.set("principal", null);
      return await next();
    }
    if (PUBLIC_PATHS.has(c.req.path)) {
      c.set("principal", ANONYMOUS);
      return await next();
    }
    const header = c.req.header("authorization");
    const match = header === undefined ? null : BEARER.exec(header);
    const challenge = 'Bearer realm="edgeraft"';
    if (match === null) {
      throw new ProblemError(
        401,
        "unauthorized",
        header === undefined
          ? "this node requires Authorization: Bearer <token>"
          : "the Authorization header is not a well-formed bearer token",
        {},
        { "www-authenticate": challenge },
      );
    }
    const principal = (await byDigest).get(await digest(match[1]));
    if (principal === undefined) {
      throw new ProblemError(401, "unauthorized", "the bearer token is not valid", {}, {
        "www-authenticate": `${challenge}, error="invalid_token"`,
      });
    }
    c.set("principal", principal);
    await next();
  };
}

/**
 * What a route needs: one of `scopes` (admin always passes), and reach to a key, a key prefix
 * (list, watch) or a lock name when the token is limited to prefixes.
 *
 * @example
 * ```ts
 * import type { Need } from "./auth.ts";
 * const need: Need = { scopes: ["write"], key: "app/flags" };
 * ```
 */
export interface Need {
  scopes: Scope[];
  key?: string;
  keyPrefix?: string;
  lock?: string;
}

function reaches(prefixes: readonly string[] | undefined, target: string): boolean {
  return prefixes === undefined || prefixes.some((p) => target.startsWith(p));
}

/**
 * Throws a 403 problem unless the request's principal may do what `need` says. Pass an empty
 * `scopes` list to accept any valid token.
 *
 * @example
 * ```ts ignore
 * authorize(c, { scopes: ["read"], keyPrefix: prefix });
 * ```
 */
export function authorize(c: Context<ApiEnv>, need: Need): void {
  const principal = c.get("principal");
  if (principal === null || principal.scopes.has("admin")) return;
  const forbid = (detail: string) => new ProblemError(403, "forbidden", detail);
  const scopes = [...principal.scopes].join(", ") || "none";
  if (principal === ANONYMOUS) throw forbid("this path requires a bearer token");
  if (need.scopes.length > 0 && !need.scopes.some((s) => principal.scopes.has(s))) {
    throw forbid(
      `token ${principal.name} has scopes [${scopes}]; this needs ${need.scopes.join(" or ")}`,
    );
  }
  const keyTarget = need.key ?? need.keyPrefix;
  if (keyTarget !== undefined && !reaches(principal.keyPrefixes, keyTarget)) {
    const what = need.key !== undefined ? "the key" : "the prefix";
    throw forbid(
      `token ${principal.name} only reaches keys starting with ` +
        `${JSON.stringify(principal.keyPrefixes)}; ${what} does not`,
    );
  }
  if (need.lock !== undefined && !reaches(principal.lockPrefixes, need.lock)) {
    throw forbid(
      `token ${principal.name} only reaches locks starting with ` +
        `${JSON.stringify(principal.lockPrefixes)}; this lock does not`,
    );
  }
}
