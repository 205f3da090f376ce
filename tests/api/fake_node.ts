/**
 * An in-memory node for API tests: it applies each submission to a real `StateMachine` at
 * once, through the same encoding as the log, stamping time from a clock the test moves.
 *
 * @module
 */

import type { ApiNode, NodeStatusView } from "../../src/api/api_node.ts";
import type { KeyValue, ListOptions, ListPage } from "../../src/state/config_store.ts";
import type { LockInfo } from "../../src/state/lock_table.ts";
import type { WatchAnswer } from "../../src/state/watch_history.ts";
import { LockWaits } from "../../src/node/lock_waits.ts";
import type { Submission } from "../../src/node/raft_node.ts";
import { encodeSubmission } from "../../src/state/commands.ts";
import type { ApplyOutcome } from "../../src/state/results.ts";
import { StateMachine, type StateMachineOptions } from "../../src/state/state_machine.ts";

/**
 * A clock the test moves by hand (ms since the epoch).
 *
 * @example
 * ```ts
 * import { ManualClock } from "./fake_node.ts";
 * const clock = new ManualClock(1000);
 * clock.advance(5);
 * clock.now(); // 1005
 * ```
 */
export class ManualClock {
  constructor(public ms = 1_700_000_000_000) {}
  now = (): number => this.ms;
  advance(ms: number): void {
    this.ms += ms;
  }
}

/**
 * The fake node. `failWith` makes the next calls fail the way a real node's would. Tests may
 * read its state machine `sm` directly, and replace it (as a snapshot install would).
 *
 * @example
 * ```ts
 * import { FakeNode } from "./fake_node.ts";
 * const node = new FakeNode();
 * await node.submit({ cmd: { op: "put", key: "a", value: 1 } });
 * node.sm.get("a")?.value; // 1
 * ```
 */
export class FakeNode implements ApiNode {
  readonly id = 1;
  #sm: StateMachine;
  #restoredFrom = 0;
  readonly clock: ManualClock;
  term = 1;
  index = 0;
  leader = 1;
  lastContact = 0;
  commit?: number;
  /** Thrown by the next `submit` calls while set. */
  submitError?: Error;
  /** Thrown by the next `submit` calls, one each, before `submitError`. */
  readonly submitFailures: Error[] = [];
  /** Thrown by the next `linearizableRead` calls while set. */
  readError?: Error;
  /** How many linearizable reads were asked for. */
  reads = 0;
  readonly submissions: Submission[] = [];
  readonly #listeners = new Set<(o: ApplyOutcome) => void>();
  /** The lock waits the API uses (it subscribes to `onApply` only while some are open). */
  readonly lockWaits: LockWaits = new LockWaits(this);

  constructor(options: { clock?: ManualClock; sm?: StateMachineOptions } = {}) {
    this.clock = options.clock ?? new ManualClock();
    this.#sm = new StateMachine(options.sm);
    this.#applyNoop();
  }

  #applyNoop(): void {
    this.#publish(this.sm.applyNoop(++this.index, this.term));
  }

  #publish(outcome: ApplyOutcome): void {
    for (const listener of this.#listeners) listener(outcome);
  }

  // deno-lint-ignore require-await
  async submit(sub: Submission, _signal?: AbortSignal): Promise<ApplyOutcome> {
    const failure = this.submitFailures.shift() ?? this.submitError;
    if (failure) throw failure;
    // As a node does: checked and encoded once, applied with the leader's stamp.
    const body = encodeSubmission(sub);
    const time = Math.max(this.clock.now(), this.sm.now);
    this.submissions.push(sub);
    const outcome = this.sm.applySubmission(++this.index, this.term, time, body);
    this.#publish(outcome);
    return outcome;
  }

  /** What the leader does when a lease or a wait is due: a tick entry stamped now. */
  async tick(): Promise<ApplyOutcome> {
    return await this.submit({ cmd: { op: "tick" } });
  }

  // deno-lint-ignore require-await
  async linearizableRead(): Promise<void> {
    this.reads++;
    if (this.readError) throw this.readError;
  }

  onApply(listener: (outcome: ApplyOutcome) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** How many apply listeners are registered (watches and waits that have not cleaned up). */
  get listeners(): number {
    return this.#listeners.size;
  }

  status(): NodeStatusView {
    const isLeader = this.isLeader();
    return {
      term: this.term,
      commit: this.commit ?? this.index,
      applied: this.sm.appliedIndex,
      leader: this.leader,
      role: isLeader ? "leader" : "follower",
      conf: { voters: [1, 2, 3], learners: [] },
      progress: isLeader
        ? new Map([[1, { match: this.index }], [2, { match: this.index }], [3, { match: 0 }]])
        : new Map(),
    };
  }

  /** The state machine, for tests to inspect. */
  get sm(): StateMachine {
    return this.#sm;
  }

  /** Replaces the state, as a snapshot install does (`restoredFrom` moves to its index). */
  set sm(sm: StateMachine) {
    this.#sm = sm;
    this.#restoredFrom = sm.appliedIndex;
  }

  appliedIndex(): number {
    return this.#sm.appliedIndex;
  }

  revision(): number {
    return this.#sm.revision;
  }

  restoredFrom(): number {
    return this.#restoredFrom;
  }

  getValue(key: string): KeyValue | undefined {
    return this.#sm.get(key);
  }

  listValues(options?: ListOptions): ListPage {
    return this.#sm.list(options);
  }

  eventsSince(prefix: string, fromRevision: number, limit?: number): WatchAnswer {
    return this.#sm.eventsSince(prefix, fromRevision, limit);
  }

  lockInfo(name: string): LockInfo {
    return this.#sm.lockInfo(name);
  }

  leaderId(): number {
    return this.leader;
  }

  isLeader(): boolean {
    return this.leader === this.id;
  }

  /** A new term, as after an election: a no-op entry of the new term. */
  newTerm(): void {
    this.term++;
    this.#applyNoop();
  }
}
