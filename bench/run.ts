/**
 * `deno task bench`: the workloads of docs/architecture.md#benchmarks against a fresh local 3-node
 * edgeraft cluster and, when `etcd` is on the PATH, a fresh local 3-node etcd, in one run,
 * alternating the systems measurement by measurement so that machine drift hits both. Prints
 * progress and the results with their ratios, and writes report.md, chart.svg and raw.json to
 * bench/results/<date>/. See bench/README.md and `--help`.
 *
 * @module
 */

import { setTimeout as delay } from "node:timers/promises";
import type { BenchCluster, SystemName } from "./bench_cluster.ts";
import { EdgeraftCluster } from "./edgeraft_cluster.ts";
import { edgeraftApi } from "./edgeraft_api.ts";
import { etcdApi } from "./etcd_api.ts";
import { EtcdCluster, etcdVersion } from "./etcd_cluster.ts";
import { measureFailover } from "./failover.ts";
import { measureGeneratorCeiling } from "./generator_ceiling.ts";
import { loadKeys } from "./key_loader.ts";
import { measureCell } from "./measure_cell.ts";
import { measureMemory } from "./memory.ts";
import { type BenchOptions, parseBenchOptions, USAGE, UsageError } from "./options.ts";
import { totalCpuMillis } from "./proc_stats.ts";
import { Progress } from "./progress.ts";
import { runMain } from "./run_main.ts";
import { renderReport, writeReport } from "./report.ts";
import { type BenchRun, type CellResult, combineRounds } from "./results.ts";
import type { SystemApi } from "./system_api.ts";
import { spawnTrivialServer } from "./trivial_server.ts";
import { BENCH_KEY_PREFIX, KEY_COUNT, LOAD_WORKLOADS, readsKeys } from "./workloads.ts";

const APIS: Record<SystemName, SystemApi> = { edgeraft: edgeraftApi, etcd: etcdApi };
const START: Record<SystemName, (o: BenchOptions) => Promise<BenchCluster>> = {
  edgeraft: (o) => EdgeraftCluster.start({ cpuProfileDir: o.profileDir }),
  etcd: () => EtcdCluster.start(),
};

const progress = new Progress();
/** Clusters to stop if the run is interrupted. */
const live = new Set<BenchCluster>();

async function startCluster(system: SystemName, o: BenchOptions): Promise<BenchCluster> {
  const cluster = await START[system](o);
  live.add(cluster);
  return cluster;
}

async function stopCluster(cluster: BenchCluster): Promise<void> {
  live.delete(cluster);
  await cluster.stop();
}

async function gitCommit(): Promise<string | null> {
  try {
    const out = await new Deno.Command("git", {
      args: ["rev-parse", "--short", "HEAD"],
      cwd: new URL("../", import.meta.url).pathname,
      stdout: "piped",
      stderr: "null",
    }).output();
    return out.success ? new TextDecoder().decode(out.stdout).trim() : null;
  } catch {
    return null;
  }
}

/** Both systems take turns; who goes first alternates too, so neither always runs warm. */
function turns(systems: SystemName[], round: number): SystemName[] {
  return round % 2 === 0 ? systems : [...systems].reverse();
}

/** Lets only `system` run while it is measured; see {@linkcode BenchCluster.pause}. */
function focus(clusters: Map<SystemName, BenchCluster>, system: SystemName): BenchCluster {
  for (const [other, cluster] of clusters) if (other !== system) cluster.pause();
  const cluster = clusters.get(system)!;
  cluster.resume();
  return cluster;
}

function fmtOps(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

function cellLine(c: CellResult): string {
  const l = c.load.latencyMs;
  return `  ${c.system.padEnd(8)} ${fmtOps(c.load.opsPerSec).padStart(8)} ops/s  p50 ${
    l.p50.toFixed(2)
  } ms  p99 ${l.p99.toFixed(2)} ms  max ${l.max.toFixed(1)} ms` +
    (c.load.errors > 0 ? `  errors ${c.load.errors} (${c.load.errorSamples[0]})` : "");
}

async function measureIdle(clusters: Map<SystemName, BenchCluster>, ms: number) {
  const idle: Partial<Record<SystemName, number>> = {};
  const pids = (c: BenchCluster) =>
    c.ids.map((id) => c.pid(id)).filter((p): p is number => p !== undefined);
  const before = new Map([...clusters].map(([s, c]) => [s, totalCpuMillis(pids(c))]));
  const started = performance.now();
  await delay(ms);
  const wall = performance.now() - started;
  for (const [system, cluster] of clusters) {
    const a = before.get(system);
    const b = totalCpuMillis(pids(cluster));
    if (a !== undefined && b !== undefined) idle[system] = (b - a) / wall;
  }
  return idle;
}

async function loadPhase(run: BenchRun, o: BenchOptions, clusters: Map<SystemName, BenchCluster>) {
  const workloads = LOAD_WORKLOADS.filter((w) => o.workloads.includes(w));
  const systems = [...clusters.keys()];
  if (workloads.some(readsKeys)) {
    for (const system of systems) {
      const cluster = focus(clusters, system);
      progress.line(`preloading ${KEY_COUNT} keys into ${system}`);
      const result = await loadKeys(APIS[system], cluster.clientUrl(await cluster.leaderId()), {
        prefix: BENCH_KEY_PREFIX,
        count: KEY_COUNT,
        httpClient: o.httpClient,
        onProgress: (n) => progress.status(`preload ${system}: ${n}/${KEY_COUNT}`),
      });
      run.preload.push({ system, keys: result.keys, putsPerSec: result.putsPerSec });
    }
  }
  const rounds = o.rounds ?? 1;
  const total = workloads.length * o.clients.length * systems.length * rounds;
  const measured: CellResult[] = [];
  let turn = 0;
  for (let r = 1; r <= rounds; r++) {
    for (const workload of workloads) {
      for (const clients of o.clients) {
        progress.line(`${workload} ×${clients}${rounds > 1 ? ` (round ${r}/${rounds})` : ""}`);
        for (const system of turns(systems, turn)) {
          const label = `[${measured.length + 1}/${total}] ${workload} ×${clients} ${system}`;
          try {
            const cell = await measureCell(focus(clusters, system), APIS[system], {
              workload,
              clients,
              durationMs: o.durationS * 1000,
              warmupMs: o.warmupS * 1000,
              httpClient: o.httpClient,
              onProgress: (p) =>
                progress.status(
                  `${label}  ${p.phase} ${(p.elapsedMs / 1000).toFixed(1)}/${
                    (p.durationMs / 1000).toFixed(1)
                  } s  ${fmtOps(p.recentOpsPerSec)} ops/s  errors ${p.errors}`,
                ),
            });
            measured.push(rounds > 1 ? { ...cell, round: r } : cell);
            progress.line(cellLine(cell));
          } catch (e) {
            run.notes.push(`${system} ${workload} at ${clients} clients failed: ${e}`);
            progress.line(`  ${system} failed: ${e}`);
          }
        }
        turn++;
      }
    }
  }
  if (rounds > 1) run.roundCells = measured;
  run.cells = rounds > 1 ? combineRounds(measured) : measured;
}

async function failoverPhase(
  run: BenchRun,
  o: BenchOptions,
  clusters: Map<SystemName, BenchCluster>,
) {
  const systems = [...clusters.keys()];
  for (const system of systems) run.failover.push({ system, samples: [] });
  for (let r = 0; r < o.failoverRuns; r++) {
    for (const system of turns(systems, r)) {
      progress.status(`failover ${r + 1}/${o.failoverRuns} ${system}: killing the leader`);
      try {
        const sample = await measureFailover(focus(clusters, system), APIS[system], {
          tag: `${r}-${Date.now().toString(36)}`,
          httpClient: o.httpClient,
        });
        run.failover.find((f) => f.system === system)!.samples.push(sample);
        progress.line(
          `  failover ${r + 1}/${o.failoverRuns} ${system}: ${
            sample.ms === null ? "no acquire within the deadline" : `${sample.ms.toFixed(0)} ms`
          } (killed member ${sample.killedId})`,
        );
      } catch (e) {
        run.notes.push(`${system} failover ${r + 1} failed: ${e}`);
        progress.line(`  failover ${system} failed: ${e}`);
      }
    }
  }
}

async function memoryPhase(run: BenchRun, o: BenchOptions, systems: SystemName[]) {
  for (const system of systems) {
    progress.line(`memory: fresh ${system} cluster, ${o.memoryKeys} keys of 100 bytes`);
    try {
      // Profiles, if asked for, are of the load cluster only.
      const memoryOptions = { ...o, profileDir: undefined };
      const result = await measureMemory(() => startCluster(system, memoryOptions), APIS[system], {
        keys: o.memoryKeys,
        httpClient: o.httpClient,
        onProgress: (n) => progress.status(`memory ${system}: ${n}/${o.memoryKeys} keys`),
        settleS: o.quick ? 5 : 30,
      });
      run.memory.push(result);
      const mb = (values: (number | null)[]) =>
        values.map((b) => (b === null ? "?" : (b / 2 ** 20).toFixed(0))).join(" / ");
      progress.line(
        `  ${system}: RSS right after ${mb(result.rssAfterBytes)} MB, settled ${
          mb(result.rssSettledBytes)
        } MB (${result.settledAfterS} s)`,
      );
    } catch (e) {
      run.notes.push(`${system} memory measurement failed: ${e}`);
      progress.line(`  ${system} memory failed: ${e}`);
    } finally {
      for (const c of live) if (c.system === system) live.delete(c);
    }
  }
}

async function main(): Promise<number> {
  let o: BenchOptions;
  try {
    o = parseBenchOptions(Deno.args);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`bench: ${e.message}\n${USAGE}`);
    return 2;
  }
  if (o.help) {
    console.log(USAGE);
    return 0;
  }
  const startedAt = new Date();
  const etcd = o.only === "edgeraft" ? undefined : await etcdVersion();
  const notes: string[] = [];
  const systems: SystemName[] = [];
  if (o.only !== "etcd") systems.push("edgeraft");
  if (etcd) systems.push("etcd");
  else if (o.only === "etcd") {
    console.error("bench: --only etcd, but there is no etcd on the PATH");
    return 2;
  } else if (o.only !== "edgeraft") {
    notes.push(
      "etcd is not on the PATH (`apt-get install -y etcd-server`): edgeraft only, no ratios.",
    );
    progress.line(`NOTE: ${notes[0]}`);
  }
  const run: BenchRun = {
    startedAt: startedAt.toISOString(),
    finishedAt: "",
    environment: {
      deno: Deno.version.deno,
      os: `${Deno.build.os} ${Deno.osRelease()}`,
      cpus: navigator.hardwareConcurrency,
      etcd: etcd ?? null,
      edgeraftCommit: await gitCommit(),
    },
    options: o,
    systems,
    idleCpuCores: {},
    generatorCeiling: null,
    preload: [],
    cells: [],
    failover: [],
    memory: [],
    notes,
  };
  const outDir = o.outDir ??
    new URL(`results/${run.startedAt.slice(0, 19).replaceAll(":", "-")}`, import.meta.url)
      .pathname;

  const maxClients = Math.max(...o.clients);
  progress.line(`load generator ceiling: trivial server, ${maxClients} clients`);
  const server = await spawnTrivialServer();
  try {
    const c = await measureGeneratorCeiling(server.origin, {
      clients: maxClients,
      durationMs: Math.min(o.durationS, 2) * 1000,
      httpClient: o.httpClient,
    });
    run.generatorCeiling = { clients: c.clients, opsPerSec: c.opsPerSec, cpuUsPerOp: c.cpuUsPerOp };
    progress.line(`  ${fmtOps(c.opsPerSec)} requests/s, ${c.cpuUsPerOp?.toFixed(1)} µs CPU each`);
  } finally {
    await server.stop();
  }

  const needsClusters = o.workloads.some((w) => w !== "memory");
  if (needsClusters) {
    const clusters = new Map<SystemName, BenchCluster>();
    try {
      for (const system of systems) {
        progress.line(`starting a 3-node ${system} cluster`);
        clusters.set(system, await startCluster(system, o));
      }
      run.idleCpuCores = await measureIdle(clusters, o.quick ? 500 : 1000);
      await loadPhase(run, o, clusters);
      if (o.workloads.includes("failover")) await failoverPhase(run, o, clusters);
    } finally {
      for (const cluster of clusters.values()) await stopCluster(cluster);
    }
  }
  if (o.workloads.includes("memory")) await memoryPhase(run, o, systems);

  run.finishedAt = new Date().toISOString();
  progress.done();
  await writeReport(run, outDir);
  const report = renderReport(run);
  // The targets and the main table, as in the report.
  console.log(report.split("\n## Leader failover")[0]);
  console.log(`\nreport: ${outDir}/report.md (chart.svg, raw.json beside it)`);
  return 0;
}

if (import.meta.main) {
  await runMain(
    main,
    () => Promise.all([...live].map((c) => c.stop())),
    (line) => progress.line(line),
  );
}
