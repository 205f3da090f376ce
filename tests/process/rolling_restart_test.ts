/**
 * A rolling restart of a real 3-node cluster while a client writes: each node in turn gets
 * SIGTERM (followers first, the leader last), exits 0, is started again on its data directory
 * and answers `/readyz` before the next goes. The leader hands leadership over before it stops
 * (src/cli/node.ts), so the cluster never waits out an election timeout.
 *
 * The client is the project's own (`EdgeraftClient`, docs/client.md) with all three endpoints
 * and its default retry: a network error, 503 or 504 is tried again on the next endpoint (or
 * the leader `X-Leader` names) after 50 ms doubling up to 1 s with jitter, up to 8 times; each
 * write carries an idempotency key, so a retry is never a duplicate. Checked: no write fails
 * (no 5xx or network error reaches the caller after those retries), every acknowledged write
 * reads back, the term rose by exactly one (the hand-over), and no node that knew the leader
 * lost it to an election timeout (it would log "leader lost" as a pre-vote candidate; without
 * the hand-over that is what the followers log when the leader stops).
 */

import assert from "node:assert/strict";
import { EdgeraftClient } from "../../src/client/edgeraft_client.ts";
import { startCluster, type TestCluster } from "./cluster_fixture.ts";
import { freePort } from "./net.ts";
import { NodeChild } from "./node_child.ts";
import { poll } from "./poll.ts";

/** The JSON log lines node `id` printed, across its restarts. */
function logLines(c: TestCluster, id: number): Record<string, unknown>[] {
  return c.output(id).split("\n").flatMap((line) => {
    try {
      return [JSON.parse(line)];
    } catch {
      return [];
    }
  });
}

async function ready(url: string): Promise<true | undefined> {
  try {
    const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(1000) });
    await res.body?.cancel();
    return res.status === 200 ? true : undefined;
  } catch {
    return undefined;
  }
}

Deno.test("rolling restart: SIGTERM each node in turn, leader last; no write fails or is lost, one hand-over", async () => {
  const c = await startCluster({ nodes: 3 });
  const client = new EdgeraftClient({ endpoints: c.ids.map((id) => c.clientUrl(id)) });
  const acked = new Map<string, number>();
  const failures: string[] = [];
  let writing = true;
  try {
    const firstLeader = await c.waitForLeader();
    for (const id of c.ids) await poll(() => ready(c.clientUrl(id)), { what: `n${id} ready` });
    const termBefore = (await c.status(firstLeader))!.term;
    const writer = (async () => {
      for (let i = 0; writing; i++) {
        const key = `roll/${i}`;
        try {
          await client.put(key, i);
          acked.set(key, i);
        } catch (e) {
          failures.push(`${key}: ${(e as Error).name}: ${(e as Error).message}`);
        }
      }
    })();
    const writesFlow = async (what: string) => {
      const from = acked.size;
      await poll(() => acked.size >= from + 20 || undefined, { what, timeoutMs: 10_000 });
    };
    await writesFlow("the first writes");

    const restarted: number[] = [];
    const handOvers: number[] = [];
    while (restarted.length < c.ids.length) {
      const leader = await c.waitForLeader();
      const rest = c.ids.filter((id) => !restarted.includes(id));
      const id = rest.find((x) => x !== leader) ?? leader;
      if (id === leader) handOvers.push(id);
      const exited = c.members.get(id)!.exited!;
      await c.kill(id, "SIGTERM");
      assert.equal((await exited).code, 0, `n${id} exits 0 on SIGTERM`);
      await c.restart(id);
      await poll(() => ready(c.clientUrl(id)), { what: `n${id} ready again`, timeoutMs: 15_000 });
      await c.waitForLeader();
      await writesFlow(`writes after n${id} restarted`);
      restarted.push(id);
    }
    writing = false;
    await writer;

    assert.deepEqual(failures, [], "no write failed");
    assert.ok(acked.size > 60, `writes flowed (${acked.size})`);
    const keys = [...acked.keys()];
    for (let i = 0; i < keys.length; i += 50) {
      await Promise.all(
        keys.slice(i, i + 50).map(async (key) => {
          const kv = await client.get<number>(key);
          assert.equal(kv?.value, acked.get(key), `${key} reads back`);
        }),
      );
    }
    const leader = await c.waitForLeader();
    const termAfter = (await c.status(leader))!.term;
    assert.equal(handOvers.length, 1);
    const [oldLeader] = handOvers;
    assert.equal(
      termAfter,
      termBefore + 1,
      `the term rose by the one hand-over only (${termBefore} -> ${termAfter})`,
    );
    // A node that knew the leader and lost it to an election timeout starts a pre-vote
    // ("leader lost" as a preCandidate); the transferee campaigns at once, as a candidate.
    const timedOut = c.ids.flatMap((id) => logLines(c, id)).filter((l) =>
      l.event === "leader lost" && l.role === "preCandidate"
    );
    assert.deepEqual(timedOut, [], "no election timeout fired");
    const lines = logLines(c, oldLeader);
    const handed = lines.find((l) => l.event === "handed leadership over");
    assert.ok(handed, `n${oldLeader} logged its hand-over:\n${c.output(oldLeader).slice(-3000)}`);
    console.log(
      `rolling restart: ${acked.size} writes acknowledged, 0 failed, term ${termBefore} -> ` +
        `${termAfter}, hand-over by n${oldLeader} to n${handed.to} in ${handed.ms} ms`,
    );
  } finally {
    writing = false;
    await c.stop();
  }
});

Deno.test("stop: a one-node cluster has nobody to hand over to and stops on SIGINT at once, exit 0", async () => {
  const dir = await Deno.makeTempDir({ prefix: "edgeraft-stop-" });
  const clientPort = freePort();
  const node = NodeChild.spawn([
    ...["--data-dir", dir, "--client-port", String(clientPort)],
    ...["--peer-port", String(freePort()), "--log-format", "json"],
  ]);
  try {
    await poll(() => ready(`http://127.0.0.1:${clientPort}`), { what: "the node ready" });
    assert.equal((await node.signal("SIGINT")).code, 0);
    const events = node.logs().map((l) => l.event);
    assert.ok(events.includes("shutting down"), node.text());
    assert.ok(!events.some((e) => /hand/.test(String(e))), node.text());
  } finally {
    await node.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
