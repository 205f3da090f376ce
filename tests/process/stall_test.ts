/**
 * A leader whose event loop stalls for longer than an election timeout, as in a long garbage
 * collection on a busy machine (issue 17), keeps its leadership: a worker thread sends its
 * heartbeats meanwhile (`src/node/heartbeat_keeper.ts`). Without that worker the same stalls cost
 * an election each. The stalls come from a failpoint (`EDGERAFT_FAILPOINT_LEADER_STALL`).
 */

import assert from "node:assert/strict";
import { startCluster, type TestCluster } from "./cluster_fixture.ts";
import { putConfig } from "./net.ts";
import { poll } from "./poll.ts";

/**
 * Stalls of 1.5 s every 3 s against election timeouts of 0.5-1 s: long enough that each would be
 * an election, and timeouts long enough that a busy test machine (the suite runs in parallel)
 * does not cause elections of its own.
 */
const STALLS = { EDGERAFT_FAILPOINT_LEADER_STALL: "1500/3000" };
const TIMING = ["--election-ticks", "50", "--heartbeat-ticks", "5"];

async function termOf(c: TestCluster, id: number): Promise<number> {
  return (await c.status(id))?.term ?? -1;
}

Deno.test({
  name: "process: a leader that stalls 1.5 s at a time keeps leading, its writes answered",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const c = await startCluster({ nodes: 3, env: STALLS, args: TIMING });
    try {
      // The workers load their modules in a moment, longer on a busy machine.
      await poll(
        () => c.ids.every((id) => c.output(id).includes("heartbeat keeper started")) || undefined,
        {
          what: "every node's heartbeat keeper",
          timeoutMs: 20_000,
        },
      );
      const leader = await c.waitForLeader({ timeoutMs: 20_000 });
      const term = await termOf(c, leader);
      // Seven seconds: two or three stalls, each of which would have been an election.
      const until = performance.now() + 7_000;
      let written = 0;
      for (let i = 0; performance.now() < until; i++) {
        await putConfig(c.clientUrl(leader), `k${i % 10}`, i, 10_000); // throws unless 200
        written++;
      }
      const campaigns = c.ids.flatMap((id) =>
        c.output(id).split("\n").filter((l) => /leader lost|campaign started/.test(l))
      );
      for (const id of c.ids) {
        assert.equal(await termOf(c, id), term, `node ${id}'s term; ${campaigns.join("\n")}`);
      }
      assert.ok(written > 10, `writes went on through the stalls: ${written}`);
      const stalls = c.output(leader).split("failpoint").length - 1;
      assert.ok(stalls >= 1, "the failpoint was on");
      // The leader's metrics count what the keeper sent for it.
      const metrics = await (await fetch(`${c.clientUrl(leader)}/metrics`)).text();
      const sent = Number(
        /^edgeraft_stall_heartbeats_total\{cause="keeper"\} (\d+)/m.exec(metrics)?.[1],
      );
      assert.ok(sent > 0, `the keeper's rounds in /metrics: ${sent}`);
    } finally {
      await c.stop();
    }
  },
});

Deno.test({
  name: "process: without the heartbeat worker the same stalls cost elections (the test can fail)",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const c = await startCluster({
      nodes: 3,
      env: STALLS,
      args: [...TIMING, "--stall-heartbeat-ms", "0"],
    });
    try {
      const leader = await c.waitForLeader({ timeoutMs: 20_000 });
      const term = await termOf(c, leader);
      await poll(async () => (await termOf(c, leader)) > term || undefined, {
        what: "an election caused by a stall",
        timeoutMs: 15_000,
      });
    } finally {
      await c.stop();
    }
  },
});
