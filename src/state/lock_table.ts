/**
 * Locks with leases, fair waiting and fencing tokens.
 *
 * ## Time
 *
 * The table never reads a clock. It is told `now`, the largest leader stamp in the log so far,
 * and decides expiry from it: a holder loses the lock in the first entry stamped at or after its
 * `expiresAt`, a waiter leaves the queue in the first entry stamped at or after its deadline.
 *
 * ## Fencing tokens
 *
 * A grant's token is the Raft index of the entry that made it. One entry grants a given lock at
 * most once (a `renew` or `release` that names a token equal to the current entry's index is
 * refused: no client can know that token yet), so tokens of one lock strictly increase across
 * holders. A resource guarded by the lock keeps the highest token it has seen and refuses lower
 * ones.
 *
 * ## Attempts
 *
 * A request that asked for a lock may be sent again (a retry with the same Idempotency-Key, say
 * after a dropped connection), and every copy that reaches the log is answered with the same
 * wait or grant: the first copy by applying it, the later ones from its exactly-once record. Each
 * such copy is an attempt, named by the index of its own entry, and the wait (a waiter, or the
 * holder it became) keeps the set of attempts attached to it. A client that went away lets go of
 * its attempt (`abandon`), and only when no attempt is left is the wait withdrawn, or the grant
 * released: the log order of the attempts says nothing about which one's client is still there.
 * An attempt whose answer reached its client never lets go, so a grant a client was told about
 * is never released under it. The set is bounded (`MAX_ATTEMPTS`): beyond that a wait can no
 * longer be withdrawn, and ends by its deadline or its lease, which is safe.
 *
 * ## Leader changes
 *
 * Between the last stamp of one leader and the first stamp of the next, nobody measures time,
 * and the new leader's clock may be ahead of the old one's. So when the first stamp of a new
 * term arrives, each lease keeps the time it had left at the previous term's last stamp, counted
 * from the new stamp: `expiresAt = max(expiresAt, firstStamp + (expiresAt - lastStamp))`, and the
 * same for waiter deadlines. A lease is thus never shortened by a leader change, whether the new
 * leader's clock is ahead, behind, or the election took long.
 *
 * ## Clock drift: what a client must do
 *
 * Clocks may run at different rates: over any interval, two clocks (nodes' or clients') measure
 * lengths that differ by at most `MAX_DRIFT` (1%) of it. A client that holds a lock must:
 *
 * 1. count its lease from the moment it SENT the acquire (or the renew), not from the answer;
 * 2. stop touching the protected resource once its own clock says
 *    `ttlMs * (1 - MAX_DRIFT) - renewMargin` has passed since then, where `renewMargin` covers a
 *    renew round trip and the time it takes to stop; and renew before that point to go on;
 * 3. send its fencing token with every write, for the case where it was paused past all that
 *    (a GC pause, a frozen VM) without noticing.
 *
 * Why no two holders' own reckonings overlap: the leader stamps the granting entry after the
 * client sent the acquire, and the lease only ends in an entry whose stamp, on the leaders'
 * clocks and with leader changes adding time but never removing it, is at least `ttlMs` after
 * the grant's stamp. Measured on the holder's clock, that end is at least `ttlMs * (1 - MAX_DRIFT)`
 * after the send, so the holder stopped before it. The next holder is granted in that entry or
 * later, and believes it holds the lock only once the grant reached it: after the previous holder
 * stopped.
 *
 * @module
 */

import type {
  AbandonWaitCommand,
  AcquireCommand,
  CancelWaitCommand,
  ReleaseCommand,
  RenewCommand,
} from "./commands.ts";
import type {
  AbandonWaitResult,
  AcquireGranted,
  AcquireQueued,
  CancelWaitResult,
  Failure,
  Grant,
  HolderView,
  LockEvent,
  ReleaseResult,
  RenewResult,
} from "./results.ts";

/**
 * The bound on the relative rate difference between any two clocks (nodes and clients) that
 * lease safety assumes: 1%.
 *
 * @example
 * ```ts
 * import { MAX_DRIFT } from "./lock_table.ts";
 * const ttlMs = 10_000;
 * const renewMarginMs = 500;
 * const workUntil = Date.now() + ttlMs * (1 - MAX_DRIFT) - renewMarginMs; // sent acquire now
 * ```
 */
export const MAX_DRIFT = 0.01;

/**
 * How many attempts a wait keeps track of. One more attempt makes the wait unwithdrawable: it
 * then ends only by its deadline or its lease (some attempt may still be there, and which one is
 * no longer known).
 *
 * @example
 * ```ts
 * import { MAX_ATTEMPTS } from "./lock_table.ts";
 * console.log(MAX_ATTEMPTS); // 16
 * ```
 */
export const MAX_ATTEMPTS = 16;

/**
 * Who holds a lock. `waiterId` is the index of the acquire entry that asked for it (equal to
 * `token` when the lock was free at once).
 *
 * @example
 * ```ts
 * import type { HolderInfo } from "./lock_table.ts";
 * const h: HolderInfo = { token: 42, owner: "a", ttlMs: 5000, expiresAt: 9000, waiterId: 42 };
 * ```
 */
export interface HolderInfo {
  token: number;
  owner: string;
  ttlMs: number;
  expiresAt: number;
  waiterId: number;
}

/**
 * A holder as every answer shows it (a lock's state, a `held` refusal): `{token, owner,
 * expiresAt}`, or null for a free lock. One function, so the shapes cannot drift apart.
 *
 * @example
 * ```ts
 * import { holderView } from "./lock_table.ts";
 * holderView({ token: 4, owner: "a", ttlMs: 1000, expiresAt: 9000, waiterId: 4 });
 * // { token: 4, owner: "a", expiresAt: 9000 }
 * ```
 */
export function holderView(holder: HolderInfo | null | undefined): HolderView | null {
  if (holder === null || holder === undefined) return null;
  return { token: holder.token, owner: holder.owner, expiresAt: holder.expiresAt };
}

/**
 * A request waiting in a lock's queue until `deadline`.
 *
 * @example
 * ```ts
 * import type { WaiterInfo } from "./lock_table.ts";
 * const w: WaiterInfo = { waiterId: 43, owner: "b", ttlMs: 5000, deadline: 12_000 };
 * ```
 */
export interface WaiterInfo {
  waiterId: number;
  owner: string;
  ttlMs: number;
  deadline: number;
}

/**
 * A lock as `GET /v1/locks/{name}` shows it; waiters in the order they will get it.
 *
 * @example
 * ```ts
 * import type { LockInfo } from "./lock_table.ts";
 * const l: LockInfo = { name: "cron", holder: null, waiters: [] };
 * ```
 */
export interface LockInfo {
  name: string;
  holder: HolderInfo | null;
  waiters: WaiterInfo[];
}

/**
 * The entry indexes of the attempts attached to a wait, in the order they were attached; null
 * once there were more than `MAX_ATTEMPTS` (or, after an older snapshot, when they are unknown):
 * the wait is then never withdrawn.
 */
type Attempts = number[] | null;

/**
 * A lock in a snapshot: [name, holder, waiters], records as tuples in field order, each ending
 * with its attempts (a number array, or null). Tuples of snapshot formats 1 and 2 end before the
 * attempts.
 */
export type LockTuple = [
  name: string,
  holder: [number, string, number, number, number, Attempts] | null,
  waiters: [number, string, number, number, Attempts][],
];

/**
 * Where the table reports what happened: any array that accepts lock events.
 *
 * @example
 * ```ts
 * import type { LockEventSink } from "./lock_table.ts";
 * const sink: LockEventSink = [];
 * ```
 */
export type LockEventSink = { push(event: LockEvent): unknown };

/** A holder with the attempts attached to the wait that became it. */
interface Holder extends HolderInfo {
  attempts: Attempts;
}

/** A waiter with the attempts attached to it. */
interface Waiter extends WaiterInfo {
  attempts: Attempts;
}

/** Invariant: a lock without a holder has no waiters, and a lock with neither is forgotten. */
interface Lock {
  holder: Holder | null;
  waiters: Waiter[];
}

/** What is left of `attempts` once attempt `at` let go, or undefined if `at` is not one of
 * them (then nothing changes). */
function detach(attempts: Attempts, at: number): number[] | undefined {
  if (attempts === null || !attempts.includes(at)) return undefined;
  return attempts.filter((a) => a !== at);
}

/**
 * All locks. Every method that takes `now` must see it never decrease.
 *
 * @example
 * ```ts
 * import { LockTable } from "./lock_table.ts";
 * import type { LockEvent } from "./results.ts";
 * const locks = new LockTable();
 * const events: LockEvent[] = [];
 * locks.acquire({ op: "acquire", name: "cron", owner: "a", ttlMs: 1000, waitMs: 0 }, 5, 0, events);
 * locks.info("cron").holder?.token; // 5
 * ```
 */
export class LockTable {
  #locks = new Map<string, Lock>();
  /** The earliest expiry or deadline, or `undefined` when it must be recomputed. */
  #earliest: number | undefined = Infinity;

  /** How many locks are held. */
  get size(): number {
    return this.#locks.size;
  }

  /** The earliest log time at which a lease expires or a wait times out. */
  nextDeadline(): number | undefined {
    if (this.#earliest === undefined) {
      let earliest = Infinity;
      for (const lock of this.#locks.values()) {
        if (lock.holder !== null) earliest = Math.min(earliest, lock.holder.expiresAt);
        for (const w of lock.waiters) earliest = Math.min(earliest, w.deadline);
      }
      this.#earliest = earliest;
    }
    return this.#earliest === Infinity ? undefined : this.#earliest;
  }

  #added(deadline: number): void {
    if (this.#earliest !== undefined) this.#earliest = Math.min(this.#earliest, deadline);
  }

  #removed(deadline: number): void {
    if (this.#earliest !== undefined && deadline <= this.#earliest) this.#earliest = undefined;
  }

  /**
   * Moves time to `now` (entry `index`): expired holders lose their lock, timed-out waiters
   * leave, and each free lock goes to its first remaining waiter.
   */
  advance(now: number, index: number, events: LockEventSink): void {
    const next = this.nextDeadline();
    if (next === undefined || now < next) return;
    for (const [name, lock] of this.#locks) {
      const holder = lock.holder;
      if (holder !== null && holder.expiresAt <= now) {
        events.push({ type: "lockExpired", name, token: holder.token, owner: holder.owner });
        lock.holder = null;
      }
      if (lock.waiters.some((w) => w.deadline <= now)) {
        for (const w of lock.waiters) {
          if (w.deadline <= now) events.push({ type: "waitTimedOut", name, waiterId: w.waiterId });
        }
        lock.waiters = lock.waiters.filter((w) => w.deadline > now);
      }
      if (lock.holder === null && this.#grantNext(name, lock, index, now, events) === null) {
        this.#locks.delete(name);
      }
    }
    this.#earliest = undefined;
  }

  /**
   * The leader-change rule (see the module doc): keeps every lease's and deadline's remaining
   * time as of `lastStamp` (the previous term's last stamp), counted from `firstStamp`.
   */
  preserveAcrossTerms(lastStamp: number, firstStamp: number): void {
    if (firstStamp <= lastStamp) return;
    const shift = firstStamp - lastStamp;
    for (const lock of this.#locks.values()) {
      if (lock.holder !== null) lock.holder.expiresAt += shift;
      for (const w of lock.waiters) w.deadline += shift;
    }
    this.#earliest = undefined;
  }

  #grantNext(
    name: string,
    lock: Lock,
    index: number,
    now: number,
    events: LockEventSink,
  ): Grant | null {
    const waiter = lock.waiters.shift();
    if (waiter === undefined) return null;
    const { waiterId, owner, ttlMs, attempts } = waiter;
    const grant: Grant = { waiterId, token: index, owner, expiresAt: now + ttlMs };
    lock.holder = { token: index, owner, ttlMs, expiresAt: grant.expiresAt, waiterId, attempts };
    this.#removed(waiter.deadline);
    this.#added(grant.expiresAt);
    events.push({ type: "lockGranted", name, ...grant });
    return grant;
  }

  /**
   * Grants a free lock (token `index`), refuses a held one, or queues the request. The grant or
   * the wait has one attempt attached: this entry's.
   */
  acquire(
    cmd: AcquireCommand,
    index: number,
    now: number,
    events: LockEventSink,
  ): AcquireGranted | AcquireQueued | Failure {
    const { name, owner, ttlMs, waitMs } = cmd;
    const lock = this.#locks.get(name);
    if (lock === undefined || lock.holder === null) {
      const expiresAt = now + ttlMs;
      this.#locks.set(name, {
        holder: { token: index, owner, ttlMs, expiresAt, waiterId: index, attempts: [index] },
        waiters: [],
      });
      this.#added(expiresAt);
      events.push({ type: "lockGranted", name, waiterId: index, token: index, owner, expiresAt });
      return { ok: true, queued: false, name, token: index, owner, ttlMs, expiresAt };
    }
    if (waitMs === 0) {
      const { expiresAt } = lock.holder;
      return { ok: false, reason: "held", name, holder: holderView(lock.holder), expiresAt };
    }
    const deadline = now + waitMs;
    lock.waiters.push({ waiterId: index, owner, ttlMs, deadline, attempts: [index] });
    this.#added(deadline);
    return { ok: true, queued: true, name, waiterId: index, deadline };
  }

  /**
   * Attaches attempt `at`, a retry answered in entry `at` with `answer` (an earlier acquire's
   * answer, from its exactly-once record), to the wait or grant the answer is about, if it is
   * still there: the wait now stays until this attempt lets go too.
   */
  attach(answer: AcquireGranted | AcquireQueued, at: number): void {
    const lock = this.#locks.get(answer.name);
    const wait = answer.queued
      ? lock?.waiters.find((w) => w.waiterId === answer.waiterId)
      : lock?.holder?.token === answer.token
      ? lock.holder
      : undefined;
    if (wait === undefined || wait.attempts === null || wait.attempts.includes(at)) return;
    // A new array, never a push: a snapshot capture may still hold the old one.
    wait.attempts = wait.attempts.length < MAX_ATTEMPTS ? [...wait.attempts, at] : null;
  }

  #heldBy(name: string, token: number, index: number): Lock | undefined {
    const lock = this.#locks.get(name);
    // A token equal to `index` was granted by this very entry: no client can know it yet.
    if (lock?.holder?.token !== token || token >= index) return undefined;
    return lock;
  }

  /** Extends the holder's lease to `now + ttlMs` (never shortening it). */
  renew(cmd: RenewCommand, index: number, now: number): RenewResult | Failure {
    const { name, token } = cmd;
    const holder = this.#heldBy(name, token, index)?.holder;
    if (!holder) return { ok: false, reason: "not_holder", name };
    const expiresAt = Math.max(holder.expiresAt, now + holder.ttlMs);
    this.#removed(holder.expiresAt);
    holder.expiresAt = expiresAt;
    this.#added(expiresAt);
    return { ok: true, name, token, expiresAt };
  }

  /** Frees the lock and hands it to the first waiter (token `index`). */
  release(
    cmd: ReleaseCommand,
    index: number,
    now: number,
    events: LockEventSink,
  ): ReleaseResult | Failure {
    const { name, token } = cmd;
    const lock = this.#heldBy(name, token, index);
    if (lock === undefined) return { ok: false, reason: "not_holder", name };
    this.#removed(lock.holder!.expiresAt);
    lock.holder = null;
    events.push({ type: "lockReleased", name, token });
    const grantedTo = this.#grantNext(name, lock, index, now, events);
    if (grantedTo === null) this.#locks.delete(name);
    return { ok: true, name, token, grantedTo };
  }

  /**
   * Takes a waiter out of the queue, for an older node that names no attempt: only a waiter
   * with one attempt attached, which can only be the canceller's. With more, which one left is
   * unknown, and the wait stays until its deadline (`not_waiting`).
   */
  cancelWait(cmd: CancelWaitCommand): CancelWaitResult | Failure {
    const { name, waiterId } = cmd;
    const waiters = this.#locks.get(name)?.waiters ?? [];
    const at = waiters.findIndex((w) => w.waiterId === waiterId);
    if (at < 0 || waiters[at].attempts?.length !== 1) {
      return { ok: false, reason: "not_waiting", name, waiterId };
    }
    this.#removed(waiters[at].deadline);
    waiters.splice(at, 1);
    return { ok: true, name, waiterId };
  }

  /**
   * Attempt `cmd.at` of waiter `waiterId` let go (its client went away). When no attempt is
   * left, the wait is withdrawn: out of the line, or, when the lock was granted to it meanwhile,
   * released and handed to the next in line (token `index`). `not_waiting` when nothing was
   * withdrawn: the wait is over, `at` is not one of its attempts, or others are still attached.
   */
  abandon(
    cmd: AbandonWaitCommand,
    index: number,
    now: number,
    events: LockEventSink,
  ): AbandonWaitResult | Failure {
    const { name, waiterId } = cmd;
    const refused: Failure = { ok: false, reason: "not_waiting", name, waiterId };
    const lock = this.#locks.get(name);
    if (lock === undefined) return refused;
    const at = lock.waiters.findIndex((w) => w.waiterId === waiterId);
    const holder = lock.holder?.waiterId === waiterId ? lock.holder : null;
    const wait = at >= 0 ? lock.waiters[at] : holder;
    const left = wait === null ? undefined : detach(wait.attempts, cmd.at);
    if (wait === null || left === undefined) return refused;
    wait.attempts = left;
    if (left.length > 0) return refused;
    if (at >= 0) {
      this.#removed(lock.waiters[at].deadline);
      lock.waiters.splice(at, 1);
      return { ok: true, name, waiterId, released: 0 };
    }
    const token = holder!.token;
    this.release({ op: "release", name, token }, index, now, events);
    return { ok: true, name, waiterId, released: token };
  }

  /** The lock's holder and queue (copies). */
  info(name: string): LockInfo {
    const lock = this.#locks.get(name);
    const h = lock?.holder;
    return {
      name,
      holder: h
        ? {
          token: h.token,
          owner: h.owner,
          ttlMs: h.ttlMs,
          expiresAt: h.expiresAt,
          waiterId: h.waiterId,
        }
        : null,
      waiters: lock?.waiters.map(({ waiterId, owner, ttlMs, deadline }) => ({
        waiterId,
        owner,
        ttlMs,
        deadline,
      })) ?? [],
    };
  }

  /** Every lock that is held, with its queue (copies), sorted by name: the status page's list. */
  list(): LockInfo[] {
    return [...this.#locks.keys()].sort().map((name) => this.info(name));
  }

  /** The table as plain data, locks in the order they are visited when time advances. */
  toSnapshot(): LockTuple[] {
    const locks: LockTuple[] = [];
    for (const [name, { holder: h, waiters }] of this.#locks) {
      locks.push([
        name,
        h === null ? null : [h.token, h.owner, h.ttlMs, h.expiresAt, h.waiterId, h.attempts],
        waiters.map((w) => [w.waiterId, w.owner, w.ttlMs, w.deadline, w.attempts]),
      ]);
    }
    return locks;
  }

  /**
   * Rebuilds a table from `toSnapshot()`'s data. Tuples of formats 1 and 2 do not name their
   * attempts: those waits are kept until they end by themselves (attempts null), since an
   * attempt they do not name may still be there.
   */
  static fromSnapshot(locks: LockTuple[]): LockTable {
    const table = new LockTable();
    for (const [name, h, waiters] of locks) {
      table.#locks.set(name, {
        holder: h === null ? null : {
          token: h[0],
          owner: h[1],
          ttlMs: h[2],
          expiresAt: h[3],
          waiterId: h[4],
          attempts: h[5] ?? null,
        },
        waiters: waiters.map(([waiterId, owner, ttlMs, deadline, attempts]) => ({
          waiterId,
          owner,
          ttlMs,
          deadline,
          attempts: attempts ?? null,
        })),
      });
    }
    table.#earliest = undefined;
    return table;
  }
}
