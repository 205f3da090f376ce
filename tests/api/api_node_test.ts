import assert from "node:assert/strict";
import type { ApiNode } from "../../src/api/api_node.ts";
import type { RaftNode } from "../../src/node/raft_node.ts";
import { FakeNode } from "./fake_node.ts";

// Compile-time proof: the real node and the fake both satisfy what the API uses.
const asApiNode = (node: RaftNode): ApiNode => node;
const fakeAsApiNode = (node: FakeNode): ApiNode => node;

Deno.test("RaftNode and FakeNode satisfy ApiNode", () => {
  assert.equal(typeof asApiNode, "function");
  assert.equal(fakeAsApiNode(new FakeNode()).isLeader(), true);
});
