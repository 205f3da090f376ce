/**
 * The HTTP API on a real 3-node cluster (separate `deno` processes on loopback): a follower
 * forwards writes and serves linearizable reads, reads stay linearizable across a leader
 * change, leases expire, waiters are served in FIFO order and fencing tokens grow across
 * holders. All through the fetch-only client, as an edge function would use it.
 */

import assert from "node:assert/strict";
import { EdgeraftClient, LockHeldError } from "../../src/client/mod.ts";
import { startCluster, type TestCluster } from "../process/cluster_fixture.ts";
import { poll } from "../process/poll.ts";

function client(c: TestCluster, id: number): EdgeraftClient {
  return new EdgeraftClient({ baseUrl: c.clientUrl(id), retries: 20 });
}

async function lockWaiters(c: TestCluster, id: number, name: string): Promise<number> {
  const res = await fetch(`${c.clientUrl(id)}/v1/locks/${name}`, {
    signal: AbortSignal.timeout(2000),
  });
  return (await res.json()).waiters.length;
}

Deno.test({
  name: "cluster api: forwarding, linearizable reads across a leader change, locks",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const c = await startCluster({ nodes: 3 });
    try {
      const leader = await c.waitForLeader({ timeoutMs: 20_000 });
      const [f1, f2] = c.ids.filter((id) => id !== leader);

      await t.step("a follower forwards writes and names the leader in X-Leader", async () => {
        await poll(async () => {
          const res = await fetch(`${c.clientUrl(f1)}/v1/config/app/forwarded`, {
            method: "PUT",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ via: f1 }),
            signal: AbortSignal.timeout(5000),
          });
          await res.body?.cancel();
          if (!res.ok) return undefined;
          assert.equal(res.headers.get("x-leader"), c.clientUrl(leader));
          assert.ok(Number(res.headers.get("x-revision")) >= 1);
          return true;
        }, { what: "a forwarded write", timeoutMs: 15_000, intervalMs: 100 });
        // A linearizable read on the other follower sees it at once (ReadIndex).
        assert.deepEqual((await client(c, f2).get("app/forwarded"))?.value, { via: f1 });
      });

      await t.step("a try-lock on a held lock is 409; the lease expires", async () => {
        const a = await client(c, f1).acquire("expiring", { ttlMs: 1000, owner: "a" });
        await assert.rejects(
          client(c, f2).acquire("expiring", { ttlMs: 1000, owner: "b" }),
          LockHeldError,
        );
        const b = await poll(async () => {
          try {
            return await client(c, f2).acquire("expiring", { ttlMs: 1000, owner: "b" });
          } catch (e) {
            if (e instanceof LockHeldError) return undefined;
            throw e;
          }
        }, { what: "the lease to expire", timeoutMs: 10_000, intervalMs: 100 });
        assert.ok(b.token > a.token);
      });

      await t.step("waiters on different nodes get the lock in FIFO order", async () => {
        const first = await client(c, leader).acquire("fifo", { ttlMs: 30_000, owner: "first" });
        const second = client(c, f1).acquire("fifo", {
          ttlMs: 30_000,
          owner: "second",
          waitMs: 20_000,
        });
        await poll(async () => (await lockWaiters(c, leader, "fifo")) === 1 || undefined, {
          what: "the second request to wait",
        });
        const third = client(c, f2).acquire("fifo", {
          ttlMs: 30_000,
          owner: "third",
          waitMs: 20_000,
        });
        await poll(async () => (await lockWaiters(c, leader, "fifo")) === 2 || undefined, {
          what: "the third request to wait",
        });
        await client(c, leader).release("fifo", first.token);
        const got2 = await second;
        assert.equal(got2.owner, "second");
        assert.ok(got2.token > first.token);
        await client(c, f1).release("fifo", got2.token);
        const got3 = await third;
        assert.equal(got3.owner, "third");
        assert.ok(got3.token > got2.token);
        await client(c, f2).release("fifo", got3.token);
      });

      await t.step("reads stay linearizable after the leader is killed", async () => {
        await client(c, leader).put("app/epoch", 1);
        await c.kill(leader, "SIGKILL");
        const next = await c.waitForLeader({ exclude: [leader], timeoutMs: 20_000 });
        const other = [f1, f2].find((id) => id !== next)!;
        const written = await client(c, other).put("app/epoch", 2);
        for (const id of [f1, f2]) {
          const read = await client(c, id).get<number>("app/epoch");
          assert.equal(read?.value, 2, `node ${id}`);
          assert.equal(read?.revision, written.revision);
        }
        const lease = await client(c, next).acquire("fifo", { ttlMs: 5000 });
        assert.ok(lease.token > 0);
      });
    } finally {
      await c.stop();
    }
  },
});
