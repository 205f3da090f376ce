import assert from "node:assert/strict";
import { encode } from "@msgpack/msgpack";
import { type Command, encodeCommand, type Envelope } from "../../src/state/commands.ts";
import type { JsonValue } from "../../src/state/json_value.ts";
import type { ApplyOutcome } from "../../src/state/results.ts";
import { StateMachine, type StateMachineOptions } from "../../src/state/state_machine.ts";
import { seededRandom, START_TIME } from "./log_driver.ts";

/** One committed entry, as the driver would hand it over. */
interface LogEntry {
  index: number;
  term: number;
  data: Uint8Array;
  /** For an empty entry: a stamp passed to `applyNoop`. */
  noopTime?: number;
}

function applyTo(sm: StateMachine, e: LogEntry): ApplyOutcome {
  return e.data.length === 0 && e.noopTime !== undefined
    ? sm.applyNoop(e.index, e.term, e.noopTime)
    : sm.applyEntry(e.index, e.term, e.data);
}

const KEYS = ["a", "a/b", "a/😀", "a/\uffff", "b", "b/\u0000", "c d", "é"];
const NAMES = ["x", "y"];

/** Writes a random but plausible log, choosing tokens and waiter ids among those it saw. */
class RandomLog {
  readonly random: () => number;
  index = 0;
  term = 1;
  time = START_TIME;
  tokens: number[] = [1];
  waiters: number[] = [1];
  sent: Envelope[] = [];
  clientSeq = new Map<string, number>();

  constructor(seed: number) {
    this.random = seededRandom(seed);
  }

  pick<T>(items: T[]): T {
    return items[Math.floor(this.random() * items.length)];
  }

  int(max: number): number {
    return Math.floor(this.random() * max);
  }

  value(depth = 0): JsonValue {
    const dice = this.random();
    if (depth > 2 || dice < 0.5) return this.pick([null, true, 0, -7, 2.5, "s", "é😀", 1e300]);
    if (dice < 0.75) return [this.value(depth + 1), this.value(depth + 1)];
    return { [this.pick(["p", "q", "ü"])]: this.value(depth + 1), n: this.int(100) };
  }

  command(): Command {
    const dice = this.random();
    const key = this.pick(KEYS);
    const name = this.pick(NAMES);
    if (dice < 0.25) {
      const cmd: Command = { op: "put", key, value: this.value() };
      if (this.random() < 0.2) cmd.ifRevision = this.int(6);
      if (this.random() < 0.1) cmd.ifAbsent = true;
      return cmd;
    }
    if (dice < 0.35) {
      return this.random() < 0.3
        ? { op: "delete", key, ifRevision: this.int(6) }
        : { op: "delete", key };
    }
    if (dice < 0.55) {
      const ttlMs = 100 + this.int(3000);
      return { op: "acquire", name, owner: `o${this.int(5)}`, ttlMs, waitMs: this.int(3) * 1500 };
    }
    if (dice < 0.65) return { op: "renew", name, token: this.pick(this.tokens) };
    if (dice < 0.8) return { op: "release", name, token: this.pick(this.tokens) };
    if (dice < 0.85) return { op: "cancelWait", name, waiterId: this.pick(this.waiters) };
    return { op: "tick" };
  }

  next(): LogEntry {
    const index = ++this.index;
    const dice = this.random();
    this.time += this.pick([0, 0, 1, 50, 400, 1500, 20_000]);
    if (dice < 0.04) {
      this.term++;
      return { index, term: this.term, data: new Uint8Array() };
    }
    if (dice < 0.06) {
      this.time -= this.int(3000); // a leader whose clock is behind
      return { index, term: this.term, data: new Uint8Array(), noopTime: this.time };
    }
    if (dice < 0.08) {
      const bad = this.pick([new Uint8Array([0xc1]), encode({ cmd: { op: "put" }, time: 1 })]);
      return { index, term: this.term, data: bad };
    }
    if (dice < 0.15 && this.sent.length > 0) {
      // A client retry: the same envelope again, later.
      const old = this.pick(this.sent.slice(-20));
      return { index, term: this.term, data: encodeCommand({ ...old, time: this.time }) };
    }
    const envelope: Envelope = { cmd: this.command(), time: this.time };
    const session = this.random();
    if (session < 0.3) {
      const clientId = this.pick(["c1", "c2", "c3", "c4"]);
      const seq = (this.clientSeq.get(clientId) ?? 0) + 1 - this.int(2);
      this.clientSeq.set(clientId, seq);
      Object.assign(envelope, { clientId, seq });
    } else if (session < 0.45) {
      envelope.idempotencyKey = `idem-${this.int(12)}`;
    }
    this.sent.push(envelope);
    return { index, term: this.term, data: encodeCommand(envelope) };
  }

  /** Learns tokens and waiter ids from an outcome, so later commands can name them. */
  observe(outcome: ApplyOutcome): void {
    const r = outcome.result;
    if ("token" in r) this.tokens.push(r.token);
    if ("waiterId" in r) this.waiters.push(r.waiterId);
    for (const e of outcome.events) if (e.type === "lockGranted") this.tokens.push(e.token);
  }
}

function assertSameReads(a: StateMachine, b: StateMachine, where: string): void {
  assert.equal(b.revision, a.revision, where);
  assert.equal(b.now, a.now, where);
  assert.equal(b.term, a.term, where);
  assert.equal(b.appliedIndex, a.appliedIndex, where);
  assert.equal(b.compactedRevision, a.compactedRevision, where);
  assert.equal(b.nextDeadline(), a.nextDeadline(), where);
  for (const key of KEYS) assert.deepEqual(b.get(key), a.get(key), where);
  for (const prefix of ["", "a", "a/", "b"]) {
    assert.deepEqual(b.list({ prefix, limit: 2 }), a.list({ prefix, limit: 2 }), where);
    for (const from of [0, a.revision - 5, a.revision + 1]) {
      if (from < 0) continue;
      assert.deepEqual(b.eventsSince(prefix, from), a.eventsSince(prefix, from), where);
    }
  }
  for (const name of NAMES) assert.deepEqual(b.lockInfo(name), a.lockInfo(name), where);
}

const SMALL: StateMachineOptions = {
  historyLimit: 40,
  sessionIdleMs: 60_000,
  maxSessions: 3,
  maxIdempotencyKeys: 6,
};

for (const seed of [1, 2, 3, 4, 5, 6]) {
  Deno.test(`seed ${seed}: a machine restored from a snapshot answers exactly like the original`, () => {
    const log = new RandomLog(seed);
    const steps = 700;
    const snapshotAt = 50 + log.int(steps - 100);
    const a = new StateMachine(SMALL);
    let b: StateMachine | undefined;
    const entries: LogEntry[] = [];
    const kinds = new Set<string>();
    for (let step = 0; step < steps; step++) {
      const entry = log.next();
      entries.push(entry);
      const outA = applyTo(a, entry);
      log.observe(outA);
      kinds.add(outA.result.ok ? Object.keys(outA.result).join() : outA.result.reason);
      for (const e of outA.events) kinds.add(e.type);
      if (b !== undefined) {
        assert.deepEqual(applyTo(b, entry), outA, `step ${step}`);
        if (step % 25 === 0) assertSameReads(a, b, `step ${step}`);
      }
      if (step === snapshotAt) {
        b = StateMachine.restore(a.snapshot());
        assertSameReads(a, b, "right after restore");
      }
    }
    assertSameReads(a, b!, "at the end");
    assert.deepEqual(b!.snapshot(), a.snapshot());
    // Determinism: the same log from scratch gives the very same bytes.
    const c = new StateMachine(SMALL);
    for (const entry of entries) applyTo(c, entry);
    assert.deepEqual(c.snapshot(), a.snapshot());
    // The generator reached the interesting corners.
    for (
      const kind of [
        "lockGranted",
        "lockExpired",
        "waitTimedOut",
        "stale_sequence",
        "revision_mismatch",
        "held",
        "bad_command",
        "put",
        "delete",
      ]
    ) assert.ok(kinds.has(kind), `seed ${seed} never produced ${kind}`);
  });
}

Deno.test("a snapshot taken after any entry predicts the next entries' answers", () => {
  for (const seed of [11, 12, 13]) {
    const log = new RandomLog(seed);
    const original = new StateMachine(SMALL);
    const entries: LogEntry[] = [];
    const outcomes: ApplyOutcome[] = [];
    for (let step = 0; step < 500; step++) {
      entries.push(log.next());
      outcomes.push(applyTo(original, entries[step]));
      log.observe(outcomes[step]);
    }
    const replay = new StateMachine(SMALL);
    for (let step = 0; step < entries.length; step++) {
      applyTo(replay, entries[step]);
      const copy = StateMachine.restore(replay.snapshot());
      assert.equal(copy.nextDeadline(), replay.nextDeadline(), `seed ${seed} step ${step}`);
      for (let ahead = step + 1; ahead < Math.min(step + 6, entries.length); ahead++) {
        const where = `seed ${seed}: restored after ${step}, entry ${ahead}`;
        assert.deepEqual(applyTo(copy, entries[ahead]), outcomes[ahead], where);
      }
    }
  }
});

Deno.test("two machines fed the same log produce byte-identical snapshots at every step", () => {
  const log = new RandomLog(99);
  const a = new StateMachine();
  const b = new StateMachine();
  for (let step = 0; step < 300; step++) {
    const entry = log.next();
    log.observe(applyTo(a, entry));
    applyTo(b, entry);
    assert.deepEqual(a.snapshot(), b.snapshot(), `step ${step}`);
  }
});

Deno.test("restore keeps the options and the clock; an empty machine round-trips", () => {
  const empty = new StateMachine();
  assert.deepEqual(StateMachine.restore(empty.snapshot()).snapshot(), empty.snapshot());
  const sm = new StateMachine({ historyLimit: 5, maxSessions: 2 });
  sm.apply(3, 2, { cmd: { op: "put", key: "k", value: [1, { a: null }] }, time: 1234 });
  const copy = StateMachine.restore(sm.snapshot());
  assert.deepEqual(copy.options, sm.options);
  assert.equal(copy.appliedIndex, 3);
  assert.equal(copy.term, 2);
  assert.equal(copy.now, 1234);
  assert.throws(() => copy.applyNoop(3, 2), RangeError, "restored index is the applied one");
  assert.deepEqual(copy.get("k")!.value, [1, { a: null }]);
});

Deno.test("values as deep as allowed fit in a snapshot", () => {
  let value: JsonValue = "leaf";
  for (let i = 0; i < 64; i++) value = { v: [value] }.v;
  const sm = new StateMachine();
  const out = sm.applyEntry(1, 1, encodeCommand({ cmd: { op: "put", key: "k", value }, time: 1 }));
  assert.equal(out.result.ok, true);
  assert.deepEqual(StateMachine.restore(sm.snapshot()).get("k"), sm.get("k"));
});

Deno.test("restore refuses bytes that are not a snapshot", () => {
  assert.throws(() => StateMachine.restore(new Uint8Array([0xc1])), TypeError);
  assert.throws(() => StateMachine.restore(encode([1, 2])), TypeError);
  assert.throws(() => StateMachine.restore(encode({ format: 2 })), TypeError);
  assert.throws(() => StateMachine.restore(encode({ format: 1, options: [1] })), TypeError);
});
