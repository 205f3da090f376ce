/**
 * A campaign: fault runs one after another (never in parallel: each run is a cluster of real
 * processes), across every workload and nemesis, each as its own `main.ts` process with a hard
 * time limit. Prints a line per run and appends it to `.results/faults/campaign-<stamp>.jsonl`;
 * at the end, the runs as a table in the style of CAMPAIGN.md and the totals.
 *
 * ```sh
 * deno run --allow-all tests/faults/campaign.ts --time 60 --seed 100 [--from 0] [--to 31] \
 *   [--ambiguous-503] [--snapshot-entries N] [--preload N]
 * ```
 *
 * `--preload N` writes N keys (100-byte values) before each run's workload and checks them all
 * after it (main.ts): issue 17's campaign is `--time 60 --preload 100000`.
 *
 * @module
 */

import { parseArgs } from "node:util";

const MAIN = new URL("./main.ts", import.meta.url).pathname;
const RESULTS = new URL("../../.results/faults/", import.meta.url).pathname;

/**
 * One run of a campaign.
 *
 * @example
 * ```ts
 * import type { CampaignRun } from "./campaign.ts";
 * const run: CampaignRun = { workload: "lock", nemesis: "pause", nodes: 3 };
 * ```
 */
export interface CampaignRun {
  workload: string;
  nemesis: string;
  nodes: 3 | 5;
}

/**
 * The campaign's runs: every workload under each single nemesis and under all of them on 3
 * nodes, then pairs of faults, then 5 nodes, then membership changes alone and mixed with
 * kill -9 and partitions (3 nodes).
 *
 * @example
 * ```ts
 * import { campaignRuns } from "./campaign.ts";
 * console.log(campaignRuns().length); // 40
 * ```
 */
export function campaignRuns(): CampaignRun[] {
  const workloads = ["register", "lock", "watch", "durability"];
  const runs: CampaignRun[] = [];
  for (const nemesis of ["kill", "pause", "partition", "clock", "all"]) {
    for (const workload of workloads) runs.push({ workload, nemesis, nodes: 3 });
  }
  for (const workload of workloads) runs.push({ workload, nemesis: "pause,partition", nodes: 3 });
  for (const nemesis of ["partition", "all"]) {
    for (const workload of workloads) runs.push({ workload, nemesis, nodes: 5 });
  }
  for (const nemesis of ["member", "member,kill,partition"]) {
    for (const workload of workloads) runs.push({ workload, nemesis, nodes: 3 });
  }
  return runs;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      time: { type: "string", default: "60" },
      seed: { type: "string", default: "1" },
      from: { type: "string", default: "0" },
      to: { type: "string" },
      "ambiguous-503": { type: "boolean", default: false },
      "snapshot-entries": { type: "string" },
      preload: { type: "string", default: "0" },
    },
  });
  const preload = Number(values.preload);
  if (!Number.isSafeInteger(preload) || preload < 0) {
    console.error("--preload must be a non-negative integer");
    Deno.exit(3);
  }
  const rows: CampaignRow[] = [];
  const runs = campaignRuns();
  const from = Number(values.from);
  const to = values.to === undefined ? runs.length - 1 : Number(values.to);
  const timeS = Number(values.time);
  await Deno.mkdir(RESULTS, { recursive: true });
  const log = `${RESULTS}campaign-${new Date().toISOString().replace(/[:.]/g, "-")}.jsonl`;
  console.log(
    `campaign: runs ${from}..${to} of ${runs.length}, ${timeS} s each` +
      (preload > 0 ? `, ${preload} keys preloaded` : "") + `; log ${log}`,
  );
  for (let i = from; i <= to && i < runs.length; i++) {
    const run = runs[i];
    const seed = Number(values.seed) + i;
    const args = [
      "run",
      "--allow-all",
      MAIN,
      "--time",
      String(timeS),
      "--nemesis",
      run.nemesis,
      "--workload",
      run.workload,
      "--nodes",
      String(run.nodes),
      "--seed",
      String(seed),
      ...(values["ambiguous-503"] ? ["--ambiguous-503"] : []),
      ...(values["snapshot-entries"] ? ["--snapshot-entries", values["snapshot-entries"]] : []),
      ...(preload > 0 ? ["--preload", String(preload)] : []),
    ];
    const started = performance.now();
    const child = new Deno.Command(Deno.execPath(), {
      args,
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    // A run that overstays its budget is ended (it ends its own nodes on SIGTERM). A preload
    // adds its writing and its final reads: 800-1,250 keys/s measured here, budgeted at 200.
    const limit = setTimeout(
      () => child.kill("SIGTERM"),
      (timeS + 240 + Math.ceil(preload / 200)) * 1000,
    );
    const output = await child.output();
    clearTimeout(limit);
    const text = new TextDecoder().decode(output.stdout);
    const verdictLine = text.split("\n")[0] ?? "";
    const summary = await readSummary(text);
    const record = {
      index: i,
      ...run,
      seed,
      exitCode: output.code,
      seconds: Math.round((performance.now() - started) / 1000),
      verdict: verdictLine,
      opsChecked: summary?.opsChecked ?? 0,
      preloaded: summary?.preloaded ?? 0,
      preloadMs: summary?.preloadMs,
      output: text,
      stderr: new TextDecoder().decode(output.stderr).slice(-2000),
    };
    await Deno.writeTextFile(log, JSON.stringify(record) + "\n", { append: true });
    console.log(`#${i} exit ${output.code} ${record.seconds}s ${verdictLine}`);
    rows.push({
      index: i,
      ...run,
      seed,
      seconds: record.seconds,
      opsChecked: record.opsChecked,
      preloaded: record.preloaded,
      verdict: summary?.verdict ?? `exit ${output.code}`,
    });
  }
  console.log(`\n${campaignTable(rows)}`);
}

/** The run's `summary.json`, found through the `results:` line main.ts prints. */
async function readSummary(
  output: string,
): Promise<
  { verdict: string; opsChecked: number; preloaded?: number; preloadMs?: number } | undefined
> {
  const dir = /^\s*results: (.+)$/m.exec(output)?.[1];
  if (!dir) return undefined;
  try {
    return JSON.parse(await Deno.readTextFile(`${dir.trim()}/summary.json`));
  } catch {
    return undefined;
  }
}

/**
 * One finished run of a campaign, as its table row shows it.
 *
 * @example
 * ```ts
 * import type { CampaignRow } from "./campaign.ts";
 * const row: CampaignRow = { index: 4, workload: "register", nemesis: "pause", nodes: 3,
 *   seed: 104, seconds: 61, opsChecked: 7189, preloaded: 0, verdict: "valid" };
 * ```
 */
export interface CampaignRow extends CampaignRun {
  index: number;
  seed: number;
  seconds: number;
  opsChecked: number;
  /** Keys preloaded before the run (`--preload`). */
  preloaded: number;
  /** `valid`, `violation`, `unknown`, `error`, or `exit N` when the run left no summary. */
  verdict: string;
}

/**
 * The runs as a Markdown table in the style of CAMPAIGN.md (with a column of preloaded keys when
 * any run had them), then the totals line.
 *
 * @example
 * ```ts
 * import { campaignTable } from "./campaign.ts";
 * console.log(campaignTable([{ index: 4, workload: "register", nemesis: "pause", nodes: 3,
 *   seed: 104, seconds: 61, opsChecked: 7189, preloaded: 100000, verdict: "valid" }]));
 * ```
 */
export function campaignTable(rows: readonly CampaignRow[]): string {
  const withPreload = rows.some((r) => r.preloaded > 0);
  const n = (x: number) => x.toLocaleString("en-US");
  const header = [
    "#",
    "workload",
    "nemesis",
    "nodes",
    "seed",
    "s",
    "operations checked",
    ...(withPreload ? ["keys preloaded"] : []),
    "verdict",
  ];
  const cells = rows.map((r) => [
    String(r.index),
    r.workload,
    r.nemesis,
    String(r.nodes),
    String(r.seed),
    String(r.seconds),
    n(r.opsChecked),
    ...(withPreload ? [n(r.preloaded)] : []),
    r.verdict.toUpperCase(),
  ]);
  const widths = header.map((h, c) => Math.max(h.length, ...cells.map((row) => row[c].length)));
  const line = (row: string[]) => `| ${row.map((x, c) => x.padEnd(widths[c])).join(" | ")} |`;
  const violations = rows.filter((r) => r.verdict === "violation").length;
  const unjudged = rows.filter((r) => r.verdict !== "valid" && r.verdict !== "violation").length;
  const preloads = [...new Set(rows.map((r) => r.preloaded))];
  const totals = `${rows.length} runs, ${n(rows.reduce((sum, r) => sum + r.opsChecked, 0))} ` +
    `operations checked` +
    (withPreload ? `, ${preloads.map(n).join(" / ")} keys preloaded in each` : "") +
    `, ${violations} violations` + (unjudged > 0 ? `, ${unjudged} runs not judged valid` : "") +
    ".";
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...cells.map(line), "", totals]
    .join("\n");
}

if (import.meta.main) await main();
