import assert from "node:assert/strict";
import {
  compactionDue,
  DEFAULT_SNAPSHOT_POLICY,
  type LogSinceSnapshot,
  staggered,
} from "../../src/node/snapshot_policy.ts";

const policy = DEFAULT_SNAPSHOT_POLICY;

Deno.test("snapshot policy: the first snapshot comes after minEntries entries", () => {
  const log = (entries: number): LogSinceSnapshot => ({
    entries,
    bytes: entries * 170,
    snapshotBytes: 0,
  });
  assert.equal(compactionDue(log(9_999), policy), false);
  assert.equal(compactionDue(log(10_000), policy), true);
});

Deno.test("snapshot policy: a large state waits for a log of logRatio x its snapshot (thesis 5.1)", () => {
  const snapshotBytes = 120e6; // ~a million keys of 100 bytes
  const due = (bytes: number) =>
    compactionDue({ entries: Math.round(bytes / 170), bytes, snapshotBytes }, policy);
  assert.equal(due(1.7e6), false, "10,000 writes do not pay for encoding 120 MB");
  assert.equal(due(59.9e6), false);
  assert.equal(due(60e6), true);
});

Deno.test("snapshot policy: the bytes encoded per byte written stay flat as the state grows", () => {
  // Fill a state by writes to new keys (each written byte adds ~0.7 bytes of snapshot) and
  // count what the snapshots cost: it must not grow with the state, as a fixed count did.
  const costPerByte = (keys: number) => {
    let state = 0, log = 0, entries = 0, snapshotBytes = 0, encoded = 0;
    for (let i = 0; i < keys; i++) {
      state += 120;
      log += 170;
      entries++;
      if (compactionDue({ entries, bytes: log, snapshotBytes }, policy)) {
        encoded += state;
        snapshotBytes = state;
        log = 0;
        entries = 0;
      }
    }
    return encoded / (keys * 170);
  };
  const small = costPerByte(100_000);
  const large = costPerByte(1_000_000);
  assert.ok(large < 4, `at most ~4 bytes encoded per byte written, got ${large.toFixed(2)}`);
  assert.ok(
    large < small * 1.5,
    `flat: ${small.toFixed(2)} at 100k keys, ${large.toFixed(2)} at 1M`,
  );
});

Deno.test("snapshot policy: a small state overwritten with big values is compacted by bytes", () => {
  const log = { entries: 100, bytes: 64 * 1024 * 1024, snapshotBytes: 2_000 };
  assert.equal(compactionDue(log, policy), true, "64 MB of log is the cap, whatever the count");
  assert.equal(compactionDue({ ...log, bytes: log.bytes - 1 }, policy), false);
});

Deno.test("snapshot policy: a ratio of 0 is the old rule, by entry count alone", () => {
  const byCount = { ...policy, logRatio: 0 };
  assert.equal(
    compactionDue({ entries: 20, bytes: 10, snapshotBytes: 1e9 }, { ...byCount, minEntries: 20 }),
    true,
  );
});

Deno.test("snapshot policy: nodes are staggered so that they do not all compact at once", () => {
  const ratios = [1, 2, 3, 4, 5].map((id) => staggered(DEFAULT_SNAPSHOT_POLICY, id).logRatio);
  assert.deepEqual(ratios.map((r) => Math.round(r * 100) / 100), [0.5, 0.57, 0.65, 0.73, 0.5]);
  assert.equal(staggered({ ...DEFAULT_SNAPSHOT_POLICY, logRatio: 0 }, 3).logRatio, 0);
});
