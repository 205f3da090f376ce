/**
 * Replacing a dead voter on real processes, with writes flowing the whole time: a follower of a
 * 3-node cluster, then (in a second cluster) its leader, is killed (kill -9) and its data wiped
 * (its disk died), a fresh node joins with
 * `--join` as a learner, is promoted, and the dead one is removed. Every write a client saw
 * acknowledged, before, during and after, is then read back (linearizably) from each member of
 * the new majority, and the new node holds them all.
 *
 * The cluster is the fault harness's (tests/faults/cluster.ts): its `join` starts a node with
 * `--join` and its `retire` kills and wipes one.
 *
 * @module
 */

import assert from "node:assert/strict";
import { setTimeout as delay } from "node:timers/promises";
import { FaultCluster } from "../faults/cluster.ts";
import { describeAnswer, listMembers, memberCall, refusalCode } from "../faults/member_api.ts";
import { poll } from "./poll.ts";

/** Writes unique keys through random live nodes until `stop` aborts; returns the acknowledged. */
async function writer(
  cluster: FaultCluster,
  name: string,
  stop: AbortSignal,
): Promise<Map<string, number>> {
  const acknowledged = new Map<string, number>();
  for (let n = 0; !stop.aborted; n++) {
    const key = `replace/${name}-${n}`;
    const node = cluster.ids[n % cluster.ids.length];
    try {
      const res = await fetch(`${cluster.clientUrl(node)}/v1/config/${key}`, {
        method: "PUT",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(n),
        signal: AbortSignal.timeout(3000),
      });
      await res.body?.cancel();
      if (res.ok) acknowledged.set(key, n);
      else await delay(20);
    } catch {
      await delay(20); // that node is down or the outcome is unknown: not acknowledged
    }
  }
  return acknowledged;
}

/** Changes that may be asked again: the learner is catching up, the leader is moving. */
const RETRYABLE = new Set([
  "not-caught-up",
  "change-in-progress",
  "no-leader",
  "no-quorum",
  "timeout",
  "outcome-unknown",
]);

/** Asks for a membership change until it is made; fails at once on a refusal for good. */
async function change(url: string, method: string, path: string): Promise<void> {
  const final = await poll(async () => {
    const answer = await memberCall(url, method, path);
    if (answer.status === 200) return "made";
    return RETRYABLE.has(refusalCode(answer)) ? undefined : describeAnswer(answer);
  }, { what: `${method} ${path}`, timeoutMs: 30_000, intervalMs: 200 });
  assert.equal(final, "made", `${method} ${path}`);
}

for (const which of ["follower", "leader"] as const) {
  Deno.test({
    name: `replace a dead voter (the ${which}): kill -9, wipe, join, promote, remove; ` +
      "no acknowledged write lost",
    sanitizeResources: false,
    sanitizeOps: false,
    async fn() {
      const logDir = await Deno.makeTempDir({ prefix: "edgeraft-replace-" });
      const cluster = await FaultCluster.start({ nodes: 3, logDir });
      try {
        const leader = await cluster.waitForLeader(20_000);
        const dead = which === "leader" ? leader : cluster.ids.find((id) => id !== leader)!;
        const survivors = cluster.ids.filter((id) => id !== dead);
        const stop = new AbortController();
        const writers = ["a", "b"].map((name) => writer(cluster, name, stop.signal));
        await delay(500);

        await cluster.kill(dead);
        await cluster.retire(dead); // its data is gone with its disk

        const fresh = await cluster.join(survivors[0]);
        const via = cluster.clientUrl(survivors[1]);
        await poll(async () => {
          assert.ok(!cluster.diedOnItsOwn(fresh), `node ${fresh} exited; see ${logDir}`);
          const members = await listMembers(via);
          const listed = members?.find((m) => m.id === fresh);
          return listed?.role === "learner" && await cluster.status(fresh) ? true : undefined;
        }, { what: `node ${fresh} to join as a learner`, timeoutMs: 30_000, intervalMs: 200 });
        cluster.admit(fresh);
        await change(via, "POST", `/v1/members/${fresh}/promote`);
        await change(via, "DELETE", `/v1/members/${dead}`);
        await delay(500);
        stop.abort();
        const acknowledged = new Map<string, number>();
        for (const map of await Promise.all(writers)) {
          for (const [key, value] of map) acknowledged.set(key, value);
        }
        assert.ok(acknowledged.size > 20, `only ${acknowledged.size} writes were acknowledged`);

        const members = await listMembers(via);
        assert.deepEqual(
          members?.map((m) => [m.id, m.role]).sort(),
          [...survivors, fresh].sort((a, b) => a - b).map((id) => [id, "voter"]),
        );
        for (const node of [...survivors, fresh]) {
          const missing: string[] = [];
          const keys = [...acknowledged.keys()];
          for (let i = 0; i < keys.length; i += 50) {
            await Promise.all(
              keys.slice(i, i + 50).map(async (key) => {
                const res = await fetch(`${cluster.clientUrl(node)}/v1/config/${key}`, {
                  signal: AbortSignal.timeout(5000),
                });
                const body = res.ok ? await res.json() : (await res.body?.cancel(), undefined);
                if (body?.value !== acknowledged.get(key)) missing.push(`${key}: ${res.status}`);
              }),
            );
          }
          assert.deepEqual(missing.slice(0, 10), [], `node ${node} lost acknowledged writes`);
        }
      } finally {
        await cluster.stop();
        await Deno.remove(logDir, { recursive: true }).catch(() => {});
      }
    },
  });
}
