import assert from "node:assert/strict";
import { compareKeys, SortedKeys } from "../../src/state/sorted_keys.ts";
import { seededRandom } from "./log_driver.ts";
import { randomKey } from "./random_keys.ts";

const utf8 = new TextEncoder();

const encoded = new Map<string, Uint8Array>();

function bytesOf(key: string): Uint8Array {
  let bytes = encoded.get(key);
  if (bytes === undefined) encoded.set(key, bytes = utf8.encode(key));
  return bytes;
}

function compareBytes(a: string, b: string): number {
  const x = bytesOf(a);
  const y = bytesOf(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    if (x[i] !== y[i]) return x[i] - y[i];
  }
  return x.length - y.length;
}

Deno.test("compareKeys orders like the UTF-8 bytes of the keys", () => {
  const random = seededRandom(1);
  for (let i = 0; i < 5000; i++) {
    const a = randomKey(random);
    const b = randomKey(random);
    assert.equal(Math.sign(compareKeys(a, b)), Math.sign(compareBytes(a, b)), `${a} vs ${b}`);
  }
  // The case plain `<` gets wrong: a surrogate pair against a high BMP character.
  assert.ok("😀" < "\uffff");
  assert.ok(compareKeys("\uffff", "😀") < 0);
  assert.equal(compareKeys("same", "same"), 0);
  assert.ok(compareKeys("ab", "abc") < 0);
});

Deno.test("SortedKeys matches a sorted array under random inserts and deletes", () => {
  const random = seededRandom(2);
  const keys = new SortedKeys();
  const reference = new Set<string>();
  for (let i = 0; i < 20_000; i++) {
    const key = randomKey(random, 4);
    if (random() < 0.7) {
      assert.equal(keys.insert(key), !reference.has(key));
      reference.add(key);
    } else {
      assert.equal(keys.delete(key), reference.has(key));
      reference.delete(key);
    }
    assert.equal(keys.has(key), reference.has(key));
  }
  const sorted = [...reference].sort(compareBytes);
  assert.ok(sorted.length > 1024, "enough keys to split chunks");
  assert.equal(keys.size, sorted.length);
  assert.deepEqual([...keys], sorted);
  for (let i = 0; i < 200; i++) {
    const start = randomKey(random, 3);
    const expected = sorted.filter((k) => compareBytes(k, start) >= 0).slice(0, 5);
    const expectedAfter = sorted.filter((k) => compareBytes(k, start) > 0).slice(0, 5);
    assert.deepEqual([...keys.scan(start, false)].slice(0, 5), expected);
    assert.deepEqual([...keys.scan(start, true)].slice(0, 5), expectedAfter);
  }
});

Deno.test("SortedKeys empties and refills cleanly", () => {
  const keys = new SortedKeys();
  assert.deepEqual([...keys], []);
  assert.equal(keys.delete("x"), false);
  assert.equal(keys.has("x"), false);
  for (let i = 0; i < 3000; i++) keys.insert(`k${String(i).padStart(5, "0")}`);
  for (let i = 0; i < 3000; i++) assert.ok(keys.delete(`k${String(i).padStart(5, "0")}`));
  assert.equal(keys.size, 0);
  assert.deepEqual([...keys.scan("", false)], []);
  keys.insert("z");
  assert.deepEqual([...keys], ["z"]);
});

Deno.test("SortedKeys takes 100,000 keys in random order without quadratic cost", () => {
  const random = seededRandom(3);
  const keys = new SortedKeys();
  for (let i = 0; i < 100_000; i++) keys.insert(`key/${Math.floor(random() * 1e12)}`);
  let previous = "";
  let count = 0;
  for (const key of keys) {
    assert.ok(compareKeys(previous, key) < 0);
    previous = key;
    count++;
  }
  assert.equal(count, keys.size);
});

Deno.test("SortedKeys: keys in ascending order (a restore) mixed with others keep the order", () => {
  const random = seededRandom(3);
  const keys = new SortedKeys();
  const reference = new Set<string>();
  for (let i = 0; i < 5_000; i++) {
    const key = random() < 0.8 ? `k${String(i).padStart(6, "0")}` : randomKey(random, 3);
    assert.equal(keys.insert(key), !reference.has(key));
    reference.add(key);
  }
  assert.deepEqual([...keys], [...reference].sort(compareBytes));
});
