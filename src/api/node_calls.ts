/**
 * The API's calls into the node: writes through the log (with exactly-once fields and
 * latency metrics), reads at the requested consistency, and the mapping of the state
 * machine's refusals to problems.
 *
 * @module
 */

import type { Context } from "hono";
import type { Command } from "../state/commands.ts";
import type { ApplyOutcome, CommandResult, Failure } from "../state/results.ts";
import type { ApiDeps, ApiEnv } from "./app_env.ts";
import { invalidRequest, ProblemError, type ProblemKind } from "./problem.ts";
import { type SessionParts, sessionParts } from "./request_parts.ts";

/**
 * Proposes `cmd` with the request's exactly-once headers; resolves with its outcome once it is
 * applied on this node. Errors go on to the error handler, which maps the node's and the state
 * machine's own errors by name (a command the state machine refuses: 400; no leader: 503; an
 * unknown outcome: 504) and anything else to a 500 without internals.
 *
 * @example
 * ```ts ignore
 * const outcome = await submitCommand(deps, c, { op: "delete", key });
 * ```
 */
export async function submitCommand(
  deps: ApiDeps,
  c: Context<ApiEnv>,
  cmd: Command,
  options: { session?: boolean; signal?: AbortSignal } = {},
): Promise<ApplyOutcome> {
  const session = options.session === false ? {} : await sessionParts(c, deps.schemas);
  const outcome = await proposeCommand(deps, cmd, session, options.signal);
  for (const [name, value] of Object.entries(outcomeHeaders(outcome))) c.header(name, value);
  return outcome;
}

/**
 * Proposes `cmd` with its exactly-once fields and times the proposal (`observeProposal`, for
 * proposals that came back with an outcome): what {@linkcode submitCommand} does after reading
 * the request, shared with the client port's write shortcut (`fast_config_write.ts`) so that
 * both propose and count alike. A follower's node passes the command to its leader.
 *
 * @example
 * ```ts ignore
 * const outcome = await proposeCommand(deps, { op: "put", key: "a", value: 1 }, {});
 * ```
 */
export async function proposeCommand(
  deps: Pick<ApiDeps, "node" | "metrics">,
  cmd: Command,
  session: SessionParts,
  signal?: AbortSignal,
): Promise<ApplyOutcome> {
  const started = performance.now();
  const outcome = await deps.node.submit({ cmd, ...session }, signal);
  deps.metrics.observeProposal(performance.now() - started);
  return outcome;
}

/**
 * How a read asks to be served: `consistency` (linearizable by default) and `maxStalenessMs`.
 *
 * @example
 * ```ts
 * import type { ReadConsistency } from "./node_calls.ts";
 * const bounded: ReadConsistency = { maxStalenessMs: 500 };
 * ```
 */
export interface ReadConsistency {
  consistency?: "linearizable" | "stale";
  maxStalenessMs?: number;
}

/**
 * Waits until reading the node's state is linearizable, unless the client asked for a stale
 * read; for a stale read, says how stale in `X-Last-Contact-Ms` (-1: never heard from a
 * leader). With `maxStalenessMs` the read is stale only while this node heard from a leader
 * within that many ms (a learner far from the voters answers at once while it keeps up), and
 * linearizable otherwise. Returns whether the read is stale.
 *
 * @example
 * ```ts ignore
 * const stale = await readAt(deps, c, query);
 * ```
 */
export async function readAt(
  deps: ApiDeps,
  c: Context<ApiEnv>,
  read: ReadConsistency,
): Promise<boolean> {
  const bound = read.maxStalenessMs;
  if (bound !== undefined && read.consistency === "linearizable") {
    throw invalidRequest(
      "query: maxStalenessMs bounds a stale read; it does not go with consistency=linearizable",
    );
  }
  if (read.consistency === "stale" || bound !== undefined) {
    const since = lastContactMs(deps);
    if (bound === undefined || (since >= 0 && since <= bound)) {
      c.header("x-last-contact-ms", String(since));
      return true;
    }
  }
  await deps.node.linearizableRead();
  return false;
}

/**
 * How stale this node's state may be, for `X-Last-Contact-Ms`: 0 on the leader, -1 when it
 * never heard from one, else the milliseconds since it last did.
 *
 * @example
 * ```ts ignore
 * c.header("x-last-contact-ms", String(lastContactMs(deps)));
 * ```
 */
export function lastContactMs({ node, clock }: Pick<ApiDeps, "node" | "clock">): number {
  if (node.isLeader()) return 0;
  if (node.lastContact === 0) return -1;
  return Math.max(0, clock() - node.lastContact);
}

/**
 * The headers that say which revision an outcome reflects and whether it was a replay.
 *
 * @example
 * ```ts
 * import { outcomeHeaders } from "./node_calls.ts";
 * outcomeHeaders({ index: 3, result: { ok: true }, events: [], revision: 2, duplicate: true });
 * // { "x-revision": "2", "idempotent-replayed": "true" }
 * ```
 */
export function outcomeHeaders(outcome: ApplyOutcome): Record<string, string> {
  const headers: Record<string, string> = { "x-revision": String(outcome.revision) };
  if (outcome.duplicate) headers["idempotent-replayed"] = "true";
  return headers;
}

/**
 * The result of a command that must have succeeded, or the problem its failure amounts to
 * (carrying the outcome's headers: a replayed refusal says it is one).
 *
 * @example
 * ```ts ignore
 * const result = succeeded<PutResult>(outcome);
 * ```
 */
export function succeeded<R extends CommandResult>(outcome: ApplyOutcome): Exclude<R, Failure> {
  const result = outcome.result;
  if (result.ok) return result as Exclude<R, Failure>;
  throw problemOfFailure(result, outcomeHeaders(outcome));
}

/**
 * The problem a state machine refusal amounts to.
 *
 * @example
 * ```ts
 * import { problemOfFailure } from "./node_calls.ts";
 * problemOfFailure({ ok: false, reason: "not_found", key: "k" }).status; // 404
 * ```
 */
export function problemOfFailure(
  failure: Failure,
  headers: Record<string, string> = {},
): ProblemError {
  const problem = (
    status: number,
    kind: ProblemKind,
    detail: string,
    extensions: Record<string, unknown> = {},
  ) => new ProblemError(status, kind, detail, extensions, headers);
  switch (failure.reason) {
    case "revision_mismatch":
      return problem(
        412,
        "precondition-failed",
        `the key ${failure.key} is at revision ${failure.current?.revision ?? 0} (0: absent)`,
        { currentRevision: failure.current?.revision ?? 0 },
      );
    case "exists":
      return problem(
        412,
        "precondition-failed",
        `the key ${failure.key} exists (If-None-Match: *)`,
        { currentRevision: failure.current.revision },
      );
    case "not_found":
      return problem(404, "not-found", `the key ${failure.key} has no value`);
    case "held":
      return problem(409, "lock-held", `the lock ${failure.name} is held`, {
        holder: failure.holder,
        expiresAt: failure.expiresAt,
      });
    case "not_holder":
      return problem(
        409,
        "not-holder",
        `the token does not hold the lock ${failure.name} (released, expired or never granted)`,
      );
    case "not_waiting":
      return problem(409, "not-holder", `no such waiter on the lock ${failure.name}`);
    case "stale_sequence":
      return problem(
        409,
        "stale-sequence",
        `X-Client-Seq ${failure.seq} is below the client's last sequence ${failure.lastSeq}`,
        { lastSeq: failure.lastSeq },
      );
    case "key_reused":
      return problem(
        422,
        "idempotency-key-reused",
        `the Idempotency-Key ${JSON.stringify(failure.idempotencyKey)} was used for a different ` +
          "request (method, path, conditional headers or body); nothing was applied. Use a new " +
          "key for a new request",
      );
    case "seq_reused":
      return problem(
        422,
        "client-seq-reused",
        `X-Client-Seq ${failure.seq} of client ${JSON.stringify(failure.clientId)} was used for ` +
          "a different request (method, path, conditional headers or body); nothing was " +
          "applied. Use the next sequence number for a new request",
      );
    case "bad_command":
      return problem(400, "invalid-request", failure.detail);
  }
}
