/**
 * Errors as `application/problem+json` (RFC 9457). A handler throws a {@linkcode ProblemError};
 * the problem-errors middleware turns it, and every other error, into a response.
 *
 * @module
 */

/**
 * The kinds of problem, each with its own `type` URI (`urn:edgeraft:problem:<kind>`) so that
 * clients can branch on it without parsing `detail`.
 *
 * @example
 * ```ts
 * import { PROBLEM_TITLES } from "./problem.ts";
 * PROBLEM_TITLES["lock-held"]; // "The lock is held"
 * ```
 */
export const PROBLEM_TITLES = {
  "invalid-request": "The request is malformed",
  "limit-exceeded": "A limit was exceeded",
  "unsupported-media-type": "The body must be JSON, without a content coding",
  "unauthorized": "A valid bearer token is required",
  "forbidden": "The token does not allow this",
  "not-found": "Not found",
  "method-not-allowed": "Method not allowed",
  "precondition-failed": "A precondition failed",
  "lock-held": "The lock is held",
  "not-holder": "The token does not hold the lock",
  "stale-sequence": "The request's sequence number is older than the client's last",
  "idempotency-key-reused": "The idempotency key was used for a different request",
  "client-seq-reused": "The client sequence number was used for a different request",
  "no-leader": "No leader is available",
  "not-ready": "The node is not ready",
  "timeout": "The outcome is unknown: the request timed out",
  "request-timeout": "The request did not arrive in time",
  "client-closed": "The client closed the request",
  "internal": "Internal error",
  // Membership changes (src/node/membership.ts's codes; its bad-request is invalid-request).
  "unknown-member": "No such member",
  "already-member": "Already a member",
  "already-voter": "The member is a voter already",
  "not-caught-up": "The learner has not caught up with the leader",
  "change-in-progress": "Another membership change is in progress",
  "last-voter": "The last voter cannot be removed",
  "no-quorum": "The change would leave the voters without a live majority",
  "transfer-failed": "Leadership was not handed over in time",
  "outcome-unknown": "The outcome is unknown: the change may have been made",
  "not-implemented": "This node does not offer this",
} as const;

/**
 * A problem kind.
 *
 * @example
 * ```ts
 * import type { ProblemKind } from "./problem.ts";
 * const kind: ProblemKind = "not-found";
 * ```
 */
export type ProblemKind = keyof typeof PROBLEM_TITLES;

/**
 * The JSON body of a problem response. Extension members (like a lock's `holder`) sit beside
 * the standard ones.
 *
 * @example
 * ```ts
 * import type { ProblemBody } from "./problem.ts";
 * const p: ProblemBody = {
 *   type: "urn:edgeraft:problem:not-found", title: "Not found", status: 404, detail: "no key a",
 * };
 * ```
 */
export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  [extension: string]: unknown;
}

/**
 * A problem thrown by a handler or a middleware; it becomes the response.
 *
 * @example
 * ```ts
 * import { ProblemError } from "./problem.ts";
 * throw new ProblemError(404, "not-found", "the key app/x has no value");
 * ```
 */
export class ProblemError extends Error {
  override name = "ProblemError";

  constructor(
    readonly status: number,
    readonly kind: ProblemKind,
    readonly detail: string,
    readonly extensions: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(detail);
  }

  /** The problem's JSON body. */
  body(): ProblemBody {
    return {
      type: `urn:edgeraft:problem:${this.kind}`,
      title: PROBLEM_TITLES[this.kind],
      status: this.status,
      detail: this.detail,
      ...this.extensions,
    };
  }

  /** The problem as a response. */
  toResponse(): Response {
    const headers = new Headers(this.headers);
    headers.set("content-type", "application/problem+json");
    return new Response(JSON.stringify(this.body()), { status: this.status, headers });
  }
}

/**
 * A problem for a request beyond a limit. `limit` names the limit (a field of `Limits`) in the
 * body's `limit` member; `detail` must name it too.
 *
 * @example
 * ```ts
 * import { limitExceeded } from "./problem.ts";
 * throw limitExceeded("maxKeyBytes", "the key is 2000 bytes of UTF-8; maxKeyBytes is 1024");
 * ```
 */
export function limitExceeded(limit: string, detail: string, status = 400): ProblemError {
  return new ProblemError(status, "limit-exceeded", detail, { limit });
}

/**
 * A problem for a malformed request.
 *
 * @example
 * ```ts
 * import { invalidRequest } from "./problem.ts";
 * throw invalidRequest("fromRevision must be an integer >= 0");
 * ```
 */
export function invalidRequest(detail: string): ProblemError {
  return new ProblemError(400, "invalid-request", detail);
}
