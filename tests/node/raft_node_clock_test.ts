/**
 * RaftNode on an injected clock: with the simulator's virtual time it elects, replicates,
 * serves a linearizable read and times a read out without any real timer, so the node that
 * ships is the node the simulator runs.
 */

import assert from "node:assert/strict";
import { memoryLogger } from "../../src/node/logger.ts";
import { RaftNode } from "../../src/node/raft_node.ts";
import { ReadTimeoutError } from "../../src/node/read_barrier.ts";
import { MemoryStorage } from "../../src/storage/memory_storage.ts";
import { MemoryNetwork } from "../../src/transport/memory_transport.ts";
import { Prng } from "../checker/prng.ts";
import { Scheduler } from "../sim/scheduler.ts";

async function cluster(scheduler: Scheduler, net: MemoryNetwork): Promise<RaftNode[]> {
  const peers = new Map([1, 2, 3].map((id) => [id, `mem://${id}`]));
  return await Promise.all([1, 2, 3].map((id) =>
    RaftNode.start({
      id,
      peers,
      storage: new MemoryStorage(),
      transport: (events) => net.attach(id, events),
      logger: memoryLogger(),
      requestTimeoutMs: 1000,
      clock: scheduler.clock(),
    })
  ));
}

Deno.test("RaftNode on virtual time: elects, writes and reads with no real timer", async () => {
  const scheduler = new Scheduler(new Prng(5));
  const nodes = await cluster(scheduler, new MemoryNetwork());
  const started = performance.now();
  await scheduler.runUntil(10_000, () => nodes.some((n) => n.isLeader()));
  const leader = nodes.find((n) => n.isLeader());
  assert.ok(leader, "no leader within 10 virtual seconds");
  const follower = nodes.find((n) => !n.isLeader())!;
  let outcome: unknown;
  follower.submit({ cmd: { op: "put", key: "a", value: 1 } }).then((o) => outcome = o);
  await scheduler.runUntil(scheduler.now + 1000, () => outcome !== undefined);
  assert.ok(outcome, "the forwarded write was not applied in a virtual second");
  let read = false;
  follower.linearizableRead().then(() => read = true);
  await scheduler.runUntil(scheduler.now + 1000, () => read);
  assert.ok(read);
  assert.equal(follower.getValue("a")?.value, 1);
  // Seconds of virtual time took far less real time: the node waited on no real timer.
  assert.ok(performance.now() - started < 5000);
  for (const n of nodes) await n.stop();
});

Deno.test("RaftNode on virtual time: a read with no quorum times out at the virtual deadline", async () => {
  const scheduler = new Scheduler(new Prng(7));
  const net = new MemoryNetwork();
  const nodes = await cluster(scheduler, net);
  await scheduler.runUntil(10_000, () => nodes.some((n) => n.isLeader()));
  const leader = nodes.find((n) => n.isLeader())!;
  for (const n of nodes) if (n !== leader) net.isolate(n.id);
  const asked = scheduler.now;
  let failed: unknown;
  leader.linearizableRead().catch((e) => failed = e);
  await scheduler.runUntil(asked + 5000, () => failed !== undefined);
  assert.ok(failed instanceof ReadTimeoutError, String(failed));
  // requestTimeoutMs is 1000: the read failed then, in virtual time (give or take a round).
  assert.ok(
    scheduler.now - asked >= 1000 && scheduler.now - asked < 1200,
    `${scheduler.now - asked}`,
  );
  for (const n of nodes) await n.stop();
});

Deno.test("RaftNode: a tick an election timeout late is logged as a stall (to trace elections)", async () => {
  // A clock whose interval fires only when the test says, with its time moved by the test.
  let now = 1_000;
  let tick: (() => void) | undefined;
  const clock = {
    now: () => now,
    monotonic: () => now,
    setTimeout: () => 0,
    clearTimeout: () => {},
    setInterval: (fn: () => void) => {
      tick = fn;
      return 1;
    },
    random: () => 0.5,
  };
  const log = memoryLogger();
  const node = await RaftNode.start({
    id: 1,
    peers: new Map([[1, "mem://1"], [2, "mem://2"], [3, "mem://3"]]),
    storage: new MemoryStorage(),
    transport: (events) => new MemoryNetwork().attach(1, events),
    logger: log,
    tickMs: 10,
    clock,
  });
  try {
    const stalls = () => log.lines.filter((l) => l.event === "event loop stalled").length;
    for (let i = 0; i < 5; i++) {
      now += 10;
      tick!();
    }
    assert.equal(stalls(), 0);
    now += 10 + 2_000; // an election timeout is 15 ticks of 10 ms by default
    tick!();
    assert.equal(stalls(), 1);
  } finally {
    await node.stop();
  }
});
