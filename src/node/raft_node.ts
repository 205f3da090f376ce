/**
 * The driver of one node: it owns a Raft core, a storage, a transport and the state machine,
 * ticks time, and runs each Ready in the order the core requires.
 *
 * @module
 */

import { encode } from "@msgpack/msgpack";
import { campaignEvents, type CampaignState } from "../raft/campaign_log.ts";
import { decodeConfChange } from "../raft/conf_change.ts";
import { DEFAULT_CONFIG, type RaftConfig, withDefaults } from "../raft/config.ts";
import { newMessage } from "../raft/message.ts";
import { type CoreView, ProposalDroppedError, RawNode, type Status } from "../raft/raw_node.ts";
import type { StoredState } from "../raft/raft.ts";
import type {
  ConfState,
  Entry,
  HardState,
  Message,
  NodeId,
  Ready,
  Snapshot,
} from "../raft/types.ts";
import { encodeSubmission, type Submission } from "../state/commands.ts";
import type { KeyValue, ListOptions, ListPage } from "../state/config_store.ts";
import type { LockInfo } from "../state/lock_table.ts";
import type { ApplyOutcome } from "../state/results.ts";
import { StateMachine } from "../state/state_machine.ts";
import type { WatchAnswer } from "../state/watch_history.ts";
import type { RaftStorage } from "../storage/raft_storage.ts";
import { CallError, type Transport, type TransportEvents } from "../transport/transport.ts";
import { type NodeClock, systemClock, type TimerHandle } from "./clock.ts";
import { NodeStoppedError, NoLeaderError, OutcomeUnknownError } from "./errors.ts";
import { LeaderForwarding } from "./leader_forwarding.ts";
import { LockWaits } from "./lock_waits.ts";
import type { Logger } from "./logger.ts";
import { NodeCounters } from "./node_counters.ts";
import { PeerRtt, type RttSummary, tooSlowForElections } from "./peer_rtt.ts";
import { PendingProposals, ProposalTimeoutError } from "./pending_proposals.ts";
import { frameProposal, readProposal, unwrapLegacyProposal } from "./proposal_envelope.ts";
import { ReadBarrier } from "./read_barrier.ts";
import { runInSlices, SlicedWorkCancelled } from "./run_in_slices.ts";
import { SnapshotDataKeeper } from "./snapshot_data.ts";
import {
  compactionDue,
  DEFAULT_SNAPSHOT_POLICY,
  type SnapshotPolicy,
  staggered,
} from "./snapshot_policy.ts";
import type { WriteTrace } from "./write_trace.ts";
import { directoryFromTuple, type MemberDirectory } from "../state/member_directory.ts";
import type { Backup } from "../storage/backup_file.ts";
import { directoryOf, Membership, MembershipError } from "./membership.ts";

// A command as a client submits it (the leader adds the time stamp); first declared here.
export type { Submission };

const isConf = (e: Entry) => e.type === "conf";

/** The directory the founding flags give (`--peers`, `--client-urls`), built once per node. */
function foundingDirectory(opts: RaftNodeOptions): MemberDirectory {
  const members = new Map<NodeId, { peerUrl: string; clientUrl: string }>();
  for (const [id, peerUrl] of opts.peers) {
    members.set(id, { peerUrl, clientUrl: opts.clientUrls?.get(id) ?? "" });
  }
  return { nextId: Math.max(0, ...members.keys()) + 1, members };
}

/** The call a leader makes to tell a node it removed that it was removed. */
const REMOVED = "members.removed";

/** A tick's submission, encoded once: the leader proposes one whenever a lease may expire. */
const TICK = encodeSubmission({ cmd: { op: "tick" } });

// The node's errors live in errors.ts; these were first declared here.
export { NoLeaderError, ProposalTimeoutError };

/** Settings of a node. */
export interface RaftNodeOptions {
  id: NodeId;
  /**
   * The founding voters' ids and peer URLs, this node included: the membership until the log or
   * a snapshot says otherwise (docs/architecture.md#membership). Ignored once one does.
   */
  peers: Map<NodeId, string>;
  /** The founding members' client URLs, when known (`X-Leader`, `GET /v1/members`). */
  clientUrls?: Map<NodeId, string>;
  /** The cluster's id, for backups. Default "edgeraft". */
  clusterId?: string;
  /** Called once when an applied change removed this node from the cluster. */
  onRemoved?: () => void;
  storage: RaftStorage;
  /** Builds the transport once the node can receive its events. */
  transport: (events: TransportEvents) => Transport;
  logger: Logger;
  /** Milliseconds per tick. Default 10. */
  tickMs?: number;
  /** Core settings (election and heartbeat ticks, ...). */
  raft?: Partial<Omit<RaftConfig, "id" | "random">>;
  /** Compact the log after this many applied entries at least. Default 10,000. */
  snapshotEntries?: number;
  /** The rest of the compaction rule (`snapshot_policy.ts`). Default {@linkcode DEFAULT_SNAPSHOT_POLICY}. */
  snapshotPolicy?: Partial<Omit<SnapshotPolicy, "minEntries">>;
  /**
   * How long the core keeps the snapshot's data after a follower was last sent it, before it is
   * kept on disk only (`snapshot_data.ts`). Default 10,000 ms.
   */
  snapshotHoldMs?: number;
  /** How long a proposal or a read may wait. Default 5000 ms. */
  requestTimeoutMs?: number;
  /**
   * The clock, timers and randomness of everything time-dependent in the node (ticks, read
   * rounds, proposal deadlines, snapshot slices). Default {@linkcode systemClock}; the
   * simulator passes its virtual time and seed.
   */
  clock?: NodeClock;
  /**
   * Builds the core; the simulator's mutation survey passes a core with a deliberate bug.
   * Default `new RawNode(cfg, stored)`.
   */
  core?: (cfg: RaftConfig, stored: StoredState) => RawNode;
  /** Called with each committed entry just before it is applied (observers, the simulator). */
  onEntryApplied?: (entry: Entry) => void;
  /** Records the write path's events (`write_trace.ts`). Default: nothing. */
  trace?: WriteTrace;
  /**
   * Heartbeats sent while the event loop stalls (`heartbeat_keeper.ts`): told at every tick
   * whether this node leads and in which term, and told the peers. Default: none.
   */
  keeper?: {
    alive(leaderTerm: number): void;
    setPeers(peers: [NodeId, string][]): void;
    /** Heartbeat rounds it has sent (for `/metrics`). */
    sent?(): number;
  };
  /**
   * How long the event loop's thread has waited, runnable, for a CPU (ms, growing;
   * `run_queue_wait.ts`): with it, each tick's delay is also counted without that wait
   * (`counters.tickOwnDelay`). Default: none.
   */
  runQueueWaitMs?: () => number;
}

/** How many election timeouts a leader waiting on its own disk goes on sending heartbeats. */
const DISK_WAIT_HEARTBEAT_ELECTIONS = 10;

/**
 * How many writes a leader may have under way without waiting for them; the next waits, and so
 * does everything behind it, as a write did before (see `#heartbeatWhileOnDisk`).
 */
const MAX_BACKGROUND_WRITES = 8;

/**
 * How long the Ready loop may run before it lets the event loop turn: about the slices that
 * snapshots are encoded and restored in (`runInSlices`), well under a heartbeat interval.
 */
const READY_SLICE_MS = 10;

/** The slices (ms) of restoring the state from the snapshot on disk when the node starts. */
const START_RESTORE_SLICE_MS = 40;

/** A snapshot encoded off the loop, waiting for the loop to compact the core's log with it. */
interface EncodedSnapshot {
  index: number;
  term: number;
  /** The membership when the state was captured. */
  conf: ConfState;
  data: Uint8Array;
  /** Gets the snapshot as the core keeps it, or undefined when it no longer fits the log. */
  resolve(snapshot: Snapshot | undefined): void;
}

/** How many of `entries` (in index order) lie at or below `stabled`, the last index on disk. */
function durablePrefix(entries: Entry[], stabled: number): number {
  let n = 0;
  while (n < entries.length && entries[n].index <= stabled) n++;
  return n;
}

function sameConf(a: ConfState, b: ConfState): boolean {
  const same = (x: number[], y: number[]) => x.length === y.length && x.every((v, i) => v === y[i]);
  return same(a.voters, b.voters) && same(a.learners, b.learners);
}

/** Something a node reports to its listeners after applying an entry. */
export type ApplyListener = (outcome: ApplyOutcome) => void;

/**
 * A running node. Start it with {@linkcode RaftNode.start}, stop it with `stop()`.
 *
 * @example
 * ```ts ignore
 * const node = await RaftNode.start({ id: 1, peers, storage, transport, logger });
 * const outcome = await node.submit({ cmd: { op: "put", key: "a", value: 1 } });
 * await node.stop();
 * ```
 */
export class RaftNode {
  readonly id: NodeId;
  readonly transport: Transport;
  /** Callers waiting in a lock's line, for every front end (the API, the simulator). */
  readonly lockWaits: LockWaits;
  /** What the node counts about itself (`GET /metrics`, the status page); read-only to others. */
  readonly counters: NodeCounters = new NodeCounters();
  /** Membership: the member list and the changes an operator asks for (`membership.ts`). */
  readonly membership: Membership;
  /** When a message from each peer last arrived (monotonic ms): who is live, for membership. */
  readonly #heardAt = new Map<NodeId, number>();
  /** Removed peers still being told so, with their peer URL (see `#tellRemoved`). */
  readonly #departing = new Map<NodeId, string>();
  /** Whether an applied change removed this node. */
  #removed = false;
  /** A leader that removed itself leaves when this fires, if not told before (`#stayUntilTold`). */
  #stayTimer?: TimerHandle;
  /** This leader's membership changes waiting for their entry to apply, by index. */
  readonly #confWaiters = new Map<
    number,
    { term: number; resolve: () => void; reject: (e: Error) => void }
  >();
  /** Round trips to each peer, from this node's heartbeats (so: while it leads). */
  readonly #rtt = new PeerRtt();
  /** When each peer's slow round trips were last warned about (monotonic ms). */
  readonly #rttWarnedAt = new Map<NodeId, number>();
  // Private: callers use the named methods below (docs/architecture.md#the-layers). `#sm` is
  // replaced when a leader's snapshot is installed; reading it through methods means no caller
  // can keep the old one.
  readonly #raw: RawNode;
  /** Drops the core's copy of the snapshot's data when unneeded (`snapshot_data.ts`). */
  readonly #snapshotData: SnapshotDataKeeper;
  #sm: StateMachine;
  /** The index of the snapshot `#sm` was last restored from (0: none). */
  #restoredFrom = 0;
  readonly #opts: RaftNodeOptions;
  /** Milliseconds per tick. */
  readonly #tickMs: number;
  /** The base election timeout in ms (the core draws each one from [1x, 2x) of it). */
  readonly #electionMs: number;
  /** The leader's heartbeat interval in ms. */
  readonly #heartbeatMs: number;
  /** The founding members' addresses, until a membership change replicates the directory. */
  readonly #founding: MemberDirectory;
  readonly #log: Logger;
  /** The core's election state after the last Ready, to log campaigns and their outcomes. */
  #lastCampaign: CampaignState | undefined;
  readonly #clock: NodeClock;
  readonly #reads: ReadBarrier;
  readonly #pending: PendingProposals;
  readonly #listeners = new Set<ApplyListener>();
  readonly #inbox: Message[] = [];
  readonly #downPeers = new Set<NodeId>();
  /** Undefined when off: `?.()` then skips even computing the arguments on the hot path. */
  readonly #trace: WriteTrace | undefined;
  #persisted: HardState;
  /** The newest hard state the core reported; its commit may not be on disk yet. */
  #latestHard: HardState;
  #ticker?: TimerHandle;
  #running = false;
  #loopDone: Promise<void> = Promise.resolve();
  /** Ends the Ready loop's pause for the event loop (see `#letEventLoopTurn`) at once. */
  #wakeLoop?: () => void;
  #again = false;
  #stopped = false;
  #tickProposedAt = 0;
  #lastLeader: NodeId = 0;
  /** See `#forwarding`. */
  #forwarder?: LeaderForwarding;
  /** The snapshot being taken off the loop (one at a time); see `#maybeCompact`. */
  #compaction?: Promise<void>;
  /** A snapshot encoded off the loop, for the loop to compact the core's log with. */
  #encoded?: EncodedSnapshot;
  /** The newest snapshot index handed to storage, local or the leader's. */
  #savedSnapshotIndex = 0;
  /** When to compact the log (`snapshot_policy.ts`). */
  readonly #snapshotPolicy: SnapshotPolicy;
  /** Bytes of the entries applied since this node started (for the compaction rule). */
  #appliedBytes = 0;
  /** `#appliedBytes` when the last snapshot was captured or installed. */
  #appliedBytesAtSnapshot = 0;
  /** The size of the last snapshot taken, installed or loaded (0: none yet). */
  #snapshotBytes = 0;
  /** A leader's snapshot is being installed: the loop is busy, not the leader gone. */
  #installing = false;
  /** When the last heartbeat was sent during a long disk write (`#heartbeatWhileOnDisk`). */
  #diskHeartbeatAt = 0;
  /** Since when (the clock's monotonic ms) the loop has waited for its own disk write, if it does. */
  #diskWaitSince?: number;
  /** When this node last heard from a leader (ms), for stale reads. */
  #lastContact = 0;
  /** The monotonic time of the last tick, to measure how late the next one fires. */
  #lastTickAt = 0;
  /** `runQueueWaitMs()` at the last tick. */
  #lastRunQueueWait = 0;
  /** Indexes of membership entries in the log above the commit index on disk. */
  #confIndexes: number[] = [];
  /** The last term in which a lost connection to the leader was logged. */
  #leaderLossTerm = 0;
  /** Writes handed to storage, counted; `#persisted` is the hard state of the newest one done. */
  #writesIssued = 0;
  #writesDone = 0;
  /** The leader's writes it did not wait for (`#writeInBackground`), oldest first. */
  readonly #backgroundWrites: { seq: number; started: number }[] = [];
  /** Background writes that ended, for the loop to tell the core (`RawNode.persisted`). */
  readonly #durable: { seq: number; index: number; term: number; hardState: HardState }[] = [];
  #failure?: Error;

  private constructor(opts: RaftNodeOptions, raw: RawNode, sm: StateMachine, persisted: HardState) {
    this.#opts = opts;
    this.#snapshotPolicy = staggered({
      ...DEFAULT_SNAPSHOT_POLICY,
      ...opts.snapshotPolicy,
      minEntries: opts.snapshotEntries ?? DEFAULT_SNAPSHOT_POLICY.minEntries,
    }, opts.id);
    this.id = opts.id;
    this.#raw = raw;
    this.#sm = sm;
    this.#persisted = persisted;
    this.#latestHard = persisted;
    this.#log = opts.logger;
    this.#trace = opts.trace;
    this.#clock = opts.clock ?? systemClock;
    this.#tickMs = opts.tickMs ?? 10;
    this.#electionMs = (opts.raft?.electionTicks ?? DEFAULT_CONFIG.electionTicks) * this.#tickMs;
    this.#heartbeatMs = (opts.raft?.heartbeatTicks ?? DEFAULT_CONFIG.heartbeatTicks) *
      this.#tickMs;
    this.#founding = foundingDirectory(opts);
    // A read round is asked again when its answer is late; late means more than two heartbeat
    // intervals (a round is a heartbeat's round trip), else a WAN would send each one 2-3 times.
    this.#reads = new ReadBarrier(
      opts.requestTimeoutMs ?? 5000,
      Math.max(50, 2 * this.#heartbeatMs),
      this.#clock,
    );
    this.#pending = new PendingProposals(opts.requestTimeoutMs ?? 5000, this.#clock);
    this.lockWaits = new LockWaits(this, { timers: this.#clock, logger: this.#log });
    this.transport = opts.transport({
      onMessages: (msgs) => this.#receive(msgs),
      onUnreachable: (peer) => {
        this.#peerDown(peer);
        this.#raw.reportUnreachable(peer);
        this.#kick();
      },
      onConnectionLost: (peer) => {
        // A killed leader's sockets close at once: campaign now rather than after an election
        // timeout of silence (docs/architecture.md#failure-detection).
        const view = this.#raw.view;
        if (view.leader === peer && view.role === "follower" && this.#leaderLossTerm < view.term) {
          this.#leaderLossTerm = view.term; // once per term: the link retries meanwhile
          this.#log.log("info", "connection to the leader lost; campaigning soon", {
            leader: peer,
            term: view.term,
          });
        }
        this.#raw.reportPeerDown(peer);
        this.#kick();
      },
      onSnapshotStatus: (peer, ok) => {
        this.#raw.reportSnapshot(peer, ok);
        this.#kick();
      },
      onCall: (method, body, from) => this.#answerCall(method, body, from),
    });
    this.membership = new Membership(this.#membershipHost());
    this.#snapshotData = new SnapshotDataKeeper({
      core: raw,
      load: () => opts.storage.loadSnapshot(),
      clock: this.#clock,
      kick: () => this.#kick(),
      onReadBack: (snapshot, readMs) => {
        this.counters.snapshotReadsBack++;
        this.#log.log("info", "snapshot read back to send", {
          index: snapshot.metadata.index,
          bytes: snapshot.data.byteLength,
          readMs: Math.round(readMs),
        });
      },
      holdMs: opts.snapshotHoldMs,
      onError: (error) =>
        this.#log.log("warn", "reading the snapshot back failed", {
          error: String(error),
        }),
    });
    this.#refreshPeers();
  }

  /** Loads what is on disk, restores the state machine and starts ticking. */
  static async start(opts: RaftNodeOptions): Promise<RaftNode> {
    const clock = opts.clock ?? systemClock;
    const stored = await opts.storage.load();
    const loadedAt = clock.monotonic();
    const cfg = withDefaults({ id: opts.id, random: () => clock.random(), ...opts.raft });
    // The membership at the snapshot, else the founding voters; the changes logged after it are
    // applied again as the entries are (the core takes no campaign while one is unapplied).
    const conf = stored.snapshot?.metadata.conf ?? { voters: [...opts.peers.keys()], learners: [] };
    const state = { ...stored, conf };
    const raw = opts.core ? opts.core(cfg, state) : new RawNode(cfg, state);
    // In slices: a restart from a large snapshot must not stall whatever else runs in the process
    // (the health endpoints, the keeper). Longer ones than a running node's, since the node is
    // not in the cluster yet: each turn between slices waits ~4 ms (a nested timeout's clamp),
    // which with 5 ms slices left the CPU idle ~45 % of a restore.
    const sm = stored.snapshot
      ? await runInSlices(StateMachine.restoreSteps(stored.snapshot.data), {
        clock,
        sliceMs: START_RESTORE_SLICE_MS,
      })
      : new StateMachine();
    const restoredAt = clock.monotonic();
    const node = new RaftNode(opts, raw, sm, stored.hardState);
    // From before the first tick, so that a campaign in the first Ready is logged too.
    node.#lastCampaign = raw.campaignState();
    node.#savedSnapshotIndex = stored.snapshot?.metadata.index ?? 0;
    node.#snapshotBytes = stored.snapshot?.data.byteLength ?? 0;
    node.#snapshotData.durable(node.#savedSnapshotIndex);
    node.#confIndexes = stored.entries
      .filter((e) => e.type === "conf" && e.index > stored.hardState.commit)
      .map((e) => e.index);
    node.#restoredFrom = node.#savedSnapshotIndex;
    node.#log.log("info", "node started", {
      term: stored.hardState.term,
      entries: stored.entries.length,
      snapshotIndex: stored.snapshot?.metadata.index ?? 0,
      voters: conf.voters,
      learners: conf.learners,
      // What restoring the snapshot cost (the entries after it are applied from here on; the
      // storage read its data when it was opened).
      restoreMs: Math.round(restoredAt - loadedAt),
    });
    node.#ticker = clock.setInterval(() => node.#tick(), node.#tickMs);
    // A cluster of one need not wait out an election timeout to lead.
    if (conf.voters.length === 1 && conf.voters[0] === opts.id && conf.learners.length === 0) {
      raw.campaign();
      node.#kick();
    }
    return node;
  }

  /** A live, read-only view of the core's role and log, for observers (the simulator). */
  coreView(): CoreView {
    return this.#raw.view;
  }

  /** The core's status. */
  status(): Status {
    return this.#raw.status();
  }

  /** When this node last heard from a leader, or led (ms since the epoch; 0: never): stale reads. */
  get lastContact(): number {
    return this.#lastContact;
  }

  /** Whether this node is the leader, as its core knows. */
  isLeader(): boolean {
    return this.#raw.view.role === "leader";
  }

  /** The leader this node knows of (0: none). */
  leaderId(): NodeId {
    return this.#raw.view.leader;
  }

  // ---- the applied state, read through the node (it replaces its state machine when it
  // installs a leader's snapshot); each call reads the state as it is now ----

  /** The index of the last applied entry. */
  appliedIndex(): number {
    return this.#sm.appliedIndex;
  }

  /** The config revision of the applied state (`X-Revision`). */
  revision(): number {
    return this.#sm.revision;
  }

  /** The log time: the largest leader stamp applied (ms since the epoch). */
  logTime(): number {
    return this.#sm.now;
  }

  /**
   * The index of the snapshot the applied state was last restored from (0: none): it changes
   * when a leader's snapshot replaces the state, which no applied entry reports.
   */
  restoredFrom(): number {
    return this.#restoredFrom;
  }

  /** A key's value and revisions, as applied here (the value is frozen, shared with the state). */
  getValue(key: string): KeyValue | undefined {
    return this.#sm.get(key);
  }

  /** One page of the keys under a prefix, as applied here. */
  listValues(options?: ListOptions): ListPage {
    return this.#sm.list(options);
  }

  /** The config changes under `prefix` from `fromRevision` on, or the news they were compacted. */
  eventsSince(prefix: string, fromRevision: number, limit?: number): WatchAnswer {
    return this.#sm.eventsSince(prefix, fromRevision, limit);
  }

  /** A lock's holder and queue, as applied here. */
  lockInfo(name: string): LockInfo {
    return this.#sm.lockInfo(name);
  }

  /** Every lock that is held, with its queue, by name, as applied here (the status page). */
  listLocks(): LockInfo[] {
    return this.#sm.listLocks();
  }

  /** The peers this node last found unreachable and has not heard from since. */
  unreachablePeers(): NodeId[] {
    return [...this.#downPeers];
  }

  /** Listens to every applied entry's outcome (for watches and lock waits). */
  onApply(listener: ApplyListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Replicates a command and resolves with its outcome once applied here. A follower passes it
   * to the leader, which stamps the time (docs/architecture.md#time-enters-through-the-log).
   */
  async submit(sub: Submission, signal?: AbortSignal): Promise<ApplyOutcome> {
    this.#checkAlive();
    // Checked and encoded once, here: the leader proposes these bytes as they are.
    const body = encodeSubmission(sub);
    // Counted from here on: a command that does not encode is the client's mistake, not the
    // cluster's. (A try/catch costs nothing per write; a wrapper promise would.)
    try {
      if (this.isLeader()) return await this.#proposeLocal(body);
      // A follower passes it on, to the leader as it changes (leader_forwarding.ts).
      const outcome = await this.#forwarding.forward(sub, body, signal);
      // Answer only once this node has applied it too, so a read here right after sees it.
      await this.waitApplied(outcome.index);
      return outcome;
    } catch (e) {
      this.counters.proposalsFailed++;
      throw e;
    }
  }

  /** Forwards this node's writes while it follows; made on first use, after the constructor. */
  get #forwarding(): LeaderForwarding {
    return this.#forwarder ??= this.#newForwarding();
  }

  #newForwarding(): LeaderForwarding {
    return new LeaderForwarding({
      id: this.id,
      clock: this.#clock,
      heartbeatMs: this.#heartbeatMs,
      leaderId: () => this.leaderId(),
      // The timeout is drawn from [base, 2 * base), base doubled per failed campaign.
      electionTimeoutMaxMs: () =>
        2 * this.#electionMs * 2 ** this.#raw.campaignState().electionBackoff,
      proposeLocal: (body) => this.#proposeLocal(body),
      call: (leader, body, signal) => this.transport.call(leader, "propose", body, signal),
    });
  }

  /** Proposes a submission's bytes (`encodeSubmission`), stamped with this leader's time. */
  async #proposeLocal(body: Uint8Array): Promise<ApplyOutcome> {
    // Time never goes backwards in the log, even if this clock does
    // (docs/architecture.md#time-enters-through-the-log).
    const time = Math.max(this.#clock.now(), this.#sm.now);
    const seq = this.#pending.next();
    this.#trace?.("propose", seq);
    try {
      this.#raw.propose(frameProposal({ proposer: this.id, seq, time, body }));
    } catch (e) {
      if (e instanceof ProposalDroppedError) throw new NoLeaderError(e.message);
      throw e;
    }
    const done = this.#pending.wait(seq);
    this.#kick();
    return await done;
  }

  /** Resolves once entries up to `index` are applied on this node. */
  async waitApplied(index: number): Promise<void> {
    if (this.#sm.appliedIndex >= index) return;
    await new Promise<void>((resolve, reject) => {
      const timer = this.#clock.setTimeout(() => {
        off();
        reject(new ProposalTimeoutError(`entry ${index} was not applied here in time`));
      }, this.#opts.requestTimeoutMs ?? 5000);
      const off = this.onApply(() => {
        if (this.#sm.appliedIndex >= index) {
          this.#clock.clearTimeout(timer);
          off();
          resolve();
        }
      });
    });
  }

  /** Resolves when a linearizable read may be served from this node's state machine. */
  async linearizableRead(): Promise<void> {
    this.#checkAlive();
    // Without a known leader no quorum can confirm the read: say so now, not after a timeout.
    if (this.leaderId() === 0) throw new NoLeaderError("no leader is known");
    const wait = this.#reads.wait();
    this.#kick();
    await wait;
  }

  async #answerCall(method: string, body: Uint8Array, _from: NodeId): Promise<Uint8Array> {
    if (method === REMOVED) {
      this.#learnRemoved(`node ${_from} says so`);
      return new Uint8Array();
    }
    if (method !== "propose") {
      const answer = await this.membership.answerCall(method, body);
      if (answer === undefined) throw new CallError(404, `unknown method ${method}`);
      return answer;
    }
    if (!this.isLeader()) throw new CallError(503, "this node is not the leader");
    // The forwarding node checked and encoded the submission (`submit`); it is proposed as it
    // came, not decoded again. Bytes that are no submission (a peer's bug) are answered
    // `bad_command` when applied, like any garbage in the log.
    try {
      return encode(await this.#proposeLocal(body));
    } catch (e) {
      if (e instanceof NoLeaderError) throw new CallError(503, e.message);
      if (e instanceof OutcomeUnknownError) {
        throw new CallError(504, e.message);
      }
      throw e;
    }
  }

  // ---- membership (docs/architecture.md#membership) ---------------------------------------

  /**
   * A consistent backup of the applied state: the state machine's bytes at the applied index,
   * that entry's term and the membership then (`GET /v1/snapshot`). Encoded in slices, from a
   * copy-on-write capture, so the node goes on applying meanwhile.
   */
  async backup(): Promise<Backup> {
    this.#checkAlive();
    const capture = this.#sm.captureSnapshot();
    const index = capture.appliedIndex;
    const term = this.#sm.term;
    const conf = this.#raw.view.confState();
    try {
      const data = await runInSlices(capture.encode(), { clock: this.#clock });
      return { clusterId: this.#opts.clusterId ?? "edgeraft", index, term, conf, data };
    } finally {
      capture.release();
    }
  }

  /** The members' addresses: the replicated directory, else the founding members' flags. */
  directory(): MemberDirectory {
    return this.#sm.members() ?? this.#founding;
  }

  /** Points the transport at every member but this node (after a change, or a snapshot). */
  #refreshPeers(): void {
    const peers = new Map<NodeId, string>();
    for (const [id, m] of this.directory().members) if (id !== this.id) peers.set(id, m.peerUrl);
    for (const [id, url] of this.#departing) if (!peers.has(id)) peers.set(id, url);
    this.transport.setPeers(peers);
    this.#opts.keeper?.setPeers([...peers]);
  }

  /**
   * Whether `commit` covers a membership entry that the commit index on disk does not. Such a
   * commit index is written before the change is applied or the index sent: else a leader that
   * crashed after its followers applied a removal (the removed node then stops) restarts with
   * the old member set and waits for ever for the removed node's vote (simulator, seed 2).
   */
  #commitCoversConf(commit: number): boolean {
    const p = this.#persisted.commit;
    return this.#confIndexes.some((i) => i > p && i <= commit);
  }

  /**
   * Applies a membership change: the core's member set, the directory it carries, the peers the
   * transport knows. A node that the change removed says so and tells its owner to stop.
   */
  #applyConf(e: Entry): ApplyOutcome {
    const cc = decodeConfChange(e.data);
    const wasMember = this.#isMember();
    const wasLeader = this.isLeader();
    const removedUrl = cc.type === "removeNode"
      ? this.directory().members.get(cc.nodeId)?.peerUrl
      : undefined;
    const conf = this.#raw.applyConfChange(cc);
    const tuple = directoryOf(cc);
    let directory: MemberDirectory | undefined;
    try {
      directory = tuple === undefined ? undefined : directoryFromTuple(tuple);
    } catch {
      directory = undefined; // an entry without a readable directory changes only the core's set
    }
    const outcome = directory
      ? this.#sm.applyMembership(e.index, e.term, directory)
      : this.#sm.applyNoop(e.index, e.term);
    this.#refreshPeers();
    this.#log.log("info", "membership changed", {
      change: cc.type,
      node: cc.nodeId,
      index: e.index,
      voters: conf.voters,
      learners: conf.learners,
    });
    if (wasMember && !this.#isMember()) {
      if (wasLeader) this.#stayUntilTold(e.index);
      else this.#learnRemoved(`entry ${e.index}`);
    } else if (removedUrl !== undefined && cc.nodeId !== this.id && this.isLeader()) {
      this.#tellRemoved(cc.nodeId, removedUrl);
    }
    return outcome;
  }

  /**
   * Tells a node this leader removed that it was: the leader sends it nothing more (so it would
   * never see its removal commit), and it would go on campaigning alone. It is told once, over
   * a link kept open for the call; a node that is down learns nothing and stays harmless (its
   * messages reach no voter that counts them: it is no member).
   */
  #tellRemoved(id: NodeId, peerUrl: string): void {
    this.#departing.set(id, peerUrl);
    this.#refreshPeers();
    // The node's clock, not AbortSignal.timeout: the simulator's time is virtual.
    const abort = new AbortController();
    const timer = this.#clock.setTimeout(() => abort.abort(), this.#opts.requestTimeoutMs ?? 5000);
    this.transport.call(id, REMOVED, new Uint8Array(), abort.signal).catch(() => {}).finally(() => {
      this.#clock.clearTimeout(timer);
      this.#departing.delete(id);
      if (!this.#stopped) this.#refreshPeers();
    });
  }

  /**
   * A leader that applied its own removal (proposed before it led, so it could not hand over
   * first) stays until the next leader tells it: its core leads on without counting itself,
   * takes no entries and hands over to the remaining voter with the longest log (thesis 4.2.2,
   * 3.10), and then this node votes as a follower. The remaining voters may not know yet that
   * the removal committed, and until one of them applies it, it counts this node's vote to elect
   * a leader that commits it again (simulator seeds 4486, 9865, 11, 10143). A next leader that
   * already applied the removal never tells it, so it leaves anyway after a while.
   */
  #stayUntilTold(index: number): void {
    const waitMs = Math.max(30_000, 100 * this.#electionMs);
    this.#log.log(
      "info",
      "removed from the cluster; handing over, then staying to vote until the next leader says so",
      {
        index,
        atMostMs: waitMs,
      },
    );
    this.#stayTimer = this.#clock.setTimeout(() => {
      if (!this.#stopped) this.#learnRemoved(`entry ${index}, ${waitMs} ms ago`);
    }, waitMs);
  }

  /** This node is no member any more: it says so once and lets its owner stop it. */
  #learnRemoved(how: string): void {
    if (this.#removed) return;
    this.#removed = true;
    this.#log.log("warn", "removed from the cluster", { how });
    this.#opts.onRemoved?.();
  }

  #isMember(): boolean {
    const { voters, learners } = this.#raw.view.confState();
    return voters.includes(this.id) || learners.includes(this.id);
  }

  /** A membership change this leader proposed is applied: settled by whether its entry won. */
  #settleConfWaiter(e: Entry): void {
    const w = this.#confWaiters.get(e.index);
    if (!w) return;
    this.#confWaiters.delete(e.index);
    if (e.term === w.term && e.type === "conf") w.resolve();
    else {
      w.reject(
        new MembershipError(
          "no-leader",
          "leadership changed before the change committed; not made",
        ),
      );
    }
  }

  #membershipHost(): ConstructorParameters<typeof Membership>[0] {
    return {
      id: this.id,
      isLeader: () => this.isLeader(),
      leaderId: () => this.leaderId(),
      status: () => this.status(),
      directory: () => this.directory(),
      proposeConfChange: (cc) => this.#proposeConf(cc),
      transferLeader: (to) => {
        this.#raw.transferLeader(to);
        this.#kick();
      },
      waitUntil: (cond, timeoutMs) => this.#waitUntil(cond, timeoutMs),
      electionTimeoutMs: () => this.#electionMs,
      sinceHeard: (peer) => {
        const at = this.#heardAt.get(peer);
        return at === undefined ? undefined : this.#clock.monotonic() - at;
      },
      callLeader: (method, body) => this.transport.call(this.leaderId(), method, body),
    };
  }

  async #proposeConf(cc: Parameters<RawNode["proposeConfChange"]>[0]): Promise<void> {
    this.#checkAlive();
    const view = this.#raw.view;
    const before = view.lastIndex();
    try {
      this.#raw.proposeConfChange(cc);
    } catch (e) {
      if (!(e instanceof ProposalDroppedError)) throw e;
      const pending = /pending/.test(e.message);
      throw new MembershipError(pending ? "change-in-progress" : "no-leader", e.message);
    }
    const index = view.lastIndex();
    if (index === before) {
      throw new MembershipError("no-leader", "this node stopped leading; nothing was proposed");
    }
    const done = new Promise<void>((resolve, reject) => {
      const timer = this.#clock.setTimeout(() => {
        if (this.#confWaiters.delete(index)) {
          reject(
            new MembershipError("outcome-unknown", `entry ${index} was not applied in time`),
          );
        }
      }, this.#opts.requestTimeoutMs ?? 5000);
      const settle = <T>(f: (v: T) => void) => (v: T) => {
        this.#clock.clearTimeout(timer);
        f(v);
      };
      this.#confWaiters.set(index, {
        term: view.term,
        resolve: settle(resolve),
        reject: settle(reject),
      });
    });
    this.#kick();
    await done;
  }

  /** Resolves true once `cond()` holds (polled every tick), false after `timeoutMs`. */
  #waitUntil(cond: () => boolean, timeoutMs: number): Promise<boolean> {
    const deadline = this.#clock.monotonic() + timeoutMs;
    return new Promise((resolve) => {
      const poll = () => {
        if (cond()) return resolve(true);
        if (this.#stopped || this.#clock.monotonic() >= deadline) return resolve(false);
        this.#clock.setTimeout(poll, this.#tickMs);
      };
      poll();
    });
  }

  // ---- the loop ----------------------------------------------------------------------------

  #receive(msgs: Message[]): void {
    const now = this.#clock.monotonic();
    for (const m of msgs) {
      this.#heardAt.set(m.from, now);
      if (m.type === "app" && m.entries.length > 0) {
        this.#trace?.("recv-app", m.from, m.entries[0].index, m.entries.at(-1)!.index);
      } else if (m.type === "appResp" && !m.reject) this.#trace?.("recv-ack", m.from, m.index);
      if (this.#downPeers.delete(m.from)) {
        this.#log.log("info", "peer up", { peer: m.from });
      }
      this.#inbox.push(m);
    }
    this.#kick();
  }

  /** Logs a peer going down once, not at every failed send. */
  #peerDown(peer: NodeId): void {
    if (this.#downPeers.has(peer)) return;
    this.#downPeers.add(peer);
    this.#log.log("warn", "peer down", { peer });
  }

  #tick(): void {
    if (this.#stopped) return;
    const view = this.#raw.view;
    const keeper = this.#opts.keeper;
    if (keeper) {
      keeper.alive(view.role === "leader" ? view.term : 0);
      this.counters.keeperHeartbeats = keeper.sent?.() ?? 0;
    }
    // How late this tick fired: the event loop's delay as Raft's timers feel it.
    const at = this.#clock.monotonic();
    const tickMs = this.#tickMs;
    const waited = this.#opts.runQueueWaitMs?.();
    // How long, since the last tick, the loop's thread sat runnable, waiting for a CPU.
    const cpuWait = waited === undefined ? undefined : waited - this.#lastRunQueueWait;
    if (this.#lastTickAt > 0) {
      const late = Math.max(0, at - this.#lastTickAt - tickMs);
      this.counters.tickDelay.record(late);
      // The part of the delay this node's own work made.
      if (cpuWait !== undefined) this.counters.tickOwnDelay.record(Math.max(0, late - cpuWait));
      // As long as an election timeout: the kind of stall that costs an election unless the
      // heartbeat keeper covers it. Said once per stall, so that an election can be traced.
      if (late >= this.#electionMs) {
        this.#log.log("warn", "event loop stalled", {
          ms: Math.round(late),
          role: view.role,
          electionTimeoutMs: this.#electionMs,
          ...(cpuWait === undefined ? {} : { waitedForCpuMs: Math.round(cpuWait) }),
        });
      }
    }
    this.#lastTickAt = at;
    if (waited !== undefined) this.#lastRunQueueWait = waited;
    // While it installs the leader's snapshot, a follower steps no messages, heartbeats
    // included: its election timer would only measure the install, and start a campaign.
    if (this.#installing && !this.isLeader()) return;
    // Likewise while its own disk write has held the loop for more than two ticks: the peers'
    // messages wait unread in the inbox, and counting that time against them would make a
    // leader step down (check-quorum) or a follower campaign because of its own disk. A
    // snapshot written in the background makes such waits likely on a busy disk (a 325 ms
    // append cost an election in tests/process/compaction_test.ts).
    const waiting = this.#diskWaitSince;
    if (
      waiting !== undefined && this.#clock.monotonic() - waiting > 2 * this.#tickMs
    ) {
      this.#heartbeatWhileOnDisk(at, waiting);
      return;
    }
    // A write the leader did not wait for and that hangs as long: it falls silent just the
    // same, and the followers elect another leader.
    const oldest = this.#backgroundWrites[0];
    if (
      oldest !== undefined &&
      this.#clock.monotonic() - oldest.started > DISK_WAIT_HEARTBEAT_ELECTIONS * this.#electionMs
    ) {
      return;
    }
    this.#raw.tick();
    this.#maybeProposeTick();
    this.#kick();
  }

  /**
   * A leader whose own disk write takes longer than a heartbeat interval still sends heartbeats.
   * The core cannot (its Ready is out until the write is done), and without them the followers
   * hear nothing and elect another leader: a commit of the log that waits behind a snapshot's
   * chunks or a checkpoint of the KV's write-ahead log took long enough to cost an election at
   * 450k keys (issue 17). The leader is still the leader of its term, so its heartbeat is true;
   * it carries no commit index (a follower only ever raises its own) and no read round.
   *
   * For at most `DISK_WAIT_HEARTBEAT_ELECTIONS` election timeouts: a disk that hangs for longer
   * is a failure the cluster must route around, so the leader falls silent and lets the
   * followers elect another, as before.
   */
  #heartbeatWhileOnDisk(now: number, since: number): void {
    const core = this.#raw.view;
    if (core.role !== "leader" || now - this.#diskHeartbeatAt < this.#heartbeatMs) return;
    if (now - since > DISK_WAIT_HEARTBEAT_ELECTIONS * this.#electionMs) return;
    this.#diskHeartbeatAt = now;
    this.counters.diskWaitHeartbeats++;
    const { voters, learners } = core.confState();
    const beats = [...voters, ...learners].filter((peer) => peer !== this.id).map((to) =>
      newMessage({ type: "heartbeat", from: this.id, to, term: core.term })
    );
    this.#send(beats);
  }

  /** The leader stamps the log when a lease or a wait may have run out. */
  #maybeProposeTick(): void {
    if (!this.isLeader()) return;
    const deadline = this.#sm.nextDeadline();
    const now = this.#clock.now();
    if (deadline === undefined || deadline > now) return;
    if (now - this.#tickProposedAt < this.#tickMs * 5) return;
    this.#tickProposedAt = now;
    this.#proposeLocal(TICK).catch(() => {});
  }

  /** Runs the Ready loop soon; calls made while it runs make it go round again. */
  #kick(): void {
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = true;
    this.#loopDone = Promise.resolve().then(() => this.#loop());
  }

  async #loop(): Promise<void> {
    try {
      do {
        this.#again = false;
        if (this.#stopped) return;
        this.#takeDurable();
        this.#compactCore();
        this.#snapshotData.onLoop();
        for (const m of this.#inbox.splice(0)) this.#step(m);
        const ctx = this.#reads.start();
        if (ctx) this.#raw.readIndex(ctx);
        let sliceStart = this.#clock.monotonic();
        while (this.#raw.hasReady() && !this.#stopped) {
          await this.#handleReady(this.#raw.ready());
          // Readies that need no disk write never wait for I/O: a follower catching up on a
          // hundred thousand committed entries (a Ready each 256 KiB of them) would otherwise
          // hold the event loop until the last, its ticks and requests waiting behind it.
          const behind = this.#raw.view.committed > this.#sm.appliedIndex;
          if (behind && this.#clock.monotonic() - sliceStart > READY_SLICE_MS) {
            await this.#letEventLoopTurn();
            sliceStart = this.#clock.monotonic();
          }
          this.#takeDurable();
          for (const m of this.#inbox.splice(0)) this.#step(m);
        }
      } while (this.#again && !this.#stopped);
    } catch (e) {
      this.#fail(e as Error);
    } finally {
      this.#running = false;
    }
  }

  /** Resolves on a later turn of the event loop, or when the node stops. */
  #letEventLoopTurn(): Promise<void> {
    return new Promise((resolve) => {
      this.#wakeLoop = resolve;
      this.#clock.setTimeout(resolve, 0);
    });
  }

  #step(m: Message): void {
    if (m.from === this.#raw.view.leader && (m.type === "app" || m.type === "heartbeat")) {
      this.#lastContact = this.#clock.now();
    }
    if (m.type === "heartbeatResp") this.#timeHeartbeat(m.from);
    this.#raw.step(m);
  }

  /** Sends a Ready's messages, noting when each heartbeat left to time its answer. */
  #send(messages: Message[]): void {
    for (const m of messages) {
      if (m.type === "heartbeat") this.#rtt.sent(m.to, this.#clock.monotonic());
    }
    this.transport.send(messages);
  }

  /**
   * A heartbeat's answer: one more round trip for `peerRtts()`, and a warning (at most once a
   * minute per peer) when the peer's p99 exceeds a fifth of the election timeout, the point
   * where elections start to fail (docs/operations.md, "Timing").
   */
  #timeHeartbeat(peer: NodeId): void {
    const now = this.#clock.monotonic();
    if (this.#rtt.answered(peer, now) === undefined) return;
    const s = this.#rtt.summary(peer);
    const electionMs = this.#electionMs;
    if (!s || !tooSlowForElections(s, electionMs)) return;
    // A learner's round trips never hold up an election: a far read replica is no mistake.
    // (Asked only now: the member set is copied to be read.)
    if (!this.#raw.view.confState().voters.includes(peer)) return;
    const warnedAt = this.#rttWarnedAt.get(peer);
    if (warnedAt !== undefined && now - warnedAt < 60_000) return;
    this.#rttWarnedAt.set(peer, now);
    this.#log.log("warn", "peer round trips are long for the election timeout", {
      peer,
      rttP50Ms: Math.round(s.p50Ms * 10) / 10,
      rttP99Ms: Math.round(s.p99Ms * 10) / 10,
      electionTimeoutMs: electionMs,
      advice: "keep the election timeout >= 10x the worst round trip: raise --election-ticks " +
        "or --tick-ms, or use --timing wan (docs/operations.md, Timing)",
    });
  }

  /**
   * Round trips to each peer (median and p99 of the last 256), timed from this node's
   * heartbeats while it leads; empty on a node that never led.
   */
  peerRtts(): RttSummary[] {
    return this.#rtt.summaries();
  }

  async #handleReady(rd: Ready): Promise<void> {
    if (rd.softState) this.#onSoftState(rd.softState.leader, rd.softState.role);
    this.#logCampaigns();
    // Thesis 10.2.1: a leader may send AppendEntries while its own write is in flight, but
    // anything sent after a vote or a term change must wait for the disk.
    const hs = rd.hardState;
    for (const e of rd.entries) if (e.type === "conf") this.#confIndexes.push(e.index);
    // A commit index that covers a membership change must be on this node's disk before it
    // applies the change or sends that index to anyone (see `#commitCoversConf`).
    const commit = (hs ?? this.#latestHard).commit;
    const confCommit = commit !== this.#persisted.commit &&
      (this.#commitCoversConf(commit) || rd.committedEntries.some(isConf));
    const early = this.isLeader() && !confCommit &&
      (!hs || (hs.term === this.#persisted.term && hs.vote === this.#persisted.vote));
    if (early) {
      this.#send(rd.messages);
      // Let the transport's flush (a queued microtask) hand the frames to the sockets before the
      // disk write is encoded and dispatched: followers get new entries ~60 µs sooner
      // (deno task bench:trace, "a follower receives it").
      if (rd.entries.length > 0) await Promise.resolve();
    }
    if (rd.entries.length > 0) {
      this.#trace?.("ready", rd.entries[0].index, rd.entries.at(-1)!.index);
    }
    if (rd.snapshot) await this.#install(rd.snapshot);
    if (rd.wantSnapshot !== undefined) this.#snapshotData.want(rd.wantSnapshot);
    // A leader's committed entries are already on its disk (it counts its own copy only once
    // durable), so they need not wait for this Ready's write: under a steady stream of
    // proposals each write is answered one disk commit sooner. A follower keeps the old order,
    // which sends its acknowledgement before it spends time applying
    // (docs/architecture.md#the-ready-contract, step 4).
    const applyNow = early && !rd.snapshot
      ? durablePrefix(rd.committedEntries, this.#raw.view.stabled)
      : 0;
    for (let i = 0; i < applyNow; i++) this.#apply(rd.committedEntries[i]);
    if (hs) this.#latestHard = hs;
    // Like etcd's MustSync: a change of term or vote, or new entries, must reach the disk now;
    // a commit index alone is volatile state (paper, figure 2) and rides along with the next
    // write, which keeps an fsync off the path between commit and apply.
    const latest = this.#latestHard;
    const p = this.#persisted;
    // Except when it covers a membership change (`confCommit`, above).
    const mustWrite = rd.entries.length > 0 || latest.term !== p.term ||
      latest.vote !== p.vote || confCommit;
    // A leader that may send at once need not wait for its own write either: its copy counts
    // once it is on disk, and two followers can commit without it (etcd-io/raft's
    // AsyncStorageWrites; docs/architecture.md#the-ready-contract, step 5). Storage merges the
    // writes that queue up behind one commit into the next (group commit).
    const background = mustWrite && early && !rd.snapshot && rd.entries.length > 0 &&
      this.#backgroundWrites.length < MAX_BACKGROUND_WRITES;
    if (background) {
      this.#writeInBackground(rd.entries, latest);
    } else if (mustWrite) {
      const changed = latest.term !== p.term || latest.vote !== p.vote ||
        latest.commit !== p.commit;
      const seq = ++this.#writesIssued;
      const writeStarted = this.#clock.monotonic();
      this.#diskWaitSince = writeStarted;
      try {
        await this.#opts.storage.append({
          entries: rd.entries,
          hardState: changed ? latest : undefined,
        });
      } finally {
        this.#diskWaitSince = undefined;
      }
      this.counters.diskWrites.observe((this.#clock.monotonic() - writeStarted) / 1000);
      this.#persistedUpTo(seq, latest);
      if (rd.entries.length > 0) this.#trace?.("appended", rd.entries.at(-1)!.index);
    }
    if (!early) this.#send(rd.messages);
    for (let i = applyNow; i < rd.committedEntries.length; i++) this.#apply(rd.committedEntries[i]);
    for (const rs of rd.readStates) this.#reads.confirmed(rs.context, rs.index);
    // Reads queued behind the round just confirmed start theirs on the loop's next turn.
    if (rd.readStates.length > 0 && this.#reads.pending) this.#again = true;
    this.#raw.advance(rd, { entriesPersisted: !background });
    this.#reads.applied(this.#sm.appliedIndex);
    this.#maybeCompact();
  }

  /**
   * Hands a leader's entries to storage without waiting: the loop goes on to the next Ready
   * (sending the next entries, applying what the followers commit) while the write is under
   * way. When it ends, the loop tells the core (`#takeDurable`), which then counts the
   * leader's own copy toward commit.
   */
  #writeInBackground(entries: Entry[], hardState: HardState): void {
    const seq = ++this.#writesIssued;
    const started = this.#clock.monotonic();
    const write = { seq, started };
    this.#backgroundWrites.push(write);
    const last = entries.at(-1)!;
    this.#opts.storage.append({ entries, hardState }).then(() => {
      this.#backgroundWrites.splice(this.#backgroundWrites.indexOf(write), 1);
      this.counters.diskWrites.observe((this.#clock.monotonic() - started) / 1000);
      this.#trace?.("appended", last.index);
      this.#durable.push({ seq, index: last.index, term: last.term, hardState });
      this.#kick();
    }, (error) => {
      if (!this.#stopped) this.#fail(error as Error);
    });
  }

  /** Tells the core about the background writes that ended (between Readies). */
  #takeDurable(): void {
    if (this.#durable.length === 0) return;
    for (const d of this.#durable.splice(0)) {
      this.#raw.persisted(d.index, d.term);
      this.#persistedUpTo(d.seq, d.hardState);
    }
  }

  /** Write `seq`, which carried `hardState`, is on disk (so is every earlier one). */
  #persistedUpTo(seq: number, hardState: HardState): void {
    if (seq <= this.#writesDone) return; // a later write already said more
    this.#writesDone = seq;
    this.#persisted = hardState;
    if (this.#confIndexes.length > 0) {
      this.#confIndexes = this.#confIndexes.filter((i) => i > hardState.commit);
    }
  }

  #apply(e: Entry): void {
    let outcome: ApplyOutcome;
    this.#appliedBytes += e.data.byteLength;
    if (e.type === "conf" || e.data.length === 0) this.#opts.onEntryApplied?.(e);
    if (this.#confWaiters.size > 0) this.#settleConfWaiter(e);
    if (e.type === "conf") {
      outcome = this.#applyConf(e);
    } else if (e.data.length === 0) {
      outcome = this.#sm.applyNoop(e.index, e.term);
    } else {
      this.#opts.onEntryApplied?.(e);
      // This format, else the older nodes' (`[proposer, seq, envelope]`), else bare bytes,
      // which the state machine answers as a bad command when they are no envelope.
      const p = readProposal(e.data);
      const legacy = p ? undefined : unwrapLegacyProposal(e.data);
      outcome = p
        ? this.#sm.applySubmission(e.index, e.term, p.time, p.body)
        : this.#sm.applyEntry(e.index, e.term, legacy ? legacy.command : e.data);
      const mine = p ?? legacy;
      if (mine && mine.proposer === this.id) {
        this.#trace?.("applied", e.index, mine.seq);
        this.#pending.settle(mine.seq, outcome);
      }
    }
    this.counters.revisionTimes.record(outcome.revision, this.#sm.now);
    for (const listener of this.#listeners) {
      try {
        listener(outcome);
      } catch (err) {
        this.#log.log("error", "apply listener failed", { error: String(err) });
      }
    }
  }

  /**
   * Starts a compaction when the log since the last one is due (`snapshot_policy.ts`). The state is
   * captured now, cheaply (copy on write); the encoding, the disk write and all that waits for
   * them run off the loop, in slices, so that a snapshot of any size never holds up heartbeats,
   * writes or reads (issue 10, defect 3: a 40 MB snapshot taken in one go cost an election).
   */
  #maybeCompact(): void {
    if (this.#compaction || this.#stopped) return;
    const applied = this.#sm.appliedIndex;
    const core = this.#raw.view;
    const due = compactionDue({
      entries: applied - core.offset,
      bytes: this.#appliedBytes - this.#appliedBytesAtSnapshot,
      snapshotBytes: this.#snapshotBytes,
    }, this.#snapshotPolicy);
    // Entries a leader applied while its background write of them is under way are fine: storage
    // writes them before the snapshot takes effect (it runs calls in order); see `#compactCore`.
    if (!due || applied > core.inProgress) return;
    const term = core.termAt(applied);
    if (term === undefined) return;
    const conf = core.confState();
    const capture = this.#sm.captureSnapshot();
    this.#compaction = this.#compact(capture, term, conf, this.#appliedBytes)
      .catch((error) => {
        if (!(error instanceof SlicedWorkCancelled)) this.#fail(error as Error);
      })
      .finally(() => {
        this.#compaction = undefined;
      });
  }

  async #compact(
    capture: ReturnType<StateMachine["captureSnapshot"]>,
    term: number,
    conf: ConfState,
    appliedBytes: number,
  ): Promise<void> {
    const index = capture.appliedIndex;
    const started = this.#clock.monotonic();
    let data: Uint8Array;
    try {
      data = await runInSlices(capture.encode(), {
        cancelled: () => this.#stopped,
        clock: this.#clock,
      });
    } finally {
      capture.release();
    }
    const encodedMs = this.#clock.monotonic() - started;
    // The core's log changes only on the loop, between two Readies: hand the snapshot over.
    const snap = await new Promise<Snapshot | undefined>((resolve) => {
      this.#encoded = { index, term, conf, data, resolve };
      this.#kick();
    });
    // Dropped (see `#compactCore`), or a newer snapshot from the leader is stored already.
    if (!snap || index <= this.#savedSnapshotIndex) return;
    this.#savedSnapshotIndex = index;
    this.#appliedBytesAtSnapshot = appliedBytes;
    const writeStarted = this.#clock.monotonic();
    await this.#opts.storage.saveSnapshot(snap);
    this.#snapshotData.durable(index);
    this.counters.snapshotsTaken++;
    this.counters.lastSnapshotBytes = this.#snapshotBytes = data.byteLength;
    this.#log.log("info", "log compacted", {
      index,
      bytes: data.byteLength,
      encodeMs: Math.round(encodedMs),
      writeMs: Math.round(this.#clock.monotonic() - writeStarted),
    });
  }

  /** Compacts the core's log with a snapshot encoded off the loop, if it still fits. */
  #compactCore(): void {
    const encoded = this.#encoded;
    if (!encoded) return;
    this.#encoded = undefined;
    const { index, term, conf, data, resolve } = encoded;
    const core = this.#raw.view;
    // Taken on a leader that had applied entries its background writes were still writing:
    // they are written before the snapshot takes effect (storage runs calls in order), and the
    // core hears of it from `#takeDurable`, which the loop runs first. Until then, wait.
    if (index > core.stabled && index <= core.inProgress) {
      this.#encoded = encoded;
      return;
    }
    // A leader's snapshot may have replaced the log meanwhile, and the snapshot must carry the
    // membership of its own index: a change applied since makes the next compaction's job.
    const fits = index > core.offset && core.termAt(index) === term &&
      sameConf(conf, core.confState());
    resolve(fits ? this.#raw.compact(index, data) : undefined);
  }

  /**
   * Installs a leader's snapshot. The loop waits (entries after it must not be stored or
   * applied before it), but the event loop does not: it is written and restored in slices.
   */
  async #install(snapshot: Snapshot): Promise<void> {
    const { index } = snapshot.metadata;
    const started = this.#clock.monotonic();
    this.#savedSnapshotIndex = Math.max(this.#savedSnapshotIndex, index);
    this.#installing = true;
    try {
      const [sm] = await Promise.all([
        runInSlices(StateMachine.restoreSteps(snapshot.data), { clock: this.#clock }),
        this.#opts.storage.saveSnapshot(snapshot),
      ]);
      this.#sm = sm;
      this.#snapshotData.durable(index);
      this.#refreshPeers();
      this.#restoredFrom = index;
      this.counters.snapshotsInstalled++;
      this.counters.lastSnapshotBytes = this.#snapshotBytes = snapshot.data.byteLength;
      this.#appliedBytesAtSnapshot = this.#appliedBytes;
    } finally {
      this.#installing = false;
    }
    this.#log.log("info", "snapshot installed", {
      index,
      bytes: snapshot.data.byteLength,
      ms: Math.round(this.#clock.monotonic() - started),
    });
  }

  /**
   * Each campaign with the term it is for, and its outcome, at info (a cluster once climbed
   * through 130 terms with nothing in its logs). Checked on every Ready, not only when the
   * soft state changes: repeated pre-votes leave it unchanged.
   */
  #logCampaigns(): void {
    const now = this.#raw.campaignState();
    for (const e of campaignEvents(this.#lastCampaign, now)) {
      if (e.event === "campaign started") this.counters.campaigns++;
      this.#log.log("info", e.event, e.fields);
    }
    this.#lastCampaign = now;
  }

  #onSoftState(leader: NodeId, role: string): void {
    if (leader !== this.#lastLeader) {
      if (leader === 0) this.counters.leaderLosses++;
      else this.counters.leaderChanges++;
      this.#log.log("info", leader === 0 ? "leader lost" : "leader changed", {
        leader,
        term: this.#raw.view.term,
        role,
      });
      this.#lastLeader = leader;
      this.#forwarding.leaderChanged();
    }
    if (leader === this.id) this.#lastContact = this.#clock.now();
  }

  #checkAlive(): void {
    // The failure itself is logged (`#fail`); a caller learns only that nothing was proposed.
    if (this.#failure) throw new NodeStoppedError("the node stopped after a failure");
    if (this.#stopped) throw new NodeStoppedError("the node is stopping");
  }

  #fail(e: Error): void {
    // A failed disk write leaves the core ahead of the disk: the only safe move is to stop.
    this.#failure = e;
    this.#log.log("error", "node failed; stopping", { error: String(e), stack: e.stack });
    void this.stop();
  }

  /** Whether the node stopped because of an error (the process should exit). */
  get failure(): Error | undefined {
    return this.#failure;
  }

  /** Stops ticking, closes the transport and the storage. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#clock.clearTimeout(this.#ticker);
    if (this.#stayTimer !== undefined) this.#clock.clearTimeout(this.#stayTimer);
    this.#reads.close();
    this.lockWaits.close();
    for (const w of this.#confWaiters.values()) {
      w.reject(new MembershipError("outcome-unknown", "the node stopped; the change may be made"));
    }
    this.#confWaiters.clear();
    // They were proposed and may be committed (and applied by the others): not a refusal.
    this.#pending.close(
      new OutcomeUnknownError("the node stopped before the proposal was applied; it may still be"),
    );
    await this.transport.close();
    this.#wakeLoop?.(); // a clock that no longer fires timers must not hold the loop
    await this.#loopDone; // a Ready in progress finishes its disk write before storage closes
    this.#encoded?.resolve(undefined);
    await this.#compaction; // so does a snapshot being written
    this.#opts.storage.close();
    this.#log.log("info", "node stopped");
  }
}
