/** Raft paper section 7 (log compaction) and figure 13 (InstallSnapshot in chunks). */

import assert from "node:assert/strict";
import { TestNetwork } from "./network.ts";

function compactLeader(net: TestNetwork, id: number, data: Uint8Array): void {
  const st = net.node(id).status();
  const snap = net.node(id).compact(st.applied, data);
  const disk = net.disks.get(id)!;
  disk.snapshot = snap;
  disk.entries = disk.entries.filter((e) => e.index > snap.metadata.index);
}

Deno.test("7 a follower that fell behind a compaction catches up by snapshot, in chunks", () => {
  const net = new TestNetwork({ voters: 3, config: { snapshotChunkBytes: 1000 } });
  net.campaign(1);
  net.isolate(3);
  for (let i = 0; i < 10; i++) net.propose(1, `v${i}`);
  const data = new Uint8Array(4500).map((_, i) => i % 251);
  compactLeader(net, 1, data);
  net.heal();
  net.log.length = 0;
  net.tick(10);
  const chunks = net.log.filter((m) => m.type === "snap" && m.to === 3);
  assert.equal(chunks.length, 5);
  assert.ok(chunks.at(-1)!.snapshot!.done);
  const disk3 = net.disks.get(3)!;
  assert.deepEqual(disk3.snapshot?.data, data);
  assert.equal(disk3.snapshot?.metadata.index, net.node(1).status().applied);
  // New entries after the snapshot flow as usual.
  net.propose(1, "after");
  assert.deepEqual(net.appliedText(3), ["after"]);
});

Deno.test("7 lost snapshot chunks are sent again until the follower has them all", () => {
  const net = new TestNetwork({ voters: 3, config: { snapshotChunkBytes: 100 } });
  net.campaign(1);
  net.isolate(3);
  for (let i = 0; i < 5; i++) net.propose(1, `v${i}`);
  compactLeader(net, 1, new Uint8Array(1000).fill(7));
  net.heal();
  let n = 0;
  net.filter = (m) => !(m.type === "snap" && ++n % 3 === 0); // every third chunk is lost
  net.tick(100);
  assert.equal(net.disks.get(3)!.snapshot?.data.length, 1000);
  assert.ok(net.disks.get(3)!.snapshot!.data.every((b) => b === 7));
});

Deno.test("7 a late duplicate of an early chunk does not restart the transfer", () => {
  // Found by the simulator (seed 5451): the follower judged a chunk by the bytes received, not by
  // its own offset, so a duplicate of chunk 0 arriving late dropped the whole transfer; with
  // duplicates always in flight the transfer restarted for ever.
  const net = new TestNetwork({ voters: 3, config: { snapshotChunkBytes: 100 } });
  net.campaign(1);
  net.isolate(3);
  for (let i = 0; i < 5; i++) net.propose(1, `v${i}`);
  compactLeader(net, 1, new Uint8Array(950).fill(9)); // the last chunk is 50 bytes
  net.heal();
  let first: Parameters<TestNetwork["deliver"]>[0] | undefined;
  let injected = false;
  net.filter = (m) => {
    if (m.type !== "snap" || m.to !== 3) return true;
    if (m.snapshot!.offset === 0 && !first) first = m;
    if (m.snapshot!.offset === 900 && !injected && first) {
      injected = true;
      net.deliver(first); // the late duplicate, just before the last chunk
    }
    return true;
  };
  net.log.length = 0;
  net.tick(20);
  assert.ok(injected);
  assert.equal(net.disks.get(3)!.snapshot?.data.length, 950);
  const fromStart = net.log.filter((m) =>
    m.type === "snap" && m.to === 3 && m.snapshot!.offset === 0
  );
  assert.equal(fromStart.length, 2, "the leader sent chunk 0 again: the transfer restarted");
});

Deno.test("7 a node restarts from its snapshot and the entries after it", () => {
  const net = new TestNetwork({ voters: 3 });
  net.campaign(1);
  for (let i = 0; i < 5; i++) net.propose(1, `v${i}`);
  compactLeader(net, 2, new Uint8Array([1, 2, 3]));
  net.propose(1, "later");
  net.start(2);
  const st = net.node(2).status();
  assert.equal(st.commit >= 6, true);
  assert.equal(net.node(2).view.offset, 6);
});

Deno.test("7 a leader that released its snapshot's data asks for it, and sends it once handed back", () => {
  const net = new TestNetwork({ voters: 3, config: { snapshotChunkBytes: 1000 } });
  net.campaign(1);
  net.isolate(3);
  for (let i = 0; i < 10; i++) net.propose(1, `v${i}`);
  const data = new Uint8Array(2500).map((_, i) => i % 13);
  compactLeader(net, 1, data);
  const leader = net.node(1);
  assert.equal(leader.releaseSnapshotData(), true);
  assert.equal(leader.snapshotDataHeld, false);
  assert.equal(leader.view.snapshot?.data.byteLength, 0);
  assert.equal(leader.releaseSnapshotData(), false, "nothing left to release");
  net.heal();
  net.log.length = 0;
  net.tick(10);
  // No chunk goes out without the data; the Ready asks for the snapshot's index instead.
  assert.equal(net.log.filter((m) => m.type === "snap").length, 0);
  const index = leader.view.snapshot!.metadata.index;
  assert.ok((net.wantedSnapshots.get(1) ?? []).includes(index));
  assert.equal(leader.sendingSnapshot(), true);
  // The wrong snapshot is refused, the stored one is taken and sent at once.
  const stored = net.disks.get(1)!.snapshot!;
  const older = { metadata: { ...stored.metadata, index: index - 1 }, data };
  assert.equal(leader.provideSnapshotData(older), false);
  assert.equal(leader.provideSnapshotData(stored), true);
  assert.equal(leader.provideSnapshotData(stored), false, "held already");
  net.settle();
  net.tick(5);
  assert.deepEqual(net.disks.get(3)!.snapshot?.data, data);
  assert.equal(leader.sendingSnapshot(), false);
  net.propose(1, "after");
  assert.deepEqual(net.appliedText(3), ["after"]);
});

Deno.test("7 a newer compaction holds its own data, whatever the older snapshot's state", () => {
  const net = new TestNetwork({ voters: 3 });
  net.campaign(1);
  net.propose(1, "a");
  compactLeader(net, 1, new Uint8Array([1]));
  assert.equal(net.node(1).releaseSnapshotData(), true);
  net.propose(1, "b");
  compactLeader(net, 1, new Uint8Array([2]));
  assert.equal(net.node(1).snapshotDataHeld, true);
  assert.deepEqual(net.node(1).view.snapshot?.data, new Uint8Array([2]));
});
