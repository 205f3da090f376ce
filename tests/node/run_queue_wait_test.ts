/**
 * The run-queue wait reader, and the tick delay a node counts without it: a tick held up by the
 * node's own work counts in both windows; one the thread spent waiting for a CPU only in the
 * first (`edgeraft_event_loop_delay_*` and `edgeraft_event_loop_own_delay_*`).
 */

import assert from "node:assert/strict";
import type { Logger } from "../../src/node/logger.ts";
import type { RaftNode } from "../../src/node/raft_node.ts";
import { parseRunQueueWaitMs, runQueueWaitReader } from "../../src/node/run_queue_wait.ts";
import { poll } from "../process/poll.ts";
import { startSoloNode } from "./solo_node.ts";

Deno.test("run queue wait: parses schedstat's second field into ms", () => {
  assert.equal(parseRunQueueWaitMs("2285000000 2109000000 4956\n"), 2109);
  assert.equal(parseRunQueueWaitMs("1 0 1"), 0);
  assert.equal(parseRunQueueWaitMs("garbage"), undefined);
  assert.equal(parseRunQueueWaitMs(""), undefined);
});

Deno.test("run queue wait: on Linux the reader reads this thread's wait, which only grows", () => {
  using reader = runQueueWaitReader();
  if (Deno.build.os !== "linux") {
    assert.equal(reader, undefined);
    return;
  }
  assert.ok(reader, "Linux has /proc/thread-self/schedstat");
  const first = reader.read();
  const second = reader.read();
  assert.ok(first >= 0 && second >= first);
});

Deno.test("run queue wait: the reader keeps reading the same file, and reads 0 once closed", () => {
  const reader = runQueueWaitReader();
  if (reader === undefined) return; // not Linux
  const readings = Array.from({ length: 1000 }, () => reader.read());
  assert.ok(readings.every((ms, i) => i === 0 || ms >= readings[i - 1]), "never goes back");
  reader.close();
  assert.equal(reader.read(), 0);
  reader.close(); // twice is harmless
});

/** A one-voter node on real time, with `runQueueWaitMs` as given. */
async function soloNode(
  runQueueWaitMs?: () => number,
  logger?: Logger,
): Promise<RaftNode> {
  const node = await startSoloNode({ runQueueWaitMs, ...(logger ? { logger } : {}) });
  // Ticks under way: a delay is measured from the tick before.
  await poll(() => (node.isLeader() && node.counters.tickDelay.size >= 3) || undefined, {
    what: "a lone voter leading, its ticks under way",
  });
  return node;
}

/** Holds the event loop for `ms`, then waits until the late tick is counted. */
async function holdLoop(node: RaftNode, ms: number): Promise<void> {
  const until = performance.now() + ms;
  while (performance.now() < until) { /* the node's own work, as the tick sees it */ }
  await poll(() => node.counters.tickDelay.max() >= ms / 2 || undefined, {
    what: "the late tick to be counted",
    intervalMs: 5,
  });
}

Deno.test("tick delay: a loop held by the node's own work counts as its own delay", async () => {
  const node = await soloNode(() => 0); // never waited for a CPU
  try {
    await holdLoop(node, 120);
    assert.ok(node.counters.tickDelay.max() >= 60, "the held loop made a tick late");
    assert.equal(node.counters.tickOwnDelay.max(), node.counters.tickDelay.max());
  } finally {
    await node.stop();
  }
});

Deno.test("tick delay: the time spent waiting for a CPU is not counted as the node's own", async () => {
  let waited = 0;
  // Every reading says the thread waited a second more than at the last: more than any delay.
  const node = await soloNode(() => (waited += 1000));
  try {
    await holdLoop(node, 120);
    assert.ok(node.counters.tickDelay.max() >= 60, "the held loop made a tick late");
    assert.equal(node.counters.tickOwnDelay.max(), 0);
    assert.ok(node.counters.tickOwnDelay.size > 0, "the own delays were counted");
  } finally {
    await node.stop();
  }
});

Deno.test("tick delay: without a reader only the delay is counted", async () => {
  const node = await soloNode();
  try {
    await holdLoop(node, 120);
    assert.ok(node.counters.tickDelay.size > 0);
    assert.equal(node.counters.tickOwnDelay.size, 0);
  } finally {
    await node.stop();
  }
});

Deno.test("tick delay: a stall as long as an election timeout is logged with its wait for a CPU", async () => {
  const stalls: Record<string, unknown>[] = [];
  const logger: Logger = {
    log: (_level, event, fields) => {
      if (event === "event loop stalled") stalls.push(fields ?? {});
    },
  };
  let waited = 0;
  const node = await soloNode(() => (waited += 1000), logger); // a second more at each reading
  try {
    await holdLoop(node, 700); // well past the election timeout (15 ticks of 10 ms here)
    await poll(() => stalls.length > 0 || undefined, { what: "the stall's log line" });
    assert.equal(stalls[0].waitedForCpuMs, 1000);
    assert.ok((stalls[0].ms as number) >= 300, JSON.stringify(stalls[0]));
  } finally {
    await node.stop();
  }
});
