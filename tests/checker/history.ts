/**
 * Jepsen-style histories of client operations (docs/architecture.md#history-files): the event
 * format, a recorder, JSON-lines files, and pairing of invoke/completion events into operations
 * for the linearizability checker.
 *
 * @module
 */

import type { JsonValue } from "../../src/state/json_value.ts";
import { toJsonLines } from "./history_jsonl.ts";

/**
 * Any value that survives a JSON round trip.
 *
 * @example
 * ```ts
 * import type { JsonValue } from "./history.ts";
 * const value: JsonValue = { a: [1, "two", null] };
 * ```
 */
export type { JsonValue };

/**
 * The kind of an event: `invoke` starts an operation; `ok` (it happened), `fail` (it definitely
 * did not happen) or `info` (outcome unknown, e.g. a timeout) completes it.
 *
 * @example
 * ```ts
 * import type { EventType } from "./history.ts";
 * const type: EventType = "info";
 * ```
 */
export type EventType = "invoke" | "ok" | "fail" | "info";

/**
 * The operation an event belongs to (docs/architecture.md#history-files). `delete` is here
 * because the HTTP API deletes config keys; the register model treats it as a write of `null`.
 *
 * @example
 * ```ts
 * import type { OperationName } from "./history.ts";
 * const f: OperationName = "cas";
 * ```
 */
export type OperationName = "read" | "write" | "cas" | "delete" | "acquire" | "release";

/**
 * One line of a history file. `value` is f-specific: for `cas` it is `[expected, new]`; for an
 * `ok` read it is the value read; `null` where there is nothing to say.
 *
 * @example
 * ```ts
 * import type { HistoryEvent } from "./history.ts";
 * const event: HistoryEvent = {
 *   process: 3, type: "invoke", f: "write", key: "k1", value: 5, time: 1200,
 * };
 * ```
 */
export interface HistoryEvent {
  /** The client (logical thread) that issued the operation; it has one operation in flight. */
  process: number;
  type: EventType;
  f: OperationName;
  key: string;
  value: JsonValue;
  /** Nanoseconds since the recorder started. */
  time: number;
}

/**
 * An invoke paired with its completion. `status: "info"` means the outcome is unknown: the
 * operation may have taken effect at any point after `call`, so `ret` is `Infinity` and `output`
 * is `undefined`.
 *
 * @example
 * ```ts
 * import type { Operation } from "./history.ts";
 * const op: Operation = {
 *   id: 0, process: 1, f: "read", key: "k1", input: null, output: 5,
 *   call: 10, ret: 20, status: "ok",
 * };
 * ```
 */
export interface Operation {
  /** Position in the array `pairOperations` returned (ordered by call time). */
  id: number;
  process: number;
  f: OperationName;
  key: string;
  /** The value of the invoke event. */
  input: JsonValue;
  /** The value of the `ok` event; `undefined` when the outcome is unknown. */
  output: JsonValue | undefined;
  call: number;
  ret: number;
  status: "ok" | "info";
}

export { parseJsonLines, readHistoryFile, toJsonLines, writeHistoryFile } from "./history_jsonl.ts";

/**
 * Options of a {@linkcode HistoryRecorder}.
 *
 * @example
 * ```ts
 * import type { HistoryRecorderOptions } from "./history.ts";
 * let tick = 0;
 * const options: HistoryRecorderOptions = { now: () => tick++ * 1_000_000 };
 * ```
 */
export interface HistoryRecorderOptions {
  /** Clock in nanoseconds; defaults to `performance.now()`. A simulator passes logical time. */
  now?: () => number;
}

/**
 * Appends history events in the order they happen, stamping each with the time since the
 * recorder was created.
 *
 * Times are made strictly increasing (a tie gets nudged by 1 ns): the checker orders operations
 * by time, and two events at the same instant would make sequential operations look concurrent.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { HistoryRecorder, pairOperations } from "./history.ts";
 *
 * const history = new HistoryRecorder();
 * history.invoke(1, "write", "k1", 5);
 * history.ok(1, "write", "k1", 5);
 * assert.equal(pairOperations(history.events).length, 1);
 * ```
 */
export class HistoryRecorder {
  readonly #events: HistoryEvent[] = [];
  readonly #now: () => number;
  readonly #start: number;
  #lastTime = -1;

  /**
   * Starts the clock of this history.
   *
   * @example
   * ```ts
   * import { HistoryRecorder } from "./history.ts";
   * const history = new HistoryRecorder({ now: () => 0 });
   * ```
   */
  constructor(options: HistoryRecorderOptions = {}) {
    this.#now = options.now ?? (() => Math.round(performance.now() * 1e6));
    this.#start = this.#now();
  }

  /**
   * The events recorded so far, in order.
   *
   * @example
   * ```ts
   * import { HistoryRecorder } from "./history.ts";
   * const count = new HistoryRecorder().events.length; // 0
   * ```
   */
  get events(): readonly HistoryEvent[] {
    return this.#events;
  }

  /**
   * Appends an event, stamping its time, and returns it.
   *
   * @example
   * ```ts
   * import { HistoryRecorder } from "./history.ts";
   * const history = new HistoryRecorder();
   * history.record({ process: 1, type: "invoke", f: "read", key: "k1", value: null });
   * ```
   */
  record(event: Omit<HistoryEvent, "time">): HistoryEvent {
    const time = Math.max(this.#now() - this.#start, this.#lastTime + 1);
    this.#lastTime = time;
    const stamped: HistoryEvent = {
      process: event.process,
      type: event.type,
      f: event.f,
      key: event.key,
      value: event.value,
      time,
    };
    this.#events.push(stamped);
    return stamped;
  }

  /**
   * Records that `process` starts operation `f` on `key` with `value` (for `cas`,
   * `[expected, new]`).
   *
   * @example
   * ```ts
   * import { HistoryRecorder } from "./history.ts";
   * new HistoryRecorder().invoke(1, "cas", "k1", [1, 2]);
   * ```
   */
  invoke(process: number, f: OperationName, key: string, value: JsonValue = null): HistoryEvent {
    return this.record({ process, type: "invoke", f, key, value });
  }

  /**
   * Records that the operation in flight on `process` completed; `value` is its result (for a
   * read, the value read).
   *
   * @example
   * ```ts
   * import { HistoryRecorder } from "./history.ts";
   * const history = new HistoryRecorder();
   * history.invoke(1, "read", "k1");
   * history.ok(1, "read", "k1", 5);
   * ```
   */
  ok(process: number, f: OperationName, key: string, value: JsonValue = null): HistoryEvent {
    return this.record({ process, type: "ok", f, key, value });
  }

  /**
   * Records that the operation in flight on `process` definitely did not take effect.
   *
   * @example
   * ```ts
   * import { HistoryRecorder } from "./history.ts";
   * const history = new HistoryRecorder();
   * history.invoke(1, "cas", "k1", [1, 2]);
   * history.fail(1, "cas", "k1", [1, 2]);
   * ```
   */
  fail(process: number, f: OperationName, key: string, value: JsonValue = null): HistoryEvent {
    return this.record({ process, type: "fail", f, key, value });
  }

  /**
   * Records that the outcome of the operation in flight on `process` is unknown (timeout,
   * connection lost): it may or may not take effect, now or later.
   *
   * @example
   * ```ts
   * import { HistoryRecorder } from "./history.ts";
   * const history = new HistoryRecorder();
   * history.invoke(1, "write", "k1", 5);
   * history.info(1, "write", "k1", 5);
   * ```
   */
  info(process: number, f: OperationName, key: string, value: JsonValue = null): HistoryEvent {
    return this.record({ process, type: "info", f, key, value });
  }

  /**
   * The history as JSON lines (see {@linkcode toJsonLines}).
   *
   * @example
   * ```ts
   * import { HistoryRecorder } from "./history.ts";
   * const text = new HistoryRecorder().toJsonLines(); // ""
   * ```
   */
  toJsonLines(): string {
    return toJsonLines(this.#events);
  }
}

/**
 * Pairs each invoke with the next completion of the same process, returning operations ordered
 * by call time. `fail` operations are dropped (they did not happen); `info` operations and
 * invokes never completed become `status: "info"` with `ret = Infinity`. Throws on a malformed
 * history: a completion without an invoke, a second invoke while one is in flight, or a
 * completion whose `f` or `key` differs from its invoke.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { pairOperations } from "./history.ts";
 *
 * const [op] = pairOperations([
 *   { process: 1, type: "invoke", f: "read", key: "k1", value: null, time: 0 },
 *   { process: 1, type: "ok", f: "read", key: "k1", value: 7, time: 5 },
 * ]);
 * assert.deepEqual([op.output, op.call, op.ret], [7, 0, 5]);
 * ```
 */
export function pairOperations(events: readonly HistoryEvent[]): Operation[] {
  const inFlight = new Map<number, HistoryEvent>();
  const operations: Omit<Operation, "id">[] = [];
  const unknown = (invoke: HistoryEvent): Omit<Operation, "id"> => ({
    process: invoke.process,
    f: invoke.f,
    key: invoke.key,
    input: invoke.value,
    output: undefined,
    call: invoke.time,
    ret: Infinity,
    status: "info",
  });
  events.forEach((event, index) => {
    const where = `event ${index} (process ${event.process}, ${event.type} ${event.f})`;
    const invoke = inFlight.get(event.process);
    if (event.type === "invoke") {
      if (invoke) throw new Error(`${where}: process already has an operation in flight`);
      inFlight.set(event.process, event);
      return;
    }
    if (!invoke) throw new Error(`${where}: completion without an invoke`);
    if (invoke.f !== event.f || invoke.key !== event.key) {
      throw new Error(`${where}: completes ${invoke.f} on ${JSON.stringify(invoke.key)}`);
    }
    inFlight.delete(event.process);
    if (event.type === "fail") return;
    if (event.type === "info") {
      operations.push(unknown(invoke));
      return;
    }
    operations.push({
      process: invoke.process,
      f: invoke.f,
      key: invoke.key,
      input: invoke.value,
      output: event.value,
      call: invoke.time,
      ret: event.time,
      status: "ok",
    });
  });
  for (const invoke of inFlight.values()) operations.push(unknown(invoke));
  // A stable sort keeps the recorded order for equal call times.
  operations.sort((a, b) => a.call - b.call);
  return operations.map((op, id) => ({ id, ...op }));
}

/**
 * A one-line human description of an operation, for failure reports.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { describeOperation } from "./history.ts";
 *
 * assert.equal(
 *   describeOperation({
 *     id: 4, process: 2, f: "read", key: "k1", input: null, output: 3,
 *     call: 10, ret: 20, status: "ok",
 *   }),
 *   "#4 process 2 read k1 null -> 3 [10, 20]",
 * );
 * ```
 */
export function describeOperation(op: Operation): string {
  const output = op.status === "info" ? "?" : JSON.stringify(op.output);
  const ret = op.ret === Infinity ? "inf" : String(op.ret);
  return `#${op.id} process ${op.process} ${op.f} ${op.key} ${
    JSON.stringify(op.input)
  } -> ${output} [${op.call}, ${ret}]`;
}
