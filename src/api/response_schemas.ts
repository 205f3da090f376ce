/**
 * The shapes of the API's answers, for `/openapi.json` only: responses are built from the
 * state machine's own types, so nothing validates them at run time.
 *
 * @module
 */

import { z } from "./zod.ts";

const revision = z.number().int().min(0);

/**
 * A problem (RFC 9457); extension members may follow.
 *
 * @example
 * ```ts
 * import { ProblemSchema } from "./response_schemas.ts";
 * ProblemSchema.safeParse({ type: "t", title: "x", status: 400, detail: "d" }).success; // true
 * ```
 */
export const ProblemSchema = z.looseObject({
  type: z.string().openapi({ example: "urn:edgeraft:problem:limit-exceeded" }),
  title: z.string(),
  status: z.number().int(),
  detail: z.string(),
  limit: z.string().optional().openapi({ description: "The limit exceeded, when one was." }),
}).openapi("Problem");

/**
 * A config value with its revisions.
 *
 * @example
 * ```ts
 * import { KeyValueSchema } from "./response_schemas.ts";
 * KeyValueSchema.parse({ key: "a", value: 1, revision: 2, createRevision: 1, version: 2 });
 * ```
 */
export const KeyValueSchema = z.object({
  key: z.string(),
  value: z.unknown().openapi({ description: "Any JSON value." }),
  revision,
  createRevision: revision,
  version: z.number().int().min(1),
}).openapi("KeyValue");

/**
 * The answer to a put.
 *
 * @example
 * ```ts
 * import { PutResultSchema } from "./response_schemas.ts";
 * PutResultSchema.parse({ key: "a", revision: 2, createRevision: 1, version: 2, prevRevision: 1 });
 * ```
 */
export const PutResultSchema = z.object({
  key: z.string(),
  revision,
  createRevision: revision,
  version: z.number().int().min(1),
  prevRevision: revision.openapi({ description: "0 when the put created the key." }),
}).openapi("PutResult");

/**
 * The answer to a delete.
 *
 * @example
 * ```ts
 * import { DeleteResultSchema } from "./response_schemas.ts";
 * DeleteResultSchema.parse({ key: "a", revision: 3, prevRevision: 2 });
 * ```
 */
export const DeleteResultSchema = z.object({ key: z.string(), revision, prevRevision: revision })
  .openapi("DeleteResult");

/**
 * One page of a listing.
 *
 * @example
 * ```ts
 * import { ListPageSchema } from "./response_schemas.ts";
 * ListPageSchema.parse({ items: [], revision: 0, next: null });
 * ```
 */
export const ListPageSchema = z.object({
  items: z.array(KeyValueSchema),
  revision,
  next: z.string().nullable().openapi({ description: "Pass as `after` for the next page." }),
}).openapi("ListPage");

/**
 * A granted lock.
 *
 * @example
 * ```ts
 * import { LockGrantSchema } from "./response_schemas.ts";
 * LockGrantSchema.parse({ name: "n", token: 5, owner: "", ttlMs: 1000, expiresAt: 9 });
 * ```
 */
export const LockGrantSchema = z.object({
  name: z.string(),
  token: z.number().int().min(1).openapi({ description: "The fencing token." }),
  owner: z.string(),
  ttlMs: z.number().int(),
  expiresAt: z.number().int().openapi({ description: "Log time (ms since the epoch)." }),
}).openapi("LockGrant");

/**
 * Who holds a lock, the same in a lock's state and in a `lock-held` refusal.
 *
 * @example
 * ```ts
 * import { LockHolderSchema } from "./response_schemas.ts";
 * LockHolderSchema.parse({ token: 4, owner: "a", expiresAt: 9 });
 * ```
 */
export const LockHolderSchema = z.object({
  token: z.number().int().openapi({ description: "The holder's fencing token." }),
  owner: z.string(),
  expiresAt: z.number().int().openapi({ description: "Log time (ms since the epoch)." }),
}).openapi("LockHolder");

/**
 * A try-lock that found the lock held (or a wait that ran out).
 *
 * @example
 * ```ts
 * import { LockHeldSchema } from "./response_schemas.ts";
 * LockHeldSchema.parse({
 *   type: "t", title: "x", status: 409, detail: "d",
 *   holder: { token: 4, owner: "a", expiresAt: 9 }, expiresAt: 9,
 * });
 * ```
 */
export const LockHeldSchema = ProblemSchema.extend({
  holder: LockHolderSchema.nullable().openapi({
    description: "The holder (null: the lock was free by the time the wait ended).",
  }),
  expiresAt: z.number().int().nullable(),
}).openapi("LockHeldProblem");

/**
 * The answer to a renew.
 *
 * @example
 * ```ts
 * import { RenewResultSchema } from "./response_schemas.ts";
 * RenewResultSchema.parse({ name: "n", token: 5, expiresAt: 9 });
 * ```
 */
export const RenewResultSchema = z.object({
  name: z.string(),
  token: z.number().int(),
  expiresAt: z.number().int(),
}).openapi("RenewResult");

/**
 * The answer to a release.
 *
 * @example
 * ```ts
 * import { ReleaseResultSchema } from "./response_schemas.ts";
 * ReleaseResultSchema.parse({ name: "n", token: 5 });
 * ```
 */
export const ReleaseResultSchema = z.object({ name: z.string(), token: z.number().int() })
  .openapi("ReleaseResult");

/**
 * A lock's holder and line.
 *
 * @example
 * ```ts
 * import { LockInfoSchema } from "./response_schemas.ts";
 * LockInfoSchema.parse({ name: "n", holder: null, waiters: [] });
 * ```
 */
export const LockInfoSchema = z.object({
  name: z.string(),
  holder: LockHolderSchema.nullable(),
  waiters: z.array(z.object({
    waiterId: z.number().int(),
    owner: z.string(),
    deadline: z.number().int().openapi({ description: "Log time when the wait runs out." }),
  })).openapi({ description: "The requests waiting in line, first in line first." }),
}).openapi("LockInfo");

/**
 * The cluster as this node sees it.
 *
 * @example
 * ```ts
 * import { ClusterSchema } from "./response_schemas.ts";
 * ClusterSchema.shape.members.element.shape.role.options; // ["leader", "follower", "unknown"]
 * ```
 */
export const ClusterSchema = z.object({
  clusterId: z.string(),
  nodeId: z.number().int(),
  leaderId: z.number().int().nullable(),
  term: z.number().int(),
  commitIndex: z.number().int(),
  appliedIndex: z.number().int(),
  members: z.array(z.object({
    id: z.number().int(),
    url: z.string().nullable().openapi({ description: "The member's client URL, when known." }),
    peerUrl: z.string().nullable(),
    role: z.enum(["leader", "follower", "learner", "unknown"]).openapi({
      description: "A learner receives the log but does not vote; unknown while no leader is " +
        "known.",
    }),
    matchIndex: z.number().int().nullable().openapi({
      description: "Replication progress; known only on the leader.",
    }),
  })),
}).openapi("Cluster");

/**
 * A member as `GET /v1/members` lists it.
 *
 * @example
 * ```ts
 * import { MemberSchema } from "./response_schemas.ts";
 * MemberSchema.parse({
 *   id: 4, peerUrl: "http://127.0.0.1:7104", clientUrl: "http://127.0.0.1:7004",
 *   role: "learner", matchIndex: 12, lastContactMs: 8,
 * });
 * ```
 */
export const MemberSchema = z.object({
  id: z.number().int().min(1),
  peerUrl: z.string(),
  clientUrl: z.string().openapi({ description: "Empty when the member was started without it." }),
  role: z.enum(["voter", "learner"]),
  matchIndex: z.number().int().nullable().openapi({
    description: "The leader's replication progress for it (null: the leader itself, or no " +
      "leader answered).",
  }),
  lastContactMs: z.number().int().nullable().openapi({
    description: "ms since the leader last heard from it (null: the leader itself, never, or " +
      "no leader answered).",
  }),
}).openapi("Member");

/**
 * The answer to a removal.
 *
 * @example
 * ```ts
 * import { RemovedSchema } from "./response_schemas.ts";
 * RemovedSchema.parse({ removed: 3 });
 * ```
 */
export const RemovedSchema = z.object({ removed: z.number().int().min(1) }).openapi("Removed");

/**
 * The answer to a leadership transfer: the leader now in place.
 *
 * @example
 * ```ts
 * import { LeaderSchema } from "./response_schemas.ts";
 * LeaderSchema.parse({ leader: 2 });
 * ```
 */
export const LeaderSchema = z.object({ leader: z.number().int().min(1) }).openapi("Leader");
