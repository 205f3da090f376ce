/**
 * The short version of the fault campaign that `deno task test` runs: each workload under
 * kill -9, SIGSTOP/SIGCONT, partitions and membership changes (a node replaced, removed and
 * added back, a learner added and promoted), on 3 real node processes, a few seconds each, one
 * after another (the suite runs files in parallel on 2 cores: this file keeps to one cluster
 * and 3 clients at a time). Any violation fails the test; each run's history and summary stay
 * in `.results/faults/`.
 */

import assert from "node:assert/strict";
import { runFaults } from "./run.ts";

const WORKLOADS = ["register", "lock", "watch", "durability"];
const NEMESES = ["kill", "pause", "partition", "member"];
const SECONDS = 6;

Deno.test({
  name: "faults: every workload stays correct under kill, pause, partition, member (3 nodes)",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    let seed = 1;
    for (const workload of WORKLOADS) {
      for (const nemesis of NEMESES) {
        const runSeed = seed++;
        await t.step(`${workload} under ${nemesis}`, async () => {
          const summary = await runFaults({
            timeS: SECONDS,
            nemesis,
            workload,
            nodes: 3,
            seed: runSeed,
            clients: 3,
            // Short runs: faults come early and often enough to land at least twice.
            quietMs: [400, 1200],
            faultMs: [800, 2000],
          });
          assert.equal(
            summary.verdict,
            "valid",
            `${summary.verdict}: ${summary.details.join("; ")}\n` +
              `results: ${summary.resultsDir}\nreplay: ${summary.command}`,
          );
          assert.ok(summary.opsChecked > 0, "no operation was checked");
          assert.ok(summary.faults > 0, "the nemesis injected no fault");
        });
      }
    }
  },
});
