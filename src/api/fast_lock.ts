/**
 * The lock shortcut of the client port's own server (`http_front.ts`): `POST
 * /v1/locks/{name}/acquire`, `/renew` and `/release` on an open node (no tokens), answered from
 * the parsed request head and the body already read with it, without a `Request`, `Headers`,
 * `URL`, the router, its context, the middleware or a `Response`, as `fast_config_write.ts`
 * does for config writes (its rules hold here; this file follows it).
 *
 * Everything the router could refuse is decided before anything is proposed, with the route's
 * own functions (the lock name schema, `parseJsonBody`, `acquireCommandOf` / `tokenCommandOf`,
 * `sessionPartsOf`), and any refusal declines: the request goes the long way untouched and
 * gets the router's 4xx. What it declines besides: a node with tokens, a name that is not
 * plain (`PLAIN_NAME`: nothing to decode, no dot segment), a query, a `Content-Encoding`, more
 * than one `Content-Length`, a body that is empty or over `maxBodyBytes`, and what the
 * connection does not offer.
 *
 * An acquire goes through the same `LockWaits` as the route (`lockWaitsOf`), with the
 * connection's `signal()` for the route's `request.signal`: a queued wait (`waitMs > 0`) whose
 * client leaves is withdrawn the same way, and answered (counted, logged) with the same 499
 * that is never written. Every outcome is answered with the router's bytes: successes through
 * `acquireAnswer` / `tokenAnswer`, which the route answers with too; refusals and the node's
 * errors through `problemFor` and `problemAnswerOf`, logged as the error handler logs them.
 * `tests/api/fast_lock_test.ts` compares the bytes, proposals, state, metrics and logs with
 * the router's.
 *
 * @module
 */

import type { ApiDeps } from "./app_env.ts";
import { withLeader } from "./fast_config_write.ts";
import { answerBytes, headerOf, problemAnswerOf } from "./fast_stale_read.ts";
import { wholeAnswer } from "./http1_answer.ts";
import type { Head } from "./http1_head.ts";
import { leaderHeader } from "./member_urls.ts";
import { problemFor } from "./middleware/problem_errors/problem_errors.ts";
import { proposeCommand } from "./node_calls.ts";
import { parseJsonBody, type SessionParts, sessionPartsOf } from "./request_parts.ts";
import type { WriteAnswer } from "./routes/config.ts";
import {
  acquireAnswer,
  acquireCommandOf,
  lockWaitsOf,
  tokenAnswer,
  tokenCommandOf,
} from "./routes/locks.ts";
import { parseWith } from "./schemas.ts";
import type { AcquireCommand, ReleaseCommand, RenewCommand } from "../state/commands.ts";

/**
 * A lock path the router reads one way only: a name of unreserved characters that is not a
 * dot segment, and an action.
 */
const LOCK_PATH = /^\/v1\/locks\/([A-Za-z0-9_~-][A-Za-z0-9_.~-]*)\/(acquire|renew|release)$/;

/** The request metrics' route labels, by action. */
const ROUTES = {
  acquire: "/v1/locks/{name}/acquire",
  renew: "/v1/locks/{name}/renew",
  release: "/v1/locks/{name}/release",
} as const;

/** What the shortcut needs of the API's dependencies. */
type LockDeps = Pick<
  ApiDeps,
  "node" | "metrics" | "clientUrls" | "open" | "limits" | "schemas" | "logger"
>;

type LockCommand = AcquireCommand | RenewCommand | ReleaseCommand;

/**
 * Builds the lock shortcut for the client port's server. It takes a head, the whole body and
 * the connection's `signal()` (without it, acquires decline); it answers later with the
 * answer's bytes, or declines: at once with undefined, or with a promise of undefined while
 * nothing was proposed yet (the exactly-once headers' digest is awaited first). Its promise
 * never rejects.
 *
 * @example
 * ```ts ignore
 * const lock = lockFromHead(deps);
 * const bytes = await lock(head, body, signal); // undefined: declined, serve it the long way
 * ```
 */
export function lockFromHead(
  deps: LockDeps,
): (
  head: Head,
  body: Uint8Array | undefined,
  signal?: () => AbortSignal,
) => Promise<Uint8Array | undefined> | undefined {
  const { schemas, limits } = deps;
  return (head, body, signal) => {
    if (!deps.open || head.method !== "POST" || body === undefined) return undefined;
    const path = LOCK_PATH.exec(head.target);
    if (path === null || body.byteLength === 0 || body.byteLength > limits.maxBodyBytes) {
      return undefined;
    }
    let lengths = 0;
    for (const [name] of head.headers) {
      // Only the names the middleware reads that the shortcut does not: by length first.
      if (name.length === 14 && name.toLowerCase() === "content-length") lengths++;
      if (name.length === 16 && name.toLowerCase() === "content-encoding") return undefined;
    }
    if (lengths > 1) return undefined; // "2, 2" passes the server but not the body limit
    const action = path[2] as keyof typeof ROUTES;
    // An acquire without the connection's signal could not withdraw a wait whose client left.
    if (action === "acquire" && signal === undefined) return undefined;
    let cmd: LockCommand;
    try {
      const name = parseWith(schemas.lockName, path[1], "name");
      const json = parseJsonBody(body, headerOf(head, "content-type"));
      cmd = action === "acquire"
        ? acquireCommandOf(schemas, name, json)
        : tokenCommandOf(schemas, action, name, json);
    } catch {
      return undefined; // the router's 4xx
    }
    const session = sessionPartsOf((name) => headerOf(head, name), {
      method: "POST",
      pathAndQuery: () => head.target,
      principal: null,
      body,
    }, schemas);
    return session.then(
      (parts) => answer(deps, head, ROUTES[action], cmd, parts, signal!),
      () => undefined, // a malformed exactly-once header: the router's 400
    );
  };
}

/** Proposes `cmd` (an acquire through the lock waits) and answers its every outcome. */
async function answer(
  deps: LockDeps,
  head: Head,
  route: string,
  cmd: LockCommand,
  session: SessionParts,
  signal: () => AbortSignal,
): Promise<Uint8Array> {
  try {
    let answer: WriteAnswer;
    if (cmd.op === "acquire") {
      const ended = await lockWaitsOf(deps).acquire(cmd, {
        propose: () => proposeCommand(deps, cmd, session),
        signal: signal(),
        onWait: (delta) => deps.metrics.lockWaits += delta,
      });
      answer = acquireAnswer(cmd, ended);
    } else {
      answer = tokenAnswer(cmd, await proposeCommand(deps, cmd, session));
    }
    const headers = withLeader(answer.headers, leaderHeader(deps));
    deps.metrics.countRequest("POST", route, 200);
    return wholeAnswer(200, headers, answer.body, head.close);
  } catch (error) {
    const problem = problemFor(error);
    // As the error handler (problem_errors.ts) logs them.
    if (problem.kind === "client-closed") {
      deps.logger?.log("info", "client went away", {
        method: "POST",
        path: head.target,
        detail: problem.detail,
      });
    } else if (problem.kind === "internal") {
      deps.logger?.log("error", "api request failed", {
        method: "POST",
        path: head.target,
        error: String(error),
        stack: error instanceof Error ? error.stack : undefined,
      });
    }
    return answerBytes(problemAnswerOf(deps, "POST", problem, route), head)!;
  }
}
