/**
 * `deno task bench:scale`: loads a million keys of 100 bytes at 64 clients into a fresh 3-node
 * edgeraft cluster, then into etcd when it is on the PATH, and reports per 100k keys stored
 * (writes/s, latency, errors, elections, compactions, RSS, the event loop's delay), the RSS
 * after an idle settle and a follower's restart, checked against the targets of issue 17.
 * Writes bench/results/<UTC timestamp>-scale/ (scale.json, README.md, scale.svg). See
 * bench/README.md, "A million keys", and `--help`.
 *
 * @module
 */

import type { BenchCluster, SystemName } from "./bench_cluster.ts";
import { edgeraftApi } from "./edgeraft_api.ts";
import { EdgeraftCluster } from "./edgeraft_cluster.ts";
import { etcdApi } from "./etcd_api.ts";
import { EtcdCluster, etcdVersion } from "./etcd_cluster.ts";
import { UsageError } from "./options.ts";
import { Progress } from "./progress.ts";
import { runMain } from "./run_main.ts";
import { NodeLogWatcher } from "./scale_node_log.ts";
import { heartbeatMs, parseScaleOptions, SCALE_USAGE } from "./scale_options.ts";
import {
  BATCH_HEADER,
  batchRow,
  renderScaleChart,
  renderScaleReport,
  type ScaleRun,
  targetsMarkdown,
} from "./scale_report.ts";
import { loadAverage, runScale, type SystemScaleResult } from "./scale_run.ts";

const progress = new Progress();
/** The cluster running now, stopped on SIGINT/SIGTERM. */
let live: BenchCluster | undefined;

async function commit(): Promise<string | null> {
  const out = await new Deno.Command("git", {
    args: ["describe", "--always", "--dirty"],
    cwd: new URL("../", import.meta.url).pathname,
    stdout: "piped",
    stderr: "null",
  }).output().catch(() => undefined);
  return out?.success ? new TextDecoder().decode(out.stdout).trim() : null;
}

async function main(): Promise<number> {
  let o;
  try {
    o = parseScaleOptions(Deno.args);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`${e.message}\n${SCALE_USAGE}`);
    return 2;
  }
  if (o.help) {
    console.log(SCALE_USAGE);
    return 0;
  }
  const etcd = await etcdVersion();
  const systems: SystemName[] = o.systems ?? (etcd ? ["edgeraft", "etcd"] : ["edgeraft"]);
  if (systems.includes("etcd") && !etcd) {
    console.error("--systems asks for etcd, but there is no etcd on the PATH");
    return 2;
  }
  const startedAt = new Date().toISOString();
  const outDir = o.outDir ??
    new URL(`results/${startedAt.slice(0, 19).replaceAll(":", "-")}-scale`, import.meta.url)
      .pathname;
  const run: ScaleRun = {
    startedAt,
    finishedAt: startedAt,
    command: ["deno", "task", "bench:scale", ...Deno.args].join(" "),
    environment: {
      deno: Deno.version.deno,
      nproc: navigator.hardwareConcurrency,
      loadAverageStart: loadAverage(),
      loadAverageEnd: null,
      etcd: etcd ?? null,
      edgeraftCommit: await commit(),
    },
    options: o,
    heartbeatMs: heartbeatMs(o.nodeArgs),
    systems: [],
  };
  console.log(
    `bench:scale: ${o.keys} keys, batches of ${o.batch}, ${o.clients} clients, ` +
      `${systems.join(" then ")}; nproc ${run.environment.nproc}, load average ` +
      `${run.environment.loadAverageStart?.join(" ")}`,
  );
  for (const system of systems) {
    const log = system === "edgeraft" ? new NodeLogWatcher() : undefined;
    const start = system === "edgeraft"
      ? () =>
        EdgeraftCluster.start({
          nodeArgs: o.nodeArgs,
          cpuProfileDir: o.profileDir,
          onLine: (id, line) => {
            log!.hear(id, line);
            if (!o.nodeOutput) return;
            const at = new Date().toISOString();
            Deno.writeTextFileSync(o.nodeOutput, `${at} n${id} ${line}\n`, { append: true });
          },
        })
      : () => EtcdCluster.start();
    console.log(`\n## ${system}\n\n${BATCH_HEADER}`);
    let result: SystemScaleResult;
    try {
      result = await runScale(start, system === "edgeraft" ? edgeraftApi : etcdApi, {
        keys: o.keys,
        batch: o.batch,
        clients: o.clients,
        settleS: o.settleS,
        quietBelowMs: system === "edgeraft" ? run.heartbeatMs : undefined,
        log,
        onBatch: (b) => {
          progress.done();
          console.log(batchRow(b));
        },
        onStatus: (text) => progress.status(text),
        onCluster: (c) => live = c,
      });
    } catch (e) {
      progress.line(`${system}: the run failed: ${e}`);
      result = {
        system,
        leaderId: 0,
        batches: [],
        elections: null,
        termStart: null,
        termEnd: null,
        totalErrors: 0,
        totalCompactions: null,
        errorSamples: [],
        rssAfterLoadBytes: [],
        rssSettledBytes: [],
        memorySettled: [],
        settledAfterS: o.settleS,
        restarts: [],
        notableLines: log?.notable ?? [],
        error: String(e),
      };
    }
    progress.done();
    run.systems.push(result);
    console.log(
      `\n${system}: ${result.elections ?? "-"} elections, ${result.totalErrors} errors, ` +
        `${result.totalCompactions ?? "-"} compactions during the load`,
    );
    console.log(`\n${targetsMarkdown(result, run.heartbeatMs, system === "edgeraft")}`);
  }
  run.finishedAt = new Date().toISOString();
  run.environment.loadAverageEnd = loadAverage();
  await Deno.mkdir(outDir, { recursive: true });
  await Deno.writeTextFile(`${outDir}/scale.json`, JSON.stringify(run, null, 2) + "\n");
  await Deno.writeTextFile(`${outDir}/README.md`, renderScaleReport(run));
  await Deno.writeTextFile(`${outDir}/scale.svg`, await renderScaleChart(run));
  console.log(`\nreport: ${outDir}/README.md (scale.json, scale.svg beside it)`);
  return run.systems.some((r) => r.error) ? 1 : 0;
}

if (import.meta.main) {
  await runMain(main, async () => await live?.stop(), (line) => progress.line(line));
}
