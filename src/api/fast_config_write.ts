/**
 * The write shortcut of the client port's own server (`http_front.ts`): `PUT` and `DELETE
 * /v1/config/{key}` on an open node (no tokens), answered from the parsed request head and the
 * body already read with it, without a `Request`, `Headers`, `URL`, the router, its context,
 * the five middleware layers or a `Response`. Under `config put` x64 those were about half of
 * the leader's JavaScript time per write (`bench/README.md`, "The client port").
 *
 * A write has effects, so unlike a read it may not decline once it has proposed: everything
 * the router could refuse is decided first, with the router's own functions (the key schema,
 * `putCommandOf` / `deleteCommandOf` with `If-Match` and `If-None-Match: *`, `parseJsonBody`
 * and the value schema, `sessionPartsOf` for `Idempotency-Key` and `X-Client-Id`/`-Seq`), and
 * any refusal declines: the request then goes the long way untouched, its body still in the
 * connection's buffer, and gets the router's 4xx. What it declines besides: a node with tokens,
 * a key that is not plain (`plainKey`), a query, a `Content-Encoding`, more than one
 * `Content-Length`, a body over `maxBodyBytes`, a `DELETE` with a body, and whatever the
 * connection does not offer (a body not yet whole in its buffer, `Expect: 100-continue`, a
 * chunked body, a head the long way could not make a `Request` of).
 *
 * Once proposed (`proposeCommand`, as the route does; a follower's node passes it to its
 * leader there too), every outcome is answered here with the bytes the router writes: the
 * success through `configWriteAnswer`, the one function the route answers with too; a refusal
 * (412, 404, ...) and the node's errors (503 `no-leader`, 504 `timeout`, ...) through
 * `problemFor`, the error handler's mapping, an `internal` one logged as the error handler logs
 * it. `tests/api/fast_config_write_test.ts` compares the bytes with the router's for each case.
 *
 * @module
 */

import type { ApiDeps } from "./app_env.ts";
import { answerBytes, headerOf, plainKey, problemAnswerOf } from "./fast_stale_read.ts";
import { wholeAnswer } from "./http1_answer.ts";
import type { Head } from "./http1_head.ts";
import { leaderHeader } from "./member_urls.ts";
import { problemFor } from "./middleware/problem_errors/problem_errors.ts";
import { proposeCommand } from "./node_calls.ts";
import { parseJsonBody, type SessionParts, sessionPartsOf } from "./request_parts.ts";
import { configWriteAnswer, deleteCommandOf, putCommandOf } from "./routes/config.ts";
import { parseWith } from "./schemas.ts";
import type { DeleteCommand, PutCommand } from "../state/commands.ts";

/** What the shortcut needs of the API's dependencies. */
type WriteDeps = Pick<
  ApiDeps,
  "node" | "metrics" | "clientUrls" | "open" | "limits" | "schemas" | "logger"
>;

/**
 * Builds the write shortcut for the client port's server. It takes a head and, for a request
 * with a body, the whole body (the connection offers only those it has whole); it answers
 * later with the answer's bytes, or declines: at once with undefined, or with a promise of
 * undefined while nothing was proposed yet (the exactly-once headers' digest is awaited
 * first). Its promise never rejects.
 *
 * @example
 * ```ts ignore
 * const write = configWriteFromHead(deps);
 * const bytes = await write(head, body); // undefined: declined, serve it the long way
 * ```
 */
export function configWriteFromHead(
  deps: WriteDeps,
): (head: Head, body: Uint8Array | undefined) => Promise<Uint8Array | undefined> | undefined {
  const { schemas, limits } = deps;
  return (head, body) => {
    const method = head.method;
    if (!deps.open || (method !== "PUT" && method !== "DELETE")) return undefined;
    const key = plainKey(deps, head.target);
    if (key === undefined) return undefined;
    if (method === "PUT" ? body === undefined : head.framing.kind !== "none") return undefined;
    let lengths = 0;
    for (const [name] of head.headers) {
      // Only the names the middleware reads that the shortcut does not: by length first.
      if (name.length === 14 && name.toLowerCase() === "content-length") lengths++;
      if (name.length === 16 && name.toLowerCase() === "content-encoding") return undefined;
    }
    // Two equal Content-Length lines pass the server but not the body limit ("2, 2").
    if (lengths > 1 || (body !== undefined && body.byteLength > limits.maxBodyBytes)) {
      return undefined;
    }
    let cmd: PutCommand | DeleteCommand;
    try {
      const ifMatch = headerOf(head, "if-match");
      cmd = method === "PUT"
        ? putCommandOf(
          schemas,
          parseWith(schemas.key, key, "key"),
          ifMatch,
          headerOf(head, "if-none-match"),
          () => parseJsonBody(body!, headerOf(head, "content-type")),
        )
        : deleteCommandOf(parseWith(schemas.key, key, "key"), ifMatch);
    } catch {
      return undefined; // the router's 4xx
    }
    const session = sessionPartsOf((name) => headerOf(head, name), {
      method,
      pathAndQuery: () => head.target,
      principal: null,
      body,
    }, schemas);
    return session.then(
      (parts) => propose(deps, head, cmd, parts),
      () => undefined, // a malformed exactly-once header: the router's 400
    );
  };
}

/** Proposes `cmd` and answers its every outcome; never rejects. */
async function propose(
  deps: WriteDeps,
  head: Head,
  cmd: PutCommand | DeleteCommand,
  session: SessionParts,
): Promise<Uint8Array> {
  const method = head.method;
  try {
    const answer = configWriteAnswer(cmd, await proposeCommand(deps, cmd, session));
    const headers = withLeader(answer.headers, leaderHeader(deps));
    deps.metrics.countRequest(method, "/v1/config/{key}", 200);
    return wholeAnswer(200, headers, answer.body, head.close);
  } catch (error) {
    const problem = problemFor(error);
    if (problem.kind === "internal") {
      // As the error handler (problem_errors.ts) logs it: the body says nothing of the error.
      deps.logger?.log("error", "api request failed", {
        method,
        path: head.target,
        error: String(error),
        stack: error instanceof Error ? error.stack : undefined,
      });
    }
    return answerBytes(problemAnswerOf(deps, method, problem), head)!;
  }
}

/**
 * `headers` (sorted by name) with `x-leader` in its place, as the middleware adds it; the
 * lock shortcut (`fast_lock.ts`) uses it too.
 *
 * @example
 * ```ts
 * import { withLeader } from "./fast_config_write.ts";
 * withLeader([["content-type", "application/json"], ["x-revision", "3"]], "http://n1:7001");
 * // [["content-type", ...], ["x-leader", "http://n1:7001"], ["x-revision", "3"]]
 * ```
 */
export function withLeader(
  headers: [string, string][],
  leader: string | undefined,
): [string, string][] {
  if (leader === undefined) return headers;
  let at = headers.length;
  while (at > 0 && headers[at - 1][0] > "x-leader") at--;
  headers.splice(at, 0, ["x-leader", leader]);
  return headers;
}
