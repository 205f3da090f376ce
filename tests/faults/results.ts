/**
 * The results folder of a fault run:
 * `.results/faults/<timestamp>-<workload>-<nemesis>-<seed>/` with `history.jsonl`
 * (docs/architecture.md#history-files), `summary.json`, `nemesis.jsonl`, the nodes' logs and
 * whatever else the workload adds. `.results/` is git-ignored; every run's files are kept.
 *
 * @module
 */

import type { HistoryEvent } from "../checker/history.ts";
import { writeHistoryFile } from "../checker/history.ts";
import type { NemesisEvent } from "./nemesis.ts";

const RESULTS_ROOT = new URL("../../.results/faults/", import.meta.url).pathname;

/**
 * What a run concluded, as `summary.json` holds it.
 *
 * @example
 * ```ts
 * import type { RunSummary } from "./results.ts";
 * const s: Partial<RunSummary> = { verdict: "valid", opsChecked: 1200 };
 * ```
 */
export interface RunSummary {
  verdict: "valid" | "violation" | "unknown" | "error";
  workload: string;
  nemesis: string;
  nodes: number;
  seed: number;
  timeS: number;
  clients: number;
  /** The command that runs this configuration again. */
  command: string;
  opsChecked: number;
  historyEvents: number;
  details: string[];
  stats: Record<string, number>;
  /** Keys written under `preload/` before the run (`--preload`; 0 without). */
  preloaded: number;
  /** How long the preload took, ms (absent without one). */
  preloadMs?: number;
  /** Preloaded keys compared after the run, all nodes and the leader together. */
  preloadKeysChecked: number;
  faults: number;
  startedAt: string;
  durationMs: number;
  resultsDir: string;
}

/**
 * Creates a fresh results folder for a run and returns its path.
 *
 * @example
 * ```ts ignore
 * const dir = await createResultsDir({ workload: "register", nemesis: "kill", seed: 1 });
 * ```
 */
export async function createResultsDir(
  run: { workload: string; nemesis: string; seed: number },
  root: string = RESULTS_ROOT,
): Promise<string> {
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const nemesis = run.nemesis.replace(/[^a-z0-9]+/gi, "+");
  const dir = `${root.replace(/\/$/, "")}/${stamp}-${run.workload}-${nemesis}-${run.seed}`;
  await Deno.mkdir(dir, { recursive: true });
  return dir;
}

/**
 * Writes the history, the nemesis log, the summary and any extra files into `dir`.
 *
 * @example
 * ```ts ignore
 * await writeResults(dir, { history, nemesis: nemesis.events, summary, files: {} });
 * ```
 */
export async function writeResults(dir: string, run: {
  history: readonly HistoryEvent[];
  nemesis: readonly NemesisEvent[];
  summary: RunSummary;
  files?: Record<string, string>;
}): Promise<void> {
  await writeHistoryFile(`${dir}/history.jsonl`, run.history);
  await Deno.writeTextFile(
    `${dir}/nemesis.jsonl`,
    run.nemesis.map((e) => JSON.stringify(e) + "\n").join(""),
  );
  for (const [name, content] of Object.entries(run.files ?? {})) {
    await Deno.writeTextFile(`${dir}/${name}`, content);
  }
  await Deno.writeTextFile(`${dir}/summary.json`, JSON.stringify(run.summary, null, 2) + "\n");
}
