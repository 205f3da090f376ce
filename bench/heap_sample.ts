/**
 * Where a node's heap goes under the scale bench's write load: V8's sampling heap profiler
 * (through the inspector) on one member of a 3-node cluster while 64 clients write new keys,
 * counting the objects that died in a full collection too, so that medium-lived garbage (the
 * kind that is promoted and then fills the old generation) shows up beside what stays.
 *
 * ```sh
 * deno run --allow-all bench/heap_sample.ts                 # the leader, 150k keys, sampled 20 s
 * deno run --allow-all bench/heap_sample.ts --member follower --keys 100000 --seconds 15
 * ```
 *
 * Prints the allocation sites by bytes sampled, with their callers.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { EdgeraftCluster } from "./edgeraft_cluster.ts";
import { edgeraftApi } from "./edgeraft_api.ts";
import { loadKeys } from "./key_loader.ts";

const { values: args } = parseArgs({
  options: {
    member: { type: "string", default: "leader" },
    keys: { type: "string", default: "150000" },
    seconds: { type: "string", default: "20" },
    top: { type: "string", default: "25" },
  },
});

const BASE_PORT = 9330;

interface ProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: ProfileNode[];
}

/** A minimal Chrome DevTools protocol session over the inspector's WebSocket. */
async function inspector(port: number) {
  const list = await (await fetch(`http://127.0.0.1:${port}/json`)).json();
  const ws = new WebSocket(list[0].webSocketDebuggerUrl);
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = reject;
  });
  let id = 0;
  const waiting = new Map<number, (r: unknown) => void>();
  ws.onmessage = (e) => {
    const m = JSON.parse(e.data);
    if (m.id !== undefined) waiting.get(m.id)?.(m.result ?? m.error);
  };
  return {
    send(method: string, params: unknown = {}): Promise<unknown> {
      const n = ++id;
      ws.send(JSON.stringify({ id: n, method, params }));
      return new Promise((resolve) => waiting.set(n, resolve));
    },
    close: () => ws.close(),
  };
}

function short(f: ProfileNode["callFrame"]): string {
  const file = f.url.split("/").slice(-2).join("/");
  return `${f.functionName || "(anonymous)"} ${file}:${f.lineNumber + 1}`;
}

const cluster = await EdgeraftCluster.start({ inspectBasePort: BASE_PORT });
try {
  const leader = await cluster.leaderId();
  const target = args.member === "leader" ? leader : cluster.ids.find((id) => id !== leader)!;
  const keys = Number(args.keys);
  let written = 0;
  const load = loadKeys(edgeraftApi, cluster.clientUrl(leader), {
    prefix: "heap-k",
    count: keys,
    workers: 64,
    onProgress: (n) => written = n,
  });
  // Past the start, with some state in place.
  while (written < keys / 4) await new Promise((r) => setTimeout(r, 200));
  const s = await inspector(BASE_PORT + target);
  await s.send("HeapProfiler.enable");
  await s.send("HeapProfiler.startSampling", {
    samplingInterval: 16384,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: false,
  });
  const from = written;
  const started = performance.now();
  await new Promise((r) => setTimeout(r, Number(args.seconds) * 1000));
  const result = await s.send("HeapProfiler.stopSampling") as { profile: { head: ProfileNode } };
  const writes = written - from;
  const secs = (performance.now() - started) / 1000;
  s.close();
  await load;
  // Bytes by allocation site (the frame that allocated), with the chain of its callers.
  const sites = new Map<string, { bytes: number; stacks: Map<string, number> }>();
  let total = 0;
  const walk = (n: ProfileNode, stack: string[]) => {
    const here = [...stack, short(n.callFrame)];
    if (n.selfSize > 0) {
      total += n.selfSize;
      const key = here.at(-1)!;
      const site = sites.get(key) ?? { bytes: 0, stacks: new Map() };
      site.bytes += n.selfSize;
      const chain = here.slice(-5, -1).reverse().join(" < ");
      site.stacks.set(chain, (site.stacks.get(chain) ?? 0) + n.selfSize);
      sites.set(key, site);
    }
    for (const c of n.children) walk(c, here);
  };
  walk(result.profile.head, []);
  const mb = (b: number) => (b / 1048576).toFixed(1);
  console.log(
    `member ${target} (${target === leader ? "leader" : "follower"}): ${writes} writes in ` +
      `${secs.toFixed(1)} s; ${mb(total)} MB sampled as allocated and kept past a scavenge ` +
      `(${Math.round(total / Math.max(1, writes))} B per write)`,
  );
  for (
    const [site, v] of [...sites].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, Number(args.top))
  ) {
    console.log(`${mb(v.bytes).padStart(7)} MB  ${site}`);
    for (const [chain, b] of [...v.stacks].sort((a, b) => b[1] - a[1]).slice(0, 2)) {
      console.log(`            ${mb(b)} MB < ${chain}`);
    }
  }
} finally {
  await cluster.stop();
}
