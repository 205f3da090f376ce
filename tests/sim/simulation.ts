/**
 * The deterministic simulation of the node that ships: N real `RaftNode`s (src/node), with the
 * real state machine (src/state), on simulated disks and a simulated network (`sim_io.ts`)
 * under one seeded scheduler of virtual time (`scheduler.ts`). The nemesis drops, delays,
 * reorders and duplicates messages (a duplicate may come a second late), partitions the
 * network (symmetric, one-way, bridge; half of them hold messages until they heal), crashes
 * nodes (losing unfinished disk writes), restarts them from their disks, slows disks and lets
 * wall clocks drift (any two within 1 % of each other), while clients write, compare-and-set and read through the
 * node-level API the HTTP routes use (`submit`, which forwards to the leader, and
 * `linearizableRead`), and lock clients (each on its own drifting clock) try-lock
 * or wait briefly through `lockWaits.acquire`, renew and release; lock safety is checked by
 * the clients' own reckoning (`locks.ts`).
 *
 * Two seeds in five aim faults at leaders (cut off when just elected, crashed or cut off right
 * after an early commit: the Raft paper's figure 8), and one in seven runs over a WAN whose
 * round trips exceed the election timeout, through the faults and after them
 * (`nemesis.ts`).
 *
 * With `membership` (the command line's default), the membership nemesis
 * (`membership_nemesis.ts`) adds learners (started from a member's backup, as `--join` does),
 * promotes, removes (the leader too) and replaces crashed voters among the other faults; a node
 * told it was removed stops, and a removed node is never restarted.
 *
 * After every event the five safety properties are checked on the cores (`invariants.ts`); at
 * the end the client history is checked for linearizability (`tests/checker`), then faults
 * stop and a leader must commit a new write within a bound (on a WAN seed too, which only
 * election back-off makes possible).
 *
 * @module
 */

import { startFromBackup } from "../../src/node/bootstrap.ts";
import { NodeStoppedError, NoLeaderError, OutcomeUnknownError } from "../../src/node/errors.ts";
import { ProposalTimeoutError, RaftNode } from "../../src/node/raft_node.ts";
import { ReadTimeoutError } from "../../src/node/read_barrier.ts";
import type { Logger } from "../../src/node/logger.ts";
import type { RaftStorage } from "../../src/storage/raft_storage.ts";
import type { RaftConfig } from "../../src/raft/config.ts";
import { decodeConfChange } from "../../src/raft/conf_change.ts";
import type { CoreView } from "../../src/raft/raw_node.ts";
import type { NodeId } from "../../src/raft/types.ts";
import type { ApplyOutcome } from "../../src/state/results.ts";
import { HistoryRecorder, type JsonValue, pairOperations } from "../checker/history.ts";
import { checkHistory, type CheckResult } from "../checker/linearizability.ts";
import { Prng } from "../checker/prng.ts";
import { registerModel } from "../checker/register_model.ts";
import { buggyCore, type BugName } from "./bugs.ts";
import { SafetyChecker, SafetyViolation } from "./invariants.ts";
import { LockChecker, LockViolation } from "./locks.ts";
import {
  type MembershipHost,
  MembershipNemesis,
  type MembershipTally,
} from "./membership_nemesis.ts";
import { Nemesis } from "./nemesis.ts";
import { Scheduler, type SimClock } from "./scheduler.ts";
import { SimDisk, SimNetwork, STEP_MS } from "./sim_io.ts";

/** Settings of one run. */
export interface SimOptions {
  seed: number;
  nodes?: number;
  /** Nemesis steps of the fault phase (each `STEP_MS` of virtual time). Default 4000. */
  steps?: number;
  /** Virtual ms allowed after healing for a write to commit. Default 10,000. */
  livenessMs?: number;
  clients?: number;
  keys?: number;
  /** Clients that acquire, renew and release locks. Default 3. */
  lockClients?: number;
  /** A deliberate bug in every core (`bugs.ts`), to show the checks catch it. */
  bug?: BugName;
  /** Run over a WAN (round trips above the election timeout); default: by the seed. */
  wan?: boolean;
  /** Settings of every node's core over the simulator's own (e.g. `electionBackoffLimit`). */
  raft?: Partial<RaftConfig>;
  /** Change membership among the faults (`membership_nemesis.ts`). Default false. */
  membership?: boolean;
  /**
   * Report each crash to the peers as a lost connection (`SimNetwork.connectionLoss`), as real
   * sockets do. Default true; the seeds found before it existed replay with false.
   */
  connectionLoss?: boolean;
  /** Where the nodes log, given the node's id and the virtual time (replaying a seed). */
  logger?: (id: NodeId, now: number) => Logger;
}

/** The outcome of a run. */
export interface SimReport {
  seed: number;
  /** Scheduler events run (timers, deliveries, disk completions, nemesis steps). */
  steps: number;
  /** Virtual ms simulated. */
  virtualMs: number;
  violation?: string;
  property?: string;
  linearizability?: CheckResult;
  live: boolean;
  /** Virtual ms the healed cluster needed to commit a write. */
  recoveryMs: number;
  /** The one-way latency of every message in ms (0 on a LAN; above 100 on a WAN seed). */
  latencyMs: number;
  ops: number;
  /** Lock operations the lock clients completed (acquire, renew, release). */
  lockOps: number;
  /** Intervals the lock clients trusted a grant for (each checked against all others). */
  lockTrusted: number;
  committed: number;
  crashes: number;
  elections: number;
  /** Snapshots a leader read back from its disk to send (their data was kept on disk only). */
  snapshotsReadBack: number;
  /** Commit advances checked against the disks of the leader's voters. */
  commitQuorumChecks: number;
  /** The membership changes made and refused, when the run changed membership. */
  membership?: MembershipTally;
  /** When the healed cluster made no progress: what its live nodes were waiting for. */
  stuck?: string;
}

const TICK_MS = 10;
/**
 * A leader this new may still be committing what earlier terms left (its own entries on their
 * way to a majority): the figure-8 window the nemesis aims crashes at.
 */
const YOUNG_LEADER_MS = 300;
/** How long a client waits before it records "unknown outcome". */
const OP_TIMEOUT_MS = 1500;

interface ClientOp {
  process: number;
  f: "read" | "write" | "cas";
  key: string;
  value: JsonValue;
  start: number;
  done: boolean;
  outcome?: "ok" | "fail" | "info";
}

/** A client of locks; `gen` tells a late answer from the current one. */
interface LockClient {
  id: number;
  driftPpm: number;
  gen: number;
  busySince?: number;
  held?: { name: string; token: number; ttlMs: number; trusted?: ReturnType<LockChecker["trust"]> };
}

/**
 * How far each clock's rate may be off true time, in parts per million: ±0.5 %, so that any two
 * clocks measure an interval within 1 % of each other, the bound lock safety is documented to
 * assume (src/state/lock_table.ts, MAX_DRIFT). Drawn at ±1 % per clock, two clocks can be 2 %
 * apart: a lone voter (membership changes leave one) grants a lock with no round trip, and a
 * holder trusting 99 % of the TTL on a slow clock then outlives the lease by up to 1 % (seed 483
 * did, by 0.6 ms).
 */
const DRIFT_PPM = 5000;
/**
 * The least `renewMargin` a holder keeps (docs/api.md): stamps are whole milliseconds, so a
 * lease can end up to 1 ms before the exact reckoning says.
 */
const LOCK_MARGIN_MS = 1;

/** Lock names the lock clients contend for. */
const LOCK_NAMES = ["L0", "L1"];
/** After this long a lock client gives up on an answer (and so never trusts it). */
const LOCK_OP_TIMEOUT_MS = 8000;

/** One server across its incarnations. */
interface Server {
  id: NodeId;
  /** One of the founding voters (started with `peers`), else a node that joined. */
  founder: boolean;
  /** An applied change removed it: it stopped and is never started again. */
  removed?: boolean;
  disk: SimDisk;
  node?: RaftNode;
  clock?: SimClock;
  up: boolean;
  /** What the last check saw of this node's core, to notice a new leader or a commit. */
  seen?: { role: string; term: number; committed: number; since: number };
}

/** A node answered a client in a way no API route expects (a bug in the node, not the core). */
class ClientError extends Error {
  override name = "ClientError";
}

/**
 * Runs one seed against real nodes.
 *
 * @example
 * ```ts ignore
 * import { Simulation } from "./simulation.ts";
 * const report = await new Simulation({ seed: 1, steps: 2000 }).run();
 * console.log(report.violation ?? "safe");
 * ```
 */
export class Simulation {
  readonly opts:
    & Required<
      Omit<SimOptions, "bug" | "wan" | "raft" | "membership" | "connectionLoss" | "logger">
    >
    & SimOptions;
  readonly prng: Prng;
  readonly scheduler: Scheduler;
  readonly nemesis: Nemesis;
  readonly network: SimNetwork;
  readonly checker = new SafetyChecker({
    durable: (id, index) => this.#byId.get(id)?.disk.durableTerm(index),
    votes: true,
  });
  readonly locks = new LockChecker();
  readonly #lockClients: LockClient[] = [];
  #lockOps = 0;
  readonly history: HistoryRecorder;
  readonly servers: Server[] = [];
  readonly #byId = new Map<NodeId, Server>();
  /** Ids an applied change removed (never reused, so never members again). */
  readonly #removedIds = new Set<NodeId>();
  readonly members?: MembershipNemesis;
  #clients: (ClientOp | undefined)[];
  #opCounter = 0;
  #crashes = 0;
  /** Per key: values written with a known revision (what a compare-and-set may expect). */
  #revisions = new Map<string, Map<JsonValue, number>>();
  #failure?: Error;
  /** Whether the fault phase is on (the liveness phase after healing has no faults). */
  #faulting = false;
  readonly #raft: Partial<RaftConfig>;

  constructor(options: SimOptions) {
    this.opts = {
      nodes: 3,
      steps: 4000,
      livenessMs: 10_000,
      clients: 4,
      keys: 3,
      lockClients: 3,
      ...options,
    };
    this.prng = new Prng(options.seed);
    this.scheduler = new Scheduler(this.prng);
    this.nemesis = new Nemesis(this.prng, this.opts.nodes, options.wan);
    this.network = new SimNetwork(this.scheduler, this.nemesis);
    this.network.connectionLoss = options.connectionLoss ?? true;
    this.history = new HistoryRecorder({ now: () => Math.round(this.scheduler.now * 1000) });
    this.#clients = new Array(this.opts.clients).fill(undefined);
    for (let c = 0; c < this.opts.lockClients; c++) {
      // Each lock client's own clock drifts too.
      this.#lockClients.push({
        id: c,
        driftPpm: this.prng.int(2 * DRIFT_PPM + 1) - DRIFT_PPM,
        gen: 0,
      });
    }
    this.#raft = {
      electionTicks: 10,
      heartbeatTicks: 2,
      // Over a WAN, tiny messages (8 in flight a round trip) could not keep up with the
      // clients at all: the backlog, not the elections, would decide liveness.
      maxSizePerMsg: this.prng.pick(this.nemesis.latency > 0 ? [4096, 65536] : [1, 64, 512, 4096]),
      maxInflightMsgs: 8,
      // Small, so that catching up is applied over several Readies here too.
      maxCommittedSizePerReady: 1024,
      snapshotChunkBytes: 1024,
      ...options.raft,
    };
    for (let id = 1; id <= this.opts.nodes; id++) {
      this.#addServer(id, true);
    }
    this.network.onDeliver = (m) => this.checker.onDeliver(m);
    if (options.membership) this.members = new MembershipNemesis(this.#membershipHost());
  }

  #addServer(id: NodeId, founder: boolean): Server {
    const server: Server = { id, founder, disk: new SimDisk(this.scheduler, id), up: false };
    this.servers.push(server);
    this.#byId.set(id, server);
    this.nemesis.setNodes(this.servers.map((s) => s.id));
    return server;
  }

  /** The report of the run under way (counted into by the nodes' log lines). */
  #report?: SimReport;

  /** Runs the fault phase, then the liveness phase, then checks the history. */
  async run(): Promise<SimReport> {
    const report: SimReport = {
      seed: this.opts.seed,
      steps: 0,
      virtualMs: 0,
      live: false,
      recoveryMs: 0,
      latencyMs: this.nemesis.latency * STEP_MS,
      ops: 0,
      lockOps: 0,
      lockTrusted: 0,
      committed: 0,
      crashes: 0,
      elections: 0,
      snapshotsReadBack: 0,
      commitQuorumChecks: 0,
    };
    this.#report = report;
    const s = this.scheduler;
    try {
      for (const server of this.servers) {
        // Staggered, so the nodes' ticks do not line up.
        s.after(this.prng.int(TICK_MS), () => this.#start(server));
      }
      const faultMs = this.opts.steps * STEP_MS;
      for (let i = 1; i <= this.opts.steps; i++) {
        s.at(i * STEP_MS, () => {
          this.#faults();
          this.network.release();
          this.#clientsAct();
        });
      }
      this.#faulting = true;
      await this.#run(faultMs);
      this.#faulting = false;
      this.#heal();
      const healedAt = s.now;
      report.live = await this.#untilWriteCommits();
      report.recoveryMs = s.now - healedAt;
      if (report.live) await this.#finalReads();
      else report.stuck = this.#whyStuck();
    } catch (e) {
      report.violation = e instanceof Error ? e.message : String(e);
      report.property = e instanceof SafetyViolation || e instanceof LockViolation
        ? e.property
        : e instanceof ClientError
        ? "client"
        : "core invariant";
    }
    for (const server of this.servers) server.clock?.kill();
    report.steps = s.events;
    report.virtualMs = s.now;
    report.committed = this.checker.committed.length;
    report.lockOps = this.#lockOps;
    report.lockTrusted = this.locks.trusted;
    report.crashes = this.#crashes;
    report.elections = this.checker.leaderTerms;
    report.commitQuorumChecks = this.checker.commitQuorumChecks;
    if (this.members) report.membership = this.members.tally;
    if (!report.violation) {
      const ops = pairOperations(this.history.events);
      report.ops = ops.length;
      report.linearizability = checkHistory(ops, registerModel);
      if (report.linearizability.verdict === "violation") {
        report.violation = `linearizability: key ${report.linearizability.key}`;
        report.property = "linearizability";
      }
    }
    return report;
  }

  /** Runs events up to `until`, checking safety after each; stops early when `done` says so. */
  async #run(until: number, done?: () => boolean): Promise<boolean> {
    return await this.scheduler.runUntil(until, () => {
      this.#check();
      return done?.();
    });
  }

  #check(): void {
    if (this.#failure) throw this.#failure;
    const live = new Map<NodeId, CoreView>();
    for (const server of this.servers) {
      const node = server.node;
      if (!server.up || !node) continue;
      // A core invariant thrown inside the node's loop stops the node: that is a finding.
      if (node.failure) throw node.failure;
      live.set(server.id, node.coreView());
    }
    this.checker.observe(live);
    this.#aimAtLeaders(live);
  }

  /**
   * The nemesis's faults aimed at leaders: a new leader may be cut off at once, and a leader
   * whose commit index just advanced may crash before it does anything else.
   */
  #aimAtLeaders(live: Map<NodeId, CoreView>): void {
    for (const [id, v] of live) {
      const server = this.#byId.get(id)!;
      const seen = server.seen;
      const newLeader = v.role === "leader" && (seen?.role !== "leader" || seen.term !== v.term);
      server.seen = {
        role: v.role,
        term: v.term,
        committed: v.committed,
        since: newLeader ? this.scheduler.now : seen?.since ?? 0,
      };
      if (v.role !== "leader" || !this.#faulting) continue;
      if (newLeader) {
        if (this.nemesis.onNewLeader(id)) this.network.release();
      } else if (seen && v.committed > seen.committed) {
        const young = this.scheduler.now - seen.since < YOUNG_LEADER_MS;
        const fault = this.nemesis.afterCommit(id, young);
        if (fault === "crash") this.#crash(server);
        else if (fault === "isolated") this.network.release();
      }
    }
  }

  /**
   * Starts an incarnation of `server` from its disk; `prepare` first writes that disk (a node
   * that joins starts from a member's backup).
   */
  #start(server: Server, prepare?: (storage: RaftStorage) => Promise<void>): void {
    const clock = this.scheduler.clock();
    // Wall clocks drift (any two within the documented 1 %); leases are decided from the log's
    // stamps, so nothing may depend on the nodes agreeing about the time.
    clock.driftPpm = this.prng.int(2 * DRIFT_PPM + 1) - DRIFT_PPM;
    server.clock = clock;
    server.up = true;
    const id = server.id;
    const storage = server.disk.open((entries) => {
      return server.node ? this.checker.persisting(id, server.node.coreView(), entries) : undefined;
    });
    // The founding voters' flags; a node that joined has none (its membership is on its disk).
    const peers = new Map(
      this.servers.filter((s) => s.founder && server.founder).map((s) => [s.id, `sim://${s.id}`]),
    );
    this.checker.onRestart(id);
    (prepare ? prepare(storage) : Promise.resolve()).then(() =>
      RaftNode.start({
        id,
        peers,
        storage,
        transport: (events) => this.network.attach(id, events),
        logger: this.#logger(id),
        tickMs: TICK_MS,
        raft: this.#raft,
        snapshotEntries: 20 + this.prng.int(60),
        // By entry count alone, so that snapshots come often enough to be raced by every fault;
        // the byte rule itself is a pure function with its own tests (snapshot_policy_test.ts).
        snapshotPolicy: { logRatio: 0 },
        // Dropped as soon as it is durable: every snapshot sent is read back from the disk.
        snapshotHoldMs: 0,
        requestTimeoutMs: 1000,
        clock,
        core: this.opts.bug && buggyCore(this.opts.bug),
        onEntryApplied: (e) => {
          this.checker.onApply(id, e);
          if (e.type === "conf") this.#noteConf(e.data);
        },
        onRemoved: () => this.scheduler.after(0, () => this.#stopRemoved(server, clock)),
      })
    ).then((node) => {
      if (clock.dead) return; // crashed while starting
      server.node = node;
    }, (e) => {
      this.#failure ??= e as Error;
    });
  }

  #logger(id: NodeId): Logger {
    return {
      log: (...args) => {
        if (args[1] === "snapshot read back to send" && this.#report) {
          this.#report.snapshotsReadBack++;
        }
        this.opts.logger?.(id, this.scheduler.now).log(...args);
      },
    };
  }

  /** An applied membership change (committed, so true for the whole cluster from now on). */
  #noteConf(data: Uint8Array): void {
    const cc = decodeConfChange(data);
    if (cc.type === "removeNode") this.#removedIds.add(cc.nodeId);
  }

  /** The node learned it was removed: the process exits (its disk stays, unused). */
  #stopRemoved(server: Server, clock: SimClock): void {
    server.removed = true;
    if (server.clock !== clock || !server.up) return; // that incarnation is gone already
    server.seen = undefined;
    clock.kill();
    server.disk.crash();
    this.network.detach(server.id);
    server.node = undefined;
    server.up = false;
  }

  #isRemoved(server: Server): boolean {
    return server.removed === true || this.#removedIds.has(server.id);
  }

  #membershipHost(): MembershipHost {
    return {
      prng: this.prng,
      sleep: (ms) => new Promise((resolve) => this.scheduler.after(ms, resolve)),
      liveNodes: () =>
        this.servers.filter((s) => s.up && s.node && !this.#isRemoved(s)).map((s) => s.node!),
      downIds: () => this.servers.filter((s) => !s.up && !this.#isRemoved(s)).map((s) => s.id),
      usedIds: () => this.servers.map((s) => s.id),
      join: (id) => this.#join(id),
      faulting: () => this.#faulting,
      fail: (e) => {
        this.#failure ??= new ClientError(e.message);
      },
    };
  }

  /**
   * Starts new node `id` as `--join` does once the member added it: from a live member's backup
   * (another member's if that one does not answer in time), with no peers of its own.
   */
  async #join(id: NodeId): Promise<void> {
    if (this.#byId.has(id)) return; // the simulation knows this id: never started twice
    for (let attempt = 0; attempt < 3; attempt++) {
      const live = this.servers.filter((s) => s.up && s.node && !this.#isRemoved(s));
      if (live.length === 0) return;
      const via = this.prng.pick(live).node!;
      const backup = await Promise.race([
        via.backup().catch(() => undefined),
        new Promise<undefined>((resolve) => this.scheduler.after(2000, () => resolve(undefined))),
      ]);
      if (!backup) continue;
      if (this.#byId.has(id)) return;
      const server = this.#addServer(id, false);
      this.#start(server, (storage) => startFromBackup(storage, backup));
      return;
    }
  }

  // ---- faults ------------------------------------------------------------------------------

  #faults(): void {
    const action = this.nemesis.next(this.#leader()?.id);
    if (action === "crash") {
      const live = this.servers.filter((s) => s.up);
      if (live.length > 0) this.#crash(this.prng.pick(live));
    } else if (action === "restart") {
      const down = this.servers.filter((s) => !s.up && !this.#isRemoved(s));
      if (down.length > 0) this.#start(this.prng.pick(down));
    } else if (action === "slowDisk") {
      const server = this.prng.pick(this.servers);
      server.disk.slow = !server.disk.slow;
    }
    this.members?.step();
  }

  #crash(server: Server): void {
    server.seen = undefined;
    server.clock?.kill();
    server.disk.crash();
    this.network.detach(server.id);
    server.node = undefined;
    server.up = false;
    this.#crashes++;
  }

  #heal(): void {
    this.nemesis.heal();
    this.network.release();
    for (const server of this.servers) {
      server.disk.slow = false;
      // Every member comes back: the liveness check needs the current voters.
      if (!server.up && !this.#isRemoved(server)) this.#start(server);
    }
  }

  // ---- clients -----------------------------------------------------------------------------

  #clientsAct(): void {
    for (let p = 0; p < this.#clients.length; p++) {
      const op = this.#clients[p];
      if (op && !op.done && this.scheduler.now - op.start > OP_TIMEOUT_MS) {
        this.#answer(op, "info", op.f === "read" ? null : op.value);
      }
      if (!this.#clients[p] && this.prng.chance(0.1)) this.#invoke(p);
    }
    for (const c of this.#lockClients) {
      if (c.busySince !== undefined && this.scheduler.now - c.busySince > LOCK_OP_TIMEOUT_MS) {
        c.busySince = undefined;
        c.gen++;
      }
      // A holder renews or releases now and then (its lease may lapse first); others try often.
      if (c.busySince === undefined && this.prng.chance(c.held ? 0.0015 : 0.05)) this.#lockAct(c);
    }
  }

  /** True virtual ms at which a lease counted from `sentAt` ends by client `c`'s clock. */
  #trustEnd(c: LockClient, sentAt: number, ttlMs: number): number {
    return sentAt + (ttlMs * 0.99 - LOCK_MARGIN_MS) / (1 + c.driftPpm / 1e6);
  }

  /** Records a trusted interval; a breach stops the run at the next event. */
  #trust(...args: Parameters<LockChecker["trust"]>): ReturnType<LockChecker["trust"]> {
    try {
      return this.locks.trust(...args);
    } catch (e) {
      this.#failure ??= e as Error;
      return undefined;
    }
  }

  #lockAct(c: LockClient): void {
    const s = this.scheduler;
    const server = this.prng.pick(this.servers);
    const node = server.up ? server.node : undefined;
    const held = c.held;
    if (held && (held.trusted?.end ?? 0) <= s.now) c.held = undefined; // lapsed
    if (!node) return; // connection refused
    const gen = ++c.gen;
    const sentAt = s.now;
    c.busySince = sentAt;
    const settle = (): boolean => {
      if (c.gen !== gen) return false;
      c.busySince = undefined;
      this.#lockOps++;
      return true;
    };
    const failed = (e: unknown) => {
      if (c.gen !== gen) return;
      c.busySince = undefined;
      if (
        !(e instanceof NoLeaderError || e instanceof ReadTimeoutError ||
          e instanceof NodeStoppedError || e instanceof ProposalTimeoutError ||
          e instanceof OutcomeUnknownError)
      ) this.#failure ??= new ClientError(`lock client failed unexpectedly: ${e}`);
    };
    if (c.held) {
      const { name, token, ttlMs } = c.held;
      if (this.prng.chance(0.5)) {
        node.submit({ cmd: { op: "renew", name, token } }).then((outcome) => {
          if (!settle()) return;
          const r = outcome.result;
          if (r.ok && c.held?.token === token) {
            c.held.trusted = this.#trust(
              name,
              c.id,
              token,
              s.now,
              this.#trustEnd(c, sentAt, ttlMs),
            ) ?? c.held.trusted;
          }
        }, failed);
      } else {
        // From the moment it sends a release the client no longer trusts the lock.
        this.locks.stop(name, c.held.trusted, sentAt);
        c.held = undefined;
        node.submit({ cmd: { op: "release", name, token } }).then(() => void settle(), failed);
      }
      return;
    }
    const name = this.prng.pick(LOCK_NAMES);
    const ttlMs = 1000 + this.prng.int(2000);
    const waitMs = this.prng.chance(0.5) ? 0 : this.prng.int(1500);
    const cmd = { op: "acquire" as const, name, owner: `c${c.id}`, ttlMs, waitMs };
    node.lockWaits.acquire(cmd, { propose: () => node.submit({ cmd }) }).then(({ end }) => {
      if (!settle()) return;
      if (end.type !== "granted") return;
      const trusted = this.#trust(
        name,
        c.id,
        end.token,
        s.now,
        this.#trustEnd(c, sentAt, ttlMs),
      );
      if (trusted) c.held = { name, token: end.token, ttlMs, trusted };
    }, failed);
  }

  #invoke(process: number, f?: ClientOp["f"], key?: string, at?: Server): ClientOp {
    key ??= `k${this.prng.int(this.opts.keys)}`;
    f ??= this.prng.pick(["read", "read", "write", "write", "cas"] as const);
    const id = ++this.#opCounter;
    const known = this.#revisions.get(key) ?? new Map<JsonValue, number>([[null, 0]]);
    this.#revisions.set(key, known);
    let value: JsonValue = null;
    let ifRevision: number | undefined;
    if (f === "write") value = id;
    if (f === "cas") {
      const expected = this.prng.pick([...known.keys()].slice(-3));
      ifRevision = known.get(expected);
      value = [expected, id];
    }
    const op: ClientOp = { process, f, key, value, start: this.scheduler.now, done: false };
    this.#clients[process] = op;
    this.history.invoke(process, f, key, f === "read" ? null : value);
    const server = at ?? this.prng.pick(this.servers);
    const node = server.up ? server.node : undefined;
    if (!node) {
      this.#answer(op, "fail", op.value); // connection refused: certainly not applied
      return op;
    }
    if (f === "read") {
      node.linearizableRead().then(
        () => this.#answer(op, "ok", (node.getValue(key)?.value as JsonValue) ?? null),
        (e) => this.#failed(op, e),
      );
    } else {
      const written = f === "write" ? id : (value as JsonValue[])[1];
      const cmd = ifRevision === undefined
        ? { op: "put" as const, key, value: written }
        : { op: "put" as const, key, value: written, ifRevision };
      node.submit({ cmd }).then(
        (outcome: ApplyOutcome) => {
          const result = outcome.result as { ok: boolean; revision?: number };
          if (result.ok && result.revision !== undefined) known.set(written, result.revision);
          this.#answer(op, result.ok ? "ok" : "fail", op.value);
        },
        (e) => this.#failed(op, e),
      );
    }
    return op;
  }

  #failed(op: ClientOp, e: unknown): void {
    if (
      e instanceof NoLeaderError || e instanceof ReadTimeoutError || e instanceof NodeStoppedError
    ) {
      this.#answer(op, "fail", op.value); // never proposed, or a read: nothing happened
    } else if (e instanceof ProposalTimeoutError || e instanceof OutcomeUnknownError) {
      this.#answer(op, "info", op.value);
    } else {
      this.#failure ??= new ClientError(`client ${op.f} failed unexpectedly: ${e}`);
    }
  }

  #answer(op: ClientOp, type: "ok" | "fail" | "info", value: JsonValue): void {
    if (op.done) return;
    op.done = true;
    op.outcome = type;
    if (type === "ok") this.history.ok(op.process, op.f, op.key, value);
    else if (type === "fail") this.history.fail(op.process, op.f, op.key, value);
    else this.history.info(op.process, op.f, op.key, value);
    if (this.#clients[op.process] === op) this.#clients[op.process] = undefined;
  }

  #leader(): Server | undefined {
    return this.servers.find((s) => s.up && !this.#isRemoved(s) && s.node?.isLeader());
  }

  /** After healing: a leader must emerge and commit a new write within the bound. */
  async #untilWriteCommits(): Promise<boolean> {
    const process = this.#clients.length; // a process of its own
    const s = this.scheduler;
    const deadline = s.now + this.opts.livenessMs;
    let op: ClientOp | undefined;
    while (s.now < deadline) {
      if (op && !op.done && s.now - op.start > OP_TIMEOUT_MS) this.#answer(op, "info", op.value);
      const leader = this.#leader();
      if (leader && (!op || op.done)) op = this.#invoke(process, "write", "k0", leader);
      if (await this.#run(s.now + TICK_MS, () => op?.outcome === "ok")) return true;
    }
    return false;
  }

  /**
   * What the live nodes of a cluster that made no progress wait for: above all, voters whose
   * configuration still counts a node that was removed (and has stopped).
   */
  #whyStuck(): string {
    const parts: string[] = [];
    for (const server of this.servers) {
      if (!server.up || !server.node || this.#isRemoved(server)) continue;
      const st = server.node.status();
      const gone = st.conf.voters.filter((v) => {
        const other = this.#byId.get(v);
        return !other || this.#isRemoved(other);
      });
      parts.push(
        `node ${server.id} ${st.role} (term ${st.term}, commit ${st.commit}, last ${st.lastIndex}, ` +
          `voters ${st.conf.voters.join(",")}` +
          (gone.length > 0 ? `: counts removed node ${gone.join(",")}` : "") + ")",
      );
    }
    return parts.join("; ") || "no live node";
  }

  /** Reads every key through the leader, so the history ends with what the cluster holds. */
  async #finalReads(): Promise<void> {
    const process = this.#clients.length + 1;
    const s = this.scheduler;
    for (let k = 0; k < this.opts.keys; k++) {
      const leader = this.#leader();
      if (!leader) return;
      const op = this.#invoke(process, "read", `k${k}`, leader);
      await this.#run(s.now + OP_TIMEOUT_MS, () => op.done);
      if (!op.done) this.#answer(op, "info", null);
    }
  }
}
