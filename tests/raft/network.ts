/**
 * A synchronous test network of Raft cores (like etcd-io/raft's `network` in raft_test.go):
 * it persists each Ready into an in-memory "disk", delivers messages until the cluster is
 * quiet, and can cut links. Unit tests script scenarios with it, step by step.
 *
 * @module
 */

import { Raft } from "../../src/raft/raft.ts";
import { RawNode } from "../../src/raft/raw_node.ts";
import { type RaftConfig, withDefaults } from "../../src/raft/config.ts";
import type {
  Entry,
  HardState,
  Message,
  NodeId,
  ReadState,
  Snapshot,
} from "../../src/raft/types.ts";
import { Prng } from "../checker/prng.ts";

/** What a test node has on its "disk". */
export interface Disk {
  hardState: HardState;
  entries: Entry[];
  snapshot?: Snapshot;
}

/** Options for {@linkcode TestNetwork}. */
export interface TestNetworkOptions {
  /** Voters; ids 1..n by default. */
  voters?: number;
  learners?: NodeId[];
  seed?: number;
  config?: Partial<RaftConfig>;
  /** Called for each message before delivery; return false to drop it. */
  filter?: (m: Message) => boolean;
  /** Builds each core (a subclass with a deliberate bug, tests/sim/bugs.ts). */
  newRaft?: ConstructorParameters<typeof RawNode>[2];
}

/**
 * A cluster of RawNodes that talk synchronously.
 *
 * @example
 * ```ts
 * import { TestNetwork } from "./network.ts";
 * const net = new TestNetwork({ voters: 3 });
 * net.campaign(1);
 * console.log(net.node(1).status().role); // "leader"
 * ```
 */
export class TestNetwork {
  readonly nodes = new Map<NodeId, RawNode>();
  readonly disks = new Map<NodeId, Disk>();
  /** Entries each node applied, in order. */
  readonly applied = new Map<NodeId, Entry[]>();
  readonly readStates = new Map<NodeId, ReadState[]>();
  /** The snapshot indexes each node's Ready asked the driver to read back (`wantSnapshot`). */
  readonly wantedSnapshots = new Map<NodeId, number[]>();
  /** Links that drop everything, as "from->to". */
  readonly cut = new Set<string>();
  /** Every message delivered, for transcripts. */
  readonly log: Message[] = [];
  readonly ids: NodeId[];
  readonly #prng: Prng;
  readonly #opts: TestNetworkOptions;
  readonly #cores = new Map<NodeId, Raft>();
  filter?: (m: Message) => boolean;

  constructor(opts: TestNetworkOptions = {}) {
    this.#opts = opts;
    this.#prng = new Prng(opts.seed ?? 1);
    this.filter = opts.filter;
    const voters = Array.from({ length: opts.voters ?? 3 }, (_, i) => i + 1);
    this.ids = [...voters, ...(opts.learners ?? [])];
    for (const id of this.ids) {
      this.disks.set(id, { hardState: { term: 0, vote: 0, commit: 0 }, entries: [] });
      this.start(id, { voters, learners: opts.learners ?? [] });
    }
  }

  /** (Re)starts node `id` from its disk, losing everything it had in memory. */
  start(id: NodeId, conf = this.node(this.ids[0])?.status().conf): void {
    const disk = this.disks.get(id)!;
    const cfg = withDefaults({
      id,
      random: () => this.#prng.next(),
      ...this.#opts.config,
    });
    this.nodes.set(
      id,
      new RawNode(cfg, {
        hardState: { ...disk.hardState },
        entries: [...disk.entries],
        snapshot: disk.snapshot,
        conf: conf ?? { voters: this.ids, learners: [] },
      }, (c, s) => {
        const core = this.#opts.newRaft?.(c, s) ?? new Raft(c, s);
        this.#cores.set(id, core);
        return core;
      }),
    );
    this.applied.set(id, disk.snapshot ? [] : []);
    this.readStates.set(id, []);
  }

  node(id: NodeId): RawNode {
    return this.nodes.get(id)!;
  }

  /** Node `id`'s core itself, for tests that break a rule on purpose (RawNode keeps it private). */
  core(id: NodeId): Raft {
    return this.#cores.get(id)!;
  }

  /** Cuts both directions between a and b. */
  isolatePair(a: NodeId, b: NodeId): void {
    this.cut.add(`${a}->${b}`);
    this.cut.add(`${b}->${a}`);
  }

  /** Cuts `id` from everyone. */
  isolate(id: NodeId): void {
    for (const other of this.ids) if (other !== id) this.isolatePair(id, other);
  }

  heal(): void {
    this.cut.clear();
  }

  /** Runs every node's Ready and delivers messages until nothing moves. */
  settle(maxRounds = 10_000): void {
    for (let round = 0; round < maxRounds; round++) {
      const outbox: Message[] = [];
      for (const [id, node] of this.nodes) {
        while (node.hasReady()) {
          const rd = node.ready();
          const disk = this.disks.get(id)!;
          if (rd.snapshot) {
            disk.snapshot = rd.snapshot;
            disk.entries = disk.entries.filter((e) => e.index > rd.snapshot!.metadata.index);
          }
          if (rd.entries.length > 0) {
            const first = rd.entries[0].index;
            disk.entries = disk.entries.filter((e) => e.index < first).concat(rd.entries);
          }
          if (rd.hardState) disk.hardState = rd.hardState;
          outbox.push(...rd.messages);
          this.applied.get(id)!.push(...rd.committedEntries);
          this.readStates.get(id)!.push(...rd.readStates);
          if (rd.wantSnapshot !== undefined) {
            this.wantedSnapshots.set(id, [...this.wantedSnapshots.get(id) ?? [], rd.wantSnapshot]);
          }
          node.advance(rd);
        }
      }
      if (outbox.length === 0) return;
      for (const m of outbox) this.deliver(m);
    }
    throw new Error("network did not settle");
  }

  /** Delivers one message now, unless its link is cut or the filter drops it. */
  deliver(m: Message): void {
    if (this.cut.has(`${m.from}->${m.to}`)) return;
    if (this.filter && !this.filter(m)) return;
    const node = this.nodes.get(m.to);
    if (!node) return;
    this.log.push(m);
    node.step(m);
  }

  /** Makes `id` campaign and lets the election run to the end. */
  campaign(id: NodeId): void {
    this.node(id).campaign();
    this.settle();
  }

  /** Ticks every node `n` times, settling after each. */
  tick(n = 1, ids = this.ids): void {
    for (let i = 0; i < n; i++) {
      for (const id of ids) this.nodes.get(id)?.tick();
      this.settle();
    }
  }

  /** Proposes a string command at `id` and settles. */
  propose(id: NodeId, text: string): void {
    this.node(id).propose(new TextEncoder().encode(text));
    this.settle();
  }

  /** The commands (as text) a node applied, skipping empty no-ops. */
  appliedText(id: NodeId): string[] {
    return this.applied.get(id)!.filter((e) => e.data.length > 0).map((e) =>
      new TextDecoder().decode(e.data)
    );
  }

  leader(): NodeId | undefined {
    return this.ids.find((id) => this.nodes.get(id)?.status().role === "leader");
  }
}
