import assert from "node:assert/strict";
import { decode, encode } from "@msgpack/msgpack";
import { systemClock } from "../../src/node/clock.ts";
import { NoLeaderError } from "../../src/node/errors.ts";
import { type ForwardingHost, LeaderForwarding } from "../../src/node/leader_forwarding.ts";
import { ProposalTimeoutError } from "../../src/node/pending_proposals.ts";
import type { NodeId } from "../../src/raft/types.ts";
import { encodeSubmission, type Submission } from "../../src/state/commands.ts";
import { InvalidCommandError } from "../../src/state/errors.ts";
import type { ApplyOutcome } from "../../src/state/results.ts";
import { CallError, PeerUnreachableError } from "../../src/transport/transport.ts";

const OUTCOME: ApplyOutcome = {
  index: 7,
  result: { ok: true },
  events: [],
  revision: 3,
  duplicate: false,
};

interface Sent {
  leader: NodeId;
  sub: Submission;
  signal: AbortSignal;
}

/** A host whose leader the test sets and whose calls it answers. */
function fakeHost(answer: (sent: Sent) => Promise<Uint8Array>) {
  const sent: Sent[] = [];
  let leader: NodeId = 1;
  const host: ForwardingHost = {
    id: 2,
    clock: systemClock,
    heartbeatMs: 5,
    leaderId: () => leader,
    electionTimeoutMaxMs: () => 60,
    proposeLocal: (body) => Promise.resolve({ ...OUTCOME, index: decode(body) ? 9 : 0 }),
    call: (to, body, signal) => {
      const s = { leader: to, sub: decode(body) as Submission, signal };
      sent.push(s);
      return answer(s);
    },
  };
  const forwarding = new LeaderForwarding(host);
  return {
    sent,
    forwarding,
    setLeader(id: NodeId) {
      leader = id;
      forwarding.leaderChanged();
    },
  };
}

const hang = (s: Sent) =>
  new Promise<Uint8Array>((_, reject) =>
    s.signal.addEventListener("abort", () => reject(s.signal.reason))
  );

const put: Submission = { cmd: { op: "put", key: "k", value: 1 } };

Deno.test("a forwarded write follows a leader change and mints one key for every copy", async () => {
  const f = fakeHost((s) => s.leader === 1 ? hang(s) : Promise.resolve(encode(OUTCOME)));
  const answer = f.forwarding.forward(put, encodeSubmission(put));
  await new Promise((r) => setTimeout(r, 10));
  f.setLeader(0); // the old leader is frozen: this node's election timer fired
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(f.sent[0].signal.aborted, false, "the old call may still answer meanwhile");
  f.setLeader(3);
  const outcome = await answer;
  assert.deepEqual(outcome, OUTCOME);
  assert.deepEqual(f.sent.map((s) => s.leader), [1, 3]);
  assert.equal(f.sent[0].signal.aborted, true);
  const keys = new Set(f.sent.map((s) => s.sub.idempotencyKey));
  assert.equal(keys.size, 1);
  assert.match([...keys][0]!, /^fwd-2-/);
});

Deno.test("a replay of the follower's own copy is no duplicate to a client without a key", async () => {
  const f = fakeHost(() => Promise.resolve(encode({ ...OUTCOME, duplicate: true })));
  assert.equal((await f.forwarding.forward(put, encodeSubmission(put))).duplicate, false);
  const keyed = { ...put, idempotencyKey: "client-key" };
  const outcome = await f.forwarding.forward(keyed, encodeSubmission(keyed));
  assert.equal(outcome.duplicate, true, "the client's own key: it may be the client's retry");
  assert.equal(f.sent[1].sub.idempotencyKey, "client-key");
  const session = { ...put, clientId: "c", seq: 4 };
  await f.forwarding.forward(session, encodeSubmission(session));
  assert.equal(f.sent[2].sub.idempotencyKey, undefined, "a session makes a retry safe already");
});

Deno.test("connection errors and 503s are retried; a 400 is final", async () => {
  let n = 0;
  const f = fakeHost(() => {
    n++;
    if (n === 1) return Promise.reject(new PeerUnreachableError(1, "connection reset"));
    if (n === 2) return Promise.reject(new CallError(503, "this node is not the leader"));
    return Promise.resolve(encode(OUTCOME));
  });
  assert.deepEqual(await f.forwarding.forward(put, encodeSubmission(put)), OUTCOME);
  assert.equal(f.sent.length, 3);
  const bad = fakeHost(() => Promise.reject(new CallError(400, "bad command")));
  await assert.rejects(bad.forwarding.forward(put, encodeSubmission(put)), InvalidCommandError);
  assert.equal(bad.sent.length, 1);
});

Deno.test("with no leader it gives up within the budget: 503 if nothing was sent", async () => {
  const f = fakeHost(hang);
  f.setLeader(0);
  const started = performance.now();
  await assert.rejects(f.forwarding.forward(put, encodeSubmission(put)), NoLeaderError);
  const took = performance.now() - started;
  // election timeout 60 + 2 round trips (a heartbeat interval each, nothing measured yet)
  assert.ok(took >= 65 && took < 1000, `gave up after ${took} ms`);
  assert.equal(f.sent.length, 0);
});

Deno.test("a write sent to a leader that is then lost ends in 504 within the budget", async () => {
  const f = fakeHost(hang);
  const answer = f.forwarding.forward(put, encodeSubmission(put));
  await new Promise((r) => setTimeout(r, 10));
  const lostAt = performance.now();
  f.setLeader(0);
  await assert.rejects(answer, ProposalTimeoutError);
  const took = performance.now() - lostAt;
  assert.ok(took >= 65 && took < 1000, `gave up ${took} ms after the leader was lost`);
  assert.equal(f.sent[0].signal.aborted, true, "no call is left behind");
});

Deno.test("the caller's signal ends the wait with its reason", async () => {
  const f = fakeHost(hang);
  const abort = new AbortController();
  const answer = f.forwarding.forward(put, encodeSubmission(put), abort.signal);
  abort.abort(new Error("client went away"));
  await assert.rejects(answer, /client went away/);
});

Deno.test("when this node becomes the leader, the write is proposed here", async () => {
  const f = fakeHost(hang);
  const answer = f.forwarding.forward(put, encodeSubmission(put));
  await new Promise((r) => setTimeout(r, 5));
  f.setLeader(2);
  assert.equal((await answer).index, 9);
});
