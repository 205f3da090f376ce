/**
 * Writes that need several KV commits, cut after every possible commit: what a reopen loads must
 * be a state the log really passed through (no hole, no torn entry, no commit index past the
 * log, the old or the new snapshot and nothing in between).
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import type { Entry } from "../../src/raft/types.ts";
import { KvStorage } from "../../src/storage/kv_storage.ts";
import type { PersistedState } from "../../src/storage/raft_storage.ts";
import { makeEntries, makeEntry, makeSnapshot } from "./test_data.ts";

/** Lets the first `allowed` KV commits through and fails the rest, like a crash would. */
async function crashAfterCommits(allowed: number, body: () => Promise<void>): Promise<number> {
  const prototype = Deno.AtomicOperation.prototype;
  const original = prototype.commit;
  let commits = 0;
  prototype.commit = function (this: Deno.AtomicOperation) {
    if (++commits > allowed) return Promise.reject(new Error("simulated crash"));
    return original.call(this);
  };
  try {
    await body();
  } catch (error) {
    if (!(error instanceof Error) || error.message !== "simulated crash") throw error;
  } finally {
    prototype.commit = original;
  }
  return commits;
}

async function copyDir(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const file of Deno.readDir(from)) {
    if (file.isFile) await Deno.copyFile(join(from, file.name), join(to, file.name));
  }
}

/**
 * Builds a base state once, then for every number of commits the operation could have completed,
 * runs it on a copy, cuts it there, reopens and hands the loaded state to `check`.
 */
async function cutEverywhere(
  setUp: (storage: KvStorage) => Promise<void>,
  operation: (storage: KvStorage) => Promise<void>,
  check: (state: PersistedState, completedCommits: number) => void,
): Promise<number> {
  const root = await Deno.makeTempDir({ prefix: "kv_interrupted_" });
  try {
    const base = join(root, "base");
    const baseStorage = await KvStorage.open(base);
    await setUp(baseStorage);
    baseStorage.close();

    let total = Infinity;
    for (let allowed = 0; allowed <= total; allowed++) {
      const dir = join(root, `cut_${allowed}`);
      await copyDir(base, dir);
      const storage = await KvStorage.open(dir);
      const attempted = await crashAfterCommits(allowed, () => operation(storage));
      if (attempted <= allowed) total = attempted; // the operation finished: last round
      storage.close();
      const reopened = await KvStorage.open(dir);
      try {
        check(await reopened.load(), Math.min(allowed, attempted));
      } finally {
        reopened.close();
      }
      await Deno.remove(dir, { recursive: true });
    }
    return total;
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

function describe(entries: Entry[]): string[] {
  return entries.map((e) => `${e.index}/${e.term}/${e.data.byteLength}/${e.data[0]}`);
}

/** Asserts the log is `old[..m]` for some m >= keep, or `old[..keep] + new[..j]`. */
function assertPassedThrough(actual: Entry[], old: Entry[], keep: number, added: Entry[]): void {
  const got = describe(actual);
  const oldPrefix = describe(old).slice(0, got.length);
  const newPrefix = describe([...old.slice(0, keep), ...added]).slice(0, got.length);
  assert.ok(got.length >= keep, `lost kept entries: ${got.length} < ${keep}`);
  assert.ok(
    got.join() === oldPrefix.join() || got.join() === newPrefix.join(),
    `log is neither a prefix of the old nor of the new: ends ${got.at(-1)}`,
  );
}

Deno.test("an append over many commits, cut anywhere, leaves a log it passed through", async () => {
  // 1100 single-entry blocks: the truncation alone needs more than one commit of deletes.
  const old = Array.from({ length: 1100 }, (_, i) => makeEntry(i + 1, 1, 9 * 1024));
  const added = [
    ...makeEntries(2, 5, 2, 100),
    makeEntry(6, 2, 2 * 1024 * 1024), // more than two commits of parts
    ...makeEntries(7, 600, 2, 2000),
  ];
  const hardState = { term: 2, vote: 3, commit: 500 };
  const total = await cutEverywhere(
    async (storage) => {
      for (const entry of old) await storage.append({ entries: [entry] });
      await storage.append({ entries: [], hardState: { term: 1, vote: 0, commit: 1 } });
    },
    (storage) => storage.append({ entries: added, hardState }),
    (state, completed) => {
      assertPassedThrough(state.entries, old, 1, added);
      const last = state.entries.at(-1)?.index ?? 0;
      assert.ok(state.hardState.commit <= last, `commit ${state.hardState.commit} > last ${last}`);
      if (completed > 0) assert.equal(state.hardState.term, 2, "the new term is durable early");
    },
  );
  assert.ok(total >= 4, `expected several commits, got ${total}`);
});

Deno.test("a snapshot save over many commits, cut anywhere, is old or new, never torn", async () => {
  const old = Array.from({ length: 1100 }, (_, i) => makeEntry(i + 1, 1, 9 * 1024));
  const oldSnapshot = makeSnapshot(0, 0, 100 * 1024);
  const newSnapshot = makeSnapshot(1050, 2, 2 * 1024 * 1024 + 5); // conflicts: drops the log
  const total = await cutEverywhere(
    async (storage) => {
      await storage.saveSnapshot(oldSnapshot);
      for (const entry of old) await storage.append({ entries: [entry] });
    },
    (storage) => storage.saveSnapshot(newSnapshot),
    (state) => {
      const isNew = state.snapshot?.metadata.index === newSnapshot.metadata.index;
      const expected = isNew ? newSnapshot : oldSnapshot;
      assert.deepEqual(state.snapshot, expected);
      assert.deepEqual(describe(state.entries), isNew ? [] : describe(old));
    },
  );
  assert.ok(total >= 4, `expected several commits, got ${total}`);
});

Deno.test("a compacting snapshot cut anywhere keeps every entry after the old snapshot", async () => {
  const old = Array.from({ length: 1100 }, (_, i) => makeEntry(i + 1, 1, 9 * 1024));
  const snapshot = makeSnapshot(1050, 1, 1024 * 1024);
  await cutEverywhere(
    async (storage) => {
      for (const entry of old) await storage.append({ entries: [entry] });
    },
    (storage) => storage.saveSnapshot(snapshot),
    (state) => {
      const isNew = state.snapshot !== undefined;
      if (isNew) assert.deepEqual(state.snapshot, snapshot);
      assert.deepEqual(describe(state.entries), describe(old.slice(isNew ? 1050 : 0)));
    },
  );
});

Deno.test("a snapshot save with appends between its commits, cut anywhere, loses no append", async () => {
  // Chunks, the switch and the collection of garbage are separate commits (so that a large
  // snapshot does not hold up the log), and appends run between them.
  const old = Array.from({ length: 300 }, (_, i) => makeEntry(i + 1, 1, 9 * 1024));
  const snapshot = makeSnapshot(250, 1, 2 * 1024 * 1024);
  const added = Array.from({ length: 40 }, (_, i) => makeEntry(301 + i, 1, 100));
  const total = await cutEverywhere(
    async (storage) => {
      for (const entry of old) await storage.append({ entries: [entry] });
    },
    async (storage) => {
      const outcomes = await Promise.allSettled([
        storage.saveSnapshot(snapshot),
        (async () => {
          for (const entry of added) await storage.append({ entries: [entry] });
        })(),
      ]);
      const errors = outcomes.flatMap((o) => o.status === "rejected" ? [o.reason] : []);
      // The cut itself, not what it made the storage say afterwards.
      const cut = errors.find((e) => e instanceof Error && e.message === "simulated crash");
      if (cut ?? errors[0]) throw cut ?? errors[0];
    },
    (state) => {
      const isNew = state.snapshot !== undefined;
      if (isNew) assert.deepEqual(state.snapshot, snapshot);
      const kept = describe(old.slice(isNew ? 250 : 0));
      const got = describe(state.entries);
      assert.deepEqual(got.slice(0, kept.length), kept, "the log after the snapshot is whole");
      const appended = got.slice(kept.length);
      assert.deepEqual(appended, describe(added).slice(0, appended.length), "a prefix of appends");
    },
  );
  assert.ok(total >= 20, `expected many commits, got ${total}`);
});

Deno.test("a group of appends written together, cut anywhere, leaves a log it passed through", async () => {
  const old = Array.from({ length: 1100 }, (_, i) => makeEntry(i + 1, 1, 9 * 1024));
  const updates = [
    { entries: makeEntries(2, 5, 2, 100), hardState: { term: 2, vote: 3, commit: 1 } },
    { entries: [makeEntry(6, 2, 2 * 1024 * 1024)] }, // more than two commits of parts
    { entries: makeEntries(7, 600, 2, 2000), hardState: { term: 2, vote: 3, commit: 500 } },
    { entries: makeEntries(300, 320, 3, 500), hardState: { term: 3, vote: 1, commit: 290 } },
    { entries: [makeEntry(900, 3)] }, // a hole: refused alone
    { entries: makeEntries(321, 330, 3, 500) },
  ];
  // What they give one by one: the old first entry, then 2..299 of term 2, then 300..330.
  const added = [...makeEntries(2, 5, 2, 100), makeEntry(6, 2, 2 * 1024 * 1024)];
  added.push(...makeEntries(7, 299, 2, 2000), ...makeEntries(300, 330, 3, 500));
  const total = await cutEverywhere(
    async (storage) => {
      for (const entry of old) await storage.append({ entries: [entry] });
      await storage.append({ entries: [], hardState: { term: 1, vote: 0, commit: 1 } });
    },
    async (storage) => {
      // Called together, before the first has started: one group, one write.
      const outcomes = await Promise.allSettled(updates.map((u) => storage.append(u)));
      const errors = outcomes.flatMap((o) => o.status === "rejected" ? [o.reason] : []);
      const cut = errors.find((e) => e instanceof Error && e.message === "simulated crash");
      if (cut) throw cut;
      assert.deepEqual(
        outcomes.map((o) => o.status === "rejected"),
        updates.map((_, i) => i === 4),
      );
    },
    (state, completed) => {
      assertPassedThrough(state.entries, old, 1, added);
      const last = state.entries.at(-1)?.index ?? 0;
      assert.ok(state.hardState.commit <= last, `commit ${state.hardState.commit} > last ${last}`);
      // One write: its first commit already carries the group's last term and vote.
      if (completed > 0) assert.deepEqual([state.hardState.term, state.hardState.vote], [3, 1]);
      if (state.entries.length === added.length + 1) assert.equal(state.hardState.commit, 290);
    },
  );
  assert.ok(total >= 4, `expected several commits, got ${total}`);
});
