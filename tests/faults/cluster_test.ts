/**
 * The fault cluster's own promises about a node that cannot start: a port taken for a moment
 * (by another test's probe) costs a retry, not the run; a port that stays taken ends the wait
 * at once with the node's last log lines, not after a minute of polling with nothing said (a
 * CI run once failed with "did not converge in 60000 ms" and a node that never answered).
 */

import assert from "node:assert/strict";
import { FaultCluster } from "./cluster.ts";
import { withTempDir } from "../process/temp_dir.ts";

const options = { sanitizeResources: false, sanitizeOps: false };

/** Node `id`'s client port, held by this process until `close()`. */
function holdClientPort(cluster: FaultCluster, id: number): Deno.Listener {
  const port = Number(new URL(cluster.clientUrl(id)).port);
  return Deno.listen({ hostname: "127.0.0.1", port });
}

/** Polls node `id`'s log until it says `pattern`, or throws after `timeoutMs`. */
async function waitForLog(logDir: string, id: number, pattern: RegExp, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const text = await Deno.readTextFile(`${logDir}/node-${id}.log`).catch(() => "");
    if (pattern.test(text)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`node ${id}'s log never said ${pattern}`);
}

Deno.test({
  name: "fault cluster: a node whose port is taken for a moment is started again and catches up",
  ...options,
  async fn() {
    await withTempDir("edgeraft-cluster-", async (logDir) => {
      const cluster = await FaultCluster.start({ nodes: 3, logDir });
      try {
        await cluster.waitForLeader(20_000);
        await cluster.kill(1);
        const holder = holdClientPort(cluster, 1);
        try {
          await cluster.restart(1);
          await waitForLog(logDir, 1, /client address .* is in use/, 20_000);
        } finally {
          holder.close();
        }
        const leader = await cluster.waitConverged(30_000);
        assert.ok(cluster.ids.includes(leader));
        assert.equal(cluster.diedOnItsOwn(1), false);
      } finally {
        await cluster.stop();
      }
    });
  },
});

Deno.test({
  name: "fault cluster: a node whose port stays taken fails the wait at once, with its log",
  ...options,
  async fn() {
    await withTempDir("edgeraft-cluster-", async (logDir) => {
      const cluster = await FaultCluster.start({ nodes: 3, logDir });
      const holder = { listener: undefined as Deno.Listener | undefined };
      try {
        await cluster.waitForLeader(20_000);
        await cluster.kill(2);
        holder.listener = holdClientPort(cluster, 2);
        await cluster.restart(2);
        const started = Date.now();
        await assert.rejects(
          cluster.waitConverged(60_000),
          /node\(s\) 2 exited on their own; last lines: node 2: .*client address .* is in use/,
        );
        assert.ok(Date.now() - started < 30_000, "the wait ends once the retries are spent");
      } finally {
        holder.listener?.close();
        await cluster.stop();
      }
    });
  },
});
