/**
 * The in-memory log's columns (`entry_store.ts`) against the plain array they replaced: the
 * same entries after any mix of appends, truncations, compactions and resets, and an entry handed
 * out keeps its bytes whatever the store does next.
 */

import assert from "node:assert/strict";
import { EntryStore } from "../../src/raft/entry_store.ts";
import type { Entry } from "../../src/raft/types.ts";
import { Prng } from "../checker/prng.ts";

function command(prng: Prng): Uint8Array {
  // Mostly small commands, some empty (a leader's no-op), a few larger than a page (64 KiB).
  const roll = prng.int(100);
  const length = roll < 10 ? 0 : roll < 97 ? 1 + prng.int(300) : 65_536 + prng.int(70_000);
  const data = new Uint8Array(length);
  for (let i = 0; i < length; i += 97) data[i] = prng.int(256);
  return data;
}

function sameEntries(store: EntryStore, model: Entry[], offset: number): void {
  assert.equal(store.offset, offset);
  assert.equal(store.lastIndex, offset + model.length);
  for (const e of model) {
    assert.equal(store.term(e.index), e.term);
    assert.equal(store.size(e.index), e.data.byteLength + 24);
    assert.deepEqual(store.entry(e.index), e);
  }
  if (model.length > 0) {
    assert.deepEqual(store.entries(offset + 1, offset + model.length + 1), model);
  }
}

for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
  Deno.test(`entry store: matches an array through appends, truncations, compactions (seed ${seed})`, () => {
    const prng = new Prng(seed);
    let offset = prng.int(3) === 0 ? 0 : prng.int(2 ** 40); // indexes past 2^31 too
    const store = new EntryStore(offset);
    let model: Entry[] = [];
    let term = 1;
    /** Entries handed out earlier, with a copy of their bytes as they were then. */
    const handedOut: { entry: Entry; bytes: Uint8Array }[] = [];
    for (let step = 0; step < 3000; step++) {
      const roll = prng.int(100);
      if (roll < 70) {
        const run = 1 + prng.int(40);
        for (let i = 0; i < run; i++) {
          const e: Entry = {
            term,
            index: offset + model.length + 1,
            type: prng.int(20) === 0 ? "conf" : "normal",
            data: command(prng),
          };
          store.push(e);
          model.push({ ...e, data: e.data.slice() });
        }
      } else if (roll < 80 && model.length > 0) {
        term += prng.int(2);
        const keep = prng.int(model.length + 1);
        store.truncateAfter(offset + keep);
        model = model.slice(0, keep);
      } else if (roll < 92 && model.length > 0) {
        const upTo = offset + 1 + prng.int(model.length);
        store.compactTo(upTo);
        model = model.slice(upTo - offset);
        offset = upTo;
      } else if (roll < 94) {
        offset += model.length + prng.int(10);
        store.reset(offset);
        model = [];
      } else if (model.length > 0) {
        const e = store.entry(offset + 1 + prng.int(model.length));
        handedOut.push({ entry: e, bytes: e.data.slice() });
      }
      if (step % 100 === 0) sameEntries(store, model, offset);
    }
    sameEntries(store, model, offset);
    for (const { entry, bytes } of handedOut) assert.deepEqual(entry.data, bytes);
  });
}

Deno.test("entry store: a compaction lets go of the pages only the dropped entries used", () => {
  const store = new EntryStore(0);
  for (let i = 1; i <= 10_000; i++) {
    store.push({ term: 1, index: i, type: "normal", data: new Uint8Array(100).fill(i % 256) });
  }
  const pages = store.pagesHeld;
  assert.ok(pages >= 15, `10,000 commands of 100 bytes fill 64 KiB pages: ${pages}`);
  store.compactTo(9_000);
  assert.ok(store.pagesHeld <= 3, `1,000 entries left: ${store.pagesHeld} pages`);
  assert.deepEqual(store.entry(9_001).data, new Uint8Array(100).fill(9_001 % 256));
  store.compactTo(10_000);
  assert.equal(store.pagesHeld, 0);
  assert.equal(store.length, 0);
  store.push({ term: 2, index: 10_001, type: "conf", data: new Uint8Array([1, 2]) });
  assert.deepEqual(store.entry(10_001), {
    term: 2,
    index: 10_001,
    type: "conf",
    data: new Uint8Array([1, 2]),
  });
});

Deno.test("entry store: refuses a hole and an index it does not hold", () => {
  const store = new EntryStore(5);
  assert.throws(() => store.push({ term: 1, index: 7, type: "normal", data: new Uint8Array() }));
  store.push({ term: 1, index: 6, type: "normal", data: new Uint8Array() });
  assert.throws(() => store.term(5), RangeError);
  assert.throws(() => store.entry(7), RangeError);
  assert.throws(() => store.truncateAfter(4), RangeError);
});

Deno.test("entry store: a compaction that leaves only empty entries keeps one page", () => {
  const store = new EntryStore(0);
  for (let i = 1; i <= 2_000; i++) {
    store.push({ term: 1, index: i, type: "normal", data: new Uint8Array(100) });
  }
  // A new leader's no-op after them: the only entry left once the rest are compacted.
  store.push({ term: 2, index: 2_001, type: "normal", data: new Uint8Array() });
  assert.ok(store.pagesHeld >= 3);
  store.compactTo(2_000);
  assert.equal(store.pagesHeld, 1);
  assert.deepEqual(store.entry(2_001).data, new Uint8Array());
  store.push({ term: 2, index: 2_002, type: "normal", data: new Uint8Array([5]) });
  assert.deepEqual(store.entry(2_002).data, new Uint8Array([5]));
});
