/**
 * The simulator's source of trouble: partitions (symmetric, one-way, bridge, isolation),
 * message loss, duplication and delay, and the decision to crash, restart or slow a node.
 * Everything it decides comes from the simulation's seed.
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
  readonly #cut = new Set<string>();
  readonly #ids: NodeId[];

  constructor(readonly prng: Prng, nodes: number) {
    this.#ids = Array.from({ length: nodes }, (_, i) => i + 1);
  }

  /** Whether a message from `from` to `to` is lost to a partition. */
  blocks(from: NodeId, to: NodeId): boolean {
    return this.#cut.has(`${from}>${to}`);
  }

  /** The delay of one message, in steps. */
  delay(): number {
    return this.prng.int(this.maxDelay + 1);
  }

  /** Removes every fault; crashed nodes are restarted by the simulation. */
  heal(): void {
    this.#cut.clear();
    this.holding = false;
    this.dropRate = 0;
    this.duplicateRate = 0;
    this.maxDelay = 6;
  }

  /** Advances one step: may change the network faults; returns a node fault to carry out. */
  next(): NodeFault | undefined {
    const p = this.prng;
    if (p.chance(0.006)) this.#partition();
    if (p.chance(0.006)) this.#cut.clear();
    if (p.chance(0.002)) this.dropRate = p.pick([0, 0, 0.02, 0.1, 0.3]);
    if (p.chance(0.002)) this.duplicateRate = p.pick([0, 0.02, 0.1, 0.3]);
    if (p.chance(0.002)) this.maxDelay = p.pick([6, 6, 20, 80]);
    if (p.chance(0.003)) return "crash";
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
