/**
 * The client against a real 3-node cluster while its leader is killed (issue 10, defect 12:
 * a client pointed at the leader got 7 errors in 4 s and no failover; a list of URLs was not
 * accepted at all). Writers, a linearizable reader and a watch run through the kill.
 *
 * @module
 */

import assert from "node:assert/strict";
import { EdgeraftClient } from "../../src/client/mod.ts";
import { startCluster } from "../process/cluster_fixture.ts";
import { poll } from "../process/poll.ts";

const WRITERS = 3;

Deno.test({
  name: "process: a client with every endpoint keeps writing and reading through a leader kill",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const c = await startCluster({ nodes: 3 });
    const stop = new AbortController();
    const stopWatch = new AbortController();
    try {
      const leader = await c.waitForLeader();
      // The leader first, as the user who saw the errors had it: it is the node that dies.
      const ids = [leader, ...c.ids.filter((id) => id !== leader)];
      const client = new EdgeraftClient({ baseUrl: ids.map((id) => c.clientUrl(id)) });

      const errors: string[] = [];
      const acked = new Array<number>(WRITERS).fill(0);
      let slowest = 0;
      let killedAt = 0;
      const timed = async <T>(op: () => Promise<T>): Promise<T | undefined> => {
        const started = Date.now();
        try {
          return await op();
        } catch (error) {
          errors.push(`${Date.now() - killedAt} ms after the kill: ${error}`);
          return undefined;
        } finally {
          slowest = Math.max(slowest, Date.now() - started);
        }
      };
      // Each writer puts 1, 2, 3, ... under its key, one at a time (each put carries the
      // client's idempotency key, so retries across the failover are applied once).
      const writers = [...Array(WRITERS).keys()].map(async (w) => {
        while (!stop.signal.aborted) {
          const n = acked[w] + 1;
          const put = await timed(() => client.put(`fo/${w}`, n));
          if (put) acked[w] = n;
        }
      });
      // A linearizable read sees at least every write acknowledged before it started.
      const reader = (async () => {
        while (!stop.signal.aborted) {
          const floor = acked[0];
          const got = await timed(() => client.get<number>("fo/0"));
          if (got !== undefined && (got?.value ?? 0) < floor) {
            errors.push(`read ${got?.value} after ${floor} was acknowledged`);
          }
        }
      })();

      // A watch that starts on the leader resumes on another node after the kill: it sees every
      // put to fo/0 once, in order.
      const watched: number[] = [];
      const watcher = (async () => {
        try {
          const events = client.watch("fo/0", { fromRevision: 1, signal: stopWatch.signal });
          for await (const event of events) {
            if (event.type === "put") watched.push(event.value as number);
          }
        } catch (error) {
          errors.push(`the watch failed: ${error}`);
        }
      })();

      const total = () => acked.reduce((a, b) => a + b, 0);
      /** `done()` as a poll probe that names the errors so far if it times out. */
      const until = (done: () => boolean) => () => {
        if (done()) return true;
        if (errors.length > 0) throw new Error(errors.join("; "));
        return undefined;
      };
      await poll(until(() => total() >= 60), { what: "60 writes before the kill" });
      killedAt = Date.now();
      const before = total();
      await c.kill(leader);
      await poll(until(() => total() >= before + 60), {
        what: "60 writes after the kill",
        timeoutMs: 20_000,
      });
      stop.abort();
      await Promise.all([...writers, reader]);
      // The writes have stopped: the watch catches up with the last of them.
      await poll(until(() => watched.length >= acked[0]), {
        what: "the watch to see every put to fo/0",
      });
      stopWatch.abort();
      await watcher;

      assert.deepEqual(errors, [], "no request failed");
      assert.deepEqual(watched, [...Array(watched.length).keys()].map((i) => i + 1));
      // The failover window: no request took longer than this (a leader kill costs an
      // election, ~0.15 s after the followers see its connections close, plus the client's
      // retries).
      assert.ok(slowest < 5000, `the slowest request took ${slowest} ms`);
      console.log(`writes: ${total()} (${total() - before} after the kill); slowest ${slowest} ms`);
      // Each acknowledged put was applied exactly once: a retry never became a duplicate.
      for (let w = 0; w < WRITERS; w++) {
        const kv = await client.get<number>(`fo/${w}`);
        assert.equal(kv?.value, acked[w]);
        assert.equal(kv?.version, acked[w], `fo/${w} was written once per acknowledged put`);
      }
    } finally {
      stop.abort();
      stopWatch.abort();
      await c.stop();
    }
  },
});
