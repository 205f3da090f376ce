/**
 * Where one write's latency goes: a fresh 3-node cluster with `--trace-file` on every node
 * (`src/node/write_trace.ts`), puts from one client (or several) to the leader, then the
 * timelines of all three nodes lined up per log entry.
 *
 * Run: `deno task bench:trace [puts] [--clients N]` (default 2000 puts from 1 client; with N
 * clients, each sends its next put as soon as the previous one was answered, as the benchmark's
 * closed loop does). It prints, for the entries the leader proposed, the median and p90 time
 * from the proposal to each step: the leader's Ready, the first follower receiving the entry,
 * the first follower having it on disk, the leader having it on disk, the first
 * acknowledgement reaching the leader, and the entry applied on the leader; and the client's
 * own round trip for comparison.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { EdgeraftCluster } from "./edgeraft_cluster.ts";
import { edgeraftApi } from "./edgeraft_api.ts";
import { openHttpClient } from "./http_clients.ts";

interface TraceEvent {
  at: number;
  node: number;
  event: string;
  args: number[];
}

/** Parses the lines of every `*.trace` file in `dir`. */
export function readTraces(dir: string): TraceEvent[] {
  const events: TraceEvent[] = [];
  for (const file of Deno.readDirSync(dir)) {
    if (!file.name.endsWith(".trace")) continue;
    for (const line of Deno.readTextFileSync(`${dir}/${file.name}`).split("\n")) {
      if (line === "") continue;
      const [at, node, event, ...args] = line.split(" ");
      events.push({ at: Number(at), node: Number(node), event, args: args.map(Number) });
    }
  }
  return events.sort((a, b) => a.at - b.at);
}

/** The steps of each entry the leader proposed, in ms after its proposal. */
export function stepsPerEntry(events: TraceEvent[], leader: number): Map<string, number[]> {
  const proposedAt = new Map<number, number>();
  const steps = new Map<string, number[]>();
  const add = (name: string, ms: number | undefined) => {
    if (ms === undefined) return;
    if (!steps.has(name)) steps.set(name, []);
    steps.get(name)!.push(ms);
  };
  // Events are sorted by time: start each search at the first event at or after `from`.
  const firstAfter = (from: number, match: (e: TraceEvent) => boolean) => {
    let lo = 0;
    let hi = events.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (events[mid].at < from) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < events.length; i++) if (match(events[i])) return events[i].at;
    return undefined;
  };
  for (const e of events) {
    if (e.node === leader && e.event === "propose") proposedAt.set(e.args[0], e.at);
  }
  for (const applied of events) {
    if (applied.node !== leader || applied.event !== "applied") continue;
    const [index, seq] = applied.args;
    const t0 = proposedAt.get(seq);
    if (t0 === undefined) continue;
    const since = (t: number | undefined) => (t === undefined ? undefined : t - t0);
    const holds = (e: TraceEvent) => e.args.at(-2)! <= index && index <= e.args.at(-1)!;
    add(
      "leader Ready",
      since(firstAfter(t0, (e) => e.node === leader && e.event === "ready" && holds(e))),
    );
    add(
      "a follower receives it",
      since(firstAfter(t0, (e) => e.node !== leader && e.event === "recv-app" && holds(e))),
    );
    add(
      "a follower has it on disk",
      since(
        firstAfter(t0, (e) => e.node !== leader && e.event === "appended" && e.args[0] >= index),
      ),
    );
    add(
      "the leader has it on disk",
      since(
        firstAfter(t0, (e) => e.node === leader && e.event === "appended" && e.args[0] >= index),
      ),
    );
    add(
      "the first ack reaches the leader",
      since(
        firstAfter(t0, (e) => e.node === leader && e.event === "recv-ack" && e.args[1] >= index),
      ),
    );
    add("applied on the leader", applied.at - t0);
  }
  return steps;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function main(puts: number, clients: number): Promise<void> {
  const traceDir = await Deno.makeTempDir({ prefix: "edgeraft-trace-" });
  const cluster = await EdgeraftCluster.start({ traceDir });
  const rtts: number[] = [];
  let leader: number;
  try {
    leader = await cluster.leaderId();
    const origin = cluster.clientUrl(leader);
    const value = "x".repeat(100);
    let next = 0;
    const worker = async (w: number) => {
      const http = openHttpClient("raw", origin);
      try {
        for (let i = w; i < 200; i += clients) {
          await edgeraftApi.put(http, `trace-k${i % 100}`, value);
        }
        for (let i = next++; i < puts; i = next++) {
          const started = performance.now();
          await edgeraftApi.put(http, `trace-k${i % 1000}`, value);
          rtts.push(performance.now() - started);
        }
      } finally {
        http.close();
      }
    };
    await Promise.all(Array.from({ length: clients }, (_, w) => worker(w)));
  } finally {
    await cluster.stop(); // SIGTERM: every node writes out its trace
  }
  const steps = stepsPerEntry(readTraces(traceDir), leader);
  await Deno.remove(traceDir, { recursive: true });
  console.log(
    `${puts} puts to the leader (n${leader}), ${clients} client${clients === 1 ? "" : "s"}; ` +
      "ms after the proposal:",
  );
  for (const [name, values] of steps) {
    const line = `  ${name.padEnd(34)} p50 ${percentile(values, 50).toFixed(3)}  p90 ${
      percentile(values, 90).toFixed(3)
    }  (${values.length} entries)`;
    console.log(line);
  }
  console.log(
    `  ${"the client's round trip".padEnd(34)} p50 ${percentile(rtts, 50).toFixed(3)}  p90 ${
      percentile(rtts, 90).toFixed(3)
    }`,
  );
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    options: { clients: { type: "string", default: "1" } },
    allowPositionals: true,
  });
  const clients = Number(values.clients);
  const puts = Number(positionals[0] ?? 2000);
  if (!Number.isInteger(clients) || clients < 1 || !Number.isInteger(puts) || puts < 1) {
    console.error("usage: deno task bench:trace [puts] [--clients N]");
    Deno.exit(2);
  }
  await main(puts, clients);
}
