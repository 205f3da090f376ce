/**
 * What a model-test client does, as data: request specs that name keys, locks, idempotency keys
 * and sessions locally ("k1", "l0", "i3"), so that the same steps can be run again in a fresh
 * namespace of the same node to shrink a failing sequence. Values that only exist at run time
 * (the key's current revision for `If-Match`, the fencing token a lock is held with) are named
 * by role and filled in when the request is built.
 *
 * @module
 */

import type { TokenName } from "./model_node.ts";

/**
 * A JSON value as the tests build them.
 *
 * @example
 * ```ts
 * import type { Json } from "./steps.ts";
 * const v: Json = { a: [1, "b", null] };
 * ```
 */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/**
 * A write's exactly-once header: an idempotency key (by local name), or the client's session
 * with the next sequence number, the last one again, or a lower one.
 *
 * @example
 * ```ts
 * import type { ExactlySpec } from "./steps.ts";
 * const e: ExactlySpec = { idem: "i4" };
 * ```
 */
export type ExactlySpec = { idem: string } | { seq: "next" | "same" | "lower" };

/**
 * The condition of a config write: `If-Match` with the key's revision as the model knows it
 * (`current`), with a wrong one (`stale`), `If-Match: "0"` (`absent`), or `If-None-Match: *`
 * (`create`).
 *
 * @example
 * ```ts
 * import type { Cond } from "./steps.ts";
 * const c: Cond = "current";
 * ```
 */
export type Cond = "current" | "stale" | "absent" | "create";

/**
 * One request of a client, before it is built.
 *
 * @example
 * ```ts
 * import type { ReqSpec } from "./steps.ts";
 * const r: ReqSpec = { op: "put", key: "k1", value: 3, cond: "current", exactly: { idem: "i1" } };
 * ```
 */
export type ReqSpec =
  | {
    op: "put";
    key: string;
    value: Json;
    cond?: Cond;
    /** Send the key's `/` as `%2F` instead of raw. */
    encodeSlash?: boolean;
    exactly?: ExactlySpec;
    token?: TokenName;
  }
  | {
    op: "delete";
    key: string;
    cond?: "current" | "stale";
    exactly?: ExactlySpec;
    token?: TokenName;
  }
  | {
    op: "get";
    key: string;
    ifNoneMatch?: boolean;
    stale?: boolean;
    /** Send the key's `/` as `%2F` (the default) or raw (`false`). */
    encodeSlash?: boolean;
    token?: TokenName;
  }
  | { op: "list"; limit: number; after?: string; token?: TokenName }
  | {
    op: "acquire";
    lock: string;
    owner?: string;
    ttlMs: number;
    waitMs?: number;
    exactly?: ExactlySpec;
    token?: TokenName;
  }
  | {
    op: "renew" | "release";
    lock: string;
    /** The token the lock is held with, or an older one that no longer holds it. */
    which: "held" | "stale";
    exactly?: ExactlySpec;
    token?: TokenName;
  }
  | { op: "lockInfo"; lock: string; token?: TokenName }
  /** The exact request of an earlier step again, as the same or another principal. */
  | { op: "replay"; of: number; token?: TokenName }
  /** A request the API must refuse with a 4xx before it changes anything (see BAD_INPUTS). */
  | { op: "bad"; variant: number; exactly?: ExactlySpec };

/**
 * One step of a client: a request, or a scenario of several.
 *
 * - `one`: send the request, compare the answer.
 * - `dropRetry`: send it, abort the fetch after `abortAfterMs`, send it again (same
 *   idempotency key or session sequence): the state must show exactly one application.
 * - `waitExpire`: take a lock with a 1 s lease, then wait in line for it as another owner: the
 *   wait is granted when the lease runs out, not before.
 * - `waitTimeout`: take a lock, wait for it as another owner for 300 ms: 409 with the holder.
 * - `abandonWait`: take a lock, wait for it as another owner with an idempotency key, drop that
 *   connection, retry with the same key, release the first grant: the retry gets the lock.
 * - `shared*`: keys and locks every client uses, checked by invariants (see SharedLedger).
 *
 * @example
 * ```ts
 * import type { Step } from "./steps.ts";
 * const s: Step = { t: "one", req: { op: "get", key: "k0" } };
 * ```
 */
export type Step =
  | { t: "one"; req: ReqSpec }
  | { t: "dropRetry"; req: ReqSpec; abortAfterMs: number }
  | { t: "waitExpire"; lock: string }
  | { t: "waitTimeout"; lock: string }
  | { t: "abandonWait"; lock: string; abortAfterMs: number }
  | { t: "sharedPut"; k: number; cas: boolean }
  | { t: "sharedGet"; k: number }
  | { t: "sharedAcquire" | "sharedRenew" | "sharedRelease"; l: number };

/**
 * The local names of a client's own keys: `/` inside, non-ASCII, a space, a `%` and dots, so
 * that percent-decoding, code point order and the dot-segment rule are exercised.
 *
 * @example
 * ```ts
 * import { OWN_KEYS } from "./steps.ts";
 * console.log(OWN_KEYS.includes("k0")); // true
 * ```
 */
export const OWN_KEYS: readonly string[] = [
  "k0",
  "k1",
  "k2",
  "k3",
  "dir/k4",
  "dir/sub/k5",
  "ü6",
  "\u{1F600}7",
  "\uFFFD8",
  "a b9",
  "p%4110",
  // Dots that are no dot segment: valid keys (docs/api.md).
  "a..b11",
  "x/.hidden12",
];

/**
 * The local names of a client's own locks (one with a `/`, sent as `%2F`).
 *
 * @example
 * ```ts
 * import { OWN_LOCKS } from "./steps.ts";
 * console.log(OWN_LOCKS.length); // 3
 * ```
 */
export const OWN_LOCKS: readonly string[] = ["l0", "l1", "dir/l2"];

/**
 * How many keys all clients share (`shared/k0`, ...).
 *
 * @example
 * ```ts
 * import { SHARED_KEYS } from "./steps.ts";
 * const keys = Array.from({ length: SHARED_KEYS }, (_, k) => `shared/k${k}`);
 * ```
 */
export const SHARED_KEYS = 3;

/**
 * How many locks all clients share (`shared-l0`, ...).
 *
 * @example
 * ```ts
 * import { SHARED_LOCKS } from "./steps.ts";
 * const locks = Array.from({ length: SHARED_LOCKS }, (_, l) => `shared-l${l}`);
 * ```
 */
export const SHARED_LOCKS = 2;

/**
 * How many requests a step sends (for the run's request budget).
 *
 * @example
 * ```ts
 * import { requestsOf } from "./steps.ts";
 * requestsOf({ t: "dropRetry", req: { op: "get", key: "k0" }, abortAfterMs: 1 }); // 2
 * ```
 */
export function requestsOf(step: Step): number {
  switch (step.t) {
    case "dropRetry":
      return 3;
    case "waitExpire":
      return 2;
    case "waitTimeout":
      return 3;
    case "abandonWait":
      return 5;
    default:
      return 1;
  }
}

/**
 * What a step touches in its client's namespace (`k:` keys, `l:` locks, `i:` idempotency keys,
 * `s` the session, `all` for listings and end-of-run reads), so that shrinking can first try
 * only the steps that touch what the failing step touches. `replayOf` gives the step a replay
 * re-sends.
 *
 * @example
 * ```ts
 * import { entitiesOf } from "./steps.ts";
 * entitiesOf({ t: "one", req: { op: "get", key: "k1" } }, () => undefined); // ["k:k1"]
 * ```
 */
export function entitiesOf(step: Step, replayOf: (index: number) => Step | undefined): string[] {
  const ofExactly = (e: ExactlySpec | undefined) =>
    e === undefined ? [] : "idem" in e ? [`i:${e.idem}`] : ["s"];
  const ofReq = (req: ReqSpec): string[] => {
    switch (req.op) {
      case "put":
      case "delete":
        return [`k:${req.key}`, ...ofExactly(req.exactly)];
      case "get":
        return [`k:${req.key}`];
      case "list":
        return ["all"];
      case "acquire":
      case "renew":
      case "release":
        return [`l:${req.lock}`, ...ofExactly(req.exactly)];
      case "lockInfo":
        return [`l:${req.lock}`];
      case "replay": {
        const original = replayOf(req.of);
        return original === undefined ? [] : entitiesOf(original, replayOf);
      }
      case "bad":
        return ["k:k0", "l:l0", ...ofExactly(req.exactly)];
    }
  };
  switch (step.t) {
    case "one":
    case "dropRetry":
      return ofReq(step.req);
    case "waitExpire":
    case "waitTimeout":
    case "abandonWait":
      return [`l:${step.lock}`];
    default:
      return [];
  }
}
