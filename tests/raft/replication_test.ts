/**
 * Raft paper section 5.3 (log replication) and the traps around it
 * (docs/architecture.md#traps-the-core-guards-against).
 */

import assert from "node:assert/strict";
import { withDefaults } from "../../src/raft/config.ts";
import { RawNode } from "../../src/raft/raw_node.ts";
import type { Entry, Message } from "../../src/raft/types.ts";
import { TestNetwork } from "./network.ts";

const e = (index: number, term: number, text = ""): Entry => ({
  index,
  term,
  type: "normal",
  data: new TextEncoder().encode(text),
});

function app(prevIndex: number, prevTerm: number, entries: Entry[], commit = 0): Message {
  return {
    type: "app",
    from: 1,
    to: 2,
    term: 2,
    logTerm: prevTerm,
    index: prevIndex,
    entries,
    commit,
    reject: false,
    rejectHint: 0,
  };
}

function follower(entries: Entry[], term = 2): RawNode {
  return new RawNode(withDefaults({ id: 2, random: () => 0 }), {
    hardState: { term, vote: 0, commit: 0 },
    entries,
    conf: { voters: [1, 2, 3], learners: [] },
  });
}

Deno.test("5.3 an entry is committed and applied everywhere once a majority has it", () => {
  const net = new TestNetwork({ voters: 3 });
  net.campaign(1);
  net.isolate(3);
  net.propose(1, "x");
  assert.deepEqual(net.appliedText(1), ["x"]);
  assert.deepEqual(net.appliedText(2), ["x"]);
  assert.deepEqual(net.appliedText(3), []);
  net.heal();
  net.tick(5);
  assert.deepEqual(net.appliedText(3), ["x"]);
});

Deno.test("5.3 nothing commits without a majority", () => {
  const net = new TestNetwork({ voters: 3 });
  net.campaign(1);
  net.isolate(1);
  net.propose(1, "lost");
  assert.deepEqual(net.appliedText(1), []);
});

Deno.test("5.3 a follower's conflicting suffix is replaced by the leader's entries", () => {
  const node = follower([e(1, 1), e(2, 1, "old"), e(3, 1, "old")]);
  node.step(app(1, 1, [e(2, 2, "new")], 2));
  const rd = node.ready();
  assert.deepEqual(rd.entries.map((x) => [x.index, x.term]), [[2, 2]]);
  assert.equal(node.status().lastIndex, 2);
  assert.deepEqual(rd.messages[0], { ...rd.messages[0], type: "appResp", index: 2, reject: false });
});

Deno.test("5.3 an old or duplicated AppendEntries never truncates entries that match", () => {
  const node = follower([]);
  node.step(app(0, 0, [e(1, 2, "a"), e(2, 2, "b"), e(3, 2, "c")]));
  node.advance(node.ready());
  // A delayed copy of an earlier, shorter message arrives afterwards.
  node.step(app(0, 0, [e(1, 2, "a")]));
  const rd = node.ready();
  assert.equal(node.status().lastIndex, 3);
  assert.equal(rd.entries.length, 0);
  assert.equal(rd.messages[0].index, 1); // it acknowledges what that message covered
});

Deno.test("5.3 a mismatch is rejected with a (term, index) hint for fast backtracking", () => {
  const node = follower([e(1, 1), e(2, 1), e(3, 1), e(4, 1), e(5, 1)]);
  node.step(app(7, 2, []));
  const m = node.ready().messages[0];
  assert.equal(m.reject, true);
  assert.equal(m.rejectHint, 5); // its last index
  assert.equal(m.logTerm, 1);
});

Deno.test("5.3 fast backtracking skips a whole divergent term in one round trip", () => {
  const net = new TestNetwork({ voters: 3 });
  net.campaign(1);
  // The leader is cut off and takes 30 writes that no one else gets...
  net.isolate(1);
  for (let i = 0; i < 30; i++) net.node(1).propose(new TextEncoder().encode(`lost${i}`));
  net.settle();
  // ...while the others elect a new leader and commit writes of their own.
  net.tick(60, [2, 3]);
  const leader = net.leader() === 1
    ? net.ids.find((id) => id !== 1 && net.node(id).status().role === "leader")
    : net.leader();
  assert.ok(leader && leader !== 1);
  for (let i = 0; i < 5; i++) net.propose(leader, `kept${i}`);
  net.heal();
  net.log.length = 0;
  net.tick(30);
  const rejections = net.log.filter((m) => m.type === "appResp" && m.reject && m.from === 1);
  assert.ok(rejections.length <= 2, `${rejections.length} rejections`);
  assert.deepEqual(net.appliedText(1), net.appliedText(leader));
  assert.ok(!net.appliedText(1).some((t) => t.startsWith("lost")));
});

Deno.test("5.3 AppendEntries are batched up to the byte limit and pipelined in a window", () => {
  const net = new TestNetwork({ voters: 3, config: { maxSizePerMsg: 300, maxInflightMsgs: 2 } });
  net.campaign(1);
  net.isolate(2);
  net.isolate(3);
  for (let i = 0; i < 20; i++) net.node(1).propose(new Uint8Array(100));
  net.settle();
  net.heal();
  net.log.length = 0;
  net.tick(30);
  const apps = net.log.filter((m) => m.type === "app" && m.entries.length > 0);
  for (const m of apps) assert.ok(m.entries.length <= 3, `${m.entries.length} entries in one`);
  assert.equal(net.appliedText(2).length, 20);
});

Deno.test("5.3 a follower far behind applies what is committed over several Readies, in order", () => {
  const net = new TestNetwork({ voters: 3, config: { maxCommittedSizePerReady: 300 } });
  net.campaign(1);
  net.isolate(3);
  for (let i = 0; i < 30; i++) net.propose(1, `w${i}`);
  net.settle();
  net.heal();
  net.tick(30);
  const expected = Array.from({ length: 30 }, (_, i) => `w${i}`);
  assert.deepEqual(net.appliedText(3), expected);
  assert.deepEqual(net.appliedText(1), expected);
});
