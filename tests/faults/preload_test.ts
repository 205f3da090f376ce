/**
 * The preloaded state of a fault run (`--preload N`, issue 17): the keys go in through a real
 * 3-node cluster, the final reads find them on every node, a key lost or changed on the cluster
 * is reported, and short runs with a preload and small snapshots (a killed or replaced node
 * catches up by a snapshot that carries the preload) stay valid and say what they preloaded.
 * Each run's results stay in `.results/faults/`, as faults_test.ts's do.
 */

import assert from "node:assert/strict";
import { checkPreload } from "./checkers/preload_checker.ts";
import { FaultCluster } from "./cluster.ts";
import { preloadKey, readPreload, writePreload } from "./preload.ts";
import { runFaults } from "./run.ts";
import { callJson } from "./workloads/http_call.ts";
import { withTempDir } from "../process/temp_dir.ts";

const PRELOAD = 2000;

Deno.test({
  name: "faults: the preload is written through the cluster and read back from every node",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await withTempDir("edgeraft-preload-", async (logDir) => {
      const cluster = await FaultCluster.start({ nodes: 3, logDir });
      try {
        const leader = await cluster.waitForLeader(20_000);
        const written = await writePreload(cluster, PRELOAD, {
          leader,
          signal: AbortSignal.timeout(60_000),
        });
        assert.equal(written.keys, PRELOAD);
        const converged = await cluster.waitConverged(30_000);
        const intact = checkPreload(PRELOAD, await readPreload(cluster, converged));
        assert.deepEqual(intact.violations, []);
        assert.equal(intact.keysChecked, PRELOAD * 4, "the leader and 3 nodes, every key");

        // What a lost or corrupted key looks like to the check, made through the API.
        const url = (key: string) => `${cluster.clientUrl(converged)}/v1/config/${key}`;
        const options = { timeoutMs: 10_000 };
        assert.equal(
          (await callJson(url(preloadKey(7)), { method: "DELETE" }, options)).kind,
          "ok",
        );
        assert.equal(
          (await callJson(url(preloadKey(8)), { method: "PUT", body: { i: 9 } }, options)).kind,
          "ok",
        );
        await cluster.waitConverged(30_000);
        const broken = checkPreload(PRELOAD, await readPreload(cluster, converged));
        assert.equal(broken.valid, false);
        const text = broken.violations.join("\n");
        for (const where of ["the leader", "node 1", "node 2", "node 3"]) {
          assert.match(text, new RegExp(`${where}.*: 1 preloaded keys missing, 1 changed`));
        }
        assert.match(text, /preload\/0000007 is gone/);
        assert.match(text, /preload\/0000008 = \{"i":9\}/);
      } finally {
        await cluster.stop();
      }
    });
  },
});

Deno.test({
  name: "faults: short runs with 2,000 keys preloaded stay valid and check the preload",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    // watch: its watchers start after the preload's revisions; kill and member with snapshots
    // every 200 entries: a restarted or new node gets the preload in a snapshot.
    const runs = [
      { workload: "watch", nemesis: "kill", seed: 1701 },
      { workload: "durability", nemesis: "member", seed: 1702 },
    ];
    for (const run of runs) {
      await t.step(`${run.workload} under ${run.nemesis}`, async () => {
        const summary = await runFaults({
          ...run,
          timeS: 6,
          nodes: 3,
          clients: 3,
          preload: PRELOAD,
          snapshotEntries: 200,
          quietMs: [400, 1200],
          faultMs: [800, 2000],
        });
        const explain = `${summary.verdict}: ${summary.details.join("; ")}\n` +
          `replay: ${summary.command}`;
        assert.equal(summary.verdict, "valid", explain);
        assert.equal(summary.preloaded, PRELOAD);
        assert.ok((summary.preloadMs ?? 0) > 0);
        // The leader and at least the 3 nodes of the end (a member run may have one more).
        assert.ok(summary.preloadKeysChecked >= PRELOAD * 4, explain);
        assert.ok(summary.details.some((d) => d.includes(`${PRELOAD} preloaded keys all`)));
        assert.match(summary.command, / --preload 2000/);
        assert.ok(summary.faults > 0, "the nemesis injected no fault");
        assert.ok(summary.opsChecked > 0, "no operation was checked");
      });
    }
  },
});
