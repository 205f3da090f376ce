/**
 * Issue 10, defect 6 on real processes: a follower restarted behind a leader that has committed
 * thousands more entries must not say ready (`/readyz` 200) before it has caught up to within
 * `READY_MAX_LAG_ENTRIES` of the leader's commit index.
 */

import assert from "node:assert/strict";
import { READY_MAX_LAG_ENTRIES } from "../../src/api/routes/health.ts";
import { startCluster, type TestCluster } from "./cluster_fixture.ts";
import { jsonOrUndefined } from "./net.ts";
import { poll } from "./poll.ts";

/** Writes keys `k0`.. `k{n-1}` through `id`, `parallel` at a time, each retried until it lands. */
async function writeMany(c: TestCluster, id: number, n: number, parallel: number) {
  const value = "v".repeat(1000);
  let next = 0;
  const writer = async () => {
    for (let i = next++; i < n; i = next++) {
      await poll(async () => {
        const res = await fetch(`${c.clientUrl(id)}/v1/config/k${i}`, {
          method: "PUT",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ i, value }),
          signal: AbortSignal.timeout(5000),
        }).catch(() => undefined);
        await res?.body?.cancel();
        return res?.ok ? true : undefined;
      }, { what: `PUT k${i}`, timeoutMs: 15_000, intervalMs: 50 });
    }
  };
  await Promise.all(Array.from({ length: parallel }, writer));
}

Deno.test({
  name: "process: a restarted follower is ready only once it has caught up with the leader",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const c = await startCluster({ nodes: 3 });
    try {
      const leader = await c.waitForLeader({ timeoutMs: 20_000 });
      const lagging = c.ids.find((id) => id !== leader)!;
      await c.kill(lagging, "SIGKILL");
      const n = 6000;
      await writeMany(c, leader, n, 16);
      const leaderCommit = (await c.status(leader))!.commitIndex;
      assert.ok(leaderCommit >= n);

      await c.restart(lagging);
      // The first 200 of /readyz: from then on a load balancer sends it traffic.
      const ready = await poll(async () => {
        const res = await fetch(`${c.clientUrl(lagging)}/readyz`, {
          signal: AbortSignal.timeout(1000),
        }).catch(() => undefined);
        if (res?.status !== 200) {
          await res?.body?.cancel();
          return undefined;
        }
        return await res.json() as { appliedIndex: number };
      }, { what: "the restarted follower to say ready", timeoutMs: 30_000, intervalMs: 5 });
      // What a client sees right then: a key written early in the backlog is there.
      const early = await jsonOrUndefined(
        `${c.clientUrl(lagging)}/v1/config/k0?consistency=stale`,
      ) as { value: { i: number } } | undefined;
      console.log(
        `restarted follower ready at applied ${ready.appliedIndex}, leader commit ${leaderCommit}`,
      );
      assert.ok(
        ready.appliedIndex >= leaderCommit - READY_MAX_LAG_ENTRIES,
        `ready at applied index ${ready.appliedIndex} against a leader commit of ${leaderCommit}`,
      );
      assert.equal(early?.value.i, 0, "a stale read of k0 right after ready finds it");
    } finally {
      await c.stop();
    }
  },
});
