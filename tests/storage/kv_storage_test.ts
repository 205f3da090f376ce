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
    // 1 MiB of data is 16 chunks of 64 KiB: two commits of chunks, then the switch.
    const save = () => h.storage.saveSnapshot(makeSnapshot(50, 1, 1024 * 1024));
    assert.equal(await countCommits(save), 3);
  } finally {
    await h.dispose();
  }
});
