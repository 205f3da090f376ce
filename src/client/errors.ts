/**
 * What the client throws: the server's problem (RFC 9457) as an error, with subclasses for the
 * cases a caller branches on.
 *
 * @module
 */

/**
 * A problem the server answered with.
 *
 * @example
 * ```ts
 * import { EdgeraftError } from "./errors.ts";
 * const e = new EdgeraftError(412, { type: "urn:edgeraft:problem:precondition-failed", detail: "x" });
 * e.kind; // "precondition-failed"
 * ```
 */
export class EdgeraftError extends Error {
  override name = "EdgeraftError";
  /** The problem's kind: the last part of its `type` (e.g. `limit-exceeded`). */
  readonly kind: string;

  constructor(
    readonly status: number,
    readonly problem: Record<string, unknown>,
    options?: ErrorOptions,
  ) {
    const detail = String(problem.detail ?? problem.title ?? "request failed");
    // Status 0: no answer came (the client's own errors), so there is no status to show.
    super(status === 0 ? detail : `${status} ${detail}`, options);
    this.kind = String(problem.type ?? "").split(":").pop() ?? "";
  }
}

/**
 * The cluster could not serve the request and did not apply it: no leader (503) after every
 * retry, or no node answered a read or took a write's connection (kind `no-leader`, `network`).
 * Safe to try again later.
 *
 * @example
 * ```ts
 * import { UnavailableError } from "./errors.ts";
 * const e = new UnavailableError(503, { type: "urn:edgeraft:problem:no-leader", detail: "x" });
 * e.kind; // "no-leader"
 * ```
 */
export class UnavailableError extends EdgeraftError {
  override name = "UnavailableError";
}

/**
 * No answer came from a node: the connection failed or the request timed out (status 0, kind
 * `network`). The original error is the `cause`. Thrown as is for reads and for writes that
 * surely never left; a write that may have been sent ends in {@linkcode OutcomeUnknownError}
 * with this as its cause.
 *
 * @example
 * ```ts
 * import { NetworkError } from "./errors.ts";
 * const e = new NetworkError("http://n1:7001/v1/config/a", new TypeError("fetch failed"));
 * e.kind; // "network"
 * ```
 */
export class NetworkError extends UnavailableError {
  override name = "NetworkError";

  constructor(readonly url: string, cause: unknown) {
    super(0, { type: "urn:edgeraft:client:network", detail: `${url}: ${reasons(cause)}` }, {
      cause,
    });
  }
}

/**
 * An error's message with its causes' (fetch says only "fetch failed"; the reason, such as
 * "Connection refused", is in its cause).
 */
function reasons(error: unknown): string {
  const messages: string[] = [];
  for (let e = error, depth = 0; e !== undefined && depth < 5; depth++) {
    const message = e instanceof Error ? e.message : String(e);
    if (!messages.some((m) => m.includes(message))) messages.push(message);
    e = e instanceof Error ? e.cause : undefined;
  }
  return messages.join(": ");
}

/**
 * A write whose outcome is unknown: every retry (with its idempotency key) ended in a 504 or
 * without an answer, so it may or may not have been applied. Read the key (or the lock) to
 * learn which; the `cause` is the last failure.
 *
 * @example
 * ```ts
 * import { OutcomeUnknownError } from "./errors.ts";
 * const e = new OutcomeUnknownError(504, { type: "urn:edgeraft:problem:timeout", detail: "x" });
 * e.kind; // "timeout"
 * ```
 */
export class OutcomeUnknownError extends EdgeraftError {
  override name = "OutcomeUnknownError";
}

/**
 * 404: no such key (from calls that do not answer `null` for it), lock route or endpoint.
 *
 * @example
 * ```ts
 * import { NotFoundError } from "./errors.ts";
 * new NotFoundError(404, { type: "urn:edgeraft:problem:not-found" }).status; // 404
 * ```
 */
export class NotFoundError extends EdgeraftError {
  override name = "NotFoundError";
}

/**
 * 409: the lock is held ({@linkcode LockHeldError}), a token no longer holds it (kind
 * `not-holder`), or a client sequence is stale.
 *
 * @example
 * ```ts
 * import { ConflictError } from "./errors.ts";
 * new ConflictError(409, { type: "urn:edgeraft:problem:not-holder" }).kind; // "not-holder"
 * ```
 */
export class ConflictError extends EdgeraftError {
  override name = "ConflictError";
}

/**
 * 412: a compare-and-set (`ifRevision`) or create-only (`ifAbsent`) write found another
 * revision; `currentRevision` is the key's revision then (0: absent), when the server said.
 *
 * @example
 * ```ts
 * import { PreconditionFailedError } from "./errors.ts";
 * const p = { type: "urn:edgeraft:problem:precondition-failed", currentRevision: 7 };
 * new PreconditionFailedError(412, p).currentRevision; // 7
 * ```
 */
export class PreconditionFailedError extends EdgeraftError {
  override name = "PreconditionFailedError";
  readonly currentRevision: number | null;

  constructor(status: number, problem: Record<string, unknown>, options?: ErrorOptions) {
    super(status, problem, options);
    const current = problem.currentRevision;
    this.currentRevision = typeof current === "number" ? current : null;
  }
}

/**
 * 401 (no or unknown token) or 403 (the token may not do this: kind `forbidden`).
 *
 * @example
 * ```ts
 * import { UnauthorizedError } from "./errors.ts";
 * new UnauthorizedError(401, { type: "urn:edgeraft:problem:unauthorized" }).status; // 401
 * ```
 */
export class UnauthorizedError extends EdgeraftError {
  override name = "UnauthorizedError";
}

/**
 * A watch gave up: it reconnected `attempts` times in a row without receiving an event or a
 * heartbeat (kind `watch-failed`). The last failure is the `cause`; resume from
 * `nextRevision` to miss nothing.
 *
 * @example
 * ```ts
 * import { WatchFailedError } from "./errors.ts";
 * const e = new WatchFailedError(4, 17, new TypeError("fetch failed"));
 * e.nextRevision; // 17
 * ```
 */
export class WatchFailedError extends EdgeraftError {
  override name = "WatchFailedError";

  constructor(
    readonly attempts: number,
    readonly nextRevision: number | undefined,
    cause: unknown,
  ) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super(0, {
      type: "urn:edgeraft:client:watch-failed",
      detail: `the watch made no progress in ${attempts} attempts in a row (last: ${reason})`,
    }, { cause });
  }
}

/**
 * A try-lock found the lock held, or a wait ran out.
 *
 * @example
 * ```ts
 * import { LockHeldError } from "./errors.ts";
 * const holder = { token: 4, owner: "a", expiresAt: 9 };
 * const e = new LockHeldError({ type: "urn:edgeraft:problem:lock-held", holder, expiresAt: 9 });
 * e.holder?.owner; // "a"
 * ```
 */
export class LockHeldError extends ConflictError {
  override name = "LockHeldError";
  /** The holder, as `GET /v1/locks/{name}` shows it; null when the lock was free by then. */
  readonly holder: { token: number; owner: string; expiresAt: number } | null;
  readonly expiresAt: number | null;

  constructor(problem: Record<string, unknown>) {
    super(409, problem);
    const h = problem.holder as Record<string, unknown> | null | undefined;
    this.holder = typeof h === "object" && h !== null && typeof h.owner === "string"
      ? { token: Number(h.token), owner: h.owner, expiresAt: Number(h.expiresAt) }
      : null;
    this.expiresAt = typeof problem.expiresAt === "number" ? problem.expiresAt : null;
  }
}

/**
 * A watch asked for history the server no longer keeps: re-read, then watch from
 * `compactedRevision + 1` or later.
 *
 * @example
 * ```ts
 * import { CompactedError } from "./errors.ts";
 * new CompactedError(120).compactedRevision; // 120
 * ```
 */
export class CompactedError extends Error {
  override name = "CompactedError";
  constructor(readonly compactedRevision: number) {
    super(`the history up to revision ${compactedRevision} has been compacted`);
  }
}

/**
 * The error for a problem the server answered with: the typed subclass for its status (and
 * {@linkcode LockHeldError} for a held lock), else a plain {@linkcode EdgeraftError}.
 *
 * @example
 * ```ts
 * import { problemError, PreconditionFailedError } from "./errors.ts";
 * problemError(412, { currentRevision: 3 }) instanceof PreconditionFailedError; // true
 * ```
 */
export function problemError(status: number, problem: Record<string, unknown>): EdgeraftError {
  if (status === 409 && problem.type === "urn:edgeraft:problem:lock-held") {
    return new LockHeldError(problem);
  }
  const typed = STATUS_ERRORS[status];
  return typed ? new typed(status, problem) : new EdgeraftError(status, problem);
}

const STATUS_ERRORS: Record<number, typeof EdgeraftError> = {
  401: UnauthorizedError,
  403: UnauthorizedError,
  404: NotFoundError,
  409: ConflictError,
  412: PreconditionFailedError,
  503: UnavailableError,
  504: OutcomeUnknownError,
};
