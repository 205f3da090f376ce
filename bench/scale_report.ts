/**
 * The scale bench's report: a table per system (a row per batch), the targets of issue 17
 * checked (PASS/FAIL for edgeraft, the same numbers for etcd beside them), and the chart of
 * throughput and RSS against keys stored.
 *
 * @module
 */

import { type ChartSeries, renderChartSvg } from "./chart_svg.ts";
import { maxDefined } from "./scale_sampler.ts";
import type { MemoryParts, ScaleBatch, SystemScaleResult } from "./scale_run.ts";
import type { ScaleOptions } from "./scale_options.ts";

/**
 * The whole run, as scale.json holds it.
 *
 * @example
 * ```ts ignore
 * import type { ScaleRun } from "./scale_report.ts";
 * const run: ScaleRun = JSON.parse(await Deno.readTextFile("scale.json"));
 * ```
 */
export interface ScaleRun {
  startedAt: string;
  finishedAt: string;
  command: string;
  environment: {
    deno: string;
    nproc: number;
    /** /proc/loadavg's 1, 5 and 15 minute averages at the start and at the end. */
    loadAverageStart: number[] | null;
    loadAverageEnd: number[] | null;
    etcd: string | null;
    edgeraftCommit: string | null;
  };
  options: ScaleOptions;
  /** The event loop's delay target: the nodes' heartbeat interval. */
  heartbeatMs: number;
  systems: SystemScaleResult[];
}

/**
 * One target: what was measured and whether it met the bar.
 *
 * @example
 * ```ts
 * import type { TargetCheck } from "./scale_report.ts";
 * const t: TargetCheck = { target: "0 errors during the load", value: "0", pass: true };
 * ```
 */
export interface TargetCheck {
  target: string;
  value: string;
  /** undefined: not measured. */
  pass?: boolean;
}

const MB = 1e6;
const mb = (b: number | null | undefined) =>
  b === null || b === undefined ? "-" : `${Math.round(b / MB)}`;

/** The settled memory's parts per member (V8 heap used / reserved, external), when known. */
function memoryLine(parts: (MemoryParts | null)[]): string {
  if (!parts.some((p) => p !== null)) return "";
  const one = (p: MemoryParts | null) =>
    p ? `${mb(p.heapUsedBytes)}/${mb(p.heapTotalBytes)}/${mb(p.externalBytes)}` : "-";
  return `Settled V8 heap used/reserved/external per member: ${parts.map(one).join(" · ")} MB.`;
}
const num = (n: number | null | undefined, digits = 0) =>
  n === null || n === undefined ? "-" : n.toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });

/**
 * The header and the rows of a batch table, as Markdown lines; `batchRow` alone is printed as
 * each batch ends.
 *
 * @example
 * ```ts
 * import { BATCH_HEADER } from "./scale_report.ts";
 * BATCH_HEADER.startsWith("| keys stored"); // true
 * ```
 */
export const BATCH_HEADER = [
  "| keys stored | writes/s | p50 ms | p99 ms | errors | term (changes) | compactions | " +
  "max encode / write ms | RSS MB per node | loop delay max / p99 ms (own) | load avg |",
  "|---:|---:|---:|---:|---:|---|---:|---|---|---|---:|",
].join("\n");

/**
 * One row of the batch table.
 *
 * @example
 * ```ts ignore
 * import { batchRow } from "./scale_report.ts";
 * console.log(batchRow(run.systems[0].batches[0]));
 * ```
 */
export function batchRow(b: ScaleBatch): string {
  const term = b.termEnd === null ? "-" : `${b.termEnd} (${b.termChanges ?? "-"})`;
  const durations = b.encodeMsMax === null ? "-" : `${b.encodeMsMax} / ${b.writeMsMax}`;
  // "own": less the time the loops waited for a CPU (edgeraft_event_loop_own_delay_*).
  const own = b.loopOwnDelayMaxMs === null || b.loopOwnDelayMaxMs === undefined
    ? ""
    : ` (${num(b.loopOwnDelayMaxMs)} / ${num(b.loopOwnDelayP99Ms ?? null)})`;
  const loop = b.loopDelayMaxMs === null
    ? "-"
    : `${num(b.loopDelayMaxMs)} / ${num(b.loopDelayP99Ms)}${own}`;
  return `| ${num(b.keysStored)} | ${num(b.writesPerSec)} | ${num(b.p50Ms, 1)} | ` +
    `${num(b.p99Ms, 1)} | ${num(b.errors)} | ${term} | ${num(b.compactions)} | ${durations} | ` +
    `${b.rssBytes.map(mb).join(" / ")} | ${loop} | ${num(b.loadAverage1m, 1)} |`;
}

/**
 * The targets of issue 17 for one system's run (PASS/FAIL judged for edgeraft; for etcd the
 * same numbers, for comparison).
 *
 * @example
 * ```ts ignore
 * import { targetChecks } from "./scale_report.ts";
 * for (const t of targetChecks(run.systems[0], 50)) console.log(t.target, t.pass);
 * ```
 */
export function targetChecks(r: SystemScaleResult, heartbeatMs: number): TargetCheck[] {
  const first = r.batches[0]?.writesPerSec;
  const last = r.batches.at(-1)?.writesPerSec;
  const kept = first && last !== undefined ? last / first : undefined;
  const loopMax = maxDefined(r.batches.map((b) => b.loopDelayMaxMs ?? undefined));
  const ownMax = maxDefined(r.batches.map((b) => b.loopOwnDelayMaxMs ?? undefined));
  const graceful = r.restarts.find((x) => x.how === "SIGTERM");
  const killed = r.restarts.find((x) => x.how === "SIGKILL");
  const settled = maxDefined(r.rssSettledBytes.map((b) => b ?? undefined));
  const seconds = (ms: number | null | undefined) =>
    ms === null || ms === undefined ? "never" : `${(ms / 1000).toFixed(1)} s`;
  return [
    {
      target: "0 elections during the load",
      value: r.elections === null ? "-" : `${r.elections} (term ${r.termStart} -> ${r.termEnd})`,
      pass: r.elections === null ? undefined : r.elections === 0,
    },
    {
      target: "0 errors during the load",
      value: num(r.totalErrors),
      pass: r.totalErrors === 0,
    },
    {
      target: "last batch's writes/s >= 75 % of the first's",
      value: kept === undefined
        ? "-"
        : `${(kept * 100).toFixed(0)} % (${num(last)} / ${num(first)})`,
      pass: kept === undefined ? undefined : kept >= 0.75,
    },
    {
      target: `max event loop delay under load < heartbeat (${heartbeatMs} ms)`,
      value: loopMax === undefined ? "-" : `${num(loopMax)} ms` +
        (ownMax === undefined ? "" : ` (less the wait for a CPU: ${num(ownMax)} ms)`),
      pass: loopMax === undefined ? undefined : loopMax < heartbeatMs,
    },
    {
      target: "follower restart to ready < 10 s",
      value: `${seconds(graceful?.readyMs)} after SIGTERM, ${
        seconds(killed?.readyMs)
      } after kill -9`,
      pass: graceful === undefined
        ? undefined
        : graceful.readyMs !== null && graceful.readyMs < 10_000 &&
          (killed === undefined || (killed.readyMs !== null && killed.readyMs < 10_000)),
    },
    {
      target: "settled RSS < 600 MB per node",
      value: `${r.rssSettledBytes.map(mb).join(" / ")} MB after ${r.settledAfterS} s idle`,
      pass: settled === undefined ? undefined : settled < 600 * MB,
    },
  ];
}

/**
 * The target checks as Markdown, PASS/FAIL only where `judged`.
 *
 * @example
 * ```ts ignore
 * import { targetsMarkdown } from "./scale_report.ts";
 * console.log(targetsMarkdown(run.systems[0], 50, true));
 * ```
 */
export function targetsMarkdown(r: SystemScaleResult, heartbeatMs: number, judged: boolean) {
  const rows = targetChecks(r, heartbeatMs).map((t) => {
    const verdict = t.pass === undefined ? "not measured" : t.pass ? "PASS" : "FAIL";
    return `| ${t.target} | ${t.value} | ${judged ? verdict : `(${verdict})`} |`;
  });
  return ["| target | measured | verdict |", "|---|---|---|", ...rows].join("\n");
}

function systemSection(r: SystemScaleResult, heartbeatMs: number): string {
  const restarts = r.restarts.map((x) =>
    `- follower n${x.memberId} ${x.how}: stopped in ${num(x.stopMs)} ms, ready ` +
    (x.readyMs === null ? `never (${x.error})` : `${num(x.readyMs)} ms after its start`)
  );
  const notable = r.notableLines.slice(0, 40).map((n) =>
    `    n${n.node} batch ${n.batch}: ${n.line.slice(0, 300)}`
  );
  return [
    `## ${r.system}`,
    "",
    r.error ? `**The run failed:** ${r.error}\n` : "",
    BATCH_HEADER,
    ...r.batches.map(batchRow),
    "",
    `Leader at the start: n${r.leaderId}. Elections during the load: ${r.elections ?? "-"}; ` +
    `errors: ${num(r.totalErrors)}; compactions: ${r.totalCompactions ?? "-"}.`,
    `RSS right after the load: ${r.rssAfterLoadBytes.map(mb).join(" / ")} MB; after ` +
    `${r.settledAfterS} s idle: ${r.rssSettledBytes.map(mb).join(" / ")} MB.`,
    memoryLine(r.memorySettled ?? []),
    "",
    ...restarts,
    "",
    `### Targets (${r.system === "edgeraft" ? "issue 17" : "for comparison"})`,
    "",
    targetsMarkdown(r, heartbeatMs, r.system === "edgeraft"),
    ...(r.errorSamples.length
      ? ["", "Failed attempts (first ones):", "", ...r.errorSamples.map((e) => `- ${e}`)]
      : []),
    ...(notable.length
      ? ["", `Node log lines worth reading (${r.notableLines.length} kept):`, "", ...notable]
      : []),
  ].join("\n");
}

/**
 * README.md of the report directory.
 *
 * @example
 * ```ts ignore
 * import { renderScaleReport } from "./scale_report.ts";
 * await Deno.writeTextFile("README.md", renderScaleReport(run));
 * ```
 */
export function renderScaleReport(run: ScaleRun): string {
  const e = run.environment;
  const load = (l: number[] | null) => l ? l.map((x) => x.toFixed(2)).join(", ") : "-";
  return [
    `# A million keys (bench:scale), ${run.startedAt}`,
    "",
    `${num(run.options.keys)} keys of 100 bytes at ${run.options.clients} clients into a fresh ` +
    `3-node cluster of each system, reported per ${num(run.options.batch)} keys. Errors are ` +
    "failed attempts (non-2xx or no answer); every key was retried until written, and its " +
    "latency runs from its first attempt. ![throughput and RSS](scale.svg)",
    "",
    "```sh",
    run.command,
    "```",
    "",
    `Machine: nproc ${e.nproc}, load average ${load(e.loadAverageStart)} at the start, ` +
    `${load(e.loadAverageEnd)} at the end; deno ${e.deno}; edgeraft ${e.edgeraftCommit ?? "?"}` +
    `; ${e.etcd ?? "no etcd"}. Started ${run.startedAt}, finished ${run.finishedAt}.`,
    run.options.nodeArgs.length
      ? `\nedgeraft node flags: \`${run.options.nodeArgs.join(" ")}\``
      : "",
    "",
    ...run.systems.map((r) => systemSection(r, run.heartbeatMs) + "\n"),
  ].join("\n");
}

const COLORS: Record<string, string> = { edgeraft: "#2563eb", etcd: "#f59e0b" };

/**
 * scale.svg: writes/s and the largest member's RSS at the end of each batch, both systems.
 *
 * @example
 * ```ts ignore
 * import { renderScaleChart } from "./scale_report.ts";
 * await Deno.writeTextFile("scale.svg", await renderScaleChart(run));
 * ```
 */
export async function renderScaleChart(run: ScaleRun): Promise<string> {
  const series: ChartSeries[] = run.systems.map((r) => ({
    name: r.system,
    color: COLORS[r.system] ?? "#666",
  }));
  const stored = [...new Set(run.systems.flatMap((r) => r.batches.map((b) => b.keysStored)))]
    .sort((a, b) => a - b);
  const at = (r: SystemScaleResult, keys: number) => r.batches.find((b) => b.keysStored === keys);
  const label = (k: number) => k >= 1e6 ? `${k / 1e6}M` : k >= 1e3 ? `${k / 1e3}k` : `${k}`;
  return await renderChartSvg(
    `${num(run.options.keys)} keys of 100 bytes, ${run.options.clients} clients`,
    series,
    [
      {
        title: "Writes/s per batch, against keys stored",
        unit: "writes/s",
        groups: stored.map((k) => ({
          label: label(k),
          values: run.systems.map((r) => at(r, k)?.writesPerSec),
        })),
      },
      {
        title: "RSS of the largest member at the batch's end",
        unit: "MB",
        groups: stored.map((k) => ({
          label: label(k),
          values: run.systems.map((r) => {
            const rss = maxDefined(at(r, k)?.rssBytes.map((b) => b ?? undefined) ?? []);
            return rss === undefined ? undefined : rss / MB;
          }),
        })),
      },
    ],
  );
}
