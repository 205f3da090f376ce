/**
 * What `open` makes of leftovers that a crash can leave in `raft.kv`: it loads the intact prefix
 * of the log and deletes the rest.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { KV_FILE_NAME, KvStorage } from "../../src/storage/kv_storage.ts";
import { encodeBlockParts } from "../../src/storage/log_block_codec.ts";
import { makeEntries, makeEntry } from "./test_data.ts";

async function keysOf(kv: Deno.Kv): Promise<string[]> {
  const keys: string[] = [];
  for await (const entry of kv.list({ prefix: [] })) keys.push(JSON.stringify(entry.key));
  return keys;
}

Deno.test("open keeps the intact prefix of the log and deletes every leftover", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kv_scan_test_" });
  try {
    const storage = await KvStorage.open(dir);
    await storage.append({ entries: makeEntries(1, 10, 1) });
    storage.close();

    const kv = await Deno.openKv(join(dir, KV_FILE_NAME));
    const intactKeys = await keysOf(kv);
    const torn = encodeBlockParts([makeEntry(11, 1, 100 * 1024)]); // two parts
    const afterTorn = encodeBlockParts([makeEntry(12, 1)]);
    await kv.atomic()
      .set(["log", 0, 11, 0], torn[0]) // part 1 missing: a torn block
      .set(["log", 0, 12, 0], afterTorn[0]) // complete, but after a torn block
      .set(["log", 0, 1, 1], torn[1]) // a part beyond its block's part count
      .set(["log", 7, 1, 0], afterTorn[0]) // another log generation
      .set(["snapshotChunk", 9, 0], new Uint8Array(10)) // a snapshot never made current
      .commit();
    kv.close();

    const reopened = await KvStorage.open(dir);
    const { entries } = await reopened.load();
    assert.deepEqual(entries.map((e) => e.index), makeEntries(1, 10, 1).map((e) => e.index));
    await reopened.append({ entries: [makeEntry(11, 2)] });
    reopened.close();

    const check = await Deno.openKv(join(dir, KV_FILE_NAME));
    try {
      // Entry 11 joined the first block or got one of its own (MERGE_LIMIT_BYTES decides);
      // beyond that, no key of the leftovers may remain.
      const ownBlock = JSON.stringify(["log", 0, 11, 0]);
      assert.deepEqual((await keysOf(check)).filter((k) => k !== ownBlock), intactKeys);
    } finally {
      check.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("open refuses a damaged snapshot rather than start from it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kv_scan_test_" });
  try {
    const storage = await KvStorage.open(dir);
    await storage.saveSnapshot({
      metadata: { index: 5, term: 1, conf: { voters: [1], learners: [] } },
      data: new Uint8Array(200 * 1024),
    });
    storage.close();
    const kv = await Deno.openKv(join(dir, KV_FILE_NAME));
    await kv.delete(["snapshotChunk", 1, 1]);
    kv.close();
    await assert.rejects(KvStorage.open(dir), /snapshot 1 is damaged/);
    // Not a DataDirLockedError the second time: the failed open released the directory.
    await assert.rejects(KvStorage.open(dir), /snapshot 1 is damaged/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
