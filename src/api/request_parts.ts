/**
 * Reading the parts of a request the routes need, each decoded exactly once and validated
 * with the schemas: path segments (keys may hold `/`), the JSON body, conditional headers
 * and the exactly-once headers.
 *
 * @module
 */

import type { Context } from "hono";
import type { ApiEnv } from "./app_env.ts";
import type { Principal } from "./middleware/auth/principal.ts";
import { invalidRequest, ProblemError } from "./problem.ts";
import { parseWith, type Schemas } from "./schemas.ts";

/**
 * The raw (still percent-encoded) path of a request. Hono's own path is already partly
 * decoded, and decoding twice would turn a key's `%2541` into `A`.
 *
 * @example
 * ```ts
 * import { rawPath } from "./request_parts.ts";
 * rawPath("http://h/v1/config/a%2Fb?x=1"); // "/v1/config/a%2Fb"
 * ```
 */
export function rawPath(url: string): string {
  return new URL(url).pathname;
}

/**
 * Percent-decodes a path segment; a bad escape or invalid UTF-8 is a 400 problem.
 *
 * @example
 * ```ts
 * import { decodeSegment } from "./request_parts.ts";
 * decodeSegment("app%2Fflags", "key"); // "app/flags"
 * ```
 */
export function decodeSegment(segment: string, what: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw invalidRequest(`${what} is not valid percent-encoded UTF-8`);
  }
}

/**
 * The config key of a `/v1/config/{key}` request: everything after the prefix, decoded once.
 *
 * @example
 * ```ts ignore
 * const key = configKey(c, schemas);
 * ```
 */
export function configKey(c: Context<ApiEnv>, schemas: Schemas): string {
  const path = rawPath(c.req.url);
  const tail = path.slice("/v1/config/".length);
  return parseWith(schemas.key, decodeSegment(tail, "the key"), "key");
}

/**
 * The lock name of a `/v1/locks/{name}[/action]` request.
 *
 * @example
 * ```ts ignore
 * const name = lockName(c, schemas);
 * ```
 */
export function lockName(c: Context<ApiEnv>, schemas: Schemas): string {
  const segment = rawPath(c.req.url).split("/")[3] ?? "";
  return parseWith(schemas.lockName, decodeSegment(segment, "the lock name"), "name");
}

const JSON_TYPE = /^application\/([a-z0-9.+-]+\+)?json\s*(;.*)?$/is;

/**
 * The request body parsed as JSON (`undefined` when there is none). A body must be declared
 * `application/json` (415 otherwise), be UTF-8 and parse (400 otherwise).
 *
 * @example
 * ```ts ignore
 * const value = parseWith(schemas.value, jsonBody(c), "body");
 * ```
 */
export function jsonBody(c: Context<ApiEnv>): unknown {
  const bytes = c.get("body");
  if (bytes === undefined || bytes.byteLength === 0) return undefined;
  return parseJsonBody(bytes, c.req.header("content-type"));
}

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

/**
 * {@linkcode jsonBody} of a body already in hand (not empty) and its `Content-Type` (the
 * header's values joined with ", ", as `Headers.get` gives them): the one place both the
 * router and the client port's write shortcut (`fast_config_write.ts`) parse a body, so that
 * they take and refuse the same bodies. Throws the 415 or 400 problem.
 *
 * @example
 * ```ts
 * import { parseJsonBody } from "./request_parts.ts";
 * parseJsonBody(new TextEncoder().encode('{"on":true}'), "application/json"); // { on: true }
 * ```
 */
export function parseJsonBody(bytes: Uint8Array, contentType: string | undefined): unknown {
  const type = contentType ?? "";
  if (!JSON_TYPE.test(type)) {
    throw new ProblemError(
      415,
      "unsupported-media-type",
      `the body must be sent as application/json, not ${JSON.stringify(type.slice(0, 100))}`,
    );
  }
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw invalidRequest("the body is not valid UTF-8");
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw invalidRequest(`the body is not valid JSON: ${(error as Error).message.slice(0, 200)}`);
  }
}

/** An entity tag as the API makes them: a revision in double quotes. */
const STRONG_TAG = /^"(0|[1-9][0-9]{0,15})"$/;

/**
 * What `If-Match` asks of a write: the key's current revision (0: absent), or nothing.
 *
 * @example
 * ```ts
 * import { ifMatchRevision } from "./request_parts.ts";
 * ifMatchRevision('"7"'); // 7
 * ```
 */
export function ifMatchRevision(header: string | undefined): number | undefined {
  if (header === undefined) return undefined;
  const match = STRONG_TAG.exec(header.trim());
  if (match === null || !Number.isSafeInteger(Number(match[1]))) {
    throw invalidRequest(
      'If-Match must be one entity tag "<revision>" (as ETag gives it); lists, * and weak tags ' +
        "are not supported",
    );
  }
  return Number(match[1]);
}

/**
 * Whether a PUT is create-only: `If-None-Match: *`. Any other value is a 400 problem.
 *
 * @example
 * ```ts
 * import { ifNoneMatchStar } from "./request_parts.ts";
 * ifNoneMatchStar("*"); // true
 * ```
 */
export function ifNoneMatchStar(header: string | undefined): boolean {
  if (header === undefined) return false;
  if (header.trim() === "*") return true;
  throw invalidRequest("a write takes only If-None-Match: * (create only)");
}

/**
 * Whether a GET's `If-None-Match` matches the representation tagged `etag` (weak comparison,
 * RFC 9110 section 13.1.2). A malformed header never matches.
 *
 * @example
 * ```ts
 * import { noneMatch } from "./request_parts.ts";
 * noneMatch('W/"5", "6"', '"6"'); // true: answer 304
 * ```
 */
export function noneMatch(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  if (header.trim() === "*") return true;
  return header.split(",").some((tag) => tag.trim().replace(/^W\//, "") === etag);
}

/**
 * The exactly-once fields of a write, as they go into the log entry.
 *
 * @example
 * ```ts
 * import type { SessionParts } from "./request_parts.ts";
 * const s: SessionParts = { idempotencyKey: "k1", fingerprint: "9f86d081" };
 * ```
 */
export interface SessionParts {
  clientId?: string;
  seq?: number;
  idempotencyKey?: string;
  /** Whose keys and sessions these are; absent when the API is open (one principal). */
  principal?: string;
  /** A digest of the request, so that a key reused for another request is refused. */
  fingerprint?: string;
}

/**
 * What makes two requests the same request for a retry: method, path and query as sent, the
 * conditional headers that change what a write does, and the body's bytes. SHA-256, in hex.
 *
 * @example
 * ```ts
 * import { requestFingerprint } from "./request_parts.ts";
 * const fp = await requestFingerprint("PUT", "/v1/config/a", {}, new TextEncoder().encode("1"));
 * fp.length; // 64
 * ```
 */
export async function requestFingerprint(
  method: string,
  pathAndQuery: string,
  conditions: { ifMatch?: string; ifNoneMatch?: string },
  body: Uint8Array | undefined,
): Promise<string> {
  // JSON keeps the fields apart (no separator can be smuggled in); the body follows whole.
  const head = new TextEncoder().encode(
    JSON.stringify([
      method.toUpperCase(),
      pathAndQuery,
      conditions.ifMatch ?? null,
      conditions.ifNoneMatch ?? null,
    ]) + "\n",
  );
  const bytes = new Uint8Array(head.byteLength + (body?.byteLength ?? 0));
  bytes.set(head);
  if (body !== undefined) bytes.set(body, head.byteLength);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * The exactly-once fields of a write: `X-Client-Id` with `X-Client-Seq`, and
 * `Idempotency-Key`, scoped to the request's principal and bound to the request's
 * fingerprint (both only when there is a key or a session: they cost a digest).
 *
 * @example
 * ```ts ignore
 * const session = await sessionParts(c, schemas); // { clientId: "c1", seq: 4, fingerprint }
 * ```
 */
export function sessionParts(c: Context<ApiEnv>, schemas: Schemas): Promise<SessionParts> {
  return sessionPartsOf((name) => c.req.header(name), {
    method: c.req.method,
    pathAndQuery: () => {
      const url = new URL(c.req.url);
      return url.pathname + url.search;
    },
    principal: c.get("principal"),
    body: c.get("body"),
  }, schemas);
}

/**
 * What {@linkcode sessionPartsOf} needs of a request besides its headers.
 *
 * @example
 * ```ts
 * import type { SessionRequest } from "./request_parts.ts";
 * const req: SessionRequest = {
 *   method: "PUT", pathAndQuery: () => "/v1/config/a", principal: null, body: undefined,
 * };
 * ```
 */
export interface SessionRequest {
  method: string;
  /** The path and query as sent; asked only when there is something to fingerprint. */
  pathAndQuery: () => string;
  /** Who the request acts as; `null` when the API is open. */
  principal: Principal | null;
  body: Uint8Array | undefined;
}

/**
 * {@linkcode sessionParts} of a request read through `header` (a header's values joined with
 * ", ", as `Headers.get` gives them): the one place both the router and the client port's
 * write shortcut (`fast_config_write.ts`) read the exactly-once headers. Rejects with the 400
 * problem of a malformed header.
 *
 * @example
 * ```ts
 * import { sessionPartsOf } from "./request_parts.ts";
 * import { buildSchemas } from "./schemas.ts";
 * import { DEFAULT_LIMITS } from "./limits.ts";
 * const session = await sessionPartsOf(
 *   (name) => (name === "idempotency-key" ? "k1" : undefined),
 *   { method: "PUT", pathAndQuery: () => "/v1/config/a", principal: null, body: undefined },
 *   buildSchemas(DEFAULT_LIMITS),
 * );
 * session.idempotencyKey; // "k1"
 * ```
 */
export async function sessionPartsOf(
  header: (name: string) => string | undefined,
  request: SessionRequest,
  schemas: Schemas,
): Promise<SessionParts> {
  const clientId = header("x-client-id");
  const seq = header("x-client-seq");
  const key = header("idempotency-key");
  if ((clientId === undefined) !== (seq === undefined)) {
    throw invalidRequest("X-Client-Id and X-Client-Seq go together");
  }
  const session: SessionParts = {};
  if (clientId !== undefined && seq !== undefined) {
    session.clientId = parseWith(schemas.clientId, clientId, "X-Client-Id");
    session.seq = parseWith(schemas.clientSeq, seq, "X-Client-Seq");
  }
  if (key !== undefined) {
    session.idempotencyKey = parseWith(schemas.idempotencyKey, key, "Idempotency-Key");
  }
  if (key === undefined && clientId === undefined) return session;
  const principal = request.principal;
  if (principal) session.principal = principal.id ?? `name:${principal.name}`;
  session.fingerprint = await requestFingerprint(
    request.method,
    request.pathAndQuery(),
    { ifMatch: header("if-match"), ifNoneMatch: header("if-none-match") },
    request.body,
  );
  return session;
}

/**
 * The validated query parameters of a request.
 *
 * @example
 * ```ts ignore
 * const { prefix, limit } = queryOf(c, schemas.listQuery);
 * ```
 */
export function queryOf<
  S extends Schemas["listQuery"] | Schemas["watchQuery"] | Schemas["readQuery"],
>(
  c: Context<ApiEnv>,
  schema: S,
): ReturnType<S["parse"]> {
  return parseWith(schema, c.req.query(), "query") as ReturnType<S["parse"]>;
}
