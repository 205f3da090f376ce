/**
 * Micro-benchmarks of the replicated state machine: config puts and gets with 100,000 keys of
 * 100-byte values, listing, uncontended lock acquire + release, and snapshot / restore.
 *
 * Every command goes through `applyEntry` with msgpack bytes, as a node applies its log
 * (decode + validate + apply); encoding, which the proposer does, is left out of the timing.
 *
 * Run: `deno bench bench/state_bench.ts`
 *
 * @module
 */

import { type Command, encodeCommand } from "../src/state/commands.ts";
import { StateMachine } from "../src/state/state_machine.ts";

const KEYS = 100_000;
const VALUE = "v".repeat(98); // a JSON string of 100 bytes
const START = 1_700_000_000_000;

function keyOf(i: number): string {
  return `config/service-${(i * 7919) % KEYS}`; // spread, so inserts land all over the order
}

const BATCH = 1000;

/**
 * A state machine with its own index counter, stamped with a clock that moves 1 ms an entry.
 * Benchmarks apply batches of `BATCH` entries, encoded outside the timed part, so that the
 * timing is the apply alone (Deno ignores `b.start()` / `b.end()` below 10 µs).
 */
class Bench {
  readonly sm = new StateMachine();
  index = 0;

  encode(cmd: Command, index: number): Uint8Array {
    return encodeCommand({ cmd, time: START + index });
  }

  apply(cmd: Command): void {
    this.index++;
    this.sm.applyEntry(this.index, 1, this.encode(cmd, this.index));
  }

  /** Applies the batch of commands `make(0..BATCH-1)`, timing only the applies. */
  applyBatch(b: Deno.BenchContext, make: (i: number) => Command): void {
    const first = this.index + 1;
    const batch: Uint8Array[] = [];
    for (let i = 0; i < BATCH; i++) batch.push(this.encode(make(i), first + i));
    b.start();
    for (const data of batch) this.sm.applyEntry(++this.index, 1, data);
    b.end();
  }
}

const filled = new Bench();
const fillStarted = performance.now();
for (let i = 0; i < KEYS; i++) filled.apply({ op: "put", key: keyOf(i), value: VALUE });
const fillMs = performance.now() - fillStarted;
console.log(`filled ${KEYS} keys in ${fillMs.toFixed(0)} ms (encode + apply)`);
const snapshot = filled.sm.snapshot();
console.log(`snapshot of ${KEYS} keys: ${(snapshot.length / 1e6).toFixed(1)} MB`);

let step = 0;

Deno.bench("put x1000: update keys among 100k (100-byte values)", { group: "config" }, (b) => {
  filled.applyBatch(b, () => ({ op: "put", key: keyOf(step++), value: VALUE }));
});

Deno.bench("put x1000: insert new keys among 100k+", { group: "config" }, (b) => {
  filled.applyBatch(b, () => ({ op: "put", key: `config/new-${step++}`, value: VALUE }));
});

Deno.bench("get x1000: keys among 100k", { group: "config" }, () => {
  for (let i = 0; i < BATCH; i++) filled.sm.get(keyOf(step++));
});

Deno.bench("list: a page of 100 keys under a prefix", { group: "config" }, () => {
  filled.sm.list({ prefix: "config/service-", after: keyOf(step++), limit: 100 });
});

const locks = new Bench();

Deno.bench("lock x1000: acquire + release, uncontended (2000 entries)", { group: "lock" }, (b) => {
  // Entry first + 2i acquires, so its index is the token the next entry releases.
  const first = locks.index + 1;
  locks.applyBatch(
    b,
    (i) =>
      i % 2 === 0
        ? { op: "acquire", name: "job", owner: "w", ttlMs: 10_000, waitMs: 0 }
        : { op: "release", name: "job", token: first + i - 1 },
  );
});

Deno.bench("snapshot: 100k keys", { group: "snapshot", n: 10, warmup: 2 }, () => {
  filled.sm.snapshot();
});

Deno.bench("restore: 100k keys", { group: "snapshot", n: 10, warmup: 2 }, () => {
  StateMachine.restore(snapshot);
});
