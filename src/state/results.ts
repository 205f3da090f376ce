/**
 * What applying an entry answers: the command's result (sent back to the client that proposed
 * it, and cached for exactly-once retries) and the events it caused (pushed to watchers and to
 * clients waiting for a lock).
 *
 * Results never carry a config value: they are cached per client, and values may be large.
 * Optional fields are never `undefined`: a result must survive a msgpack round trip through a
 * snapshot unchanged.
 *
 * @module
 */

import type { JsonValue } from "./json_value.ts";

/**
 * A key's revisions: `revision` (last change), `createRevision`, `version` (puts since create).
 *
 * @example
 * ```ts
 * import type { KeyMeta } from "./results.ts";
 * const m: KeyMeta = { revision: 9, createRevision: 3, version: 4 };
 * ```
 */
export interface KeyMeta {
  revision: number;
  createRevision: number;
  version: number;
}

/**
 * A successful put. `prevRevision` is 0 when the put created the key.
 *
 * @example
 * ```ts
 * import type { PutResult } from "./results.ts";
 * const r: PutResult = {
 *   ok: true, key: "k", revision: 9, createRevision: 9, version: 1, prevRevision: 0,
 * };
 * ```
 */
export interface PutResult extends KeyMeta {
  ok: true;
  key: string;
  prevRevision: number;
}

/**
 * A successful delete: `revision` is the global revision of the deletion.
 *
 * @example
 * ```ts
 * import type { DeleteResult } from "./results.ts";
 * const r: DeleteResult = { ok: true, key: "k", revision: 10, prevRevision: 9 };
 * ```
 */
export interface DeleteResult {
  ok: true;
  key: string;
  revision: number;
  prevRevision: number;
}

/**
 * The lock was granted: `token` is the fencing token (the granting entry's index).
 *
 * @example
 * ```ts
 * import type { AcquireGranted } from "./results.ts";
 * const r: AcquireGranted = {
 *   ok: true, queued: false, name: "cron", token: 42, owner: "a", ttlMs: 5000, expiresAt: 6000,
 * };
 * ```
 */
export interface AcquireGranted {
  ok: true;
  queued: false;
  name: string;
  token: number;
  owner: string;
  ttlMs: number;
  expiresAt: number;
}

/**
 * The lock is held and the request waits in line until `deadline` (log time). A later
 * `lockGranted` or `waitTimedOut` event with this `waiterId` tells how the wait ended.
 *
 * @example
 * ```ts
 * import type { AcquireQueued } from "./results.ts";
 * const r: AcquireQueued = { ok: true, queued: true, name: "cron", waiterId: 43, deadline: 9000 };
 * ```
 */
export interface AcquireQueued {
  ok: true;
  queued: true;
  name: string;
  waiterId: number;
  deadline: number;
}

/**
 * A successful renew, with the new expiry.
 *
 * @example
 * ```ts
 * import type { RenewResult } from "./results.ts";
 * const r: RenewResult = { ok: true, name: "cron", token: 42, expiresAt: 11_000 };
 * ```
 */
export interface RenewResult {
  ok: true;
  name: string;
  token: number;
  expiresAt: number;
}

/**
 * Who got a lock when its holder let go: the first waiter in line.
 *
 * @example
 * ```ts
 * import type { Grant } from "./results.ts";
 * const g: Grant = { waiterId: 43, token: 50, owner: "b", expiresAt: 12_000 };
 * ```
 */
export interface Grant {
  waiterId: number;
  token: number;
  owner: string;
  expiresAt: number;
}

/**
 * A successful release; `grantedTo` is the waiter that got the lock in the same entry.
 *
 * @example
 * ```ts
 * import type { ReleaseResult } from "./results.ts";
 * const r: ReleaseResult = { ok: true, name: "cron", token: 42, grantedTo: null };
 * ```
 */
export interface ReleaseResult {
  ok: true;
  name: string;
  token: number;
  grantedTo: Grant | null;
}

/**
 * A waiter left the queue on request.
 *
 * @example
 * ```ts
 * import type { CancelWaitResult } from "./results.ts";
 * const r: CancelWaitResult = { ok: true, name: "cron", waiterId: 43 };
 * ```
 */
export interface CancelWaitResult {
  ok: true;
  name: string;
  waiterId: number;
}

/**
 * A wait was withdrawn because its client went away: taken out of the line, or, when the lock
 * had been granted to it meanwhile, released (`released` is the token it held, else 0).
 *
 * @example
 * ```ts
 * import type { AbandonWaitResult } from "./results.ts";
 * const r: AbandonWaitResult = { ok: true, name: "cron", waiterId: 43, released: 0 };
 * ```
 */
export interface AbandonWaitResult {
  ok: true;
  name: string;
  waiterId: number;
  released: number;
}

/**
 * A lock's holder as the API shows it, in a lock's state and in a `held` refusal alike.
 *
 * @example
 * ```ts
 * import type { HolderView } from "./results.ts";
 * const h: HolderView = { token: 42, owner: "a", expiresAt: 9000 };
 * ```
 */
export interface HolderView {
  token: number;
  owner: string;
  expiresAt: number;
}

/**
 * A tick or a no-op entry: nothing to say beyond its events.
 *
 * @example
 * ```ts
 * import type { TickResult } from "./results.ts";
 * const r: TickResult = { ok: true };
 * ```
 */
export interface TickResult {
  ok: true;
}

/**
 * Why a command changed nothing.
 *
 * @example
 * ```ts
 * import type { Failure } from "./results.ts";
 * const f: Failure = { ok: false, reason: "not_found", key: "k" };
 * ```
 */
export type Failure =
  | { ok: false; reason: "revision_mismatch"; key: string; current: KeyMeta | null }
  | { ok: false; reason: "exists"; key: string; current: KeyMeta }
  | { ok: false; reason: "not_found"; key: string }
  | {
    ok: false;
    reason: "held";
    name: string;
    holder: HolderView | null;
    expiresAt: number | null;
  }
  | { ok: false; reason: "not_holder"; name: string }
  | { ok: false; reason: "not_waiting"; name: string; waiterId: number }
  | { ok: false; reason: "stale_sequence"; clientId: string; seq: number; lastSeq: number }
  | { ok: false; reason: "key_reused"; idempotencyKey: string }
  | { ok: false; reason: "seq_reused"; clientId: string; seq: number }
  | { ok: false; reason: "bad_command"; detail: string };

/**
 * Any command's answer.
 *
 * @example
 * ```ts
 * import type { CommandResult } from "./results.ts";
 * const r: CommandResult = { ok: false, reason: "bad_command", detail: "cmd.op is required" };
 * ```
 */
export type CommandResult =
  | PutResult
  | DeleteResult
  | AcquireGranted
  | AcquireQueued
  | RenewResult
  | ReleaseResult
  | CancelWaitResult
  | AbandonWaitResult
  | TickResult
  | Failure;

/**
 * A change of a config value, as the watch history keeps it. `revision` is the global
 * revision the change created, and doubles as the SSE event id.
 *
 * @example
 * ```ts
 * import type { ChangeEvent } from "./results.ts";
 * const e: ChangeEvent = {
 *   type: "put", revision: 9, key: "k", value: 1, createRevision: 9, version: 1,
 * };
 * ```
 */
export type ChangeEvent =
  | {
    type: "put";
    revision: number;
    key: string;
    value: JsonValue;
    createRevision: number;
    version: number;
  }
  | { type: "delete"; revision: number; key: string };

/**
 * What happened to a lock. `lockGranted` is emitted for every grant, immediate or to a waiter
 * (`waiterId` is the index of the acquire entry; it equals `token` for an immediate grant).
 *
 * @example
 * ```ts
 * import type { LockEvent } from "./results.ts";
 * const e: LockEvent = { type: "waitTimedOut", name: "cron", waiterId: 43 };
 * ```
 */
export type LockEvent =
  | {
    type: "lockGranted";
    name: string;
    waiterId: number;
    token: number;
    owner: string;
    expiresAt: number;
  }
  | { type: "lockExpired"; name: string; token: number; owner: string }
  | { type: "lockReleased"; name: string; token: number }
  | { type: "waitTimedOut"; name: string; waiterId: number };

/**
 * Any event an entry can cause.
 *
 * @example
 * ```ts
 * import type { StateEvent } from "./results.ts";
 * const e: StateEvent = { type: "delete", revision: 10, key: "k" };
 * ```
 */
export type StateEvent = ChangeEvent | LockEvent;

/**
 * What applying one entry produced. `revision` is the global revision after the entry;
 * `duplicate` says the command was recognised as a retry and answered with the cached first
 * answer. A refused one (`stale_sequence`, or a key or (id, seq) reused for a different
 * request: `key_reused`, `seq_reused`) is not applied, and not a duplicate either.
 *
 * @example
 * ```ts
 * import type { ApplyOutcome } from "./results.ts";
 * const o: ApplyOutcome = {
 *   index: 7, result: { ok: true }, events: [], revision: 3, duplicate: false,
 * };
 * ```
 */
export interface ApplyOutcome {
  index: number;
  result: CommandResult;
  events: StateEvent[];
  revision: number;
  duplicate: boolean;
}
