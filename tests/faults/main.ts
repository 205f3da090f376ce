/**
 * `deno task faults`: one fault-injection run against a cluster of real node processes.
 *
 * ```sh
 * deno task faults --time 60 --nemesis kill,pause,partition --workload register --nodes 3 --seed 7
 * ```
 *
 * Flags: `--time S` (default 30), `--nemesis LIST` (kill, pause, partition, clock, member; `all`;
 * `none`; default all), `--workload W` (register, lock, watch, durability; default register),
 * `--nodes 3|5` (default 3), `--seed N` (default random), `--clients N` (default 5),
 * `--ambiguous-503` (count 503 answers as unknown outcomes rather than refusals),
 * `--snapshot-entries N` (passed to every node: a small N makes restarted nodes catch up by
 * snapshot), `--preload N` (default 0: before the workload and the nemesis start, write N keys
 * of 100-byte values under `preload/`, 64 writers; after the run every node must hold them all).
 *
 * Prints the verdict and writes `.results/faults/<timestamp>-<workload>-<nemesis>-<seed>/`.
 * Exit code: 0 valid, 1 violation, 2 unknown or error (the run could not be judged), 3 usage.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { FaultCluster } from "./cluster.ts";
import { runFaults, WORKLOADS } from "./run.ts";

const USAGE =
  "usage: deno task faults [--time S] [--nemesis kill,pause,partition,clock,member|all|none] " +
  "[--workload register|lock|watch|durability] [--nodes 3|5] [--seed N] [--clients N] " +
  "[--ambiguous-503] [--snapshot-entries N] [--preload N]";

/**
 * Parses the command line into run options; throws with the usage on a bad flag.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseFaultArgs } from "./main.ts";
 * assert.equal(parseFaultArgs(["--time", "5", "--nodes", "5"]).nodes, 5);
 * ```
 */
export function parseFaultArgs(args: string[]) {
  const { values } = parseArgs({
    args,
    options: {
      time: { type: "string", default: "30" },
      nemesis: { type: "string", default: "all" },
      workload: { type: "string", default: "register" },
      nodes: { type: "string", default: "3" },
      seed: { type: "string" },
      clients: { type: "string", default: "5" },
      "ambiguous-503": { type: "boolean", default: false },
      "snapshot-entries": { type: "string" },
      preload: { type: "string", default: "0" },
      help: { type: "boolean", default: false },
    },
    strict: true,
  });
  if (values.help) throw new Error(USAGE);
  const int = (name: string, text: string) => {
    const n = Number(text);
    if (!Number.isSafeInteger(n) || n < 0) {
      throw new Error(`--${name} must be an integer\n${USAGE}`);
    }
    return n;
  };
  const nodes = int("nodes", values.nodes);
  if (nodes !== 3 && nodes !== 5) throw new Error(`--nodes must be 3 or 5\n${USAGE}`);
  if (!(values.workload in WORKLOADS)) throw new Error(`unknown workload\n${USAGE}`);
  return {
    timeS: int("time", values.time),
    nemesis: values.nemesis,
    workload: values.workload,
    nodes: nodes as 3 | 5,
    seed: values.seed === undefined
      ? Math.floor(Math.random() * 2 ** 31)
      : int("seed", values.seed),
    clients: int("clients", values.clients),
    ambiguous503: values["ambiguous-503"],
    snapshotEntries: values["snapshot-entries"] === undefined
      ? undefined
      : int("snapshot-entries", values["snapshot-entries"]),
    preload: int("preload", values.preload),
  };
}

async function main(): Promise<number> {
  let options;
  try {
    options = parseFaultArgs(Deno.args);
  } catch (error) {
    console.error((error as Error).message);
    return 3;
  }
  // Interrupted, the harness still ends the node processes it started.
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, async () => {
      await Promise.all([...FaultCluster.running].map((cluster) => cluster.stop()));
      Deno.exit(130);
    });
  }
  const summary = await runFaults({ ...options, log: (line) => console.error(`faults: ${line}`) });
  const preload = summary.preloaded > 0
    ? `, ${summary.preloaded} keys preloaded in ${((summary.preloadMs ?? 0) / 1000).toFixed(1)} s`
    : "";
  console.log(
    `${summary.verdict.toUpperCase()}: ${summary.workload} under ${summary.nemesis}, ` +
      `${summary.nodes} nodes, seed ${summary.seed}, ${summary.opsChecked} operations checked, ` +
      `${summary.faults} faults${preload}`,
  );
  for (const line of summary.details) console.log(`  ${line}`);
  console.log(`  results: ${summary.resultsDir}`);
  console.log(`  replay:  ${summary.command}`);
  return summary.verdict === "valid" ? 0 : summary.verdict === "violation" ? 1 : 2;
}

if (import.meta.main) Deno.exit(await main());
