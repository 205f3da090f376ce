/**
 * The simulator's source of trouble: partitions (symmetric, one-way, bridge, isolation),
 * message loss, duplication and delay, and the decision to crash, restart or slow a node.
 * Everything it decides comes from the simulation's seed.
 *
 * About one seed in seven runs over a WAN: every message takes longer than the election timeout.
 *
 * Two seeds in five also aim at leaders (`targeted`): a node that has just won an election is
 * often cut off at once, alone or with one follower, any leader now and then, and a young
 * leader whose commit index has just advanced is often crashed or cut off on the spot; their
 * other partitions and crashes are rarer, so that these last. Random faults alone rarely line up the Raft paper's
 * figure 8 (an old leader returns, brings its old-term entry to a majority, and dies before an
 * entry of its own term gets there, while another node holds a newer entry at that index);
 * short leader lifetimes and deaths right after a commit make it a matter of a few hundred
 * seeds.
 *
 * @module
 */

import type { NodeId } from "../../src/raft/types.ts";
import type { Prng } from "../checker/prng.ts";

/** A fault the simulation itself must carry out on a node. */
export type NodeFault = "crash" | "restart" | "slowDisk";

/**
 * Decides, step by step, which faults are active.
 *
 * @example
 * ```ts
 * import { Nemesis } from "./nemesis.ts";
 * import { Prng } from "../checker/prng.ts";
 * const n = new Nemesis(new Prng(1), 3);
 * n.next();
 * console.log(n.blocks(1, 2)); // false: no partition yet
 * ```
 */
export class Nemesis {
  dropRate = 0;
  duplicateRate = 0;
  /** The longest delay of a message, in steps; long delays reorder heavily. */
  maxDelay = 6;
  /**
   * Whether the current partition holds messages rather than losing them: a stalled
   * connection delivers its queue when it recovers, so a deposed leader's AppendEntries reach
   * the new leader long after the term changed.
   */
  holding = false;
  /** Whether this seed aims its faults at leaders (new leaders cut off, crashes after commits). */
  readonly targeted: boolean;
  /**
   * The one-way latency of every message in this seed, in steps: 0 on a LAN; on a WAN seed
   * 40-70 steps (100-175 ms), so that a round trip exceeds the nodes' election timeout
   * (100-200 ms). It is the network, not a fault: it stays after healing, and the cluster must
   * still elect a leader and commit within the liveness bound (election back-off, issue 18).
   */
  readonly latency: number;
  readonly #cut = new Set<string>();
  #ids: NodeId[];

  /** `wan`: whether the seed runs over a WAN (default: about one seed in seven, by the seed). */
  constructor(readonly prng: Prng, nodes: number, wan?: boolean) {
    this.#ids = Array.from({ length: nodes }, (_, i) => i + 1);
    this.targeted = prng.chance(0.4);
    this.latency = (wan ?? prng.chance(0.15)) ? 40 + prng.int(31) : 0;
  }

  /** The nodes there are now (nodes that joined take part in the partitions from now on). */
  setNodes(ids: NodeId[]): void {
    this.#ids = [...ids];
  }

  /**
   * A node has just become leader: with some chance it is cut off from all but at most one
   * follower, so that it may append entries that reach only a minority before it loses office.
   * Returns whether it was.
   */
  onNewLeader(leader: NodeId): boolean {
    if (!this.prng.chance(this.targeted ? 0.5 : 0.01)) return false;
    this.#isolate(leader);
    return true;
  }

  /**
   * A leader's commit index has just advanced (`young`: early in its term, when it may still
   * be committing what earlier terms left): it may crash on the spot, or be cut off (which,
   * unlike a crash, also loses what it had on the wire).
   */
  afterCommit(leader: NodeId, young: boolean): "crash" | "isolated" | undefined {
    const p = this.prng;
    if (!this.targeted || !p.chance(young ? 0.5 : 0.01)) return undefined;
    if (p.chance(0.3)) return "crash";
    this.#isolate(leader);
    return "isolated";
  }

  /** Cuts `leader` off with a minority: alone in a cluster of 3, or with one follower in 5. */
  #isolate(leader: NodeId): void {
    const p = this.prng;
    const others = p.shuffle(this.#ids.filter((id) => id !== leader));
    const minority = [leader, ...others.slice(0, p.int(Math.floor((this.#ids.length - 1) / 2)))];
    this.#cut.clear();
    this.holding = p.chance(0.5);
    this.#split(minority, this.#ids.filter((id) => !minority.includes(id)));
  }

  /** Whether a message from `from` to `to` is lost to a partition. */
  blocks(from: NodeId, to: NodeId): boolean {
    return this.#cut.has(`${from}>${to}`);
  }

  /** The delay of one message, in steps. */
  delay(): number {
    return this.latency + this.prng.int(this.maxDelay + 1);
  }

  /** Removes every fault; crashed nodes are restarted by the simulation. */
  heal(): void {
    this.#cut.clear();
    this.holding = false;
    this.dropRate = 0;
    this.duplicateRate = 0;
    this.maxDelay = 6;
  }

  /**
   * Advances one step: may change the network faults; returns a node fault to carry out.
   * `leader` is a node that leads now, if any: a targeted seed cuts leaders off often, so that
   * terms are short.
   */
  next(leader?: NodeId): NodeFault | undefined {
    const p = this.prng;
    // A targeted seed's partitions are mostly its own, and last long enough for a cut-off
    // leader's successor to be elected and to commit.
    const churn = this.targeted ? 0.0015 : 0.006;
    if (leader !== undefined && this.targeted && p.chance(0.003)) this.#isolate(leader);
    if (p.chance(churn)) this.#partition();
    if (p.chance(churn)) this.#cut.clear();
    if (p.chance(0.002)) this.dropRate = p.pick([0, 0, 0.02, 0.1, 0.3]);
    if (p.chance(0.002)) this.duplicateRate = p.pick([0, 0.02, 0.1, 0.3]);
    if (p.chance(0.002)) this.maxDelay = p.pick([6, 6, 20, 80]);
    if (p.chance(this.targeted ? 0.001 : 0.003)) return "crash";
    if (p.chance(0.008)) return "restart";
    if (p.chance(0.002)) return "slowDisk";
    return undefined;
  }

  #partition(): void {
    const p = this.prng;
    const ids = p.shuffle([...this.#ids]);
    this.#cut.clear();
    this.holding = p.chance(0.5);
    switch (p.pick(["halves", "isolate", "oneWay", "bridge"] as const)) {
      case "halves": {
        // A majority and a minority that cannot talk.
        const k = 1 + p.int(ids.length - 1);
        this.#split(ids.slice(0, k), ids.slice(k));
        break;
      }
      case "isolate":
        this.#split([ids[0]], ids.slice(1));
        break;
      case "oneWay":
        // Some messages get through one way only: a trap for pre-vote without check-quorum.
        for (let i = 0; i < 1 + p.int(ids.length); i++) {
          const [a, b] = p.shuffle([...this.#ids]);
          this.#cut.add(`${a}>${b}`);
        }
        break;
      case "bridge": {
        // One node talks to both sides; the sides cannot talk to each other.
        const [bridge, ...rest] = ids;
        const half = Math.ceil(rest.length / 2);
        this.#split(rest.slice(0, half), rest.slice(half));
        void bridge;
        break;
      }
    }
  }

  #split(a: NodeId[], b: NodeId[]): void {
    for (const x of a) {
      for (const y of b) {
        this.#cut.add(`${x}>${y}`);
        this.#cut.add(`${y}>${x}`);
      }
    }
  }
}
