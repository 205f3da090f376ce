/**
 * Snapshots taken and restored in steps (issue 10, defect 3): the stepped encoder writes the
 * bytes msgpack writes for the whole state at once, a capture keeps the state of its moment
 * while entries go on being applied between steps, and the stepped decoder restores the same
 * state and refuses what is not a snapshot.
 */

import assert from "node:assert/strict";
import { encode } from "@msgpack/msgpack";
import type { JsonValue } from "../../src/state/json_value.ts";
import { MsgpackCursor, TruncatedMsgpackError } from "../../src/state/msgpack_cursor.ts";
import {
  decodeSnapshot,
  decodeSnapshotSteps,
  encodeSnapshot,
  finishSteps,
} from "../../src/state/snapshot.ts";
import { StateMachine } from "../../src/state/state_machine.ts";
import { LogDriver, seededRandom } from "./log_driver.ts";

/** A value of about `bytes` bytes of JSON made of small records, as real documents are. */
function document(seed: number, bytes: number): JsonValue {
  const rows = [];
  for (let r = 0; r * 60 < bytes; r++) {
    rows.push({
      id: r,
      name: `row-${seed}-${r}`,
      score: r * 1.5,
      tags: ["a", "é😀"],
      ok: r % 2 === 0,
    });
  }
  return { seed, rows, nested: { deep: [[[seed]]], neg: -seed, big: 2 ** 40 + seed } };
}

/** Integers at each of msgpack's size boundaries: the stepped encoder writes some itself. */
const INTEGER_EDGES = [0, 127, 128, 255, 256, 65_535, 65_536, 2 ** 32 - 1, 2 ** 32, -1, -33, 0.5];

/** Applies a random mix of puts (small and large), deletes, re-creations and lock commands. */
function randomOps(log: LogDriver, random: () => number, count: number): void {
  for (let n = 0; n < count; n++) {
    const key = `k/${Math.floor(random() * 40)}`;
    const dice = random();
    if (dice < 0.3) log.run({ op: "put", key, value: Math.floor(random() * 1000) });
    else if (dice < 0.45) {
      log.run({ op: "put", key, value: INTEGER_EDGES[n % INTEGER_EDGES.length] });
    } else if (dice < 0.6) log.run({ op: "put", key, value: document(n, 1500 + random() * 3000) });
    else if (dice < 0.8) log.run({ op: "delete", key });
    else if (dice < 0.9) {
      log.run({ op: "acquire", name: `l${n % 3}`, owner: "o", ttlMs: 1000, waitMs: 500 }, {
        clientId: `c${n % 4}`,
        seq: n,
      });
    } else log.tickAfter(Math.floor(random() * 800));
  }
}

Deno.test("the stepped encoder writes what msgpack writes for the whole state at once", () => {
  for (const seed of [1, 2, 3]) {
    const log = new LogDriver({ historyLimit: 50 });
    randomOps(log, seededRandom(seed), 400);
    for (const round of ["encoded", "cached"]) {
      const bytes = log.sm.snapshot();
      // The historical definition: one msgpack map of the whole state, encoded in one go.
      assert.deepEqual(encode(decodeSnapshot(bytes)), bytes, `seed ${seed}, ${round}`);
      assert.deepEqual(encodeSnapshot(decodeSnapshot(bytes)), bytes, `seed ${seed}, ${round}`);
    }
  }
});

Deno.test("a capture keeps its moment while entries are applied between its steps", () => {
  for (const seed of [4, 5, 6, 7]) {
    const random = seededRandom(seed);
    const live = new LogDriver({ historyLimit: 30 });
    const frozen = new LogDriver({ historyLimit: 30 });
    // The same log on both; `frozen` stops where the capture is taken.
    const prefixSeed = Math.floor(random() * 1e9);
    randomOps(live, seededRandom(prefixSeed), 300);
    randomOps(frozen, seededRandom(prefixSeed), 300);
    const expected = frozen.sm.snapshot();

    const capture = live.sm.captureSnapshot();
    const steps = capture.encode();
    const churn = seededRandom(seed * 31);
    let result: IteratorResult<void, Uint8Array>;
    let applied = 0;
    try {
      do {
        result = steps.next();
        // Overwrites, deletes (of keys before and after the encoder's place), re-creations.
        if (churn() < 0.7) {
          randomOps(live, churn, 1 + Math.floor(churn() * 3));
          applied++;
        }
      } while (!result.done);
    } finally {
      capture.release();
    }
    assert.ok(applied > 20, `seed ${seed}: entries were applied during the encoding`);
    assert.deepEqual(result.value, expected, `seed ${seed}`);
    assert.equal(capture.appliedIndex, frozen.index);
    // The live state went on, and a snapshot of it now is its own.
    assert.notDeepEqual(live.sm.snapshot(), expected);
  }
});

Deno.test("a capture sees a key deleted and created again as it was", () => {
  const log = new LogDriver();
  for (const key of ["a", "b", "c", "d"]) log.run({ op: "put", key, value: key });
  const expected = log.sm.snapshot();
  const capture = log.sm.captureSnapshot();
  const steps = capture.encode();
  steps.next(); // "a" is written
  log.run({ op: "delete", key: "c" });
  log.run({ op: "put", key: "c", value: "again" });
  log.run({ op: "delete", key: "b" });
  log.run({ op: "put", key: "bb", value: "new" });
  log.run({ op: "delete", key: "a" });
  log.run({ op: "put", key: "a", value: "later" });
  const bytes = finishSteps(steps);
  capture.release();
  assert.deepEqual(bytes, expected);
  assert.equal(log.sm.get("c")?.value, "again");
  assert.equal(log.sm.get("b"), undefined);
});

Deno.test("the stepped restore rebuilds the same state and hands control back often", () => {
  const log = new LogDriver({ historyLimit: 100 });
  randomOps(log, seededRandom(8), 500);
  const bytes = log.sm.snapshot();
  let steps = 0;
  const gen = StateMachine.restoreSteps(bytes);
  let result: IteratorResult<void, StateMachine>;
  do {
    result = gen.next();
    steps++;
  } while (!result.done);
  const restored = result.value;
  assert.ok(steps > log.sm.list({ limit: 1000 }).items.length, `only ${steps} steps`);
  assert.deepEqual(restored.snapshot(), bytes);
  assert.deepEqual(StateMachine.restore(bytes).snapshot(), bytes);
  assert.deepEqual(restored.list({ limit: 1000 }), log.sm.list({ limit: 1000 }));
  const from = log.sm.compactedRevision + 1;
  assert.deepEqual(restored.eventsSince("", from), log.sm.eventsSince("", from));
  // A value in both the keys and the history is one object after a restore, as before it.
  const page = restored.list({ limit: 1000 }).items;
  const history = restored.eventsSince("", from);
  assert.ok(!history.compacted);
  const shared = page.filter((kv) =>
    history.events.some((e) => e.type === "put" && e.key === kv.key && e.value === kv.value)
  );
  assert.ok(shared.length > 0, "history and keys share their values");
});

Deno.test("the stepped decoder refuses what is not a snapshot, before its last record", () => {
  const log = new LogDriver();
  randomOps(log, seededRandom(9), 100);
  const bytes = log.sm.snapshot();
  const bad: [string, Uint8Array][] = [
    ["empty", new Uint8Array()],
    ["an array", encode([1, 2])],
    ["truncated", bytes.subarray(0, bytes.length - 3)],
    ["with bytes after it", new Uint8Array([...bytes, 0xc0])],
    ["of an unknown format", encode({ ...decodeSnapshot(bytes), format: 99 })],
    ["without sessions", encode({ ...decodeSnapshot(bytes), sessions: undefined })],
    [
      "with the config first",
      encode((({ config, ...rest }) => ({ config, ...rest }))(
        decodeSnapshot(bytes),
      )),
    ],
  ];
  for (const [what, input] of bad) {
    const kinds: string[] = [];
    assert.throws(
      () => {
        for (const record of decodeSnapshotSteps(input)) kinds.push(record.kind);
      },
      TypeError,
      what,
    );
    assert.ok(!kinds.includes("tail"), `${what}: no tail before the error`);
    assert.throws(() => StateMachine.restore(input), TypeError, what);
  }
});

Deno.test("MsgpackCursor steps over every kind of msgpack value", () => {
  const values: unknown[] = [
    0,
    127,
    128,
    255,
    65_535,
    65_536,
    2 ** 32,
    -1,
    -32,
    -33,
    -129,
    -32_769,
    -(2 ** 31) - 1,
    1.5,
    1e300,
    null,
    true,
    false,
    "",
    "x".repeat(31),
    "x".repeat(32),
    "é".repeat(200),
    "x".repeat(70_000),
    new Uint8Array(10),
    new Uint8Array(300),
    new Uint8Array(70_000),
    [],
    Array.from({ length: 15 }, (_, i) => i),
    Array.from({ length: 16 }, (_, i) => [i]),
    Array.from({ length: 70_000 }, () => 0),
    {},
    Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, { v: [i] }])),
    Object.fromEntries(Array.from({ length: 70_000 }, (_, i) => [`k${i}`, i])),
  ];
  const parts = values.map((v) => encode(v));
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    all.set(part, at);
    at += part.length;
  }
  const cursor = new MsgpackCursor(all);
  for (const [i, part] of parts.entries()) {
    assert.deepEqual(cursor.skip(), part, `value ${i}`);
  }
  assert.ok(cursor.atEnd);
  // Ext types (not in snapshots, but msgpack): fixext 1..16, ext 8/16/32, as raw bytes.
  for (const [type, width] of [[0xd4, 2], [0xd5, 3], [0xd6, 5], [0xd7, 9], [0xd8, 17]]) {
    assert.equal(
      new MsgpackCursor(new Uint8Array(1 + width).fill(type, 0, 1)).skip().length,
      1 + width,
    );
  }
  assert.equal(new MsgpackCursor(new Uint8Array([0xc7, 2, 1, 9, 9])).skip().length, 5);
  assert.equal(new MsgpackCursor(new Uint8Array([0xc8, 0, 1, 1, 9])).skip().length, 5);
  assert.throws(
    () => new MsgpackCursor(encode([1, 2, 3]).subarray(0, 3)).skip(),
    TruncatedMsgpackError,
  );
  assert.throws(
    () => new MsgpackCursor(encode("abc").subarray(0, 2)).skip(),
    TruncatedMsgpackError,
  );
  assert.throws(() => new MsgpackCursor(new Uint8Array([0xc1])).skip(), TypeError);
  assert.throws(() => new MsgpackCursor(encode({ a: 1 })).arrayHeader(), TypeError);
  assert.equal(new MsgpackCursor(encode(Array(70_000).fill(0))).arrayHeader(), 70_000);
  assert.equal(new MsgpackCursor(encode({ a: 1, b: 2 })).mapHeader(), 2);
});
