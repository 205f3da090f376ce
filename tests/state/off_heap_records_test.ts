// The config store's off-heap parts (slab, record table, hash and order indexes) against plain
// JavaScript models, driven by a seeded random walk of puts and deletes.
import assert from "node:assert/strict";
import { decode } from "@msgpack/msgpack";
import { ByteSlab, classSize } from "../../src/state/byte_slab.ts";
import { ConfigStore } from "../../src/state/config_store.ts";
import { KeyHashIndex } from "../../src/state/key_hash_index.ts";
import { KeyOrderIndex } from "../../src/state/key_order_index.ts";
import { KeyBytes, RecordTable } from "../../src/state/record_table.ts";
import { compareKeys } from "../../src/state/sorted_keys.ts";
import type { JsonValue } from "../../src/state/json_value.ts";
import { seededRandom } from "./log_driver.ts";
import { randomKey } from "./random_keys.ts";

Deno.test("size classes: 16-byte steps to 256, then at most a quarter more than asked", () => {
  assert.equal(classSize(0), 16);
  assert.equal(classSize(16), 16);
  assert.equal(classSize(17), 32);
  assert.equal(classSize(256), 256);
  for (let n = 257; n < 1 << 22; n = Math.ceil(n * 1.07)) {
    const size = classSize(n);
    assert.ok(size >= n && size <= n * 1.25 + 16, `${n} -> ${size}`);
    assert.equal(classSize(size), size, `a class size is its own class (${size})`);
  }
});

Deno.test("the slab hands out blocks that never overlap, and reuses freed ones", () => {
  const slab = new ByteSlab();
  const next = seededRandom(7);
  const live = new Map<number, { n: number; fill: number }>();
  for (let step = 0; step < 20_000; step++) {
    if (live.size > 0 && next() < 0.45) {
      const [at, { n, fill }] = [...live][Math.floor(next() * live.size)];
      const page = slab.page(at);
      const from = slab.offset(at);
      for (let i = 0; i < n; i++) assert.equal(page[from + i], fill, `block ${at} intact`);
      slab.free(at, n);
      live.delete(at);
      continue;
    }
    const n = next() < 0.02 ? 100_000 + Math.floor(next() * 300_000) : Math.floor(next() * 600);
    const at = slab.alloc(n);
    assert.ok(!live.has(at), "a fresh address");
    const fill = step & 0xff;
    slab.page(at).fill(fill, slab.offset(at), slab.offset(at) + n);
    live.set(at, { n, fill });
  }
  for (const [at, { n, fill }] of live) {
    const from = slab.offset(at);
    assert.ok(slab.page(at).subarray(from, from + n).every((b) => b === fill));
  }
  const expected = [...live.values()].reduce((sum, { n }) => sum + classSize(n), 0);
  assert.equal(slab.bytesInUse, expected);
});

Deno.test("the hash and order indexes agree with a Map and a sorted array", () => {
  const table = new RecordTable();
  const byKey = new KeyHashIndex(table);
  const order = new KeyOrderIndex(table);
  const model = new Map<string, number>();
  const next = seededRandom(11);
  const key = new KeyBytes();
  for (let step = 0; step < 30_000; step++) {
    const k = randomKey(next, 4);
    const id = byKey.find(key.set(k));
    assert.equal(id >= 0, model.has(k), `find ${JSON.stringify(k)}`);
    if (id >= 0) {
      assert.equal(table.key(id), k);
      assert.equal(table.revision(id), model.get(k));
    }
    if (id >= 0 && next() < 0.5) {
      byKey.remove(id);
      order.remove(id, key);
      table.remove(id);
      model.delete(k);
    } else if (id >= 0) {
      table.setValue(id, new Uint8Array(Math.floor(next() * 300)), {
        revision: step,
        createRevision: 0,
        version: 1,
      });
      model.set(k, step);
    } else {
      const created = table.create(key, new Uint8Array(3), {
        revision: step,
        createRevision: step,
        version: 1,
      });
      byKey.insert(created);
      order.insert(created, key);
      model.set(k, step);
    }
    if (step % 5_000 === 0) {
      const sorted = [...model.keys()].sort(compareKeys);
      const scanned = [...order.scan(new KeyBytes().set(""), false)].map((i) => table.key(i));
      assert.deepEqual(scanned, sorted);
      const from = randomKey(next, 3);
      const after = [...order.scan(new KeyBytes().set(from), true)].map((i) => table.key(i));
      assert.deepEqual(after, sorted.filter((s) => compareKeys(s, from) > 0));
    }
  }
  assert.equal(byKey.size, model.size);
});

Deno.test("a store of many keys lists, reads and snapshots as a plain model does", () => {
  const store = new ConfigStore(100);
  const model = new Map<string, JsonValue>();
  const next = seededRandom(3);
  for (let step = 0; step < 20_000; step++) {
    const k = randomKey(next, 3);
    if (model.has(k) && next() < 0.3) {
      assert.equal(store.delete({ op: "delete", key: k }).result.ok, true);
      model.delete(k);
    } else {
      const value: JsonValue = next() < 0.5 ? step : { step, text: "x".repeat(step % 700) };
      assert.equal(store.put({ op: "put", key: k, value }).result.ok, true);
      model.set(k, value);
    }
  }
  assert.equal(store.size, model.size);
  for (const [k, v] of model) assert.deepEqual(store.get(k)?.value, v);
  const sorted = [...model.keys()].sort(compareKeys);
  const listed: string[] = [];
  let after: string | undefined;
  for (;;) {
    const page = store.list({ prefix: "", after, limit: 37 });
    listed.push(...page.items.map((i) => i.key));
    if (page.next === null) break;
    after = page.next;
  }
  assert.deepEqual(listed, sorted);
  const restored = ConfigStore.fromSnapshot(100, store.toSnapshot());
  assert.deepEqual(restored.toSnapshot(), store.toSnapshot());
  assert.deepEqual(
    restored.list({ prefix: "é", limit: 1000 }),
    store.list({ prefix: "é", limit: 1000 }),
  );
});

Deno.test("a capture reads the store as it was while puts and deletes go on", () => {
  const store = new ConfigStore(10);
  const next = seededRandom(5);
  for (let i = 0; i < 3_000; i++) store.put({ op: "put", key: randomKey(next, 6), value: i });
  const expected = store.toSnapshot()[1];
  const capture = store.capture();
  const seen: [string, JsonValue, number, number, number][] = [];
  for (const [key, bytes, revision, createRevision, version] of capture.keys()) {
    // The tuple is used before the store changes, as the snapshot encoder does.
    seen.push([key, decode(bytes) as JsonValue, revision, createRevision, version]);
    for (let j = 0; j < 3; j++) {
      const k = randomKey(next, 6);
      if (next() < 0.4) store.delete({ op: "delete", key: k });
      else store.put({ op: "put", key: k, value: { big: "y".repeat(Math.floor(next() * 400)) } });
    }
  }
  capture.release();
  assert.deepEqual(seen, expected);
});

Deno.test("values read back as they were put, whatever their msgpack form", () => {
  const store = new ConfigStore(10);
  const values: JsonValue[] = [
    0,
    127,
    128,
    -1,
    -32,
    -33,
    65535,
    2 ** 40,
    -(2 ** 40),
    1.5,
    -0.25,
    null,
    true,
    false,
    "",
    "a",
    "é😀",
    "x".repeat(31),
    "x".repeat(32),
    "y".repeat(255),
    "z".repeat(256),
    "w".repeat(70_000),
    [],
    {},
    [1, "a", null],
    { a: { b: [true] } },
  ];
  values.forEach((value, i) => store.put({ op: "put", key: `k${i}`, value }));
  values.forEach((value, i) => assert.deepEqual(store.get(`k${i}`)?.value, value, `k${i}`));
});
