/**
 * Thesis 10.2.1 with a leader that does not wait for its own disk (etcd-io/raft's
 * AsyncStorageWrites): `advance(rd, { entriesPersisted: false })` hands entries out once, and
 * the leader's copy counts only after `persisted`. Two followers can commit without it.
 */

import assert from "node:assert/strict";
import { TestNetwork } from "./network.ts";

const text = (s: string) => new TextEncoder().encode(s);

/** Takes node 1's next Ready as a pipelined leader would: sends it, does not write it yet. */
function readyWithoutWriting(net: TestNetwork) {
  const leader = net.node(1);
  const rd = leader.ready();
  for (const m of rd.messages) net.deliver(m);
  net.applied.get(1)!.push(...rd.committedEntries);
  leader.advance(rd, { entriesPersisted: false });
  return rd;
}

Deno.test("10.2.1 async: two followers commit an entry the leader has not written, and it is handed out once", () => {
  const net = new TestNetwork({ voters: 3 });
  net.campaign(1);
  net.node(1).propose(text("pipelined"));
  const rd = readyWithoutWriting(net);
  const entry = rd.entries.at(-1)!;
  assert.equal(new TextDecoder().decode(entry.data), "pipelined");
  net.settle(); // the followers write and answer; the leader's Readies carry no entry again
  assert.ok(net.appliedText(1).includes("pipelined"), "committed by the followers' copies");
  assert.ok(
    !net.disks.get(1)!.entries.some((e) => e.index === entry.index),
    "not handed out again",
  );
  assert.ok(net.node(1).view.stabled < entry.index);
  net.node(1).persisted(entry.index, entry.term);
  assert.equal(net.node(1).view.stabled, entry.index);
});

Deno.test("10.2.1 async: with one follower away, the entry commits only once the leader has it on disk", () => {
  const net = new TestNetwork({ voters: 3 });
  net.campaign(1);
  net.isolate(3);
  net.node(1).propose(text("needs me"));
  const entry = readyWithoutWriting(net).entries.at(-1)!;
  net.settle();
  assert.ok(!net.appliedText(1).includes("needs me"), "one follower and no leader copy: no quorum");
  net.node(1).persisted(entry.index, entry.term);
  net.settle();
  assert.ok(net.appliedText(1).includes("needs me"));
});

Deno.test("10.2.1 async: a write that ends after its entries were overwritten marks nothing stable", () => {
  const net = new TestNetwork({ voters: 3 });
  net.campaign(1);
  net.isolate(1);
  net.node(1).propose(text("lost"));
  const entry = readyWithoutWriting(net).entries.at(-1)!;
  net.tick(60, [2, 3]); // the others elect a leader, whose entries replace the unwritten one
  const next = [2, 3].find((id) => net.node(id).status().role === "leader");
  assert.ok(next !== undefined, "a new leader");
  net.node(next).propose(text("kept"));
  net.heal();
  net.tick(10);
  const overwritten = net.node(1).view.entry(entry.index);
  assert.ok(overwritten !== undefined && overwritten.term !== entry.term, "overwritten");
  const stabled = net.node(1).view.stabled;
  net.node(1).persisted(entry.index, entry.term); // the old write ends late
  assert.equal(net.node(1).view.stabled, stabled);
  assert.ok(net.appliedText(1).includes("kept"));
  assert.ok(!net.appliedText(1).includes("lost"));
});
