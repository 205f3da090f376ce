/**
 * Kill -9 of a real writer process at different moments: every entry, hard state and snapshot it
 * reported durable must be there after a reopen, intact, in a log without holes.
 */

import assert from "node:assert/strict";
import { KvStorage } from "../../src/storage/kv_storage.ts";
import { spawnDenoScript } from "./deno_child.ts";
import { crashEntrySize, crashSnapshotSize, makeEntry, makeSnapshot } from "./test_data.ts";

const WRITER = new URL("./crash_writer.ts", import.meta.url);
const LINE_TIMEOUT_MS = 30_000;

/** What the writer reported durable, over all its runs. */
interface Acknowledged {
  lastIndex: number;
  commit: number;
  term: number;
  snapshotIndex: number;
}

/** When to kill: after the line for which this returns true. */
type KillPoint = (line: string, acks: number) => boolean;

const KILL_POINTS: { name: string; when: KillPoint }[] = [
  { name: "after 7 appends", when: (_, acks) => acks === 7 },
  { name: "as a snapshot starts", when: (line) => line.startsWith("snapshot-start") },
  { name: "after its first append", when: (_, acks) => acks === 1 },
  { name: "after 61 appends", when: (_, acks) => acks === 61 },
  { name: "right after a snapshot", when: (line) => line.startsWith("snapshot ") },
  { name: "after 33 appends", when: (_, acks) => acks === 33 },
];

async function runAndKill(dir: string, term: number, when: KillPoint, acked: Acknowledged) {
  await using writer = spawnDenoScript(WRITER, [dir, String(term)]);
  let acks = 0;
  while (true) {
    const line = await writer.nextLine(LINE_TIMEOUT_MS);
    assert.ok(line !== undefined && line !== "done", `the writer ended before the kill: ${line}`);
    const [kind, a, b] = line.split(" ");
    if (kind === "ack") {
      acks++;
      acked.lastIndex = Number(a);
      acked.commit = Number(b);
      acked.term = term;
    } else if (kind === "snapshot") {
      acked.snapshotIndex = Number(a);
    }
    if (when(line, acks)) break;
  }
  writer.kill("SIGKILL");
  assert.equal((await writer.status).signal, "SIGKILL");
}

async function checkDurable(dir: string, term: number, acked: Acknowledged): Promise<void> {
  const storage = await KvStorage.open(dir);
  try {
    const { hardState, snapshot, entries } = await storage.load();
    const snapshotIndex = snapshot?.metadata.index ?? 0;
    assert.ok(snapshotIndex >= acked.snapshotIndex, `snapshot ${snapshotIndex} lost`);
    if (snapshot) {
      const { index, term } = snapshot.metadata;
      assert.deepEqual(snapshot, makeSnapshot(index, term, crashSnapshotSize(index)));
    }
    let previousTerm = 0;
    entries.forEach((entry, i) => {
      assert.equal(entry.index, snapshotIndex + 1 + i, `hole before entry ${entry.index}`);
      assert.ok(entry.term >= previousTerm && entry.term <= term, `term of ${entry.index}`);
      previousTerm = entry.term;
      const expected = makeEntry(entry.index, entry.term, crashEntrySize(entry.index));
      assert.deepEqual(entry, expected, `entry ${entry.index} is torn`);
    });
    const last = entries.at(-1)?.index ?? snapshotIndex;
    assert.ok(
      last >= acked.lastIndex,
      `acknowledged entry ${acked.lastIndex} lost (log ends ${last})`,
    );
    assert.ok(hardState.commit >= acked.commit, `commit ${acked.commit} lost`);
    assert.ok(hardState.commit <= last, `commit ${hardState.commit} is past the log`);
    assert.ok(hardState.term >= acked.term, `term ${acked.term} lost`);
  } finally {
    storage.close();
  }
}

Deno.test("entries acknowledged before a SIGKILL survive it, intact and without holes", async () => {
  const dir = await Deno.makeTempDir({ prefix: "crash_test_" });
  try {
    const acked: Acknowledged = { lastIndex: 0, commit: 0, term: 0, snapshotIndex: 0 };
    for (const [round, point] of KILL_POINTS.entries()) {
      const term = round + 1;
      await runAndKill(dir, term, point.when, acked);
      await checkDurable(dir, term, acked).catch((error) => {
        throw new Error(`after the kill ${point.name} (round ${term})`, { cause: error });
      });
    }
    assert.ok(acked.snapshotIndex > 0, "no snapshot was ever saved");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
