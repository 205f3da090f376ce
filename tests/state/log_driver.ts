/**
 * A stand-in for the node driver in state machine tests: it numbers entries, keeps a term and a
 * leader clock, and sends every command through the log's byte encoding, as a node would.
 *
 * @module
 */

import { Prng } from "../checker/prng.ts";
import { type Command, encodeCommand, type Envelope } from "../../src/state/commands.ts";
import type { ApplyOutcome, CommandResult } from "../../src/state/results.ts";
import { StateMachine, type StateMachineOptions } from "../../src/state/state_machine.ts";

/** The leader clock a driver starts at: a plausible `Date.now()`. */
export const START_TIME = 1_700_000_000_000;

/**
 * Feeds a state machine one entry at a time.
 *
 * @example
 * ```ts
 * import { LogDriver } from "./log_driver.ts";
 * const log = new LogDriver();
 * log.run({ op: "put", key: "k", value: 1 });
 * log.sm.get("k")?.version; // 1
 * ```
 */
export class LogDriver {
  readonly sm: StateMachine;
  index = 0;
  term = 1;
  time = START_TIME;

  constructor(options?: StateMachineOptions) {
    this.sm = new StateMachine(options);
  }

  /** Applies `cmd` as the next entry, stamped with the driver's clock. */
  run(cmd: Command, extra: Omit<Envelope, "cmd" | "time"> = {}): ApplyOutcome {
    const envelope: Envelope = { cmd, time: this.time, ...extra };
    return this.sm.applyEntry(++this.index, this.term, encodeCommand(envelope));
  }

  /** Applies `cmd` and returns just its result. */
  result(cmd: Command, extra?: Omit<Envelope, "cmd" | "time">): CommandResult {
    return this.run(cmd, extra).result;
  }

  /** Moves the leader clock forward by `ms` and applies a tick stamped then. */
  tickAfter(ms: number): ApplyOutcome {
    this.time += ms;
    return this.run({ op: "tick" });
  }

  /** A new leader of the next term appends its no-op (no stamp). */
  newLeader(): ApplyOutcome {
    this.term++;
    return this.sm.applyEntry(++this.index, this.term, new Uint8Array());
  }
}

/**
 * A seeded pseudo-random generator (mulberry32): the same seed gives the same sequence.
 *
 * @example
 * ```ts
 * import { seededRandom } from "./log_driver.ts";
 * const random = seededRandom(42);
 * random(); // a number in [0, 1)
 * ```
 */
export function seededRandom(seed: number): () => number {
  const source = new Prng(seed);
  return () => source.next();
}
