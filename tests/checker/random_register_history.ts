/**
 * Random histories that are linearizable by construction: clients of a simulated atomic
 * register, whose operations overlap at random and sometimes time out. For testing the checker.
 *
 * @module
 */

import {
  type HistoryEvent,
  HistoryRecorder,
  type JsonValue,
  type OperationName,
} from "./history.ts";
import { Prng } from "./prng.ts";

/**
 * Shape of a generated history.
 *
 * @example
 * ```ts
 * import type { RandomRegisterHistoryOptions } from "./random_register_history.ts";
 * const options: RandomRegisterHistoryOptions = { seed: 1, operations: 100, processes: 3 };
 * ```
 */
export interface RandomRegisterHistoryOptions {
  seed: number;
  /** Operations to invoke in total. */
  operations: number;
  /** Concurrent clients. */
  processes: number;
  /** Keys to spread operations over; default `["k"]`. */
  keys?: readonly string[];
  /** Values written are integers in [0, values); a small range makes reads ambiguous. Default 5. */
  values?: number;
  /** Chance that an operation times out (`info`); it may still take effect later. Default 0.02. */
  infoProbability?: number;
}

/**
 * Generates the events of clients running against an atomic register: each operation takes
 * effect at one random instant between its invoke and its completion (or, for one that timed
 * out, at some later instant or never), so the history is linearizable.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { pairOperations } from "./history.ts";
 * import { checkHistory } from "./linearizability.ts";
 * import { randomRegisterHistory } from "./random_register_history.ts";
 * import { registerModel } from "./register_model.ts";
 *
 * const events = randomRegisterHistory({ seed: 1, operations: 50, processes: 3 });
 * assert.ok(checkHistory(pairOperations(events), registerModel).ok);
 * ```
 */
export function randomRegisterHistory(options: RandomRegisterHistoryOptions): HistoryEvent[] {
  const prng = new Prng(options.seed);
  const keys = options.keys ?? ["k"];
  const values = options.values ?? 5;
  const infoProbability = options.infoProbability ?? 0.02;
  let now = 0;
  const history = new HistoryRecorder({ now: () => now });
  const register = new Map<string, JsonValue>();
  const read = (key: string): JsonValue => register.get(key) ?? null;

  interface Pending {
    process: number;
    f: OperationName;
    key: string;
    input: JsonValue;
    /** Set once the operation has taken effect. */
    result?: { output: JsonValue; succeeded: boolean };
  }
  const apply = (op: Pending): void => {
    if (op.f === "read") {
      op.result = { output: read(op.key), succeeded: true };
    } else if (op.f === "write") {
      register.set(op.key, op.input);
      op.result = { output: op.input, succeeded: true };
    } else if (op.f === "delete") {
      register.delete(op.key);
      op.result = { output: null, succeeded: true };
    } else {
      const [expected, replacement] = op.input as [JsonValue, JsonValue];
      const succeeded = read(op.key) === expected;
      if (succeeded) register.set(op.key, replacement);
      op.result = { output: succeeded, succeeded };
    }
  };

  const inFlight: (Pending | undefined)[] = new Array(options.processes).fill(undefined);
  // Timed-out operations that have not taken effect yet: they may, at any later instant.
  let orphans: Pending[] = [];
  let invoked = 0;
  while (invoked < options.operations || inFlight.some((op) => op !== undefined)) {
    now += 1 + prng.int(1000);
    if (orphans.length > 0 && prng.chance(0.05)) {
      const orphan = orphans[prng.int(orphans.length)];
      orphans = orphans.filter((op) => op !== orphan);
      if (prng.chance(0.5)) apply(orphan);
      continue;
    }
    const process = prng.int(options.processes);
    const op = inFlight[process];
    if (op === undefined) {
      if (invoked === options.operations) continue;
      invoked++;
      const started = randomOperation(prng, process, prng.pick(keys), values);
      inFlight[process] = started;
      history.invoke(process, started.f, started.key, started.input);
    } else if (op.result === undefined && prng.chance(infoProbability)) {
      history.info(process, op.f, op.key, op.input);
      inFlight[process] = undefined;
      orphans.push(op);
    } else if (op.result === undefined) {
      apply(op);
    } else {
      inFlight[process] = undefined;
      if (op.f !== "cas") history.ok(process, op.f, op.key, op.result.output);
      else if (op.result.succeeded) history.ok(process, op.f, op.key, prng.pick([true, op.input]));
      // A failed comparison, recorded either way clients may record it.
      else if (prng.chance(0.5)) history.fail(process, op.f, op.key, op.input);
      else history.ok(process, op.f, op.key, false);
    }
  }
  return [...history.events];
}

function randomOperation(prng: Prng, process: number, key: string, values: number) {
  const roll = prng.next();
  const value = () => prng.int(values);
  if (roll < 0.4) return { process, f: "read" as const, key, input: null };
  if (roll < 0.75) return { process, f: "write" as const, key, input: value() };
  if (roll < 0.95) {
    return { process, f: "cas" as const, key, input: [prng.chance(0.2) ? null : value(), value()] };
  }
  return { process, f: "delete" as const, key, input: null };
}
