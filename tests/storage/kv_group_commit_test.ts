/**
 * Group commit in `KvStorage.append`: appends that wait behind a running write go to disk in one
 * commit, with exactly the effect of the same appends one by one, and never across another call.
 */

import assert from "node:assert/strict";
import type { Entry } from "../../src/raft/types.ts";
import { KvStorage } from "../../src/storage/kv_storage.ts";
import { MemoryStorage } from "../../src/storage/memory_storage.ts";
import type { AppendUpdate, PersistedState } from "../../src/storage/raft_storage.ts";
import { withTempDir } from "../process/temp_dir.ts";
import { gateCommits } from "./kv_commit_gate.ts";
import { makeEntries, makeEntry, makeSnapshot } from "./test_data.ts";

function describe(entries: Entry[]): string[] {
  return entries.map((e) => `${e.index}/${e.term}/${e.data.byteLength}/${e.data[0]}`);
}

/** What `updates` leave when appended one by one, each awaited, on top of `base`. */
async function sequentially(
  base: AppendUpdate[],
  updates: AppendUpdate[],
): Promise<PersistedState> {
  const memory = new MemoryStorage();
  for (const update of [...base, ...updates]) await memory.append(update).catch(() => {});
  return await memory.load();
}

async function assertLoads(dir: string, expected: PersistedState): Promise<void> {
  const storage = await KvStorage.open(dir);
  try {
    const state = await storage.load();
    assert.deepEqual(state.hardState, expected.hardState);
    assert.deepEqual(describe(state.entries), describe(expected.entries));
  } finally {
    storage.close();
  }
}

Deno.test("KvStorage: appends queued behind a running commit go to disk in one commit", async () => {
  await withTempDir("kv_group_commit_", async (dir) => {
    const storage = await KvStorage.open(dir);
    const gate = gateCommits();
    const first = { entries: makeEntries(1, 3, 1), hardState: { term: 1, vote: 1, commit: 0 } };
    const queued: AppendUpdate[] = [];
    for (let index = 4; index <= 19; index++) {
      queued.push({
        entries: [makeEntry(index, 1)],
        hardState: { term: 1, vote: 1, commit: index - 3 },
      });
    }
    queued.push({ entries: makeEntries(10, 12, 2) }); // overwrites a suffix of the group's own
    queued.push({ entries: [], hardState: { term: 2, vote: 0, commit: 9 } });
    try {
      const running = storage.append(first);
      await gate.held;
      const calls = queued.map((update) => storage.append(update));
      gate.release();
      await Promise.all([running, ...calls]);
      assert.equal(gate.commits, 2, "the held append, then one for all the queued ones");
    } finally {
      gate.restore();
      storage.close();
    }
    await assertLoads(dir, await sequentially([first], queued));
  });
});

Deno.test("KvStorage: a wrong append in a group is refused alone", async () => {
  await withTempDir("kv_group_commit_", async (dir) => {
    const storage = await KvStorage.open(dir);
    const gate = gateCommits();
    const queued: AppendUpdate[] = [
      { entries: makeEntries(4, 6, 1) },
      { entries: makeEntries(9, 9, 1), hardState: { term: 9, vote: 9, commit: 9 } }, // a hole
      { entries: [makeEntry(7, 1), makeEntry(9, 1)] }, // not contiguous
      { entries: makeEntries(7, 8, 1), hardState: { term: 1, vote: 2, commit: 5 } },
    ];
    try {
      const running = storage.append({ entries: makeEntries(1, 3, 1) });
      await gate.held;
      const calls = queued.map((update) => storage.append(update));
      gate.release();
      const outcomes = await Promise.allSettled([running, ...calls]);
      assert.deepEqual(outcomes.map((o) => o.status), [
        "fulfilled",
        "fulfilled",
        "rejected",
        "rejected",
        "fulfilled",
      ]);
      for (const o of outcomes) {
        if (o.status === "rejected") assert.ok(o.reason instanceof RangeError);
      }
      assert.equal(gate.commits, 2);
    } finally {
      gate.restore();
      storage.close();
    }
    await assertLoads(dir, await sequentially([{ entries: makeEntries(1, 3, 1) }], queued));
  });
});

Deno.test("KvStorage: a failing group commit rejects every member, and the storage stops", async () => {
  await withTempDir("kv_group_commit_", async (dir) => {
    const storage = await KvStorage.open(dir);
    const gate = gateCommits({ fail: (n) => n === 2 });
    try {
      const running = storage.append({ entries: makeEntries(1, 3, 1) });
      await gate.held;
      const calls = [4, 5, 6, 7].map((index) => storage.append({ entries: [makeEntry(index, 1)] }));
      const wrong = storage.append({ entries: [makeEntry(20, 1)] });
      gate.release();
      await running;
      for (const call of calls) await assert.rejects(call, /simulated failure/);
      await assert.rejects(wrong, RangeError);
      await assert.rejects(storage.append({ entries: [makeEntry(4, 1)] }), /reopen it/);
      assert.equal(gate.commits, 2);
    } finally {
      gate.restore();
      storage.close();
    }
    await assertLoads(dir, await sequentially([], [{ entries: makeEntries(1, 3, 1) }]));
  });
});

Deno.test("KvStorage: appends do not group across a load or a snapshot save", async () => {
  for (const snapshotBytes of [0, 100 * 1024]) {
    await withTempDir("kv_group_commit_", async (dir) => {
      const storage = await KvStorage.open(dir);
      await storage.load(); // what open read: the load below reads the disk
      const gate = gateCommits();
      try {
        const running = storage.append({ entries: makeEntries(1, 10, 1) });
        await gate.held;
        const second = storage.append({ entries: makeEntries(11, 20, 1) });
        const loaded = storage.load();
        const third = storage.append({ entries: makeEntries(21, 22, 1) });
        const save = storage.saveSnapshot(makeSnapshot(15, 1, snapshotBytes));
        const fourth = storage.append({ entries: makeEntries(23, 23, 1) });
        gate.release();
        await Promise.all([running, second, third, save, fourth]);
        // The load ran after the second append and before the third.
        assert.equal((await loaded).entries.at(-1)?.index, 20);
        // One commit per append (none grouped), then the snapshot's: chunks, switch, garbage.
        const chunks = Math.ceil(snapshotBytes / (4 * 65536));
        assert.equal(gate.commits, 4 + chunks + 1 + 1, `snapshot of ${snapshotBytes} bytes`);
      } finally {
        gate.restore();
        storage.close();
      }
      const reopened = await KvStorage.open(dir);
      try {
        const state = await reopened.load();
        assert.equal(state.snapshot?.metadata.index, 15);
        assert.deepEqual(describe(state.entries), describe(makeEntries(16, 23, 1)));
      } finally {
        reopened.close();
      }
    });
  }
});
