/**
 * The behaviour every `RaftStorage` must show, written once and run against each implementation
 * (`kv_storage_test.ts`, `memory_storage_test.ts`). Every case checks what `load()` returns both
 * on the live instance and after a reopen, so that nothing lives only in memory.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { Entry } from "../../src/raft/types.ts";
import { MemoryStorage } from "../../src/storage/memory_storage.ts";
import type { AppendUpdate, PersistedState, RaftStorage } from "../../src/storage/raft_storage.ts";
import { Prng } from "../checker/prng.ts";
import { makeEntries, makeEntry, makeSnapshot } from "./test_data.ts";

/**
 * One implementation under test: a fresh, empty storage; a way to get at the same data again
 * (closing the old instance where that is how reopening works); and cleanup.
 *
 * @example
 * ```ts
 * import type { StorageHarness } from "./storage_suite.ts";
 * import { MemoryStorage } from "../../src/storage/memory_storage.ts";
 * const storage = new MemoryStorage();
 * const harness: StorageHarness = {
 *   storage,
 *   reopen: () => Promise.resolve(storage),
 *   dispose: () => Promise.resolve(storage.close()),
 * };
 * ```
 */
export interface StorageHarness {
  storage: RaftStorage;
  reopen(): Promise<RaftStorage>;
  dispose(): Promise<void>;
}

/**
 * Registers the suite's tests under `name`.
 *
 * @example
 * ```ts
 * import { defineStorageSuite } from "./storage_suite.ts";
 * import { MemoryStorage } from "../../src/storage/memory_storage.ts";
 * defineStorageSuite("MemoryStorage", () => {
 *   const storage = new MemoryStorage();
 *   return Promise.resolve({
 *     storage,
 *     reopen: () => Promise.resolve(storage),
 *     dispose: () => Promise.resolve(storage.close()),
 *   });
 * });
 * ```
 */
export function defineStorageSuite(name: string, create: () => Promise<StorageHarness>): void {
  const test = (title: string, body: (h: StorageHarness) => Promise<void>) =>
    Deno.test(`${name}: ${title}`, async () => {
      const harness = await create();
      try {
        await body(harness);
      } finally {
        await harness.dispose();
      }
    });

  /** Asserts `expected` on the live instance, then after a reopen (which `h` keeps using). */
  async function expectState(h: StorageHarness, expected: PersistedState): Promise<void> {
    assertState(await h.storage.load(), expected, "live");
    h.storage = await h.reopen();
    assertState(await h.storage.load(), expected, "after reopen");
  }

  test("an empty storage loads the initial hard state and nothing else", async (h) => {
    await expectState(h, { hardState: { term: 0, vote: 0, commit: 0 }, entries: [] });
  });

  test("appends entries and the hard state together", async (h) => {
    const first = makeEntries(1, 3, 1);
    await h.storage.append({ entries: first, hardState: { term: 1, vote: 1, commit: 0 } });
    const second = makeEntries(4, 10, 1);
    await h.storage.append({ entries: second, hardState: { term: 1, vote: 1, commit: 3 } });
    await expectState(h, {
      hardState: { term: 1, vote: 1, commit: 3 },
      entries: [...first, ...second],
    });
  });

  test("stores the hard state alone, leaving the log as it is", async (h) => {
    await h.storage.append({ entries: makeEntries(1, 2, 1) });
    await h.storage.append({ entries: [], hardState: { term: 5, vote: 2, commit: 1 } });
    await expectState(h, {
      hardState: { term: 5, vote: 2, commit: 1 },
      entries: makeEntries(1, 2, 1),
    });
  });

  test("replaces a stored suffix, shorter or longer than the new entries", async (h) => {
    await h.storage.append({ entries: makeEntries(1, 10, 1) });
    await h.storage.append({ entries: makeEntries(6, 8, 2) });
    await expectState(h, {
      hardState: { term: 0, vote: 0, commit: 0 },
      entries: [...makeEntries(1, 5, 1), ...makeEntries(6, 8, 2)],
    });
    await h.storage.append({ entries: makeEntries(3, 12, 3) });
    await expectState(h, {
      hardState: { term: 0, vote: 0, commit: 0 },
      entries: [...makeEntries(1, 2, 1), ...makeEntries(3, 12, 3)],
    });
  });

  test("replaces a suffix that starts deep inside a long log", async (h) => {
    for (let from = 1; from <= 3000; from += 500) {
      await h.storage.append({ entries: makeEntries(from, from + 499, 1, 300) });
    }
    await h.storage.append({ entries: makeEntries(777, 800, 2, 300) });
    await h.storage.append({ entries: makeEntries(801, 900, 2, 300) });
    await expectState(h, {
      hardState: { term: 0, vote: 0, commit: 0 },
      entries: [...makeEntries(1, 776, 1, 300), ...makeEntries(777, 900, 2, 300)],
    });
  });

  test("stores entries larger than one KV value, between small ones", async (h) => {
    const entries = [
      makeEntry(1, 1, 10),
      makeEntry(2, 1, 200 * 1024),
      makeEntry(3, 1, 65536),
      makeEntry(4, 1, 10),
      makeEntry(5, 1, 3 * 1024 * 1024), // more than one commit holds
      makeEntry(6, 1, 0),
    ];
    await h.storage.append({ entries, hardState: { term: 1, vote: 0, commit: 5 } });
    await h.storage.append({ entries: [makeEntry(7, 1, 70 * 1024)] });
    await expectState(h, {
      hardState: { term: 1, vote: 0, commit: 5 },
      entries: [...entries, makeEntry(7, 1, 70 * 1024)],
    });
  });

  test("stores a batch over one commit's byte limit, then truncates into it", async (h) => {
    const entries = makeEntries(1, 2000, 1, 1024); // ~2 MB in one append
    await h.storage.append({ entries, hardState: { term: 1, vote: 1, commit: 2000 } });
    await h.storage.append({ entries: makeEntries(1500, 1500, 2, 10) });
    await expectState(h, {
      hardState: { term: 1, vote: 1, commit: 2000 },
      entries: [...entries.slice(0, 1499), makeEntry(1500, 2, 10)],
    });
  });

  test("replaces a suffix of more blocks than one commit may delete", async (h) => {
    // 9 KiB entries appended one by one each get a block of their own: 1200 keys.
    for (let index = 1; index <= 1200; index++) {
      await h.storage.append({ entries: [makeEntry(index, 1, 9 * 1024)] });
    }
    await h.storage.append({
      entries: makeEntries(2, 3, 2),
      hardState: { term: 2, vote: 1, commit: 1 },
    });
    await expectState(h, {
      hardState: { term: 2, vote: 1, commit: 1 },
      entries: [makeEntry(1, 1, 9 * 1024), ...makeEntries(2, 3, 2)],
    });
  });

  test("a snapshot of several MB compacts the entries it covers", async (h) => {
    await h.storage.append({
      entries: makeEntries(1, 100, 1),
      hardState: { term: 1, vote: 1, commit: 90 },
    });
    const snapshot = makeSnapshot(60, 1, 5 * 1024 * 1024 + 7);
    await h.storage.saveSnapshot(snapshot);
    await expectState(h, {
      hardState: { term: 1, vote: 1, commit: 90 },
      snapshot,
      entries: makeEntries(61, 100, 1),
    });
    await h.storage.append({ entries: makeEntries(101, 102, 1) });
    const newer = makeSnapshot(100, 1, 1000);
    await h.storage.saveSnapshot(newer);
    await expectState(h, {
      hardState: { term: 1, vote: 1, commit: 90 },
      snapshot: newer,
      entries: makeEntries(101, 102, 1),
    });
  });

  test("loadSnapshot reads back the current snapshot, also while a newer one is saved", async (h) => {
    assert.equal(await h.storage.loadSnapshot(), undefined);
    await h.storage.append({ entries: makeEntries(1, 100, 1) });
    const first = makeSnapshot(50, 1, 3 * 1024 * 1024 + 11);
    await h.storage.saveSnapshot(first);
    const read = await h.storage.loadSnapshot();
    assert.deepEqual(read?.metadata, first.metadata);
    assert.ok(sameBytes(read?.data, first.data));
    // Read while a newer snapshot is being written and switched in: either one, whole.
    const newer = makeSnapshot(100, 1, 2 * 1024 * 1024 + 3);
    const [during] = await Promise.all([h.storage.loadSnapshot(), h.storage.saveSnapshot(newer)]);
    const expected = during?.metadata.index === 100 ? newer : first;
    assert.deepEqual(during?.metadata, expected.metadata);
    assert.ok(sameBytes(during?.data, expected.data));
    const after = await h.storage.loadSnapshot();
    assert.deepEqual(after?.metadata, newer.metadata);
    assert.ok(sameBytes(after?.data, newer.data));
    h.storage = await h.reopen();
    assert.deepEqual((await h.storage.loadSnapshot())?.metadata, newer.metadata);
  });

  test("a snapshot that does not match the log replaces the whole log", async (h) => {
    await h.storage.append({ entries: makeEntries(1, 50, 1) });
    const conflicting = makeSnapshot(30, 2, 100);
    await h.storage.saveSnapshot(conflicting);
    await expectState(h, {
      hardState: { term: 0, vote: 0, commit: 0 },
      snapshot: conflicting,
      entries: [],
    });
    const beyond = makeSnapshot(80, 3, 0);
    await h.storage.saveSnapshot(beyond);
    await h.storage.append({ entries: makeEntries(81, 82, 3) });
    await expectState(h, {
      hardState: { term: 0, vote: 0, commit: 0 },
      snapshot: beyond,
      entries: makeEntries(81, 82, 3),
    });
  });

  test("a snapshot can replace a log of more blocks than one commit may delete", async (h) => {
    for (let index = 1; index <= 1100; index++) {
      await h.storage.append({ entries: [makeEntry(index, 1, 9 * 1024)] });
    }
    const snapshot = makeSnapshot(1050, 2, 10);
    await h.storage.saveSnapshot(snapshot);
    await h.storage.append({ entries: makeEntries(1051, 1052, 2) });
    await expectState(h, {
      hardState: { term: 0, vote: 0, commit: 0 },
      snapshot,
      entries: makeEntries(1051, 1052, 2),
    });
  });

  test("refuses appends that would leave a hole or rewrite the snapshot", async (h) => {
    await h.storage.append({ entries: makeEntries(1, 10, 1) });
    await h.storage.saveSnapshot(makeSnapshot(5, 1, 10));
    await assert.rejects(h.storage.append({ entries: makeEntries(12, 12, 1) }), RangeError);
    await assert.rejects(h.storage.append({ entries: makeEntries(5, 6, 1) }), RangeError);
    const gap = [makeEntry(11, 1), makeEntry(13, 1)];
    await assert.rejects(h.storage.append({ entries: gap }), RangeError);
    await assert.rejects(h.storage.saveSnapshot(makeSnapshot(4, 1, 10)), RangeError);
    await expectState(h, {
      hardState: { term: 0, vote: 0, commit: 0 },
      snapshot: makeSnapshot(5, 1, 10),
      entries: makeEntries(6, 10, 1),
    });
  });

  test("calls issued without waiting take effect in call order", async (h) => {
    const calls = [
      h.storage.append({ entries: makeEntries(1, 5, 1) }),
      h.storage.append({
        entries: makeEntries(3, 4, 2),
        hardState: { term: 2, vote: 0, commit: 1 },
      }),
      h.storage.saveSnapshot(makeSnapshot(2, 1, 10)),
      h.storage.append({ entries: makeEntries(5, 6, 2) }),
    ];
    await Promise.all(calls);
    await expectState(h, {
      hardState: { term: 2, vote: 0, commit: 1 },
      snapshot: makeSnapshot(2, 1, 10),
      entries: [...makeEntries(3, 4, 2), ...makeEntries(5, 6, 2)],
    });
  });

  test("appends issued without waiting equal the same appends one by one", async (h) => {
    // Random overlapping, overwriting and some wrong appends, issued in waves that may land
    // behind a running write (a storage with group commit writes some of them together).
    for (const seed of [1, 2, 3, 4, 5, 6]) {
      const prng = new Prng(seed);
      const reference = new MemoryStorage();
      const updates: AppendUpdate[] = [];
      const expected: string[] = [];
      const before = await h.storage.load(); // what the earlier seeds left
      await reference.append({ entries: before.entries, hardState: before.hardState });
      let last = before.entries.at(-1)?.index ?? 0;
      for (let step = 0; step < 40; step++) {
        const update = randomUpdate(prng, last, seed * 100 + step);
        updates.push(update);
        const outcome = await reference.append(update).then(() => "ok", (e) => e.name);
        expected.push(outcome);
        last = (await reference.load()).entries.at(-1)?.index ?? 0;
      }
      const calls: Promise<string>[] = [];
      for (const update of updates) {
        calls.push(h.storage.append(update).then(() => "ok", (e) => e.name));
        if (prng.chance(0.2)) await new Promise((resolve) => setTimeout(resolve, 0));
        else if (prng.chance(0.1)) await calls.at(-1);
      }
      assert.deepEqual(await Promise.all(calls), expected, `outcomes (seed ${seed})`);
      await expectState(h, await reference.load());
    }
  });

  test("keeps its own copy of what it stored", async (h) => {
    const entry = makeEntry(1, 1, 10);
    const hardState = { term: 1, vote: 1, commit: 0 };
    await h.storage.append({ entries: [entry], hardState });
    entry.data.fill(0);
    hardState.term = 99;
    const loaded = await h.storage.load();
    loaded.entries[0].data.fill(1);
    await expectState(h, {
      hardState: { term: 1, vote: 1, commit: 0 },
      entries: [makeEntry(1, 1, 10)],
    });
  });

  test("rejects calls after close", async (h) => {
    h.storage.close();
    await assert.rejects(h.storage.load());
    h.storage = await h.reopen();
  });
}

/**
 * An append starting at most 6 entries before the end (rarely past it, leaving a hole), of 0 to 4
 * entries of mostly small sizes, with a hard state half of the time.
 */
function randomUpdate(prng: Prng, last: number, term: number): AppendUpdate {
  const first = prng.chance(0.05) ? last + 2 : Math.max(1, last + 1 - prng.int(7));
  const size = () => prng.chance(0.05) ? 70 * 1024 : prng.int(300);
  const entries = Array.from({ length: prng.int(5) }, (_, i) => makeEntry(first + i, term, size()));
  if (entries.length > 1 && prng.chance(0.03)) entries[1] = makeEntry(first + 5, term);
  const update: AppendUpdate = { entries };
  if (prng.chance(0.5)) {
    update.hardState = { term, vote: prng.int(4), commit: Math.max(0, last - prng.int(3)) };
  }
  return update;
}

function assertState(actual: PersistedState, expected: PersistedState, when: string): void {
  assert.deepEqual(actual.hardState, expected.hardState, `hard state (${when})`);
  assert.deepEqual(actual.snapshot?.metadata, expected.snapshot?.metadata, `snapshot (${when})`);
  assert.ok(
    sameBytes(actual.snapshot?.data, expected.snapshot?.data),
    `snapshot data (${when})`,
  );
  assert.deepEqual(
    actual.entries.map(describe),
    expected.entries.map(describe),
    `entries (${when})`,
  );
  actual.entries.forEach((entry, i) => {
    assert.ok(
      sameBytes(entry.data, expected.entries[i].data),
      `data of entry ${entry.index} (${when})`,
    );
  });
}

function describe(entry: Entry): string {
  return `${entry.index}/${entry.term}/${entry.type}/${entry.data.byteLength}`;
}

function sameBytes(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}
