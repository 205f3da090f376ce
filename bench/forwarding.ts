/**
 * Writes through a follower against writes to the leader: a fresh 3-node cluster, 64 clients
 * putting new keys of 100 bytes into one member, and the CPU each member spent per write
 * (`/proc/<pid>/stat`). A follower forwards every write to the leader
 * (docs/operations.md, "Forwarding costs throughput").
 *
 * ```sh
 * deno run --allow-all bench/forwarding.ts                          # through a follower, then to the leader
 * deno run --allow-all bench/forwarding.ts --keys 30000 -- --peer-protocol h2   # node flags after --
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import { EdgeraftCluster } from "./edgeraft_cluster.ts";
import { edgeraftApi } from "./edgeraft_api.ts";
import { loadKeys } from "./key_loader.ts";
import { cpuMillis } from "./proc_stats.ts";

const { values: args, positionals } = parseArgs({
  options: { keys: { type: "string", default: "60000" } },
  allowPositionals: true,
});
const keys = Number(args.keys);

for (const target of ["follower", "leader"] as const) {
  const cluster = await EdgeraftCluster.start({ nodeArgs: positionals });
  try {
    const leader = await cluster.leaderId();
    const id = target === "leader" ? leader : cluster.ids.find((n) => n !== leader)!;
    const cpu = () => cluster.ids.map((n) => cpuMillis(cluster.pid(n)!) ?? NaN);
    const before = cpu();
    const started = performance.now();
    await loadKeys(edgeraftApi, cluster.clientUrl(id), { prefix: "fwd", count: keys, workers: 64 });
    const seconds = (performance.now() - started) / 1000;
    const after = cpu();
    const perWrite = cluster.ids.map((n, i) => {
      const role = n === leader ? "leader" : n === id ? "forwarding" : "follower";
      return `n${n} (${role}) ${(((after[i] - before[i]) * 1000) / keys).toFixed(0)} µs`;
    });
    console.log(
      `to the ${target}: ${keys} writes at 64 clients, ${(keys / seconds).toFixed(0)} writes/s; ` +
        `CPU per write: ${perWrite.join(", ")}`,
    );
  } finally {
    await cluster.stop();
  }
}
