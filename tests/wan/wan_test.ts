/**
 * Issue 18 on a WAN made on one machine (wan_cluster.ts: real node processes, delaying proxies
 * on every peer link; clients next to the nodes): elections converge at a 300 ms round trip
 * with the default timing and the logs say so; a frozen leader's forwarded writes get their
 * real answer or a definite one within an election; the client package writes in one round
 * trip, not two. Bounds are generous: CI runs this on a loaded 2-core machine.
 */

import assert from "node:assert/strict";
import { EdgeraftClient } from "../../src/client/mod.ts";
import { ctl } from "../cli/ctl_process.ts";
import { poll } from "../process/poll.ts";
import { withWan } from "./wan_cluster.ts";

/** The default (`--timing lan`) election timeout's upper end: 30 ticks of 10 ms, up to 2x. */
const ELECTION_MAX_MS = 600;

const TIMING_WARNING = "peer round trips are long for the election timeout";

Deno.test({
  name:
    "wan: at RTT 300 with default timing a fresh cluster elects a leader within 10 s, and logs why",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const started = Date.now();
    await withWan({ nodes: 3, oneWayMs: 150 }, async (wan) => {
      const leader = await wan.waitForStableLeader(1000, 10_000 + 1000);
      const tookMs = Date.now() - started - 1000;
      console.log(`RTT 300, fresh start: node ${leader} leads ${tookMs} ms after the start`);
      assert.ok(tookMs <= 10_000, `a stable leader after ${tookMs} ms`);
      const campaigns = await wan.logged("campaign started");
      assert.ok(campaigns.length >= 1, "the campaigns are logged");
      assert.ok(campaigns.every((c) => typeof c.term === "number"), "with their term");
      // The leader warns once it has 20 heartbeat round trips (a second of them).
      const warning = await poll(async () => (await wan.logged(TIMING_WARNING))[0], {
        what: "the timing warning",
        timeoutMs: 5000,
      });
      assert.match(String(warning.advice), /--timing wan/);
    });
  },
});

Deno.test({
  name: "wan: a running cluster whose RTT jumps from 0 to 300 ms has a stable leader within 10 s",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await withWan({ nodes: 3, oneWayMs: 0 }, async (wan) => {
      await wan.waitForStableLeader(500, 15_000);
      const jumped = Date.now();
      wan.setAllDelays(150);
      // Stable: the same leader, agreed by every node, for 2 s in a row.
      const leader = await wan.waitForStableLeader(2000, 10_000 + 2000);
      const tookMs = Date.now() - jumped - 2000;
      console.log(`RTT 0 -> 300: node ${leader} leads, stable ${tookMs} ms after the jump`);
      assert.ok(tookMs <= 10_000, `a stable leader ${tookMs} ms after the jump`);
      await poll(async () => (await wan.logged(TIMING_WARNING))[0], {
        what: "the timing warning",
        timeoutMs: 5000,
      });
    });
  },
});

/** One write's fate, as its client saw it. */
interface Write {
  key: string;
  value: number;
  via: number;
  withKey: boolean;
  sentAt: number;
  status?: number;
  answeredAt?: number;
}

async function put(url: string, w: Pick<Write, "key" | "value">, idempotencyKey?: string) {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (idempotencyKey) headers["idempotency-key"] = idempotencyKey;
  const response = await fetch(`${url}/v1/config/${w.key}`, {
    method: "PUT",
    headers,
    body: JSON.stringify(w.value),
    signal: AbortSignal.timeout(20_000),
  });
  await response.body?.cancel();
  return response.status;
}

Deno.test({
  name:
    "wan: with the leader frozen at RTT 50, every forwarded write gets its answer within an election",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const rttMs = 50;
    await withWan({ nodes: 3, oneWayMs: rttMs / 2 }, async (wan) => {
      const leader = await wan.waitForStableLeader(1000, 15_000);
      const followers = wan.ids.filter((id) => id !== leader);
      // Warm the followers' connections to the leader.
      for (const id of followers) {
        assert.equal(await put(wan.clientUrl(id), { key: "warm", value: 0 }), 200);
      }
      const writes: Write[] = [];
      let frozenAt = 0;
      const stopAt = { value: Infinity };
      // Four writers on each follower, writing distinct keys one after another; every other
      // writer sends an Idempotency-Key, the rest leave it to the follower.
      const writer = async (via: number, n: number) => {
        for (let i = 0; performance.now() < stopAt.value; i++) {
          const w: Write = {
            key: `w${via}-${n}-${i}`,
            value: i,
            via,
            withKey: n % 2 === 0,
            sentAt: performance.now(),
          };
          writes.push(w);
          w.status = await put(wan.clientUrl(via), w, w.withKey ? `key-${w.key}` : undefined)
            .catch(() => 0);
          w.answeredAt = performance.now();
        }
      };
      // And a reader of linearizable reads on each follower: they follow the leader too.
      const reads: { status: number; sentAt: number; tookMs: number }[] = [];
      const reader = async (via: number) => {
        while (performance.now() < stopAt.value) {
          const sentAt = performance.now();
          const status = await fetch(`${wan.clientUrl(via)}/v1/config/warm`, {
            signal: AbortSignal.timeout(20_000),
          }).then(async (r) => (await r.body?.cancel(), r.status), () => 0);
          reads.push({ status, sentAt, tookMs: performance.now() - sentAt });
        }
      };
      const running = [
        ...followers.flatMap((via) => [0, 1, 2, 3].map((n) => writer(via, n))),
        ...followers.map(reader),
      ];
      await new Promise((resolve) => setTimeout(resolve, 500));
      await wan.pause(leader);
      frozenAt = performance.now();
      stopAt.value = frozenAt + 3000;
      await Promise.all(running);
      const newLeader = await wan.waitForLeader(10_000);
      assert.notEqual(newLeader, leader);

      const inFlight = writes.filter((w) => w.sentAt < frozenAt && w.answeredAt! > frozenAt);
      const worst = Math.max(...writes.map((w) => w.answeredAt! - w.sentAt));
      const ok = writes.filter((w) => w.status === 200).length;
      const failed = writes.filter((w) => w.status !== 200);
      console.log(
        `frozen leader at RTT ${rttMs}: ${writes.length} writes, ${ok} answered 200, ` +
          `${failed.length} not (${[...new Set(failed.map((w) => w.status))].join(", ")}); ` +
          `${inFlight.length} in flight at the freeze, answered ` +
          `${
            inFlight.map((w) => Math.round(w.answeredAt! - frozenAt)).sort((a, b) => a - b)
              .join(", ")
          } ms after it; the slowest write took ${Math.round(worst)} ms`,
      );
      const slowestRead = Math.max(...reads.map((r) => r.tookMs));
      console.log(
        `  ${reads.length} linearizable reads on the followers, ` +
          `${reads.filter((r) => r.status === 200).length} answered 200, the slowest ` +
          `${Math.round(slowestRead)} ms`,
      );
      assert.ok(inFlight.length > 0, "writes were in flight when the leader froze");
      // The leader is missed after an election timeout; the election and the re-sent write
      // take a few round trips (measured: 0.4-0.5 s after the freeze on an idle machine, up to
      // 1.3 s with the test suite running beside); the rest is margin for a loaded machine.
      // Before issue 18 every such write took 5,010 ms and got a 504.
      const bound = ELECTION_MAX_MS + 2 * rttMs + 2600;
      for (const w of writes) {
        const took = w.answeredAt! - w.sentAt;
        assert.ok(took < bound, `${w.key} via ${w.via} took ${Math.round(took)} ms`);
        assert.ok([200, 503, 504].includes(w.status!), `${w.key}: ${w.status}`);
      }
      for (const r of reads) {
        assert.ok(r.tookMs < bound, `a linearizable read took ${Math.round(r.tookMs)} ms`);
        assert.ok([200, 503, 504].includes(r.status), `a linearizable read: ${r.status}`);
      }
      // Applied exactly once: a write answered 200 is there at version 1; one that failed
      // is there at most once, and a retry under its key (where it had one) settles it.
      const survivor = followers.find((id) => id !== newLeader) ?? newLeader;
      // Concurrently: linearizable reads share their rounds, one round trip for them all.
      await Promise.all(writes.map(async (w) => {
        if (w.status !== 200 && w.withKey) {
          const again = await put(wan.clientUrl(newLeader), w, `key-${w.key}`);
          assert.equal(again, 200, `${w.key}: retried under its key`);
        }
        // Linearizable, retried while the two survivors have no leader (503) for a moment.
        const [status, text] = await poll(async () => {
          const read = await fetch(`${wan.clientUrl(survivor)}/v1/config/${w.key}`);
          const text = await read.text();
          return read.status === 200 || read.status === 404 ? [read.status, text] : undefined;
        }, { what: `reading ${w.key} back`, timeoutMs: 10_000, intervalMs: 100 });
        const body = status === 200 ? JSON.parse(text as string) : null;
        const seen = `${w.key} answered ${w.status}, read back: ${status} ${text}`;
        if (w.status === 200 || w.withKey) {
          assert.equal(body?.version, 1, `applied exactly once? ${seen}`);
          assert.equal(body?.value, w.value, seen);
        } else {
          assert.ok(body === null || body.version === 1, `applied at most once? ${seen}`);
        }
      }));
      await wan.resume(leader);
    });
  },
});

Deno.test({
  name:
    "wan: at RTT 50 the client package writes to the leader in one round trip, not two; ctl goes through it",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const rttMs = 50;
    await withWan({ nodes: 3, oneWayMs: rttMs / 2 }, async (wan) => {
      const leader = await wan.waitForStableLeader(1000, 15_000);
      const follower = wan.ids.find((id) => id !== leader)!;
      // The follower first: the client learns the leader from its X-Leader.
      const endpoints = [follower, ...wan.ids.filter((id) => id !== follower)]
        .map((id) => wan.clientUrl(id));
      const client = new EdgeraftClient({ endpoints });
      const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
      const timed = async (write: () => Promise<unknown>) => {
        const started = performance.now();
        await write();
        return performance.now() - started;
      };
      await client.put("c/warm", 0);
      const direct: number[] = [];
      const viaFollower: number[] = [];
      const reads: number[] = [];
      const followerReads: number[] = [];
      for (let i = 0; i < 15; i++) {
        direct.push(await timed(() => client.put(`c/${i}`, i)));
        viaFollower.push(
          await timed(() => put(wan.clientUrl(follower), { key: `f/${i}`, value: i })),
        );
        reads.push(await timed(() => client.get(`c/${i}`)));
        followerReads.push(
          await timed(async () =>
            await (await fetch(`${wan.clientUrl(follower)}/v1/config/c/${i}`)).body?.cancel()
          ),
        );
      }
      const lock = await timed(async () => {
        const lease = await client.acquire("c/lock", { ttlMs: 10_000 });
        await client.release("c/lock", lease.token);
      });
      const [d, f] = [median(direct), median(viaFollower)];
      const [r, fr] = [median(reads), median(followerReads)];
      console.log(
        `RTT ${rttMs}: client writes p50 ${d.toFixed(1)} ms, via a follower ${f.toFixed(1)} ms; ` +
          `linearizable reads p50 ${r.toFixed(1)} ms, via a follower ${fr.toFixed(1)} ms; ` +
          `a lock cycle (acquire + release) ${lock.toFixed(1)} ms`,
      );
      // Relative bounds: on a loaded machine every path slows down (writes p50 58 ms idle,
      // 80-90 ms with the suite beside), but the follower's hop still costs a round trip more.
      assert.ok(f - d > 0.6 * rttMs, `client writes ${d.toFixed(1)} ms vs ${f.toFixed(1)} ms`);
      assert.ok(d < 0.8 * f, `client writes ${d.toFixed(1)} ms vs ${f.toFixed(1)} ms`);
      assert.ok(fr - r > 0.6 * rttMs, `client reads ${r.toFixed(1)} ms vs ${fr.toFixed(1)} ms`);
      // The command line goes through the same client: a follower first, and it still works.
      const put1 = await ctl(["put", "c/ctl", '{"a":1}'], { endpoints });
      assert.equal(put1.code, 0, put1.stderr);
      const got = await ctl(["get", "c/ctl"], { endpoints });
      assert.deepEqual([got.code, JSON.parse(got.stdout)], [0, { a: 1 }], got.stderr);
    });
  },
});
