/**
 * Child process for `crash_test.ts`: `crash_writer.ts <dir> <term>` opens the storage and appends
 * batches of entries of `term` (sizes from `crashEntrySize`, so some batches need several KV
 * commits), saving a snapshot of several MB every 25 batches. It prints a line only after the
 * call it reports resolved: `ack <lastIndex> <commit>`, `snapshot-start <index>`,
 * `snapshot <index>`. The test kills it with SIGKILL somewhere in between.
 *
 * @module
 */

import { KvStorage } from "../../src/storage/kv_storage.ts";
import { crashEntrySize, crashSnapshotSize, makeEntry, makeSnapshot } from "./test_data.ts";

/** Bounds the run if nobody kills it. */
const MAX_BATCHES = 3000;

const [dir, termArg] = Deno.args;
const term = Number(termArg);
const storage = await KvStorage.open(dir);
const { entries, snapshot } = await storage.load();
let last = entries.at(-1)?.index ?? snapshot?.metadata.index ?? 0;
console.log(`start ${last}`);

for (let batch = 0; batch < MAX_BATCHES; batch++) {
  const count = batch % 5 === 4 ? 40 : 1 + (batch % 3);
  const batchEntries = [];
  for (let index = last + 1; index <= last + count; index++) {
    batchEntries.push(makeEntry(index, term, crashEntrySize(index)));
  }
  const commit = last; // everything before this batch is durable
  await storage.append({ entries: batchEntries, hardState: { term, vote: 1, commit } });
  last += count;
  console.log(`ack ${last} ${commit}`);
  if (batch % 25 === 24) {
    const index = last - 3; // written by this run, so of this term; keeps 3 entries after it
    console.log(`snapshot-start ${index}`);
    await storage.saveSnapshot(makeSnapshot(index, term, crashSnapshotSize(index)));
    console.log(`snapshot ${index}`);
  }
}
storage.close();
console.log("done");
