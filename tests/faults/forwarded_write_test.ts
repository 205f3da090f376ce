/**
 * Regression test for the first bug the fault campaign found (watch under kill, seed 302: a
 * write answered 503 "the leader could not be reached" 11 ms after the leader was killed, and
 * every watcher then saw it at revision 12300): a follower that forwards a write to the
 * leader and gets no answer said 503 "no leader" (by the API's word: nothing was applied,
 * retry), though the write was in the log and got applied. A client that trusts the 503 and
 * retries a compare-and-set or a lock acquire makes it happen twice. Fixed in 7da6d25 (504).
 *
 * Made deterministic with the fault proxy: the link follower -> leader stalls (the leader
 * still heartbeats the follower and commits with the third node), so the forwarded proposal
 * sits in the proxy while the follower's call times out. Once the link heals the proposal
 * reaches the leader and is applied. The follower's answer must therefore not claim that
 * nothing happened: 504 (outcome unknown) is right, 503 is not.
 */

import assert from "node:assert/strict";
import { setTimeout as delay } from "node:timers/promises";
import { FaultCluster } from "./cluster.ts";
import { callJson } from "./workloads/http_call.ts";

Deno.test({
  name: "faults: a forwarded write that later takes effect is never answered 503",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const logDir = await Deno.makeTempDir({ prefix: "edgeraft-forwarded-" });
    const cluster = await FaultCluster.start({ nodes: 3, logDir });
    let passed = false;
    try {
      const leader = await cluster.waitForLeader(20_000);
      const follower = cluster.ids.find((id) => id !== leader)!;
      const url = (id: number, path: string) => `${cluster.clientUrl(id)}${path}`;
      // Warm up the follower's connections to the leader, so the proposal rides on one.
      const warm = await callJson(url(follower, "/v1/config/warm"), { method: "PUT", body: 1 }, {
        timeoutMs: 10_000,
      });
      assert.equal(warm.kind, "ok");

      cluster.cut([[follower, leader]], "stall");
      const answer = await callJson(url(follower, "/v1/config/k"), { method: "PUT", body: 42 }, {
        timeoutMs: 20_000,
        ambiguous503: true,
      });
      cluster.healLinks();

      let applied = false;
      const deadline = Date.now() + 5000;
      while (!applied && Date.now() < deadline) {
        const read = await callJson(
          url(leader, "/v1/config/k?consistency=stale"),
          { method: "GET" },
          { timeoutMs: 2000 },
        );
        applied = read.kind === "ok" && read.body.value === 42;
        if (!applied) await delay(100);
      }
      const status = answer.kind === "unknown" ? answer.why : answer.kind === "ok" ? 200 : 0;
      if (applied) {
        assert.ok(
          answer.kind !== "unknown" || !answer.why.startsWith("503"),
          `the write took effect, but the follower answered ${status}: a client would retry it`,
        );
      }
      passed = true;
    } finally {
      await cluster.stop();
      // A failure keeps the node logs: they are the only account of what the nodes did.
      if (passed) await Deno.remove(logDir, { recursive: true });
      else console.error(`node logs kept in ${logDir}`);
    }
  },
});
