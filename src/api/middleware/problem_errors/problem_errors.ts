/**
 * Turns every error into an `application/problem+json` answer: problems thrown on purpose, and
 * the project's own errors by name (an invalid command: 400; no leader or a stopped node: 503
 * with `Retry-After`; an unknown outcome: 504). Anything else is a bug, whatever its type (a
 * `TypeError` included): 500 without internals in the body, and one log line with the stack.
 *
 * @module
 */

import type { ErrorHandler, NotFoundHandler } from "hono";
import { NodeStoppedError, NoLeaderError, OutcomeUnknownError } from "../../../node/errors.ts";
import type { Logger } from "../../../node/logger.ts";
import { MembershipError } from "../../../node/membership.ts";
import { ReadTimeoutError } from "../../../node/read_barrier.ts";
import { InvalidCommandError } from "../../../state/errors.ts";
import { invalidRequest, ProblemError } from "../../problem.ts";

/** Seconds a client should wait before retrying while no leader is known (an election). */
const RETRY_AFTER_S = "1";

/**
 * The problem an error amounts to. Only the errors named here are shown to the client; the
 * rest become the one `internal` problem, which says nothing of the error.
 *
 * @example
 * ```ts
 * import { problemFor } from "./problem_errors.ts";
 * import { NoLeaderError } from "../../../node/errors.ts";
 * problemFor(new NoLeaderError("no leader is known")).status; // 503
 * problemFor(new TypeError("x is undefined")).status; // 500
 * ```
 */
export function problemFor(error: unknown): ProblemError {
  if (error instanceof ProblemError) return error;
  // The state machine's refusal of the command, before anything was proposed. Its message
  // names the field and was written for the client.
  if (error instanceof InvalidCommandError) return invalidRequest(error.message);
  const retry = { "retry-after": RETRY_AFTER_S };
  if (error instanceof NoLeaderError || error instanceof NodeStoppedError) {
    return new ProblemError(503, "no-leader", error.message, {}, retry);
  }
  if (error instanceof ReadTimeoutError) {
    return new ProblemError(
      503,
      "no-leader",
      `linearizable read failed: ${error.message}`,
      {},
      retry,
    );
  }
  if (error instanceof OutcomeUnknownError) {
    return new ProblemError(504, "timeout", error.message);
  }
  if (error instanceof MembershipError) return membershipProblem(error);
  return new ProblemError(500, "internal", "an unexpected error occurred; it has been logged");
}

/**
 * A refused membership change as its problem: the type ends in the refusal's code (the node's
 * `bad-request` is the API's `invalid-request`, as every malformed request is), the status is
 * the node's, and a 503 says when to retry.
 */
function membershipProblem(error: MembershipError): ProblemError {
  const kind = error.code === "bad-request" ? "invalid-request" : error.code;
  const headers = error.status === 503 ? { "retry-after": RETRY_AFTER_S } : undefined;
  return new ProblemError(error.status, kind, error.message, {}, headers);
}

/**
 * The app's error handler (`app.onError`).
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { problemErrorHandler } from "./problem_errors.ts";
 * const app = new Hono();
 * app.onError(problemErrorHandler());
 * ```
 */
export function problemErrorHandler(logger?: Logger): ErrorHandler {
  return (error, c) => {
    const problem = problemFor(error);
    if (problem.kind === "client-closed") {
      // Normal on the internet (a slow client gives up, a phone loses signal): one line.
      logger?.log("info", "client went away", {
        method: c.req.method,
        path: c.req.path,
        detail: problem.detail,
      });
    } else if (problem.kind === "internal") {
      // The body says nothing of the error (it may hold internals): the log says all of it.
      logger?.log("error", "api request failed", {
        method: c.req.method,
        path: c.req.path,
        error: String(error),
        stack: error instanceof Error ? error.stack : undefined,
      });
    }
    return problem.toResponse();
  };
}

/**
 * The app's not-found handler (`app.notFound`).
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { problemNotFound } from "./problem_errors.ts";
 * const app = new Hono();
 * app.notFound(problemNotFound);
 * ```
 */
export const problemNotFound: NotFoundHandler = (c) =>
  new ProblemError(404, "not-found", `no route for ${c.req.method} ${c.req.path}`).toResponse();

/**
 * A handler for a known path called with a method it does not take: 405 with `Allow`.
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { methodNotAllowed } from "./problem_errors.ts";
 * const app = new Hono();
 * app.all("/healthz", methodNotAllowed("GET"));
 * ```
 */
export function methodNotAllowed(...allowed: string[]): () => Response {
  const allow = allowed.join(", ");
  return () =>
    new ProblemError(405, "method-not-allowed", `this path takes ${allow}`, {}, { allow })
      .toResponse();
}
