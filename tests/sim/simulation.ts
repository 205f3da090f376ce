/**
 * A deterministic simulation of a Raft cluster: N real cores on in-memory disks and an
 * in-memory network, driven by one seed through drops, delays, reordering, duplication,
 * partitions (symmetric and one-way), crashes that lose unpersisted writes, restarts and slow
 * disks, while clients write, compare-and-set and read. Every step is checked for safety; the
 * client history is checked for linearizability at the end.
 *
 * @module
 */

import { type UnsafeBugs, withDefaults } from "../../src/raft/config.ts";
import type { Raft } from "../../src/raft/raft.ts";
import { ProposalDroppedError, RawNode } from "../../src/raft/raw_node.ts";
import type { Entry, HardState, Message, NodeId, Ready, Snapshot } from "../../src/raft/types.ts";
import { HistoryRecorder, type JsonValue, pairOperations } from "../checker/history.ts";
import { checkHistory, type CheckResult } from "../checker/linearizability.ts";
import { Prng } from "../checker/prng.ts";
import { registerModel } from "../checker/register_model.ts";
import { SafetyChecker, SafetyViolation } from "./invariants.ts";
import { KvMachine } from "./kv_machine.ts";
import { Nemesis } from "./nemesis.ts";

/** Settings of one simulation run. */
export interface SimOptions {
  seed: number;
  nodes?: number;
  /** Steps of the fault phase; one step is a quarter of a tick. */
  steps?: number;
  /** Steps allowed after healing for a leader to be elected and a write to commit. */
  livenessSteps?: number;
  clients?: number;
  keys?: number;
  /** Bugs to switch on in every core, to show the checks catch them. */
  unsafe?: UnsafeBugs;
}

/** The outcome of a run. */
export interface SimReport {
  seed: number;
  steps: number;
  /** The first safety violation, or a thrown core invariant, if any. */
  violation?: string;
  property?: string;
  linearizability?: CheckResult;
  /** Whether the healed cluster elected a leader and committed a write in time. */
  live: boolean;
  /** Steps the healed cluster needed to commit a write. */
  recoverySteps: number;
  ops: number;
  committed: number;
  crashes: number;
  elections: number;
}

const STEPS_PER_TICK = 4;
const OP_TIMEOUT = 600;

interface Disk {
  hardState: HardState;
  entries: Entry[];
  snapshot?: Snapshot;
}

interface ClientOp {
  process: number;
  f: "read" | "write" | "cas";
  key: string;
  value: JsonValue;
  start: number;
  done: boolean;
  outcome?: "ok" | "fail" | "info";
}

/** One simulated server: a core, its disk, its state machine and the requests it holds. */
class SimNode {
  raw?: RawNode;
  disk: Disk = { hardState: { term: 0, vote: 0, commit: 0 }, entries: [] };
  sm = new KvMachine();
  /** A Ready whose disk write is in progress; `sent` when its messages already went out. */
  pending?: { rd: Ready; due: number; sent: boolean };
  slowDisk = false;
  /** Client writes proposed here, by op id. */
  writes = new Map<number, ClientOp>();
  /** Reads waiting for their ReadIndex, by context, then for the apply of that index. */
  reads = new Map<string, ClientOp>();
  readyReads: { index: number; op: ClientOp }[] = [];
  compactEvery = 0;
  constructor(readonly id: NodeId, readonly tickPhase: number) {}
}

/**
 * Runs one seed.
 *
 * @example
 * ```ts
 * import { Simulation } from "./simulation.ts";
 * const report = new Simulation({ seed: 1, steps: 2000 }).run();
 * console.log(report.violation ?? "safe");
 * ```
 */
export class Simulation {
  readonly prng: Prng;
  readonly opts: Required<Omit<SimOptions, "unsafe">> & { unsafe?: UnsafeBugs };
  readonly nodes: SimNode[] = [];
  readonly checker = new SafetyChecker();
  readonly history: HistoryRecorder;
  readonly nemesis: Nemesis;
  now = 0;
  #inflight: { m: Message; due: number }[] = [];
  #clients: (ClientOp | undefined)[] = [];
  #opCounter = 0;
  #crashes = 0;
  #written = new Map<string, JsonValue[]>();
  /** Varies by seed: 1 byte sends one entry a message, which opens rarer interleavings. */
  #maxSizePerMsg: number;

  constructor(options: SimOptions) {
    this.opts = {
      nodes: 3,
      steps: 4000,
      livenessSteps: 4000,
      clients: 4,
      keys: 3,
      ...options,
    };
    this.prng = new Prng(options.seed);
    this.#maxSizePerMsg = this.prng.pick([1, 64, 512, 4096]);
    this.history = new HistoryRecorder({ now: () => this.now });
    this.nemesis = new Nemesis(this.prng, this.opts.nodes);
    for (let i = 1; i <= this.opts.nodes; i++) {
      const node = new SimNode(i, this.prng.int(STEPS_PER_TICK));
      node.compactEvery = 20 + this.prng.int(60);
      this.nodes.push(node);
      this.#start(node);
    }
    this.#clients = new Array(this.opts.clients).fill(undefined);
  }

  #start(node: SimNode): void {
    const voters = Array.from({ length: this.opts.nodes }, (_, i) => i + 1);
    const cfg = withDefaults({
      id: node.id,
      random: () => this.prng.next(),
      electionTicks: 10,
      heartbeatTicks: 2,
      maxSizePerMsg: this.#maxSizePerMsg,
      maxInflightMsgs: 8,
      snapshotChunkBytes: 256,
      unsafe: this.opts.unsafe,
    });
    node.raw = new RawNode(cfg, {
      hardState: { ...node.disk.hardState },
      entries: [...node.disk.entries],
      snapshot: node.disk.snapshot,
      conf: { voters, learners: [] },
    });
    const snap = node.disk.snapshot;
    node.sm = snap ? KvMachine.restore(snap.data, snap.metadata.index) : new KvMachine();
    node.pending = undefined;
    node.writes.clear();
    node.reads.clear();
    node.readyReads = [];
    this.checker.onRestart(node.id);
  }

  /** Runs the fault phase, then the liveness phase, then checks the history. */
  run(): SimReport {
    const report: SimReport = {
      seed: this.opts.seed,
      steps: 0,
      live: false,
      recoverySteps: 0,
      ops: 0,
      committed: 0,
      crashes: 0,
      elections: 0,
    };
    try {
      for (let i = 0; i < this.opts.steps; i++) {
        this.#faults();
        this.step();
        this.#clientsAct();
      }
      this.#heal();
      const healedAt = this.now;
      report.live = this.#runUntilWriteCommits();
      report.recoverySteps = this.now - healedAt;
      if (report.live) this.#finalReads();
    } catch (e) {
      report.violation = e instanceof Error ? e.message : String(e);
      report.property = e instanceof SafetyViolation ? e.property : "core invariant";
    }
    report.steps = this.now;
    report.committed = this.checker.committed.length;
    report.crashes = this.#crashes;
    report.elections = this.checker.leaderTerms;
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

  /** One step: ticks that fall due, message deliveries, disk completions, Ready handling. */
  step(): void {
    this.now++;
    for (const node of this.nodes) {
      if (node.raw && (this.now + node.tickPhase) % STEPS_PER_TICK === 0) node.raw.tick();
    }
    this.#deliver();
    for (const node of this.nodes) this.#handleReady(node);
    const live = new Map<NodeId, Raft>();
    for (const node of this.nodes) if (node.raw) live.set(node.id, node.raw.raft);
    this.checker.observe(live);
  }

  #deliver(): void {
    const due: Message[] = [];
    const later: { m: Message; due: number }[] = [];
    for (const f of this.#inflight) {
      if (f.due <= this.now) due.push(f.m);
      else later.push(f);
    }
    if (due.length === 0) return;
    this.#inflight = later;
    this.prng.shuffle(due);
    for (const m of due) {
      const to = this.nodes[m.to - 1];
      if (!to?.raw) continue;
      if (this.nemesis.blocks(m.from, m.to)) continue;
      to.raw.step(m);
    }
  }

  #send(m: Message): void {
    const from = this.nodes[m.from - 1];
    if (this.nemesis.blocks(m.from, m.to)) {
      // The transport notices a dead link and tells the core, as the real one does.
      if (from.raw && this.prng.chance(0.3)) from.raw.reportUnreachable(m.to);
      return;
    }
    if (this.prng.chance(this.nemesis.dropRate)) return;
    const copies = this.prng.chance(this.nemesis.duplicateRate) ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      this.#inflight.push({ m, due: this.now + 1 + this.nemesis.delay() });
    }
  }

  #handleReady(node: SimNode): void {
    const raw = node.raw;
    if (!raw) return;
    if (node.pending) {
      if (node.pending.due > this.now) return;
      const { rd, sent } = node.pending;
      node.pending = undefined;
      this.#complete(node, rd, sent);
    }
    if (!raw.hasReady()) return;
    const rd = raw.ready();
    this.checker.onPersist(node.id, raw.raft, rd.entries);
    // As src/node/raft_node.ts does (thesis 10.2.1): a leader sends its messages while its own
    // write is in flight, unless the Ready changes its term or vote.
    const hs = rd.hardState;
    const early = raw.raft.role === "leader" &&
      (!hs || (hs.term === node.disk.hardState.term && hs.vote === node.disk.hardState.vote));
    if (early) { for (const m of rd.messages) this.#send(m); }
    const slow = node.slowDisk || this.prng.chance(0.05);
    if (slow) {
      node.pending = { rd, due: this.now + 1 + this.prng.int(node.slowDisk ? 40 : 8), sent: early };
    } else this.#complete(node, rd, early);
  }

  /** The disk write finished: persist, send (unless sent early), apply, answer, as a driver does. */
  #complete(node: SimNode, rd: Ready, sent: boolean): void {
    const disk = node.disk;
    if (rd.snapshot) {
      disk.snapshot = rd.snapshot;
      disk.entries = disk.entries.filter((e) => e.index > rd.snapshot!.metadata.index);
      node.sm = KvMachine.restore(rd.snapshot.data, rd.snapshot.metadata.index);
    }
    if (rd.entries.length > 0) {
      const first = rd.entries[0].index;
      disk.entries = disk.entries.filter((e) => e.index < first).concat(rd.entries);
    }
    if (rd.hardState) disk.hardState = rd.hardState;
    if (!sent) { for (const m of rd.messages) this.#send(m); }
    for (const e of rd.committedEntries) {
      this.checker.onApply(node.id, e);
      const result = node.sm.apply(e);
      const op = result && node.writes.get(result.op);
      if (op && result) {
        node.writes.delete(result.op);
        this.#answer(op, result.ok ? "ok" : "fail", op.value);
      }
    }
    for (const rs of rd.readStates) {
      const key = new TextDecoder().decode(rs.context);
      const op = node.reads.get(key);
      if (op) {
        node.reads.delete(key);
        node.readyReads.push({ index: rs.index, op });
      }
    }
    node.readyReads = node.readyReads.filter(({ index, op }) => {
      if (index > node.sm.appliedIndex) return true;
      this.#answer(op, "ok", node.sm.read(op.key));
      return false;
    });
    node.raw!.advance(rd);
    this.#maybeCompact(node);
  }

  #maybeCompact(node: SimNode): void {
    const raw = node.raw!;
    const applied = node.sm.appliedIndex;
    if (applied - raw.raft.log.offset < node.compactEvery) return;
    if (applied > raw.raft.log.stabled) return;
    const snap = raw.compact(applied, node.sm.snapshot());
    node.disk.snapshot = snap;
    node.disk.entries = node.disk.entries.filter((e) => e.index > applied);
  }

  // ---- faults ------------------------------------------------------------------------------

  #faults(): void {
    const action = this.nemesis.next();
    if (action === "crash") {
      const live = this.nodes.filter((n) => n.raw);
      if (live.length === 0) return;
      const node = this.prng.pick(live);
      node.raw = undefined; // memory and the unfinished disk write are gone
      node.pending = undefined;
      this.#crashes++;
    } else if (action === "restart") {
      const down = this.nodes.filter((n) => !n.raw);
      if (down.length > 0) this.#start(this.prng.pick(down));
    } else if (action === "slowDisk") {
      const node = this.prng.pick(this.nodes);
      node.slowDisk = !node.slowDisk;
    }
  }

  #heal(): void {
    this.nemesis.heal();
    for (const node of this.nodes) {
      node.slowDisk = false;
      if (!node.raw) this.#start(node);
    }
  }

  // ---- clients -----------------------------------------------------------------------------

  #clientsAct(): void {
    for (let p = 0; p < this.#clients.length; p++) {
      const op = this.#clients[p];
      if (op && !op.done && this.now - op.start > OP_TIMEOUT) {
        this.#answer(op, "info", op.f === "read" ? null : op.value);
      }
      if (!this.#clients[p] && this.prng.chance(0.1)) this.#invoke(p);
    }
  }

  #invoke(process: number, f?: ClientOp["f"], key?: string, at?: SimNode): ClientOp {
    key ??= `k${this.prng.int(this.opts.keys)}`;
    f ??= this.prng.pick(["read", "read", "write", "write", "cas"] as const);
    const id = ++this.#opCounter;
    let value: JsonValue = null;
    if (f === "write") value = id;
    if (f === "cas") {
      const written = this.#written.get(key) ?? [null];
      value = [this.prng.pick(written.slice(-3)), id];
    }
    const op: ClientOp = { process, f, key, value, start: this.now, done: false };
    this.#clients[process] = op;
    this.history.invoke(process, f, key, f === "read" ? null : value);
    const node = at ?? this.prng.pick(this.nodes);
    if (!node.raw) {
      this.#answer(op, "fail", op.value); // connection refused: certainly not applied
      return op;
    }
    try {
      if (f === "read") {
        node.reads.set(String(id), op);
        node.raw.readIndex(new TextEncoder().encode(String(id)));
      } else {
        if (f === "write") this.#written.set(key, [...(this.#written.get(key) ?? []), id]);
        node.writes.set(id, op);
        node.raw.propose(
          new TextEncoder().encode(JSON.stringify({ op: id, f, key, value })),
        );
      }
    } catch (e) {
      if (!(e instanceof ProposalDroppedError)) throw e;
      node.writes.delete(id);
      this.#answer(op, "fail", op.value);
    }
    return op;
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

  /** After healing: a leader must emerge and commit a new write within the bound. */
  #runUntilWriteCommits(): boolean {
    const process = this.#clients.length; // a process of its own
    const deadline = this.now + this.opts.livenessSteps;
    let op: ClientOp | undefined;
    while (this.now < deadline) {
      this.step();
      if (op?.outcome === "ok") return true;
      if (op && !op.done && this.now - op.start > OP_TIMEOUT) this.#answer(op, "info", op.value);
      const leader = this.nodes.find((n) => n.raw?.raft.role === "leader");
      if (leader && (!op || op.done)) op = this.#invoke(process, "write", "k0", leader);
    }
    return false;
  }

  /** Reads every key through the leader, so the history ends with what the cluster holds. */
  #finalReads(): void {
    const process = this.#clients.length + 1;
    for (let k = 0; k < this.opts.keys; k++) {
      const leader = this.nodes.find((n) => n.raw?.raft.role === "leader");
      if (!leader) return;
      const op = this.#invoke(process, "read", `k${k}`, leader);
      for (let i = 0; i < OP_TIMEOUT && !op.done; i++) this.step();
      if (!op.done) this.#answer(op, "info", null);
    }
  }
}
