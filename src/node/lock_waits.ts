/**
 * Lock waits of one node, below any front end: a caller whose acquire was queued gets a promise
 * of how its wait ends (granted, ended by its deadline, withdrawn, node stopped), and one whose
 * client went away withdraws through the node with `abandonWait`. The HTTP routes call it; so
 * can the simulator or any other front end.
 *
 * ## Cost
 *
 * Waits are kept by lock name and waiter id. The node tells the service about each applied
 * entry once (one apply listener for all waits, subscribed only while some are open), and the
 * service looks up only the lock events that entry produced: O(events) per entry, whatever the
 * number of waiting callers.
 *
 * ## No lost decisions
 *
 * A wait may be decided before its caller learns its waiter id: the grant can be applied in the
 * same batch as the acquire, or, on a follower, before the leader's answer comes back. So a caller
 * announces its lock (`acquire` does this) before proposing, and the decisions on that lock are
 * kept while a caller that announced itself before them does not know its waiter id yet; then
 * they are dropped. A decision is also read from the state machine when a caller starts waiting
 * and after a snapshot replaced the state (whose entries never came by as events).
 *
 * ## Attempts
 *
 * Every request answered with a wait (the first, and each retry with its key) is an attempt
 * attached to it, named by its own log entry (`at`): `abandonWait` detaches this caller's
 * attempt, and the wait is withdrawn only when no attempt is left (see the lock table's
 * "Attempts"). A caller that was answered never detaches, so a grant a client was told about is
 * never released by another caller's departure.
 *
 * @module
 */

import type { AbandonWaitCommand, AcquireCommand } from "../state/commands.ts";
import type { LockInfo } from "../state/lock_table.ts";
import { holderView } from "../state/lock_table.ts";
import type { ApplyOutcome, Failure, HolderView } from "../state/results.ts";
import type { Logger } from "./logger.ts";

/**
 * How long past `waitMs` a waiting caller trusts the log to end its wait: a wait ends by a
 * `tick` the leader proposes, which needs a leader. Past this the caller gives up and withdraws.
 *
 * @example
 * ```ts
 * import { WAIT_GRACE_MS } from "./lock_waits.ts";
 * const giveUpAfter = 2000 + WAIT_GRACE_MS; // for waitMs = 2000
 * ```
 */
export const WAIT_GRACE_MS = 5000;

/**
 * What the service needs from a node: a lock's state as applied, whether a snapshot replaced
 * the applied state (no entry reports what it covered), every applied entry's outcome, and a
 * way to propose the withdrawal. `RaftNode` and the API's node satisfy it as they are.
 *
 * @example
 * ```ts ignore
 * import type { LockWaitHost } from "./lock_waits.ts";
 * import type { RaftNode } from "./raft_node.ts";
 * const host = (node: RaftNode): LockWaitHost => node;
 * ```
 */
export interface LockWaitHost {
  lockInfo(name: string): LockInfo;
  /** The index of the snapshot the applied state was last restored from (0: none). */
  restoredFrom(): number;
  onApply(listener: (outcome: ApplyOutcome) => void): () => void;
  submit(
    sub: { cmd: AcquireCommand | AbandonWaitCommand },
    signal?: AbortSignal,
  ): Promise<ApplyOutcome>;
}

/**
 * Timers, injectable so that the simulator's virtual time drives the give-up timeout (a node's
 * `NodeClock` fits).
 *
 * @example
 * ```ts
 * import type { LockWaitTimers } from "./lock_waits.ts";
 * const timers: LockWaitTimers = {
 *   setTimeout: (fn, ms) => setTimeout(fn, ms),
 *   clearTimeout: (handle) => clearTimeout(handle as number),
 * };
 * ```
 */
export interface LockWaitTimers {
  /** Returns a handle for `clearTimeout`, of whatever type the timers use. */
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/**
 * How a wait ended, for the caller:
 * - `granted`: the lock is the caller's, with this fencing token and lease end (log time);
 * - `ended`: the wait ran out (its deadline passed, or it was withdrawn); `holder` is the lock's
 *   holder then. `replayed` when this was the acquire's own answer: the exactly-once record of
 *   a wait that ran out earlier;
 * - `timeout`: no decision came within `waitMs` + {@linkcode WAIT_GRACE_MS} (no leader, say);
 *   the caller's attempt was withdrawn;
 * - `abandoned`: the caller's signal aborted; its attempt was withdrawn;
 * - `stopped`: the service was closed (the node stops); nothing is known of the wait.
 *
 * @example
 * ```ts
 * import type { LockWaitOutcome } from "./lock_waits.ts";
 * const o: LockWaitOutcome = { type: "granted", token: 42, expiresAt: 9000 };
 * ```
 */
export type LockWaitOutcome =
  | { type: "granted"; token: number; expiresAt: number }
  | { type: "ended"; holder: HolderView | null; expiresAt: number | null; replayed: boolean }
  | { type: "timeout" }
  | { type: "abandoned" }
  | { type: "stopped" };

/**
 * What `acquire` answers: the acquire entry's own outcome (for its headers: revision, replay),
 * and either how the acquisition ended or the refusal the state machine gave (a try-lock on a
 * held lock, a reused key, ...).
 *
 * @example
 * ```ts
 * import type { AcquireAnswer } from "./lock_waits.ts";
 * const a: AcquireAnswer = {
 *   outcome: { index: 7, result: { ok: false, reason: "bad_command", detail: "x" }, events: [],
 *     revision: 0, duplicate: false },
 *   end: { type: "refused", failure: { ok: false, reason: "bad_command", detail: "x" } },
 * };
 * ```
 */
export interface AcquireAnswer {
  outcome: ApplyOutcome;
  end: AcquireEnd;
}

/**
 * How an acquisition ended: a wait's outcome (or an immediate grant), or the state machine's
 * refusal of the acquire.
 *
 * @example
 * ```ts
 * import type { AcquireEnd } from "./lock_waits.ts";
 * const e: AcquireEnd = { type: "refused", failure: { ok: false, reason: "not_holder", name: "a" } };
 * ```
 */
export type AcquireEnd = LockWaitOutcome | { type: "refused"; failure: Failure };

/**
 * Options of one `acquire`.
 *
 * @example
 * ```ts
 * import type { AcquireOptions } from "./lock_waits.ts";
 * const o: AcquireOptions = { signal: AbortSignal.timeout(60_000) };
 * ```
 */
export interface AcquireOptions {
  /** Proposes the acquire; default `host.submit({ cmd })` (a front end adds its session). */
  propose?: () => Promise<ApplyOutcome>;
  /** The caller went away: withdraw. */
  signal?: AbortSignal;
  /** Told +1 when the caller starts waiting in line and -1 when it stops (a gauge). */
  onWait?: (delta: 1 | -1) => void;
}

const SYSTEM_TIMERS: LockWaitTimers = {
  setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
  clearTimeout: (handle) => globalThis.clearTimeout(handle as number),
};

type Decision =
  | { type: "granted"; token: number; expiresAt: number }
  | { type: "ended"; holder: HolderView | null; expiresAt: number | null; replayed: false };

/** One caller waiting on one wait: ends its wait (once; later calls do nothing). */
type Waiter = (outcome: LockWaitOutcome) => void;

/** One caller's announcement (its identity). */
type Announcement = Record<never, never>;

/** The callers on one lock. */
interface LockEntry {
  /**
   * Callers that proposed an acquire and do not know their waiter id yet, in the order they
   * announced themselves, each with the number of decisions recorded before it did.
   */
  announced: Map<Announcement, number>;
  /** Decisions seen while some caller was announced, by waiter id, oldest first. */
  decided: Map<number, { seq: number; decision: Decision }>;
  /** How many decisions were ever recorded here (their sequence numbers). */
  recorded: number;
  /** Waiting callers by waiter id (retries of one request on one node share a waiter id). */
  waiters: Map<number, Set<Waiter>>;
}

/**
 * The lock waits of one node.
 *
 * @example
 * ```ts ignore
 * import { LockWaits } from "./lock_waits.ts";
 * const waits = new LockWaits(node);
 * const cmd = { op: "acquire", name: "cron", owner: "a", ttlMs: 5000, waitMs: 2000 } as const;
 * const { end } = await waits.acquire(cmd, { signal });
 * if (end.type === "granted") console.log("token", end.token);
 * ```
 */
export class LockWaits {
  readonly #host: LockWaitHost;
  readonly #timers: LockWaitTimers;
  readonly #graceMs: number;
  readonly #logger?: Logger;
  readonly #locks = new Map<string, LockEntry>();
  #waiting = 0;
  #unsubscribe?: () => void;
  /** The state machine the last notification came from: another one means a snapshot. */
  /** The host's `restoredFrom()` when the waits last matched its state. */
  #restoredFrom = 0;
  #closed = false;

  constructor(
    host: LockWaitHost,
    options: { timers?: LockWaitTimers; graceMs?: number; logger?: Logger } = {},
  ) {
    this.#host = host;
    this.#timers = options.timers ?? SYSTEM_TIMERS;
    this.#graceMs = options.graceMs ?? WAIT_GRACE_MS;
    this.#logger = options.logger;
  }

  /** How many callers wait in line now. */
  get waiting(): number {
    return this.#waiting;
  }

  /** How many decisions are kept for callers that do not know their waiter id yet (tests). */
  get kept(): number {
    let kept = 0;
    for (const entry of this.#locks.values()) kept += entry.decided.size;
    return kept;
  }

  /** How many locks have callers (announced or waiting); for tests of the clean-up. */
  get locks(): number {
    return this.#locks.size;
  }

  /**
   * Proposes `cmd` and, when it is queued, waits for the outcome. An immediate grant whose
   * caller already went away is let go of at once (in the background).
   */
  async acquire(cmd: AcquireCommand, options: AcquireOptions = {}): Promise<AcquireAnswer> {
    const { name } = cmd;
    const signal = options.signal;
    // Announce before proposing: the grant may be applied before the proposal resolves.
    const entry = this.#entry(name);
    const me: Announcement = {};
    entry.announced.set(me, entry.recorded);
    let outcome: ApplyOutcome;
    try {
      outcome = await (options.propose?.() ?? this.#host.submit({ cmd }));
    } catch (error) {
      this.#unannounce(name, entry, me);
      throw error;
    }
    const result = outcome.result;
    // This caller's own entry, fresh or answered from the key's record: the attempt it
    // detaches if it goes away (the wait stays for any other attempt attached).
    const at = outcome.index;
    if (!result.ok || !("queued" in result)) {
      this.#unannounce(name, entry, me);
      // With waitMs > 0 an acquire is queued, never refused: "held" is the record of a wait
      // that ran out, and reads as that wait's end did.
      if (!result.ok && result.reason === "held" && cmd.waitMs > 0) {
        const { holder, expiresAt } = result;
        return { outcome, end: { type: "ended", holder, expiresAt, replayed: true } };
      }
      if (!result.ok) return { outcome, end: { type: "refused", failure: result } };
      throw new TypeError(`an acquire was answered as a ${JSON.stringify(result)}`);
    }
    if (!result.queued) {
      this.#unannounce(name, entry, me);
      if (signal?.aborted) void this.#letGo(name, result.token, at);
      return {
        outcome,
        end: { type: "granted", token: result.token, expiresAt: result.expiresAt },
      };
    }
    const end = await this.#wait(entry, me, name, result.waiterId, at, cmd.waitMs, options);
    return { outcome, end };
  }

  /**
   * Ends every wait with `stopped`, and so every later one as soon as it would start waiting:
   * the node stops, and nothing more will be applied here. Nothing is withdrawn (a retry with
   * the request's key finds its wait on another node).
   */
  close(): void {
    this.#closed = true;
    for (const entry of [...this.#locks.values()]) {
      for (const set of [...entry.waiters.values()]) {
        for (const waiter of [...set]) waiter({ type: "stopped" });
      }
    }
  }

  /**
   * Takes one applied entry's outcome into account: resolves the waits its lock events
   * decided. The node calls it for every entry while waits are open (through `onApply`).
   */
  applied(outcome: ApplyOutcome): void {
    const restoredFrom = this.#host.restoredFrom();
    if (restoredFrom !== this.#restoredFrom) {
      // A snapshot replaced the state: the entries it covers never came by as events.
      this.#restoredFrom = restoredFrom;
      this.#reconcile();
    }
    // Waits that ran out in this entry end with the holder after it: read once per lock.
    let ended: Map<string, Decision> | undefined;
    for (const event of outcome.events) {
      if (event.type !== "lockGranted" && event.type !== "waitTimedOut") continue;
      const entry = this.#locks.get(event.name);
      if (entry === undefined) continue;
      let decision: Decision;
      if (event.type === "lockGranted") {
        decision = { type: "granted", token: event.token, expiresAt: event.expiresAt };
      } else {
        ended ??= new Map();
        decision = ended.get(event.name) ?? this.#ended(event.name);
        ended.set(event.name, decision);
      }
      if (entry.announced.size > 0) {
        // Re-inserted, so that the map stays in the order decisions were recorded.
        entry.decided.delete(event.waiterId);
        entry.decided.set(event.waiterId, { seq: entry.recorded++, decision });
      }
      const set = entry.waiters.get(event.waiterId);
      if (set !== undefined) { for (const waiter of [...set]) waiter(decision); }
    }
  }

  #ended(name: string): Decision {
    const holder = this.#host.lockInfo(name).holder;
    return {
      type: "ended",
      holder: holderView(holder),
      expiresAt: holder?.expiresAt ?? null,
      replayed: false,
    };
  }

  /** How a wait stands in the state machine; undefined while it is still in line. */
  #fromState(name: string, waiterId: number): Decision | undefined {
    const info = this.#host.lockInfo(name);
    if (info.holder?.waiterId === waiterId) {
      return { type: "granted", token: info.holder.token, expiresAt: info.holder.expiresAt };
    }
    if (info.waiters.some((w) => w.waiterId === waiterId)) return undefined;
    return this.#ended(name);
  }

  #reconcile(): void {
    for (const [name, entry] of this.#locks) {
      for (const [waiterId, set] of entry.waiters) {
        const decision = this.#fromState(name, waiterId);
        if (decision !== undefined) { for (const waiter of [...set]) waiter(decision); }
      }
    }
  }

  #entry(name: string): LockEntry {
    let entry = this.#locks.get(name);
    if (entry === undefined) {
      entry = { announced: new Map(), decided: new Map(), recorded: 0, waiters: new Map() };
      this.#locks.set(name, entry);
      if (this.#unsubscribe === undefined) {
        this.#restoredFrom = this.#host.restoredFrom();
        this.#unsubscribe = this.#host.onApply((outcome) => this.applied(outcome));
      }
    }
    return entry;
  }

  #unannounce(name: string, entry: LockEntry, me: Announcement): void {
    entry.announced.delete(me);
    // A decision recorded before the oldest caller still announced announced itself cannot be
    // one that caller needs (its acquire was applied later): those go, oldest first.
    let floor = Infinity;
    for (const since of entry.announced.values()) {
      floor = since;
      break;
    }
    for (const [waiterId, { seq }] of entry.decided) {
      if (seq >= floor) break;
      entry.decided.delete(waiterId);
    }
    this.#forgetIfIdle(name, entry);
  }

  #forgetIfIdle(name: string, entry: LockEntry): void {
    if (entry.announced.size > 0 || entry.waiters.size > 0) return;
    if (this.#locks.get(name) === entry) this.#locks.delete(name);
    if (this.#locks.size === 0) {
      // No apply listener while nobody waits: an idle node pays nothing per entry.
      this.#unsubscribe?.();
      this.#unsubscribe = undefined;
    }
  }

  #wait(
    entry: LockEntry,
    me: Announcement,
    name: string,
    waiterId: number,
    at: number,
    waitMs: number,
    options: AcquireOptions,
  ): Promise<LockWaitOutcome> {
    const signal = options.signal;
    const known = entry.decided.get(waiterId)?.decision ?? this.#fromState(name, waiterId);
    if (signal?.aborted || known !== undefined || this.#closed) {
      this.#unannounce(name, entry, me);
      if (signal?.aborted) {
        this.#withdraw(name, waiterId, at, known);
        return Promise.resolve({ type: "abandoned" });
      }
      return Promise.resolve(known ?? { type: "stopped" });
    }
    return new Promise((resolve) => {
      let set = entry.waiters.get(waiterId);
      if (set === undefined) entry.waiters.set(waiterId, set = new Set());
      const waiters = set;
      const onAbort = () => {
        resolveOnce({ type: "abandoned" });
        this.#withdraw(name, waiterId, at, undefined);
      };
      const timer = this.#timers.setTimeout(() => {
        resolveOnce({ type: "timeout" });
        this.#withdraw(name, waiterId, at, undefined);
      }, waitMs + this.#graceMs);
      const resolveOnce = (outcome: LockWaitOutcome) => {
        if (!waiters.delete(resolveOnce)) return;
        this.#waiting--;
        options.onWait?.(-1);
        this.#timers.clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        if (waiters.size === 0) entry.waiters.delete(waiterId);
        this.#forgetIfIdle(name, entry);
        resolve(outcome);
      };
      waiters.add(resolveOnce);
      this.#waiting++;
      options.onWait?.(1);
      signal?.addEventListener("abort", onAbort, { once: true });
      // Registered first, so the lock's entry stays while it stops keeping decisions.
      this.#unannounce(name, entry, me);
    });
  }

  /**
   * Detaches attempt `at` from an abandoned wait; when it was the last, the same log entry
   * takes the wait out of the line or releases what it was granted meanwhile (so no grant can
   * slip in between). A wait that ran out has nothing left to withdraw.
   */
  #withdraw(name: string, waiterId: number, at: number, known: Decision | undefined): void {
    if (known?.type === "ended") return;
    void this.#propose(name, waiterId, at);
  }

  async #propose(name: string, waiterId: number, at: number): Promise<void> {
    try {
      await this.#host.submit({ cmd: { op: "abandonWait", name, waiterId, at } });
    } catch (error) {
      this.#logger?.log("warn", "could not withdraw an abandoned lock wait", {
        name,
        waiterId,
        error: String(error),
      });
    }
  }

  /**
   * Releases a grant whose caller is gone (best effort: the lease ends it otherwise). `token`
   * is what the caller was answered; the holder's waiter id names the wait to withdraw.
   */
  async #letGo(name: string, token: number, at: number): Promise<void> {
    const holder = this.#host.lockInfo(name).holder;
    // Already released or expired (the holder changed): nothing of this caller's is left.
    if (holder?.token !== token) return;
    await this.#propose(name, holder.waiterId, at);
  }
}
