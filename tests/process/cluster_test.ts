/**
 * Real `deno` node processes on loopback: elections, kill -9 of the leader, catch-up of a
 * restarted node from the log and from a snapshot.
 */

import assert from "node:assert/strict";
import { startCluster, type TestCluster } from "./cluster_fixture.ts";
import { poll } from "./poll.ts";

async function put(c: TestCluster, id: number, key: string, value: unknown): Promise<Response> {
  return await fetch(`${c.clientUrl(id)}/v1/config/${key}`, {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(value),
    signal: AbortSignal.timeout(5000),
  });
}

async function staleGet(c: TestCluster, id: number, key: string): Promise<unknown> {
  const res = await fetch(`${c.clientUrl(id)}/v1/config/${key}?consistency=stale`, {
    signal: AbortSignal.timeout(2000),
  });
  if (res.status !== 200) {
    await res.body?.cancel();
    return undefined;
  }
  return (await res.json()).value;
}

/** Writes through `id` until it succeeds (a leader may be in the middle of an election). */
async function putEventually(c: TestCluster, id: number, key: string, value: unknown) {
  await poll(async () => {
    const res = await put(c, id, key, value);
    await res.body?.cancel();
    return res.ok ? true : undefined;
  }, { what: `PUT ${key} to succeed`, timeoutMs: 15_000, intervalMs: 100 });
}

Deno.test({
  name: "process: 3 nodes elect a leader; after kill -9 of it another is elected and commits",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const c = await startCluster({ nodes: 3 });
    try {
      const leader = await c.waitForLeader({ timeoutMs: 20_000 });
      await putEventually(c, leader, "before", 1);
      const killedAt = performance.now();
      await c.kill(leader, "SIGKILL");
      const next = await c.waitForLeader({ exclude: [leader] });
      const electedMs = performance.now() - killedAt;
      assert.notEqual(next, leader);
      // The kernel closed the killed process's sockets: the followers heard of it at once
      // (docs/architecture.md#failure-detection), not only by an election timeout of silence.
      const survivors = c.ids.filter((id) => id !== leader);
      await poll(
        () =>
          survivors.some((id) =>
            c.output(id).includes("connection to the leader lost; campaigning soon")
          ) || undefined,
        { what: "a follower to log the lost connection to the leader", timeoutMs: 10_000 },
      );
      const follower = c.ids.find((id) => id !== leader && id !== next)!;
      await putEventually(c, follower, "after", 2); // forwarded by a follower
      const committedMs = performance.now() - killedAt;
      console.log(
        `failover: new leader ${next} in ${electedMs.toFixed(0)} ms, ` +
          `first write committed ${committedMs.toFixed(0)} ms after kill -9`,
      );
      // The old leader comes back and catches up from the log.
      await c.restart(leader);
      await poll(async () => (await staleGet(c, leader, "after")) === 2 ? true : undefined, {
        what: "the restarted node to catch up",
        timeoutMs: 20_000,
      });
      assert.equal(await staleGet(c, leader, "before"), 1);
    } finally {
      await c.stop();
    }
  },
});

Deno.test({
  name: "process: a node restarted after the log was compacted catches up by snapshot",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const c = await startCluster({ nodes: 3, args: ["--snapshot-entries", "20"] });
    try {
      const leader = await c.waitForLeader({ timeoutMs: 20_000 });
      const lagging = c.ids.find((id) => id !== leader)!;
      await c.kill(lagging, "SIGKILL");
      for (let i = 0; i < 60; i++) await putEventually(c, leader, `k${i}`, i);
      await c.restart(lagging);
      await poll(async () => (await staleGet(c, lagging, "k59")) === 59 ? true : undefined, {
        what: "the lagging node to catch up",
        timeoutMs: 20_000,
      });
      assert.equal(await staleGet(c, lagging, "k0"), 0);
      assert.match(c.output(lagging), /snapshot installed/);
      // The start line says what restoring its snapshot cost (docs/operations.md).
      assert.match(c.output(lagging), /"event":"node started".*"restoreMs":\d+/);
    } finally {
      await c.stop();
    }
  },
});
