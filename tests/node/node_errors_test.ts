/**
 * The node's errors say what a caller may conclude: a command the state machine refuses was
 * not proposed (`InvalidCommandError`, on the leader and through a follower), a proposal in
 * flight when the node stops has an unknown outcome (`OutcomeUnknownError`, never a "no
 * leader" that would read as "not applied"), and a bug in the apply path stops the node with
 * its stack in the log and no internals in what callers get.
 */

import assert from "node:assert/strict";
import { NodeStoppedError, NoLeaderError, OutcomeUnknownError } from "../../src/node/errors.ts";
import type { Logger } from "../../src/node/logger.ts";
import { RaftNode } from "../../src/node/raft_node.ts";
import { InvalidCommandError } from "../../src/state/errors.ts";
import { StateMachine } from "../../src/state/state_machine.ts";
import { MemoryStorage } from "../../src/storage/memory_storage.ts";
import { MemoryNetwork } from "../../src/transport/memory_transport.ts";
import { poll } from "../process/poll.ts";

type Line = { level: string; event: string; fields: Record<string, unknown> };

function recordingLogger(lines: Line[]): Logger {
  return { log: (level, event, fields = {}) => lines.push({ level, event, fields }) };
}

async function cluster(n: number, lines: Line[] = []) {
  const net = new MemoryNetwork();
  const peers = new Map(Array.from({ length: n }, (_, i) => [i + 1, `mem://${i + 1}`]));
  const nodes: RaftNode[] = [];
  for (const id of peers.keys()) {
    nodes.push(
      await RaftNode.start({
        id,
        peers,
        storage: new MemoryStorage(),
        transport: (events) => net.attach(id, events),
        logger: recordingLogger(lines),
        tickMs: 5,
        requestTimeoutMs: 5000,
      }),
    );
  }
  const leader = await poll(() => nodes.find((x) => x.isLeader()), { what: "a leader" });
  return {
    net,
    nodes,
    leader,
    async stop() {
      for (const node of nodes) await node.stop();
    },
  };
}

/** The error `promise` rejects with. */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected a rejection");
}

Deno.test("node errors: a command the state machine refuses is InvalidCommandError, here or forwarded", async () => {
  const h = await cluster(3);
  try {
    const follower = h.nodes.find((x) => x !== h.leader)!;
    const before = await h.leader.submit({ cmd: { op: "put", key: "k", value: 0 } });
    for (const node of [h.leader, follower]) {
      const error = await rejection(node.submit({ cmd: { op: "delete", key: "" } }));
      assert.ok(error instanceof InvalidCommandError, `${node.id}: ${error}`);
      assert.equal(error.message, "cmd.key must be a non-empty well-formed string");
    }
    // Nothing was proposed: the next write is the next entry.
    const after = await follower.submit({ cmd: { op: "put", key: "k", value: 1 } });
    assert.equal(after.index, before.index + 1);
  } finally {
    await h.stop();
  }
});

Deno.test("node errors: a proposal in flight when the node stops has an unknown outcome", async () => {
  const h = await cluster(3);
  try {
    // Cut off from the others, the leader can neither commit nor learn the proposal's fate:
    // the others may still commit it after a new election (it may be in their logs already).
    h.net.isolate(h.leader.id);
    const write = rejection(h.leader.submit({ cmd: { op: "put", key: "x", value: 1 } }));
    await h.leader.stop();
    const error = await write;
    assert.ok(error instanceof OutcomeUnknownError, String(error));
    assert.ok(!(error instanceof NoLeaderError));
    // A request after the stop was never proposed: that one may read as "not applied".
    const after = await rejection(h.leader.submit({ cmd: { op: "put", key: "x", value: 2 } }));
    assert.ok(after instanceof NodeStoppedError, String(after));
  } finally {
    await h.stop();
  }
});

Deno.test("node errors: a bug in the apply path stops the node, logged with its stack", async () => {
  const lines: Line[] = [];
  const h = await cluster(1, lines);
  const original = StateMachine.prototype.applySubmission;
  // deno-lint-ignore no-explicit-any
  (StateMachine.prototype as any).applySubmission = function () {
    throw new TypeError("Cannot read properties of undefined (reading 'secretHolder')");
  };
  try {
    // Committed, then the apply failed: whether the command took effect is not known.
    const error = await rejection(h.leader.submit({ cmd: { op: "put", key: "k", value: 1 } }));
    assert.ok(error instanceof OutcomeUnknownError, String(error));
    assert.doesNotMatch(error.message, /secretHolder/);
    const next = await rejection(h.leader.submit({ cmd: { op: "put", key: "k", value: 2 } }));
    assert.ok(next instanceof NodeStoppedError, String(next));
    assert.doesNotMatch(next.message, /secretHolder/);
    const failed = lines.find((l) => l.event === "node failed; stopping");
    assert.ok(failed, "the failure is logged");
    assert.equal(failed.level, "error");
    assert.match(String(failed.fields.stack), /TypeError: Cannot read properties .*secretHolder/);
    assert.match(String(failed.fields.stack), /\n\s+at /);
    assert.ok(h.leader.failure instanceof TypeError, "the node keeps the failure for the process");
  } finally {
    StateMachine.prototype.applySubmission = original;
    await h.stop();
  }
});
