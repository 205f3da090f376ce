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

  constructor(readonly status: number, readonly problem: Record<string, unknown>) {
    super(`${status} ${String(problem.detail ?? problem.title ?? "request failed")}`);
    this.kind = String(problem.type ?? "").split(":").pop() ?? "";
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
