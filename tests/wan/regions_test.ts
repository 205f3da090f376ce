/**
 * Issue 13 across regions, on one machine (wan_cluster.ts: real node processes on 127.0.1.N,
 * every peer link delayed): three voters in three regions, round trips of 30, 50 and 80 ms
 * between the pairs, and a learner in a fourth region 90 ms from every voter, all with
 * `--timing wan` (docs/operations.md, "Timing"). The cluster elects a leader that keeps its
 * term; writes through the leader commit in about one round trip to its nearest voter plus a
 * disk write, the far learner not slowing them; the learner answers `?consistency=stale`
 * reads from its own state in under a millisecond, and `?maxStalenessMs=N` ones locally while
 * it heard from the leader within N ms, through the leader when it did not. Clients sit next
 * to the node they ask. Bounds are generous where the issue allows (CI runs this on a loaded
 * 2-core machine); the numbers are printed.
 */

import assert from "node:assert/strict";
import { LatencyHistogram } from "../../bench/histogram.ts";
import { putConfig } from "../process/net.ts";
import { poll } from "../process/poll.ts";
import { withWan } from "./wan_cluster.ts";

/** Round trips between the voters' regions (ms): 1-2 near, 1-3 farther, 2-3 farthest. */
const VOTER_RTT: Record<string, number> = { "1-2": 30, "1-3": 50, "2-3": 80 };
const LEARNER = 4;
/** The learner's region is this far from every voter's (ms): farther than any voter pair. */
const LEARNER_RTT = 90;
/**
 * What docs/operations.md recommends for a worst round trip of 80-90 ms: 50 ms ticks,
 * elections after 1-2 s (over 10x the worst round trip), heartbeats every 100 ms.
 */
const TIMING = ["--timing", "wan"];
/** How long the leader must keep its term, election to end of test, at the least. */
const STABLE_MS = 4000;

function rtt(a: number, b: number): number {
  if (a === LEARNER || b === LEARNER) return LEARNER_RTT;
  return VOTER_RTT[`${Math.min(a, b)}-${Math.max(a, b)}`];
}

const ms = (x: number) => x.toFixed(x < 10 ? 2 : 1);

function describe(h: LatencyHistogram): string {
  return `p50 ${ms(h.percentile(50))} ms, p99 ${ms(h.percentile(99))} ms, max ${ms(h.max)} ms`;
}

/** Times `n` calls of `op`, one after another. */
async function timed(n: number, op: (i: number) => Promise<void>): Promise<LatencyHistogram> {
  const h = new LatencyHistogram();
  for (let i = 0; i < n; i++) {
    const started = performance.now();
    await op(i);
    h.record(performance.now() - started);
  }
  return h;
}

interface Read {
  status: number;
  value: unknown;
  body: unknown;
  /** `X-Last-Contact-Ms`: present only on a read answered from the node's own state. */
  lastContactMs: number | undefined;
}

async function get(url: string, key: string, query = ""): Promise<Read> {
  const res = await fetch(`${url}/v1/config/${key}${query}`, {
    signal: AbortSignal.timeout(10_000),
  });
  const body = await res.json();
  const contact = res.headers.get("x-last-contact-ms");
  return {
    status: res.status,
    value: body.value,
    body,
    lastContactMs: contact === null ? undefined : Number(contact),
  };
}

/** The mean and count of node `url`'s disk writes, from its /metrics. */
async function diskWrites(url: string): Promise<{ seconds: number; count: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const value = (suffix: string) =>
    Number(
      text.match(new RegExp(`^edgeraft_disk_write_duration_seconds_${suffix} (\\S+)$`, "m"))?.[1],
    );
  return { seconds: value("sum"), count: value("count") };
}

/**
 * Times `n` reads of `key` that must be answered locally (with `X-Last-Contact-Ms`), in up to
 * three batches: the first whose p50 is under 1 ms is returned, else the last. Another batch
 * only forgives a machine busy with other work (a batch is a few hundred ms); every batch is
 * printed.
 */
async function localReads(url: string, key: string, query: string): Promise<LatencyHistogram> {
  let h = new LatencyHistogram();
  const contacts: number[] = [];
  for (let batch = 1; batch <= 3; batch++) {
    h = await timed(300, async () => {
      const r = await get(url, key, query);
      assert.equal(r.status, 200);
      assert.ok(r.lastContactMs !== undefined, `${query}: answered locally`);
      contacts.push(r.lastContactMs);
    });
    console.log(
      `  ${query} on the learner, batch ${batch}: ${describe(h)}; ` +
        `X-Last-Contact-Ms ${Math.min(...contacts)}-${Math.max(...contacts)}`,
    );
    if (h.percentile(50) < 1) break;
  }
  return h;
}

Deno.test({
  name:
    "regions: voters at RTT 30/50/80 elect a stable leader and commit in about one RTT; a learner 90 ms away reads stale in under 1 ms",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const options = {
      nodes: 3,
      joiners: 1,
      oneWayMs: (from: number, to: number) => rtt(from, to) / 2,
      args: TIMING,
    };
    const started = Date.now();
    await withWan(options, async (wan) => {
      const voters = wan.ids;
      // Stable: the same leader agreed by every voter for 2 s (20 heartbeats) in a row.
      const leader = await wan.waitForStableLeader(2000, 20_000);
      const electedAt = Date.now() - 2000;
      const term = (await wan.status(leader))!.term;
      const campaigns = (await wan.logged("campaign started")).length;
      const followers = voters.filter((id) => id !== leader);
      const nearest = followers.reduce((a, b) => rtt(leader, a) <= rtt(leader, b) ? a : b);
      const nearestRtt = rtt(leader, nearest);
      console.log(
        `node ${leader} leads in term ${term}, elected ${electedAt - started} ms after the ` +
          `start (${campaigns} campaign(s)); its nearest voter is node ${nearest}, ` +
          `RTT ${nearestRtt} ms`,
      );

      // The learner joins through a follower, and catches up from its snapshot and the log.
      await putConfig(wan.clientUrl(leader), "regions/before", "before", 10_000);
      const joining = Date.now();
      await wan.join(LEARNER, followers[0]);
      const learner = wan.clientUrl(LEARNER);
      await poll(async () => {
        const r = await get(learner, "regions/before", "?consistency=stale").catch(() => undefined);
        return r?.value === "before" || undefined;
      }, { what: "the learner to join and catch up", timeoutMs: 20_000, intervalMs: 100 });
      console.log(
        `node ${LEARNER} joined as a learner and caught up in ${Date.now() - joining} ms`,
      );

      // Writes through the leader, from a client next to it. A commit needs the nearest voter's
      // acknowledgement: one round trip and its disk write (the leader's own write overlaps).
      await timed(5, (i) => putConfig(wan.clientUrl(leader), `regions/warm${i}`, i, 10_000));
      const diskBefore = await diskWrites(wan.clientUrl(nearest));
      const writes = await timed(
        40,
        (i) => putConfig(wan.clientUrl(leader), `regions/k${i}`, i, 10_000),
      );
      const diskAfter = await diskWrites(wan.clientUrl(nearest));
      const diskMs = 1000 * (diskAfter.seconds - diskBefore.seconds) /
        Math.max(1, diskAfter.count - diskBefore.count);
      console.log(
        `40 writes through the leader: ${describe(writes)}; node ${nearest}'s disk writes ` +
          `meanwhile: mean ${ms(diskMs)} ms`,
      );
      const writeP50 = writes.percentile(50);
      // Never under a round trip: the delays are real. At most a round trip, a disk write and
      // 25 ms of margin for a loaded machine (measured p50 36.5-47.4 ms at RTT 30 with a disk
      // write of 2.6-12.5 ms, load average 8 on 2 cores), which is still under the learner's
      // round trip: it is never waited for.
      assert.ok(writeP50 >= 0.95 * nearestRtt, `writes p50 ${ms(writeP50)} ms`);
      const writeBound = nearestRtt + diskMs + 25;
      assert.ok(writeP50 <= writeBound, `writes p50 ${ms(writeP50)} > ${ms(writeBound)} ms`);
      assert.ok(writeP50 < LEARNER_RTT, `writes p50 ${ms(writeP50)} ms`);

      // Stale reads on the learner, from a client in its region: its own state, no round trip.
      await poll(
        async () =>
          (await get(learner, "regions/k39", "?consistency=stale")).value === 39 || undefined,
        {
          what: "the learner to apply the last write",
          timeoutMs: 5000,
        },
      );
      console.log("reads on the learner, answered locally:");
      const stale = await localReads(learner, "regions/k39", "?consistency=stale");
      assert.ok(stale.percentile(50) < 1, `stale reads: ${describe(stale)}`);
      // maxStalenessMs: local while the learner heard from the leader within the bound (the
      // heartbeats come every 100 ms)...
      const bounded = await localReads(learner, "regions/k39", "?maxStalenessMs=1000");
      assert.ok(bounded.percentile(50) < 1, `maxStalenessMs reads: ${describe(bounded)}`);
      // ...through the leader when it did not: at least the learner's round trip to it.
      const forwarded = async (query: string) => {
        const started = performance.now();
        const r = await get(learner, "regions/k39", query);
        const tookMs = performance.now() - started;
        assert.equal(r.value, 39, `${query}: ${r.status} ${JSON.stringify(r.body)}`);
        return { local: r.lastContactMs !== undefined, lastContactMs: r.lastContactMs, tookMs };
      };
      const strict = [];
      for (let i = 0; i < 10; i++) strict.push(await forwarded("?maxStalenessMs=0"));
      const through = strict.filter((r) => !r.local);
      console.log(
        `  ?maxStalenessMs=0: ${through.length}/10 through the leader, ` +
          `${through.map((r) => Math.round(r.tookMs)).join(", ")} ms`,
      );
      // The leader's answer to one forwarded read is contact too: the next read, in the same
      // millisecond, may rightly be local (measured 0-2 of 10).
      assert.ok(through.length >= 5, `${through.length}/10 through the leader`);
      for (const r of strict) {
        if (r.local) assert.ok(r.lastContactMs! <= 0, `local at ${r.lastContactMs} ms`);
        else assert.ok(r.tookMs >= 0.95 * LEARNER_RTT, `${ms(r.tookMs)} ms`);
      }

      // Cut off from the leader (its messages to the learner held), the learner does not answer
      // from its state: the read waits for the leader, whose answer comes once the link heals.
      wan.stall(leader, LEARNER);
      await poll(async () => {
        const r = await get(learner, "regions/k39", "?consistency=stale");
        return r.lastContactMs! > 600 || undefined;
      }, { what: "the learner's contact to go stale", timeoutMs: 5000, intervalMs: 50 });
      const heldMs = 300;
      const healing = new Promise((resolve) => setTimeout(resolve, heldMs)).then(() =>
        wan.heal(leader, LEARNER)
      );
      const cutOff = await forwarded("?maxStalenessMs=500");
      await healing;
      console.log(
        `  ?maxStalenessMs=500 with the leader's messages held, healed ${heldMs} ms into the ` +
          `read: ${cutOff.local ? "local" : "through the leader"}, ${Math.round(cutOff.tookMs)} ms`,
      );
      assert.ok(!cutOff.local, "a learner that lost contact does not answer from its state");
      assert.ok(cutOff.tookMs >= heldMs, `${ms(cutOff.tookMs)} ms`);
      await poll(async () => {
        const r = await get(learner, "regions/k39", "?maxStalenessMs=500");
        return r.lastContactMs !== undefined || undefined;
      }, { what: "local bounded reads once the link heals", timeoutMs: 5000, intervalMs: 50 });

      // The leader kept its term from its election to the end, and nobody campaigned again.
      const wait = electedAt + STABLE_MS - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      const terms = await Promise.all(
        [...voters, LEARNER].map(async (id) => (await wan.status(id))?.term),
      );
      const leaders = await Promise.all(
        [...voters, LEARNER].map(async (id) => (await wan.status(id))?.leaderId),
      );
      const campaignsAfter = (await wan.logged("campaign started")).length;
      const warned = (await wan.logged("peer round trips are long for the election timeout"))
        .map((w) =>
          `peer ${w.peer} p50 ${w.rttP50Ms} p99 ${w.rttP99Ms} ms, ` +
          `${Date.parse(String(w.time)) - electedAt} ms after the election`
        );
      console.log(
        `after ${Date.now() - electedAt} ms: terms ${terms.join(", ")}, leaders ` +
          `${leaders.join(", ")}, ${campaignsAfter - campaigns} campaign(s) since the election; ` +
          `timing warnings: ${warned.join("; ") || "none"}`,
      );
      // The leader's timing warning (a peer's heartbeat p99 above 200 ms, a fifth of the
      // election timeout) is printed, not asserted: the learner's heartbeats were held on
      // purpose above, and on a loaded machine the first 20 heartbeats (all the warning needs)
      // have had a p99 of 180-335 ms to voters 30-80 ms away, from one stall at the start,
      // while the term held.
      assert.deepEqual(terms, [term, term, term, term], "no term change");
      assert.deepEqual(leaders, [leader, leader, leader, leader], "the same leader");
      assert.equal(campaignsAfter, campaigns, "no campaign after the election");

      const members = await (await fetch(`${wan.clientUrl(leader)}/v1/members`)).json() as {
        id: number;
        role: string;
        peerUrl: string;
      }[];
      assert.deepEqual(members.map((m) => [m.id, m.role]), [
        [1, "voter"],
        [2, "voter"],
        [3, "voter"],
        [4, "learner"],
      ]);
      assert.equal(members[3].peerUrl, wan.peerUrl(LEARNER));
      // Every peer connection named its sender, so every one of them was delayed.
      assert.equal(wan.unroutedConnections(), 0);
    });
    console.log(`the whole test: ${Date.now() - started} ms`);
  },
});
