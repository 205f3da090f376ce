/**
 * The node driver with real cores on the in-memory storage and transport twins: the Ready
 * order, forwarding from followers, batched linearizable reads, compaction and restarts.
 */

import assert from "node:assert/strict";
import { type Logger, memoryLogger } from "../../src/node/logger.ts";
import { RaftNode } from "../../src/node/raft_node.ts";
import { StateMachine } from "../../src/state/state_machine.ts";
import { MemoryStorage } from "../../src/storage/memory_storage.ts";
import { MemoryNetwork } from "../../src/transport/memory_transport.ts";
import { poll } from "../process/poll.ts";

interface Harness {
  net: MemoryNetwork;
  nodes: Map<number, RaftNode>;
  storages: Map<number, MemoryStorage>;
  start(id: number): Promise<RaftNode>;
  leader(): Promise<RaftNode>;
  stop(): Promise<void>;
}

async function cluster(
  n: number,
  snapshotEntries = 10_000,
  requestTimeoutMs = 5000,
  logger: (id: number) => Logger = () => memoryLogger(),
): Promise<Harness> {
  const net = new MemoryNetwork();
  const peers = new Map(Array.from({ length: n }, (_, i) => [i + 1, `mem://${i + 1}`]));
  const nodes = new Map<number, RaftNode>();
  const storages = new Map<number, MemoryStorage>();
  const h: Harness = {
    net,
    nodes,
    storages,
    async start(id) {
      if (!storages.has(id)) storages.set(id, new MemoryStorage());
      const node = await RaftNode.start({
        id,
        peers,
        storage: storages.get(id)!,
        transport: (events) => net.attach(id, events),
        logger: logger(id),
        tickMs: 5,
        snapshotEntries,
        requestTimeoutMs,
      });
      nodes.set(id, node);
      return node;
    },
    async leader() {
      return await poll(() => [...nodes.values()].find((x) => x.isLeader()), {
        what: "a leader",
      });
    },
    async stop() {
      for (const node of nodes.values()) await node.stop();
    },
  };
  for (const id of peers.keys()) await h.start(id);
  return h;
}

Deno.test("node: a write through a follower is forwarded, applied and answered", async () => {
  const h = await cluster(3);
  try {
    const leader = await h.leader();
    const follower = [...h.nodes.values()].find((x) => x !== leader)!;
    const outcome = await follower.submit({ cmd: { op: "put", key: "a", value: 1 } });
    assert.equal(outcome.result.ok, true);
    assert.equal(follower.getValue("a")?.value, 1); // answered only once applied there too
  } finally {
    await h.stop();
  }
});

Deno.test("node: concurrent linearizable reads see every write acknowledged before them", async () => {
  const h = await cluster(3);
  try {
    const leader = await h.leader();
    const follower = [...h.nodes.values()].find((x) => x !== leader)!;
    for (let i = 0; i < 20; i++) {
      await leader.submit({ cmd: { op: "put", key: "k", value: i } });
      await Promise.all([follower.linearizableRead(), follower.linearizableRead()]);
      assert.equal(follower.getValue("k")?.value, i);
    }
  } finally {
    await h.stop();
  }
});

Deno.test("node: a restarted node recovers its log and state from storage", async () => {
  const h = await cluster(3, 10);
  try {
    const leader = await h.leader();
    for (let i = 0; i < 25; i++) {
      await leader.submit({ cmd: { op: "put", key: `k${i}`, value: i } });
    }
    const other = [...h.nodes.entries()].find(([, x]) => x !== leader)![0];
    await h.nodes.get(other)!.stop();
    h.storages.set(other, h.storages.get(other)!.reopen());
    const again = await h.start(other);
    await poll(() => again.getValue("k24")?.value === 24 ? true : undefined, {
      what: "the restarted node to apply k24",
    });
    assert.ok(again.coreView().offset > 0, "it restarted from a snapshot");
  } finally {
    await h.stop();
  }
});

Deno.test("node: a follower that missed a compaction gets the snapshot the leader reads back from disk", async () => {
  const h = await cluster(3, 10);
  try {
    const leader = await h.leader();
    const other = [...h.nodes.entries()].find(([, x]) => x !== leader)![0];
    await h.nodes.get(other)!.stop();
    for (let i = 0; i < 40; i++) {
      await leader.submit({ cmd: { op: "put", key: `k${i}`, value: i } });
    }
    // The leader compacted, and once its snapshot was on disk it dropped the core's copy.
    await poll(
      () =>
        leader.coreView().offset > 0 && !leader.coreView().snapshot?.data.byteLength || undefined,
      {
        what: "the leader to compact and drop the snapshot's data",
      },
    );
    h.storages.set(other, h.storages.get(other)!.reopen());
    const again = await h.start(other);
    await poll(() => again.getValue("k39")?.value === 39 ? true : undefined, {
      what: "the restarted follower to catch up",
    });
    assert.ok(again.counters.snapshotsInstalled >= 1, "it caught up by snapshot");
    assert.ok(leader.counters.snapshotReadsBack >= 1, "the leader read it back from disk");
    // Once the follower has it, the leader drops the data again (after the hold time).
    assert.equal(leader.getValue("k0")?.value, again.getValue("k0")?.value);
  } finally {
    await h.stop();
  }
});

Deno.test("node: an isolated leader's reads and writes fail instead of answering stale", async () => {
  const h = await cluster(3, 10_000, 500);
  try {
    const leader = await h.leader();
    h.net.isolate(leader.id);
    const write = leader.submit({ cmd: { op: "put", key: "x", value: 1 } });
    await assert.rejects(write);
    await assert.rejects(leader.linearizableRead());
  } finally {
    await h.stop();
  }
});

Deno.test("node: a commit index alone is not worth a disk write (one fsync per write)", async () => {
  const h = await cluster(3);
  try {
    const leader = await h.leader();
    const storage = h.storages.get(leader.id)!;
    let appends = 0;
    const original = storage.append.bind(storage);
    storage.append = (u) => {
      appends++;
      return original(u);
    };
    for (let i = 0; i < 20; i++) await leader.submit({ cmd: { op: "put", key: "k", value: i } });
    // One write per entry (sometimes fewer, when entries share a Ready); never two.
    assert.ok(appends <= 20, `${appends} appends for 20 writes`);
  } finally {
    await h.stop();
  }
});

Deno.test("node: writes go on being applied while a large state is compacted", async () => {
  // What each node's "log compacted" line said, and how far that node had applied by then.
  const compactions: { id: number; index: number; applied: number }[] = [];
  const h: Harness = await cluster(3, 40, 5000, (id) => ({
    log(_level, event, fields) {
      if (event !== "log compacted") return;
      const applied = h.nodes.get(id)?.appliedIndex() ?? 0;
      compactions.push({ id, index: fields!.index as number, applied });
    },
  }));
  try {
    const leader = await h.leader();
    // ~8 MB of values made of small records: tens of milliseconds of encoding at least.
    for (let i = 0; i < 30; i++) {
      const rows = Array.from({ length: 2500 }, (_, r) => ({ r, name: `row-${i}-${r}`, ok: true }));
      await leader.submit({ cmd: { op: "put", key: `big/${i}`, value: { rows } } });
    }
    let writing = true;
    const writers = Array.from({ length: 4 }, async (_, w) => {
      for (let n = 0; writing; n++) {
        await leader.submit({ cmd: { op: "put", key: `small/${w}`, value: n } });
        // In memory, a write's whole round trip is microtasks: without a turn of the event
        // loop between writes, timers (ticks, the compaction's slices) would never run.
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
    });
    try {
      await poll(() => compactions.some((c) => c.id === leader.id) || undefined, {
        what: "the leader to compact",
        timeoutMs: 30_000,
      });
    } finally {
      writing = false;
      await Promise.all(writers);
    }
    // Before, the loop encoded and wrote the snapshot itself: nothing was applied meanwhile.
    const c = compactions.find((c) => c.id === leader.id)!;
    assert.ok(c.applied > c.index, `applied ${c.applied} by the end of compaction at ${c.index}`);
    // The core drops the snapshot's data once it is on disk (snapshot_data.ts): read it there.
    const stored = await h.storages.get(leader.id)!.loadSnapshot();
    const restored = StateMachine.restore(stored!.data);
    // The newest compaction's, which on a busy machine may be a second one since `c`.
    const mine = compactions.filter((x) => x.id === leader.id).map((x) => x.index);
    assert.ok(mine.includes(restored.appliedIndex), `${restored.appliedIndex} not in ${mine}`);
    assert.deepEqual(restored.get("big/29")?.value, leader.getValue("big/29")?.value);
  } finally {
    await h.stop();
  }
});

Deno.test("node: campaigns and their outcomes are logged at info (issue 18: terms climbed in silence)", async () => {
  const logs = new Map<number, ReturnType<typeof memoryLogger>>();
  const h = await cluster(3, 10_000, 5000, (id) => {
    const log = logs.get(id) ?? memoryLogger();
    logs.set(id, log);
    return log;
  });
  try {
    const leader = await h.leader();
    const won = logs.get(leader.id)!.lines.filter((l) => l.event === "campaign won");
    assert.ok(won.length >= 1, "the leader logged its win");
    assert.ok(logs.get(leader.id)!.lines.some((l) => l.event === "campaign started"));
    assert.ok(won.every((l) => l.level === "info"));

    // A node cut off from the others campaigns again and again (pre-votes nobody answers):
    // each campaign is a line, though its role and term stay the same.
    const loner = [...h.nodes.values()].find((x) => x !== leader)!;
    const startedBefore = logs.get(loner.id)!.lines.filter((l) => l.event === "campaign started")
      .length;
    h.net.isolate(loner.id);
    await poll(
      () =>
        logs.get(loner.id)!.lines.filter((l) => l.event === "campaign started").length >=
          startedBefore + 2 || undefined,
      { what: "two logged campaigns of the isolated node" },
    );
    h.net.heal(loner.id);
  } finally {
    await h.stop();
  }
});

Deno.test("node: the leader times its heartbeats' round trips to each follower", async () => {
  const h = await cluster(3);
  try {
    const leader = await h.leader();
    const rtts = await poll(() => {
      const r = leader.peerRtts();
      return r.length === 2 && r.every((s) => s.samples >= 3) ? r : undefined;
    }, { what: "round trips to both followers" });
    const followers = [...h.nodes.keys()].filter((id) => id !== leader.id).sort();
    assert.deepEqual(rtts.map((s) => s.peer), followers);
    for (const s of rtts) assert.ok(s.p50Ms >= 0 && s.p99Ms >= s.p50Ms);
  } finally {
    await h.stop();
  }
});

Deno.test("node: a one-node cluster logs the campaign it wins at its first tick", async () => {
  const log = memoryLogger();
  const h = await cluster(1, 10_000, 5000, () => log);
  try {
    await h.leader();
    await poll(() => log.lines.some((l) => l.event === "campaign won") || undefined, {
      what: "the campaign won line",
    });
    assert.ok(log.lines.some((l) => l.event === "campaign started"));
  } finally {
    await h.stop();
  }
});

/**
 * Makes the next append with entries of `storage` wait `ms`, or until released. Later appends
 * wait behind it, in call order, as a real storage runs them (`RaftStorage`).
 */
function hangNextAppend(storage: MemoryStorage, ms: number) {
  const append = storage.append.bind(storage);
  let hung = false;
  let release = () => {};
  let tail = Promise.resolve();
  storage.append = (update) => {
    const hang = !hung && update.entries.length > 0;
    if (hang) hung = true;
    const done = tail.then(async () => {
      if (hang) {
        await new Promise<void>((r) => {
          const timer = setTimeout(r, ms);
          release = () => {
            clearTimeout(timer);
            r();
          };
        });
      }
      return await append(update);
    });
    tail = done.catch(() => {});
    return done;
  };
  return { hung: () => hung, release: () => release() };
}

Deno.test("node: a leader whose own disk write takes election timeouts keeps its followers (issue 17)", async () => {
  const h = await cluster(3);
  try {
    const leader = await h.leader();
    const term = leader.status().term;
    // 500 ms: 3-6 election timeouts at 5 ms ticks, within the 10 the leader heartbeats for.
    const disk = hangNextAppend(h.storages.get(leader.id)!, 500);
    // The followers commit the first writes without the leader's copy, while their writes
    // queue behind the hanging one; once 8 are under way the next one waits for the disk, and
    // with it the leader's loop.
    for (let i = 0; i < 9; i++) {
      const outcome = await leader.submit({ cmd: { op: "put", key: `slow${i}`, value: i } });
      assert.equal(outcome.result.ok, true);
    }
    assert.ok(disk.hung(), "the writes went through the hanging append");
    assert.ok(leader.counters.diskWaitHeartbeats > 0, "the heartbeats are counted");
    assert.equal(leader.isLeader(), true);
    for (const node of h.nodes.values()) {
      assert.equal(node.status().term, term, `node ${node.id} saw no campaign`);
    }
  } finally {
    await h.stop();
  }
});

Deno.test("node: a leader whose disk hangs for good falls silent, and the others elect a leader", async () => {
  const h = await cluster(3);
  let disk: ReturnType<typeof hangNextAppend> | undefined;
  try {
    const leader = await h.leader();
    const term = leader.status().term;
    disk = hangNextAppend(h.storages.get(leader.id)!, 60_000);
    leader.submit({ cmd: { op: "put", key: "stuck", value: 1 } }).catch(() => {});
    const others = [...h.nodes.values()].filter((x) => x !== leader);
    const next = await poll(() => others.find((x) => x.isLeader() && x.status().term > term), {
      what: "a new leader among the others",
      timeoutMs: 10_000,
    });
    assert.notEqual(next.id, leader.id);
  } finally {
    disk?.release();
    await h.stop();
  }
});

/** Holds every append with entries of `storage` until `releaseOne` lets the oldest go on. */
function holdAppends(storage: MemoryStorage) {
  const append = storage.append.bind(storage);
  const held: (() => void)[] = [];
  let holding = true;
  storage.append = async (update) => {
    if (holding && update.entries.length > 0) await new Promise<void>((r) => held.push(r));
    return await append(update);
  };
  return {
    held: () => held.length,
    releaseOne: () => held.shift()?.(),
    stop: () => {
      holding = false;
      for (const r of held.splice(0)) r();
    },
  };
}

Deno.test("node: a leader answers a committed write before its next disk write ends (Ready step 4)", async () => {
  const h = await cluster(3);
  let disk: ReturnType<typeof holdAppends> | undefined;
  try {
    const leader = await h.leader();
    await leader.submit({ cmd: { op: "put", key: "warm", value: 0 } });
    disk = holdAppends(h.storages.get(leader.id)!);
    let answeredA = false;
    const a = leader.submit({ cmd: { op: "put", key: "a", value: 1 } }).then((o) => {
      answeredA = true;
      return o;
    });
    await poll(() => disk!.held() === 1 || undefined, { what: "the leader's write of a" });
    const indexA = leader.status().lastIndex;
    // b is proposed while a's write is on the leader's disk: the next Ready carries b's entry.
    const b = leader.submit({ cmd: { op: "put", key: "b", value: 2 } });
    for (const node of h.nodes.values()) {
      if (node === leader) continue;
      await poll(async () => {
        const last = (await h.storages.get(node.id)!.load()).entries.at(-1)?.index ?? 0;
        return last >= indexA || undefined;
      }, { what: `follower ${node.id} has a on disk` });
    }
    await new Promise((r) => setTimeout(r, 0)); // their acks (microtasks) reach the leader
    disk.releaseOne();
    // The leader's next Ready: a committed (both acks are in) and b's entry, whose write hangs.
    await poll(() => disk!.held() === 1 || undefined, { what: "the leader's write of b" });
    await poll(() => answeredA || undefined, { what: "a answered while b's write hangs" });
    assert.equal(disk.held(), 1, "b's write still hangs");
    assert.equal((await a).result.ok, true);
    disk.stop();
    assert.equal((await b).result.ok, true);
  } finally {
    disk?.stop();
    await h.stop();
  }
});

Deno.test("node: a follower that loses its connection to the leader says so and campaigns (failure detection)", async () => {
  const logs = new Map<number, ReturnType<typeof memoryLogger>>();
  const h = await cluster(3, 10_000, 5000, (id) => {
    const log = memoryLogger();
    logs.set(id, log);
    return log;
  });
  try {
    const leader = await h.leader();
    const term = leader.status().term;
    await leader.stop(); // its process is gone: the transport would report the closed sockets
    const others = [...h.nodes.values()].filter((x) => x !== leader);
    for (const node of others) h.net.connectionLost(node.id, leader.id);
    const next = await poll(() => others.find((x) => x.isLeader() && x.status().term > term), {
      what: "a new leader",
    });
    assert.ok(next);
    for (const node of others) {
      const said = logs.get(node.id)!.lines.filter((l) =>
        l.event === "connection to the leader lost; campaigning soon"
      );
      assert.equal(said.length, 1, `node ${node.id} says it once`);
    }
  } finally {
    await h.stop();
  }
});
