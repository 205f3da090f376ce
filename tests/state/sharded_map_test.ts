import assert from "node:assert/strict";
import { ShardedMap, shardOf, SHARDS } from "../../src/state/sharded_map.ts";
import { seededRandom } from "./log_driver.ts";

const ALPHABET = ["a", "b", "/", "\u0000", "é", "\uffff", "😀", "中", "0", "9"];

Deno.test("ShardedMap answers as a Map does over random sets, deletes and lookups", () => {
  const random = seededRandom(17);
  const model = new Map<string, number | undefined>();
  const map = new ShardedMap<number | undefined>();
  const key = () => {
    let k = "";
    const length = Math.floor(random() * 4); // the empty key too
    for (let i = 0; i < length; i++) k += ALPHABET[Math.floor(random() * ALPHABET.length)];
    return k;
  };
  for (let step = 0; step < 20_000; step++) {
    const k = key();
    const roll = random();
    if (roll < 0.45) {
      // undefined as a value: `has` must still say the key is there.
      const v = random() < 0.1 ? undefined : step;
      assert.equal(map.set(k, v), map);
      model.set(k, v);
    } else if (roll < 0.7) {
      assert.equal(map.delete(k), model.delete(k), `delete ${JSON.stringify(k)}`);
    } else {
      assert.equal(map.get(k), model.get(k), `get ${JSON.stringify(k)}`);
      assert.equal(map.has(k), model.has(k), `has ${JSON.stringify(k)}`);
    }
    assert.equal(map.size, model.size);
  }
});

Deno.test("shardOf spreads keys that differ only in a prefix, a suffix or a middle", () => {
  const families: ((i: number) => string)[] = [
    (i) => `bench/key-${String(i).padStart(8, "0")}`,
    (i) => `tenant-${i}/config/feature-flags`,
    (i) => `app/${i}/x`,
    (i) => String(i),
  ];
  for (const name of families) {
    const map = new ShardedMap<number>();
    const n = 64_000;
    for (let i = 0; i < n; i++) map.set(name(i), i);
    assert.equal(map.size, n);
    // Evenly spread, each shard holds n / SHARDS = 1,000; allow twice that.
    assert.ok(map.largestShard() <= (2 * n) / SHARDS, `${name(1)}: ${map.largestShard()}`);
  }
});

Deno.test("shardOf is in range and the same for the same key", () => {
  for (const k of ["", "a", "\u{10ffff}", "x".repeat(2048)]) {
    const s = shardOf(k);
    assert.ok(Number.isInteger(s) && s >= 0 && s < SHARDS);
    assert.equal(shardOf(k), s);
  }
});
