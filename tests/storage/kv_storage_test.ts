import assert from "node:assert/strict";
import { KvStorage } from "../../src/storage/kv_storage.ts";
import { defineStorageSuite, type StorageHarness } from "./storage_suite.ts";
import { makeEntries, makeEntry, makeSnapshot } from "./test_data.ts";

async function kvHarness(): Promise<StorageHarness> {
  const dir = await Deno.makeTempDir({ prefix: "kv_storage_test_" });
  const harness: StorageHarness = {
    storage: await KvStorage.open(dir),
    async reopen() {
      harness.storage.close();
      return await KvStorage.open(dir);
    },
    async dispose() {
      harness.storage.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
  return harness;
}

defineStorageSuite("KvStorage", kvHarness);

/** Counts `commit()` calls on every Deno KV atomic operation while `body` runs. */
async function countCommits(body: () => Promise<void>): Promise<number> {
  const prototype = Deno.AtomicOperation.prototype;
  const original = prototype.commit;
  let commits = 0;
  prototype.commit = function (this: Deno.AtomicOperation) {
    commits++;
    return original.call(this);
  };
  try {
    await body();
  } finally {
    prototype.commit = original;
  }
  return commits;
}

Deno.test("KvStorage: an append that fits the KV limits is one commit", async () => {
  const h = await kvHarness();
  try {
    const hardState = { term: 1, vote: 1, commit: 0 };
    await h.storage.append({ entries: makeEntries(1, 1, 1), hardState });
    assert.equal(await countCommits(() => h.storage.append({ entries: makeEntries(2, 2, 1) })), 1);
    const hundred = () => h.storage.append({ entries: makeEntries(3, 102, 1), hardState });
    assert.equal(await countCommits(hundred), 1);
    const large = () => h.storage.append({ entries: [makeEntry(103, 1, 300 * 1024)], hardState });
    assert.equal(await countCommits(large), 1);
    const suffix = () => h.storage.append({ entries: makeEntries(50, 60, 2), hardState });
    assert.equal(await countCommits(suffix), 1);
    const alone = () => h.storage.append({ entries: [], hardState: { ...hardState, commit: 9 } });
    assert.equal(await countCommits(alone), 1);
    const over = () => h.storage.append({ entries: makeEntries(61, 1060, 2, 1024), hardState });
    assert.equal(await countCommits(over), 2);
  } finally {
    await h.dispose();
  }
});

Deno.test("KvStorage: a snapshot switch is one commit after its chunks", async () => {
  const h = await kvHarness();
  try {
    await h.storage.append({ entries: makeEntries(1, 100, 1) });
    // 1 MiB of data is 16 chunks of 64 KiB: four commits of four chunks, then the switch (the
    // one block of the log goes on past 50, so nothing is left to delete).
    const save = () => h.storage.saveSnapshot(makeSnapshot(50, 1, 1024 * 1024));
    assert.equal(await countCommits(save), 5);
  } finally {
    await h.dispose();
  }
});

Deno.test("KvStorage: appends called while a large snapshot is written finish before it", async () => {
  const h = await kvHarness();
  try {
    await h.storage.append({ entries: makeEntries(1, 100, 1) });
    const done: string[] = [];
    // 8 MiB is 128 chunks: 32 commits, between which the appends get their turn.
    const save = h.storage.saveSnapshot(makeSnapshot(50, 1, 8 * 1024 * 1024))
      .then(() => done.push("snapshot"));
    const appends = (async () => {
      for (let i = 101; i <= 105; i++) await h.storage.append({ entries: makeEntries(i, i, 1) });
      done.push("appends");
    })();
    await Promise.all([save, appends]);
    assert.deepEqual(done, ["appends", "snapshot"]);
    const state = await (await h.reopen()).load();
    assert.equal(state.snapshot?.metadata.index, 50);
    assert.equal(state.entries.at(-1)?.index, 105);
  } finally {
    await h.dispose();
  }
});

Deno.test("KvStorage: a load while a snapshot is written keeps its chunks", async () => {
  const h = await kvHarness();
  try {
    await h.storage.load(); // what open read
    await h.storage.append({ entries: makeEntries(1, 100, 1) });
    const snapshot = makeSnapshot(50, 1, 2 * 1024 * 1024);
    const save = h.storage.saveSnapshot(snapshot);
    await h.storage.load(); // scans again, between the chunk commits
    await save;
    h.storage = await h.reopen();
    assert.deepEqual((await h.storage.load()).snapshot, snapshot);
  } finally {
    await h.dispose();
  }
});
