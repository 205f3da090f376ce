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
 * No answer came from a node: the connection failed or the request timed out (status 0, kind
 * `network`). The original error is the `cause`. A write's outcome is then unknown; the client
 * has already retried it (with its idempotency key) on every endpoint it was allowed to.
 *
 * @example
 * ```ts
 * import { NetworkError } from "./errors.ts";
 * const e = new NetworkError("http://n1:7001/v1/config/a", new TypeError("fetch failed"));
 * e.kind; // "network"
 * ```
 */
export class NetworkError extends EdgeraftError {
  override name = "NetworkError";

  constructor(readonly url: string, cause: unknown) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super(0, { type: "urn:edgeraft:client:network", detail: `${url}: ${reason}` }, { cause });
  }
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
export class LockHeldError extends EdgeraftError {
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
