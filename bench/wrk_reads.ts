/**
 * Reads measured with `wrk` (a C load generator) instead of the suite's own: at 64 clients the
 * suite's generator takes ~0.6-0.9 of the machine's two cores to send edgeraft's reads, which
 * the nodes then do not get, so `deno task bench` reports a lower bound for the read workloads.
 * This check runs the same reads (10,000 keys of 100 bytes, a random key per request, one
 * keep-alive connection per client, closed loop) through `wrk -t1` against a fresh cluster of
 * each system, alternating, and prints ops/s, p50 and p99 and the ratio per round.
 *
 * ```sh
 * apt-get install -y wrk etcd-server
 * deno task bench:wrk-reads                       # 64 connections, 5 s, 2 rounds
 * deno task bench:wrk-reads --clients 16 --duration 10 --rounds 3
 * ```
 *
 * wrk counts a non-2xx answer as an error (it prints them); an etcd range of a key that is not
 * there answers 200, so the keys are loaded first on both and the check reads only those.
 *
 * @module
 */

import { parseArgs } from "node:util";
import type { BenchCluster } from "./bench_cluster.ts";
import { EdgeraftCluster } from "./edgeraft_cluster.ts";
import { edgeraftApi, edgeraftGetPath } from "./edgeraft_api.ts";
import { EtcdCluster, etcdVersion } from "./etcd_cluster.ts";
import { etcdApi, etcdRangeRequest } from "./etcd_api.ts";
import { loadKeys } from "./key_loader.ts";
import type { ReadConsistency } from "./system_api.ts";
import { BENCH_KEY_PREFIX, KEY_COUNT, keyName } from "./workloads.ts";

/** One wrk measurement. */
interface WrkResult {
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  /** Answers that were not 2xx/3xx, and socket errors. */
  errors: number;
}

/**
 * The Lua script that makes wrk send `kind` reads of random bench keys to `system`, and print
 * its summary as one JSON line at the end.
 *
 * @example
 * ```ts
 * import { wrkScript } from "./wrk_reads.ts";
 * wrkScript("edgeraft", "stale").includes("/v1/config/bench-k000000?consistency=stale"); // true
 * ```
 */
export function wrkScript(system: "edgeraft" | "etcd", kind: ReadConsistency): string {
  const keys = Array.from({ length: KEY_COUNT }, (_, i) => keyName(BENCH_KEY_PREFIX, i));
  const requests = system === "edgeraft"
    ? keys.map((k) => `wrk.format("GET", "${edgeraftGetPath(k, kind)}")`)
    : keys.map((k) => {
      const body = JSON.stringify(etcdRangeRequest(k, kind));
      return `wrk.format("POST", "/v3/kv/range", {["Content-Type"]="application/json"}, '${body}')`;
    });
  return [
    // Made in `init`, once the thread knows the host: wrk.format adds the Host header then
    // (made while the script loads, the requests would have none, and etcd answers 400).
    "local requests = {}",
    "init = function(_)",
    ...requests.map((r) => `  requests[#requests + 1] = ${r}`),
    "end",
    `math.randomseed(os.time())`,
    `request = function() return requests[math.random(1, #requests)] end`,
    "done = function(summary, latency, _)",
    "  local e = summary.errors",
    '  io.write(string.format(\'{"requests":%d,"us":%d,"p50":%d,"p99":%d,"errors":%d}\\n\',',
    "    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),",
    "    e.connect + e.read + e.write + e.status + e.timeout))",
    "end",
    "",
  ].join("\n");
}

async function runWrk(url: string, script: string, clients: number, seconds: number) {
  const out = await new Deno.Command("wrk", {
    args: ["-t1", `-c${clients}`, `-d${seconds}s`, "-s", script, url],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  const line = text.split("\n").find((l) => l.startsWith("{"));
  if (!out.success || !line) {
    throw new Error(`wrk failed: ${text}${new TextDecoder().decode(out.stderr)}`);
  }
  const r = JSON.parse(line) as {
    requests: number;
    us: number;
    p50: number;
    p99: number;
    errors: number;
  };
  return {
    opsPerSec: r.requests / (r.us / 1e6),
    p50Ms: r.p50 / 1000,
    p99Ms: r.p99 / 1000,
    errors: r.errors,
  } satisfies WrkResult;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      clients: { type: "string", default: "64" },
      duration: { type: "string", default: "5" },
      rounds: { type: "string", default: "2" },
    },
  });
  const clients = Number(values.clients);
  const seconds = Number(values.duration);
  const rounds = Number(values.rounds);
  if (![clients, seconds, rounds].every((n) => Number.isInteger(n) && n > 0)) {
    console.error("usage: deno task bench:wrk-reads [--clients N] [--duration S] [--rounds N]");
    Deno.exit(2);
  }
  if (
    !(await new Deno.Command("wrk", { args: ["-v"], stdout: "null", stderr: "null" }).output()
      .then(() => true, () => false))
  ) {
    console.error("wrk is not installed (apt-get install -y wrk)");
    Deno.exit(1);
  }
  const withEtcd = (await etcdVersion()) !== undefined;
  const dir = await Deno.makeTempDir({ prefix: "edgeraft-wrk-" });
  const clusters: [BenchCluster, string][] = [];
  try {
    for (const system of withEtcd ? ["edgeraft", "etcd"] as const : ["edgeraft"] as const) {
      const cluster = system === "edgeraft"
        ? await EdgeraftCluster.start()
        : await EtcdCluster.start();
      clusters.push([cluster, system]);
      const url = cluster.clientUrl(await cluster.leaderId());
      await loadKeys(system === "edgeraft" ? edgeraftApi : etcdApi, url, {
        prefix: BENCH_KEY_PREFIX,
        count: KEY_COUNT,
        workers: 64,
      });
      for (const kind of ["linearizable", "stale"] as const) {
        await Deno.writeTextFile(`${dir}/${system}-${kind}.lua`, wrkScript(system, kind));
      }
      cluster.pause();
    }
    console.log(`wrk -t1 -c${clients}, ${seconds} s per measurement, ${rounds} rounds`);
    for (let round = 1; round <= rounds; round++) {
      for (const kind of ["linearizable", "stale"] as const) {
        const row: string[] = [];
        const ops: number[] = [];
        // Who goes first alternates, as in `deno task bench`.
        const order = round % 2 === 1 ? clusters : [...clusters].reverse();
        for (const [cluster, system] of order) {
          cluster.resume();
          try {
            const url = cluster.clientUrl(await cluster.leaderId());
            const script = `${dir}/${system}-${kind}.lua`;
            await runWrk(url, script, clients, 1); // warm-up
            const r = await runWrk(url, script, clients, seconds);
            ops[system === "edgeraft" ? 0 : 1] = r.opsPerSec;
            row.push(
              `${system} ${Math.round(r.opsPerSec)}/s p50 ${r.p50Ms.toFixed(2)} p99 ${
                r.p99Ms.toFixed(2)
              } ms${r.errors > 0 ? ` (${r.errors} errors)` : ""}`,
            );
          } finally {
            cluster.pause();
          }
        }
        const ratio = ops.length === 2 ? `  ratio ${(ops[0] / ops[1]).toFixed(2)}x` : "";
        console.log(`round ${round} ${kind.padEnd(12)} ${row.join("  |  ")}${ratio}`);
      }
    }
  } finally {
    for (const [cluster] of clusters) {
      cluster.resume();
      await cluster.stop();
    }
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) await main();
