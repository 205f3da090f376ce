/**
 * An in-memory node for API tests: it applies each submission to a real `StateMachine` at
 * once, through the same encoding as the log, stamping time from a clock the test moves.
 *
 * @module
 */

import type { ApiMembership, ApiNode, NodeStatusView } from "../../src/api/api_node.ts";
import {
  type MemberInfo,
  type MembershipAnswer,
  MembershipError,
  type MembershipRequest,
} from "../../src/node/membership.ts";
import type { MemberDirectory } from "../../src/state/member_directory.ts";
import type { Backup } from "../../src/storage/backup_file.ts";
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
  /** Membership changes as a table (a test may remove it: the routes then answer 501). */
  membership?: FakeMembership = new FakeMembership();
  /** The replicated directory, when a test gives the node one. */
  directory?: () => MemberDirectory;

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

  /** A backup of the state as applied (the real node's is a copy-on-write capture). */
  // deno-lint-ignore require-await
  async backup(): Promise<Backup> {
    return {
      clusterId: "test",
      index: this.sm.appliedIndex,
      term: this.term,
      conf: { voters: [1, 2, 3], learners: [] },
      data: this.sm.snapshot(),
    };
  }

  /** A new term, as after an election: a no-op entry of the new term. */
  newTerm(): void {
    this.term++;
    this.#applyNoop();
  }
}

/**
 * Membership as a table, with the node's own refusals for the cases the API tests need:
 * unknown ids, a second promotion, a learner that is behind (`behind`), the last voter, and
 * whatever `failNext` holds. Every request it took is in `requests`.
 *
 * @example
 * ```ts
 * import { FakeMembership } from "./fake_node.ts";
 * const m = new FakeMembership();
 * await m.change({ op: "add", peerUrl: "http://h:7104", clientUrl: "http://h:7004" });
 * (await m.list()).length; // 4
 * ```
 */
export class FakeMembership implements ApiMembership {
  readonly members = new Map<number, MemberInfo>();
  readonly requests: MembershipRequest[] = [];
  nextId = 4;
  leader = 1;
  /** Learners that are behind: promoting one is refused as `not-caught-up`. */
  readonly behind = new Set<number>();
  /** Thrown by the next change, once. */
  failNext?: Error;

  constructor() {
    for (const id of [1, 2, 3]) {
      this.members.set(id, {
        id,
        peerUrl: `http://127.0.0.1:710${id}`,
        clientUrl: `http://127.0.0.1:700${id}`,
        role: "voter",
        matchIndex: id === 1 ? null : 7,
        lastContactMs: id === 1 ? null : 12,
      });
    }
  }

  // deno-lint-ignore require-await
  async list(): Promise<MemberInfo[]> {
    return [...this.members.values()].sort((a, b) => a.id - b.id);
  }

  // deno-lint-ignore require-await
  async change(req: MembershipRequest): Promise<MembershipAnswer> {
    this.requests.push(req);
    const failure = this.failNext;
    this.failNext = undefined;
    if (failure) throw failure;
    const known = (id: number) => {
      const m = this.members.get(id);
      if (!m) throw new MembershipError("unknown-member", `node ${id} is no member`);
      return m;
    };
    switch (req.op) {
      case "add": {
        for (const m of this.members.values()) {
          if (m.peerUrl === req.peerUrl) {
            throw new MembershipError("already-member", `node ${m.id} already uses ${m.peerUrl}`);
          }
        }
        const id = req.id ?? this.nextId;
        if (id < this.nextId) {
          throw new MembershipError("already-member", `id ${id} was used before`);
        }
        this.nextId = id + 1;
        const member: MemberInfo = {
          id,
          peerUrl: req.peerUrl,
          clientUrl: req.clientUrl,
          role: "learner",
          matchIndex: 0,
          lastContactMs: null,
        };
        this.members.set(id, member);
        return { member };
      }
      case "promote": {
        const m = known(req.id);
        if (m.role === "voter") {
          throw new MembershipError("already-voter", `node ${req.id} is a voter already`);
        }
        if (this.behind.has(req.id)) {
          throw new MembershipError(
            "not-caught-up",
            `learner ${req.id} is 5000 entries behind the leader (at most 1000 allowed)`,
          );
        }
        m.role = "voter";
        return { member: m };
      }
      case "remove": {
        known(req.id);
        const voters = [...this.members.values()].filter((m) => m.role === "voter");
        if (voters.length === 1 && voters[0].id === req.id) {
          throw new MembershipError("last-voter", `node ${req.id} is the last voter`);
        }
        this.members.delete(req.id);
        return { removed: req.id };
      }
      case "transfer": {
        if (req.to !== undefined && known(req.to).role !== "voter") {
          throw new MembershipError("unknown-member", `node ${req.to} is no voter`);
        }
        this.leader = req.to ?? 2;
        return { leader: this.leader };
      }
    }
  }
}
