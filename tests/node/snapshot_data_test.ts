/**
 * When the node drops the Raft core's copy of the snapshot's data, and how it hands it back
 * (src/node/snapshot_data.ts), against a core stand-in that records the calls.
 */

import assert from "node:assert/strict";
import type { NodeClock } from "../../src/node/clock.ts";
import { systemClock } from "../../src/node/clock.ts";
import { type SnapshotDataCore, SnapshotDataKeeper } from "../../src/node/snapshot_data.ts";
import type { Snapshot } from "../../src/raft/types.ts";

function snapshotAt(index: number, bytes = 4): Snapshot {
  return {
    metadata: { index, term: 1, conf: { voters: [1], learners: [] } },
    data: new Uint8Array(bytes),
  };
}

class CoreStandIn implements SnapshotDataCore {
  snapshot: Snapshot | undefined = snapshotAt(10);
  snapshotDataHeld = true;
  sending = false;
  provided: Snapshot[] = [];
  get view() {
    return { snapshot: this.snapshot };
  }
  sendingSnapshot(): boolean {
    return this.sending;
  }
  releaseSnapshotData(): boolean {
    if (!this.snapshotDataHeld) return false;
    this.snapshotDataHeld = false;
    return true;
  }
  provideSnapshotData(s: Snapshot): boolean {
    if (this.snapshotDataHeld || s.metadata.index !== this.snapshot?.metadata.index) return false;
    this.provided.push(s);
    this.snapshotDataHeld = true;
    return true;
  }
}

function keeper(core: CoreStandIn, load: () => Promise<Snapshot | undefined>, clock = systemClock) {
  let kicks = 0;
  const errors: unknown[] = [];
  const k = new SnapshotDataKeeper({
    core,
    load,
    clock,
    kick: () => kicks++,
    onError: (e) => errors.push(e),
    holdMs: 1000,
  });
  return { k, kicks: () => kicks, errors };
}

Deno.test("snapshot data: dropped only once the snapshot is durable", () => {
  const core = new CoreStandIn();
  const { k } = keeper(core, () => Promise.resolve(undefined));
  k.onLoop();
  assert.equal(core.snapshotDataHeld, true, "not on disk yet");
  k.durable(9);
  k.onLoop();
  assert.equal(core.snapshotDataHeld, true, "an older snapshot on disk");
  k.durable(10);
  k.onLoop();
  assert.equal(core.snapshotDataHeld, false);
  assert.equal(k.releases, 1);
});

Deno.test("snapshot data: kept while a follower is sent it, and for the hold time after", () => {
  let now = 0;
  const clock: NodeClock = { ...systemClock, monotonic: () => now };
  const core = new CoreStandIn();
  const { k } = keeper(core, () => Promise.resolve(undefined), clock);
  k.durable(10);
  core.sending = true;
  k.onLoop();
  assert.equal(core.snapshotDataHeld, true);
  core.sending = false;
  now = 999;
  k.onLoop();
  assert.equal(core.snapshotDataHeld, true, "within the hold time");
  now = 1000;
  k.onLoop();
  assert.equal(core.snapshotDataHeld, false);
});

Deno.test("snapshot data: a wanted snapshot is read once and handed over on the loop", async () => {
  const core = new CoreStandIn();
  let reads = 0;
  let finish: (s: Snapshot) => void = () => {};
  const { k, kicks } = keeper(core, () => {
    reads++;
    return new Promise((resolve) => finish = resolve);
  });
  k.durable(10);
  k.onLoop();
  core.sending = true;
  k.want(10);
  k.want(10); // asked again at the next heartbeat answer: one read
  assert.equal(reads, 1);
  finish(snapshotAt(10));
  await Promise.resolve();
  await Promise.resolve();
  assert.equal(kicks(), 1);
  assert.equal(core.provided.length, 0, "only on the loop");
  k.onLoop();
  assert.equal(core.provided.length, 1);
  assert.equal(core.snapshotDataHeld, true);
  assert.equal(k.reads, 1);
});

Deno.test("snapshot data: a read that a newer snapshot overtook is not handed over", async () => {
  const core = new CoreStandIn();
  const { k } = keeper(core, () => Promise.resolve(snapshotAt(10)));
  k.durable(10);
  k.onLoop();
  k.want(10);
  core.snapshot = snapshotAt(20); // a compaction meanwhile (its data held)
  core.snapshotDataHeld = true;
  await new Promise((resolve) => setTimeout(resolve, 0));
  k.onLoop();
  assert.equal(core.provided.length, 0);
  assert.equal(k.reads, 0);
});

Deno.test("snapshot data: a failed read is reported and the next want reads again", async () => {
  const core = new CoreStandIn();
  let fail = true;
  const { k, errors } = keeper(
    core,
    () => fail ? Promise.reject(new Error("disk")) : Promise.resolve(snapshotAt(10)),
  );
  k.durable(10);
  k.onLoop();
  k.want(10);
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.equal(errors.length, 1);
  fail = false;
  k.want(10);
  await new Promise((resolve) => setTimeout(resolve, 0));
  k.onLoop();
  assert.equal(core.provided.length, 1);
});
