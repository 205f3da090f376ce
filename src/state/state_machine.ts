/**
 * The replicated state machine: config values, locks and the exactly-once tables, driven only
 * by the log. It is pure and deterministic: no clock, timer or randomness; time is the largest
 * leader stamp seen so far, so the same log gives the same state and answers on every node.
 *
 * The driver applies every committed entry in index order:
 * - a node's proposal: `applySubmission(index, term, time, bytes)`, the leader's stamp and the
 *   submission's bytes as the node's proposal header gives them (src/node/proposal_envelope.ts);
 * - a normal entry with a whole envelope as data (older nodes' format): `applyEntry(index, term,
 *   data)`;
 * - the empty entry a new leader appends, and membership (conf) entries, which change nothing
 *   here but still carry an index and a term: `applyNoop(index, term)`.
 *
 * @module
 */

import {
  type Command,
  decodeCommand,
  decodeSubmission,
  type Envelope,
  validateEnvelope,
} from "./commands.ts";
import { ConfigStore, type KeyValue, type ListOptions, type ListPage } from "./config_store.ts";
import { holderView, type LockInfo, LockTable } from "./lock_table.ts";
import type { ApplyOutcome, CommandResult, StateEvent } from "./results.ts";
import { Sessions } from "./sessions.ts";
import { directoryFromTuple, directoryToTuple, type MemberDirectory } from "./member_directory.ts";
import {
  decodeSnapshotSteps,
  encodeSnapshotSteps,
  finishSteps,
  SNAPSHOT_FORMAT,
  type SnapshotCapture,
} from "./snapshot.ts";
import type { WatchAnswer } from "./watch_history.ts";

/**
 * Bounds of the state machine. They must be the same on every node (a snapshot carries them,
 * and `restore` uses the snapshot's).
 *
 * @example
 * ```ts
 * import type { StateMachineOptions } from "./state_machine.ts";
 * const o: StateMachineOptions = { historyLimit: 1000 };
 * ```
 */
export interface StateMachineOptions {
  /** How many config changes the watch history keeps. */
  historyLimit?: number;
  /** Log time after which an unused client session or idempotency key is forgotten. */
  sessionIdleMs?: number;
  /** How many client sessions are kept at most (least recently used go first). */
  maxSessions?: number;
  /** How many idempotency keys are kept at most (least recently used go first). */
  maxIdempotencyKeys?: number;
}

/**
 * The defaults: 10,000 changes of history; sessions and keys kept for an hour of log time, at
 * most 10,000 of each.
 *
 * @example
 * ```ts
 * import { DEFAULT_STATE_MACHINE_OPTIONS } from "./state_machine.ts";
 * DEFAULT_STATE_MACHINE_OPTIONS.historyLimit; // 10000
 * ```
 */
export const DEFAULT_STATE_MACHINE_OPTIONS: Readonly<Required<StateMachineOptions>> = Object
  .freeze({
    historyLimit: 10_000,
    sessionIdleMs: 3_600_000,
    maxSessions: 10_000,
    maxIdempotencyKeys: 10_000,
  });

/**
 * The state machine.
 *
 * @example
 * ```ts
 * import { StateMachine } from "./state_machine.ts";
 * const sm = new StateMachine();
 * sm.applyNoop(1, 1);
 * sm.apply(2, 1, { cmd: { op: "put", key: "a", value: 1 }, time: 1000 });
 * sm.get("a")?.value; // 1
 * const copy = StateMachine.restore(sm.snapshot());
 * copy.get("a")?.revision; // 1
 * ```
 */
export class StateMachine {
  readonly options: Readonly<Required<StateMachineOptions>>;
  #config: ConfigStore;
  #locks = new LockTable();
  #sessions: Sessions;
  #members: MemberDirectory | undefined;
  #term = 0;
  #appliedIndex = 0;
  #now = 0;
  /** A term began and none of its entries has carried a stamp yet. */
  #awaitingStamp = false;

  constructor(options: StateMachineOptions = {}) {
    const d = DEFAULT_STATE_MACHINE_OPTIONS;
    this.options = Object.freeze({
      historyLimit: options.historyLimit ?? d.historyLimit,
      sessionIdleMs: options.sessionIdleMs ?? d.sessionIdleMs,
      maxSessions: options.maxSessions ?? d.maxSessions,
      maxIdempotencyKeys: options.maxIdempotencyKeys ?? d.maxIdempotencyKeys,
    });
    const { historyLimit, sessionIdleMs, maxSessions, maxIdempotencyKeys } = this.options;
    this.#config = new ConfigStore(historyLimit);
    this.#sessions = new Sessions({ idleMs: sessionIdleMs, maxSessions, maxIdempotencyKeys });
  }

  /** The log time: the largest stamp applied so far (ms since the epoch). */
  get now(): number {
    return this.#now;
  }

  /** The term of the last applied entry. */
  get term(): number {
    return this.#term;
  }

  /** The index of the last applied entry. */
  get appliedIndex(): number {
    return this.#appliedIndex;
  }

  /** The config revision (`X-Revision`). */
  get revision(): number {
    return this.#config.revision;
  }

  /** The newest revision the watch history no longer holds. */
  get compactedRevision(): number {
    return this.#config.compactedRevision;
  }

  /** A key's value and revisions. The value is frozen: it is shared with the state. */
  get(key: string): KeyValue | undefined {
    return this.#config.get(key);
  }

  /** One page of the keys under a prefix, in code point order. */
  list(options?: ListOptions): ListPage {
    return this.#config.list(options);
  }

  /** The changes under `prefix` from `fromRevision` on, or the news they were compacted. */
  eventsSince(prefix: string, fromRevision: number, limit?: number): WatchAnswer {
    return this.#config.eventsSince(prefix, fromRevision, limit);
  }

  /** A lock's holder and queue. */
  lockInfo(name: string): LockInfo {
    return this.#locks.info(name);
  }

  /** Every lock that is held, with its queue, sorted by name (copies). */
  listLocks(): LockInfo[] {
    return this.#locks.list();
  }

  /**
   * The earliest log time at which a lease expires or a wait times out: the leader proposes a
   * `tick` stamped then. While a new term has not stamped any entry yet and something is
   * pending, it is `now` (already due): the sooner the new term's first stamp, the less time a
   * leader change adds to leases.
   */
  nextDeadline(): number | undefined {
    const next = this.#locks.nextDeadline();
    return next !== undefined && this.#awaitingStamp ? this.#now : next;
  }

  /** Applies a committed normal entry's data; empty data is a new leader's no-op. */
  applyEntry(index: number, term: number, data: Uint8Array): ApplyOutcome {
    if (data.length === 0) return this.applyNoop(index, term);
    const check = decodeCommand(data);
    if (!check.ok) return this.#reject(index, term, check.detail);
    return this.#applyValid(index, term, check.envelope);
  }

  /**
   * Applies a committed submission's bytes (`encodeSubmission`) stamped with the leader's
   * `time`: what a node's proposal carries after its header. Bad bytes or a bad stamp are
   * answered `bad_command`, with nothing applied but the index and the term.
   */
  applySubmission(index: number, term: number, time: number, bytes: Uint8Array): ApplyOutcome {
    const check = decodeSubmission(bytes, time);
    if (!check.ok) return this.#reject(index, term, check.detail);
    return this.#applyValid(index, term, check.envelope);
  }

  /**
   * Applies a command envelope (validated first: a bad one is answered `bad_command`). A put's
   * value is kept as given, frozen. Nodes should use `applyEntry`: only values that went
   * through msgpack are sure to be what every other node stores (e.g. -0 becomes 0).
   */
  apply(index: number, term: number, envelope: Envelope): ApplyOutcome {
    const check = validateEnvelope(envelope);
    if (!check.ok) return this.#reject(index, term, check.detail);
    return this.#applyValid(index, term, check.envelope);
  }

  /**
   * Applies a membership change's entry: the directory it carries (the whole directory after
   * the change, see `member_directory.ts`) replaces the one held.
   */
  applyMembership(index: number, term: number, directory: MemberDirectory): ApplyOutcome {
    const outcome = this.applyNoop(index, term);
    this.#members = directory;
    return outcome;
  }

  /** The member directory, or undefined while membership never changed (the flags tell it). */
  members(): MemberDirectory | undefined {
    return this.#members;
  }

  /**
   * Forgets the member directory: a cluster restored from another's backup gets its members
   * from its own flags (`--restore-from`).
   */
  forgetMembers(): void {
    this.#members = undefined;
  }

  /** Applies an entry without a command; `time`, when given, stamps it like a tick. */
  applyNoop(index: number, term: number, time?: number): ApplyOutcome {
    if (time !== undefined && !(Number.isSafeInteger(time) && time >= 0)) {
      throw new RangeError(`time must be an integer >= 0, got ${time}`);
    }
    const events: StateEvent[] = [];
    this.#begin(index, term, time, events);
    this.#settleWaits(events, 0);
    return this.#outcome(index, { ok: true }, events, false);
  }

  #reject(index: number, term: number, detail: string): ApplyOutcome {
    // No stamp is trusted from a bad envelope: the entry only moves the index and the term.
    this.#begin(index, term, undefined, []);
    return this.#outcome(index, { ok: false, reason: "bad_command", detail }, [], false);
  }

  /** Moves the index, the term and the clock to this entry's. */
  #begin(index: number, term: number, time: number | undefined, events: StateEvent[]): void {
    if (!Number.isSafeInteger(index) || index <= this.#appliedIndex) {
      throw new RangeError(`entry ${index} applied after entry ${this.#appliedIndex}`);
    }
    if (!Number.isSafeInteger(term) || term < this.#term) {
      throw new RangeError(`entry of term ${term} applied after term ${this.#term}`);
    }
    this.#appliedIndex = index;
    if (term > this.#term) {
      this.#term = term;
      this.#awaitingStamp = true;
    }
    if (time === undefined) return;
    if (this.#awaitingStamp) {
      this.#locks.preserveAcrossTerms(this.#now, time);
      this.#awaitingStamp = false;
    }
    this.#now = Math.max(this.#now, time);
    this.#locks.advance(this.#now, index, events);
    this.#sessions.expire(this.#now);
  }

  #applyValid(index: number, term: number, envelope: Envelope): ApplyOutcome {
    const events: StateEvent[] = [];
    this.#begin(index, term, envelope.time, events);
    // Waits that ended as time moved are settled before a retry of one is answered.
    this.#settleWaits(events, 0);
    const cached = this.#sessions.answer(envelope);
    const settled = events.length;
    const result = cached?.result ?? this.#execute(envelope, index, events);
    // A retry answered with an acquire's wait or grant is one more attempt at it: the wait
    // stays until this one lets go too.
    if (cached?.duplicate && result.ok && "queued" in result) this.#locks.attach(result, index);
    this.#settleWaits(events, settled);
    this.#sessions.remember(envelope, result, this.#now);
    return this.#outcome(index, result, events, cached?.duplicate ?? false);
  }

  /**
   * Tells the exactly-once tables how the waits that ended in `events` (from `from` on)
   * ended, so that a retry of a queued acquire is answered with the outcome, not "queued".
   */
  #settleWaits(events: StateEvent[], from: number): void {
    for (let i = from; i < events.length; i++) {
      const event = events[i];
      if (event.type === "lockGranted" && event.waiterId !== event.token) {
        const { name, token, owner, expiresAt } = event;
        const ttlMs = this.#locks.info(name).holder?.ttlMs ?? 0;
        this.#sessions.settle(event.waiterId, {
          ok: true,
          queued: false,
          name,
          token,
          owner,
          ttlMs,
          expiresAt,
        });
      } else if (event.type === "waitTimedOut") {
        const holder = this.#locks.info(event.name).holder;
        this.#sessions.settle(event.waiterId, {
          ok: false,
          reason: "held",
          name: event.name,
          holder: holderView(holder),
          expiresAt: holder?.expiresAt ?? null,
        });
      }
    }
  }

  #execute(envelope: Envelope, index: number, events: StateEvent[]): CommandResult {
    const cmd: Command = envelope.cmd;
    switch (cmd.op) {
      case "put":
      case "delete": {
        const { result, change } = cmd.op === "put"
          ? this.#config.put(cmd)
          : this.#config.delete(cmd);
        if (change !== null) events.push(change);
        return result;
      }
      case "acquire":
        return this.#locks.acquire(cmd, index, this.#now, events);
      case "renew":
        return this.#locks.renew(cmd, index, this.#now);
      case "release":
        return this.#locks.release(cmd, index, this.#now, events);
      case "cancelWait": {
        // Older nodes withdrew a wait with this, naming no attempt: the lock table withdraws
        // only a wait with one attempt, and then its record must not answer "queued" either.
        const result = this.#locks.cancelWait(cmd);
        if (result.ok) this.#sessions.withdraw(cmd.waiterId);
        return result;
      }
      case "abandonWait": {
        // Attempt `at` lets go; the wait is withdrawn only once no attempt is left (see
        // LockTable's "Attempts"), and a retry after that is applied afresh.
        const result = this.#locks.abandon(cmd, index, this.#now, events);
        if (result.ok) this.#sessions.withdraw(cmd.waiterId);
        return result;
      }
      case "tick":
        return { ok: true };
    }
  }

  #outcome(
    index: number,
    result: CommandResult,
    events: StateEvent[],
    duplicate: boolean,
  ): ApplyOutcome {
    return { index, result, events, revision: this.#config.revision, duplicate };
  }

  /** The whole state as bytes (msgpack); equal logs give equal bytes. */
  snapshot(): Uint8Array {
    const capture = this.captureSnapshot();
    try {
      return finishSteps(capture.encode());
    } finally {
      capture.release();
    }
  }

  /**
   * Captures the state as it is now, cheaply (the config keys are copied on write, see
   * `ConfigStore.capture`), for a snapshot encoded in steps while entries go on being applied:
   * the bytes are those `snapshot()` would have returned now.
   */
  captureSnapshot(): SnapshotCapture {
    const o = this.options;
    const config = this.#config.capture();
    const parts = {
      format: SNAPSHOT_FORMAT,
      options: [o.historyLimit, o.sessionIdleMs, o.maxSessions, o.maxIdempotencyKeys] as [
        number,
        number,
        number,
        number,
      ],
      clock: [this.#term, this.#appliedIndex, this.#now, this.#awaitingStamp] as [
        number,
        number,
        number,
        boolean,
      ],
      config: {
        revision: config.revision,
        keyCount: config.size,
        keys: config.keys(),
        history: config.history,
      },
      // Small next to the keys, and made of immutable records: copied now.
      locks: this.#locks.toSnapshot(),
      sessions: this.#sessions.toSnapshot(),
      members: this.#members ? directoryToTuple(this.#members) : undefined,
    };
    return {
      appliedIndex: this.#appliedIndex,
      encode: () => encodeSnapshotSteps(parts),
      release: () => config.release(),
    };
  }

  /** A state machine in the state `snapshot()` captured. Throws a `TypeError` on bad bytes. */
  static restore(bytes: Uint8Array): StateMachine {
    return finishSteps(StateMachine.restoreSteps(bytes));
  }

  /**
   * `restore` one record per step, for a driver that must keep its event loop turning while a
   * large snapshot is read. Throws a `TypeError` on bad bytes (possibly after some steps).
   */
  static *restoreSteps(bytes: Uint8Array): Generator<void, StateMachine> {
    let sm: StateMachine | undefined;
    let config: ReturnType<typeof ConfigStore.restoreBuilder> | undefined;
    for (const record of decodeSnapshotSteps(bytes)) {
      switch (record.kind) {
        case "head": {
          const [historyLimit, sessionIdleMs, maxSessions, maxIdempotencyKeys] = record.options;
          sm = new StateMachine({ historyLimit, sessionIdleMs, maxSessions, maxIdempotencyKeys });
          [sm.#term, sm.#appliedIndex, sm.#now, sm.#awaitingStamp] = record.clock;
          break;
        }
        case "config":
          config = ConfigStore.restoreBuilder(sm!.options.historyLimit, record.revision);
          break;
        case "key":
          config!.key(record.key);
          break;
        case "history":
          config!.history(record.compactedRevision);
          break;
        case "change":
          config!.change(record.change);
          break;
        case "tail":
          sm!.#config = config!.done();
          sm!.#locks = LockTable.fromSnapshot(record.locks);
          sm!.#sessions = Sessions.fromSnapshot(sm!.#sessions.limits, record.sessions);
          if (record.members !== undefined) sm!.#members = directoryFromTuple(record.members);
          break;
      }
      yield;
    }
    return sm!;
  }
}
