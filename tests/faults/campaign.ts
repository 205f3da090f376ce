/**
 * A campaign: fault runs one after another (never in parallel: each run is a cluster of real
 * processes), across every workload and nemesis, each as its own `main.ts` process with a hard
 * time limit. Prints a line per run and appends it to `.results/faults/campaign-<stamp>.jsonl`.
 *
 * ```sh
 * deno run --allow-all tests/faults/campaign.ts --time 60 --seed 100 [--from 0] [--to 31] \
 *   [--ambiguous-503] [--snapshot-entries N]
 * ```
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
    },
  });
  const runs = campaignRuns();
  const from = Number(values.from);
  const to = values.to === undefined ? runs.length - 1 : Number(values.to);
  const timeS = Number(values.time);
  await Deno.mkdir(RESULTS, { recursive: true });
  const log = `${RESULTS}campaign-${new Date().toISOString().replace(/[:.]/g, "-")}.jsonl`;
  console.log(`campaign: runs ${from}..${to} of ${runs.length}, ${timeS} s each; log ${log}`);
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
    ];
    const started = performance.now();
    const child = new Deno.Command(Deno.execPath(), {
      args,
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    // A run that overstays its budget is ended (it ends its own nodes on SIGTERM).
    const limit = setTimeout(() => child.kill("SIGTERM"), (timeS + 240) * 1000);
    const output = await child.output();
    clearTimeout(limit);
    const text = new TextDecoder().decode(output.stdout);
    const verdictLine = text.split("\n")[0] ?? "";
    const record = {
      index: i,
      ...run,
      seed,
      exitCode: output.code,
      seconds: Math.round((performance.now() - started) / 1000),
      verdict: verdictLine,
      output: text,
      stderr: new TextDecoder().decode(output.stderr).slice(-2000),
    };
    await Deno.writeTextFile(log, JSON.stringify(record) + "\n", { append: true });
    console.log(`#${i} exit ${output.code} ${record.seconds}s ${verdictLine}`);
  }
}

if (import.meta.main) await main();
