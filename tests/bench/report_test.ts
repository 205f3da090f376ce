import assert from "node:assert/strict";
import type { SystemName } from "../../bench/bench_cluster.ts";
import { parseBenchOptions } from "../../bench/options.ts";
import { renderChart, renderReport, writeReport } from "../../bench/report.ts";
import {
  type BenchRun,
  type CellResult,
  combineRounds,
  failoverPercentile,
} from "../../bench/results.ts";
import { checkTargets } from "../../bench/targets.ts";
import type { LoadWorkloadName } from "../../bench/workloads.ts";

function cell(
  system: SystemName,
  workload: LoadWorkloadName,
  clients: number,
  opsPerSec: number,
  p50: number,
): CellResult {
  return {
    system,
    workload,
    clients,
    load: {
      workers: clients,
      ops: opsPerSec * 5,
      errors: 0,
      elapsedMs: 5000,
      opsPerSec,
      latencyMs: { p50, p99: p50 * 3, max: p50 * 5, mean: p50 },
      errorSamples: [],
    },
    clusterCpuCores: 1.2,
    generatorCpuCores: 0.1,
  };
}

function fakeRun(): BenchRun {
  return {
    startedAt: "2026-01-01T00:00:00.000Z",
    finishedAt: "2026-01-01T00:05:00.000Z",
    environment: {
      deno: "2.9.6",
      os: "linux",
      cpus: 2,
      etcd: "etcd 3.4.23",
      edgeraftCommit: "abc",
    },
    options: parseBenchOptions([]),
    systems: ["edgeraft", "etcd"],
    idleCpuCores: { edgeraft: 0.1, etcd: 0.01 },
    generatorCeiling: { clients: 64, opsPerSec: 70_000, cpuUsPerOp: 11 },
    preload: [{ system: "edgeraft", keys: 10_000, putsPerSec: 4000 }],
    cells: [
      cell("edgeraft", "put", 64, 8000, 8),
      cell("etcd", "put", 64, 3700, 17),
      cell("edgeraft", "put", 1, 500, 2),
      cell("etcd", "put", 1, 560, 1.8),
      cell("edgeraft", "lock", 16, 2000, 8),
      cell("etcd", "lock", 16, 270, 53),
    ],
    failover: [
      {
        system: "edgeraft",
        samples: [
          { killedId: 1, ms: 200, attempts: 4 },
          { killedId: 2, ms: null, attempts: 99 },
          { killedId: 3, ms: 300, attempts: 5 },
        ],
      },
    ],
    memory: [{
      system: "edgeraft",
      keys: 100_000,
      leaderId: 2,
      putsPerSec: 5000,
      rssBeforeBytes: [50 * 2 ** 20, 50 * 2 ** 20, null],
      rssAfterBytes: [120 * 2 ** 20, 190 * 2 ** 20, null],
      rssSettledBytes: [110 * 2 ** 20, 160 * 2 ** 20, null],
      settledAfterS: 9,
    }],
    notes: ["a note"],
  };
}

Deno.test("targets: ratios, latency, failover and memory verdicts; n/a when not measured", () => {
  const checks = new Map(checkTargets(fakeRun()).map((t) => [t.target, t]));
  assert.equal(checks.get("config put, 64 clients")?.pass, true);
  assert.equal(checks.get("config put, 64 clients")?.measured, "2.16x");
  assert.equal(checks.get("config put, 1 client")?.pass, false);
  assert.equal(checks.get("linearizable get, 64 clients")?.pass, undefined);
  assert.equal(checks.get("lock acquire+release, 16 clients, uncontended")?.pass, true); // 7.4x
  assert.equal(checks.get("leader failover (edgeraft)")?.pass, false); // p50 300 ms: not < 300
  assert.equal(checks.get("contended lock hand-over (16 clients)")?.pass, undefined);
  const every = checks.get("every workload at every client count");
  assert.equal(every?.pass, false);
  assert.equal(every?.measured, "below: put x1 0.89x");
  const memory = [...checks.values()].find((t) => t.target.startsWith("memory"));
  assert.equal(memory?.pass, false);
  assert.equal(memory?.measured, "160.0 MB settled (max); right after the load 190 MB");
});

Deno.test("failover percentile: a repetition that never recovered is the slowest", () => {
  const samples = fakeRun().failover[0].samples;
  assert.equal(failoverPercentile(samples, 50), 300);
  assert.equal(failoverPercentile(samples, 100), Infinity);
  assert.equal(failoverPercentile([], 50), undefined);
});

Deno.test("report: markdown tables with ratios, and an SVG chart", async () => {
  const run = fakeRun();
  const md = renderReport(run);
  assert.match(md, /\| config put \| 64 \| 8,000 \| 8\.00 \|.*\| \*\*2\.16x\*\* \| 0\.47x \|/);
  assert.match(md, /\| edgeraft \| 300 \| – \| 200 \(1\), none \(2\), 300 \(3\) \|/);
  assert.match(
    md,
    /\| edgeraft \| 100,000 \| n2 \| 5,000 \| 50 \/ 50 \/ \? \| 120 \/ 190 \/ \? \| 110 \/ 160 \/ \? \| 9 \|/,
  );
  assert.match(md, /- a note/);
  assert.match(md, /!\[throughput and latency by workload\]\(chart\.svg\)/);
  const svg = await renderChart(run);
  assert.ok(svg.startsWith("<svg"));
  assert.ok(svg.trimEnd().endsWith("</svg>"));
  assert.match(svg, /put ×64/);
  assert.match(svg, /failover/);
  // Vega draws each bar as a path described for screen readers: 6 throughput, 6 latency, and
  // the one system with failover samples.
  assert.equal((svg.match(/aria-roledescription="bar"/g) ?? []).length, 6 + 6 + 1);
  const dir = await Deno.makeTempDir();
  try {
    await writeReport(run, `${dir}/out`);
    const files = [...Deno.readDirSync(`${dir}/out`)].map((e) => e.name).sort();
    assert.deepEqual(files, ["chart.svg", "raw.json", "report.md"]);
    assert.deepEqual(JSON.parse(await Deno.readTextFile(`${dir}/out/raw.json`)).cells, run.cells);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("report: an edgeraft-only run has no ratios and says why", async () => {
  const run = fakeRun();
  run.systems = ["edgeraft"];
  run.cells = run.cells.filter((c) => c.system === "edgeraft");
  run.environment.etcd = null;
  run.notes = ["etcd is not on the PATH"];
  const md = renderReport(run);
  assert.match(md, /\| config put \| 64 \| 8,000 .*\| – \| – \| – \| – \| \*\*–\*\* \|/);
  assert.doesNotMatch(md, /etcd here vs the issue/);
  assert.match(md, /etcd is not on the PATH/);
  assert.match(await renderChart(run), /<svg/);
});

Deno.test("rounds: each system's median per cell, every operation and error counted, the largest max", () => {
  const rounds = [
    [cell("edgeraft", "put", 1, 500, 2), cell("etcd", "put", 1, 600, 1.5)],
    [cell("edgeraft", "put", 1, 900, 1.2), cell("etcd", "put", 1, 400, 2.5)],
    [cell("edgeraft", "put", 1, 700, 1.4), cell("etcd", "put", 1, 500, 2)],
  ].flatMap((cells, i) => cells.map((c) => ({ ...c, round: i + 1 })));
  rounds[2].load.errors = 2; // edgeraft, round 2
  rounds[2].generatorCpuCores = null;
  const combined = combineRounds(rounds);
  assert.equal(combined.length, 2);
  const ours = combined.find((c) => c.system === "edgeraft")!;
  assert.equal(ours.round, undefined);
  assert.equal(ours.load.opsPerSec, 700);
  assert.equal(ours.load.latencyMs.p50, 1.4);
  assert.equal(ours.load.latencyMs.max, 10); // round 1's p50 2 x 5
  assert.equal(ours.load.ops, (500 + 900 + 700) * 5);
  assert.equal(ours.load.errors, 2);
  assert.equal(ours.generatorCpuCores, 0.1); // the median of the rounds that measured it
  const theirs = combined.find((c) => c.system === "etcd")!;
  assert.equal(theirs.load.opsPerSec, 500);
  assert.equal(
    // Two rounds: the middle two, averaged (600 and 400).
    combineRounds(rounds.slice(0, 4)).find((c) => c.system === "etcd")!.load.opsPerSec,
    500,
  );
});

Deno.test("report: with rounds, each round's ratio and their median, which the targets use", () => {
  const run = fakeRun();
  run.options = parseBenchOptions(["--rounds", "3"]);
  // The medians of ops/s (8000 and 3000) come from different rounds: their ratio, 2.67x, is no
  // round's. The rounds' own ratios are 2.00x, 3.00x and 1.60x; the verdict rests on their median.
  run.roundCells = [
    [8000, 4000],
    [9000, 3000],
    [4800, 3000],
  ].flatMap(([ours, theirs], i) => [
    { ...cell("edgeraft", "put", 64, ours, 8), round: i + 1 },
    { ...cell("etcd", "put", 64, theirs, 17), round: i + 1 },
  ]);
  run.cells = combineRounds(run.roundCells);
  const md = renderReport(run);
  assert.match(md, /3 rounds of every measurement/);
  assert.match(md, /\| config put \| 64 \| 2\.00x \| 3\.00x \| 1\.60x \| \*\*2\.00x\*\* \|/);
  assert.match(md, /\| config put \| 64 \| 8,000 \|/); // the table's ops/s: each system's median
  const put64 = checkTargets(run).find((t) => t.target === "config put, 64 clients")!;
  assert.equal(put64.measured, "2.00x");
  assert.equal(put64.pass, true);
});
