/**
 * Measures the checker on random register histories: linearizable ones as generated, and the
 * same with one read late in the history corrupted to a value nobody wrote. Not a test (it takes
 * about a minute); run it after changing the search:
 *
 * ```sh
 * deno run tests/checker/measure_checker.ts [operations=2000] [seeds=4]
 * ```
 *
 * @module
 */

import { type HistoryEvent, pairOperations } from "./history.ts";
import { checkKeyOperations } from "./linearizability.ts";
import { randomRegisterHistory } from "./random_register_history.ts";
import { registerModel } from "./register_model.ts";

/**
 * One line per shape of history: how many checks ran out of budget, and the most steps and
 * time any took.
 *
 * @example
 * ```ts ignore
 * import { measureChecker } from "./measure_checker.ts";
 * measureChecker(200, 1);
 * ```
 */
export function measureChecker(operations: number, seeds: number): void {
  for (const processes of [3, 5, 8]) {
    for (const infoProbability of [0, 0.01, 0.02, 0.05]) {
      for (const values of [2, 1000]) {
        const columns = [false, true].map((corrupt) => {
          let unknown = 0;
          let maxSteps = 0;
          let maxMs = 0;
          for (let seed = 1; seed <= seeds; seed++) {
            const events = randomRegisterHistory({
              seed,
              operations,
              processes,
              infoProbability,
              values,
            });
            if (corrupt) corruptLateRead(events);
            const started = performance.now();
            const result = checkKeyOperations("k", pairOperations(events), registerModel);
            maxMs = Math.max(maxMs, performance.now() - started);
            maxSteps = Math.max(maxSteps, result.steps);
            if (result.verdict === "unknown") unknown++;
            else if (result.verdict !== (corrupt ? "violation" : "linearizable")) {
              throw new Error(`wrong verdict for seed ${seed}: ${result.verdict}`);
            }
          }
          const label = corrupt ? "corrupted" : "linearizable";
          return `${label}: unknown ${unknown}/${seeds}, max ${maxSteps} steps ${
            maxMs.toFixed(0)
          } ms`;
        });
        const shape = `processes ${processes} info ${infoProbability} values ${values}`;
        console.log(`${shape.padEnd(36)} | ${columns.join(" | ")}`);
      }
    }
  }
}

function corruptLateRead(events: HistoryEvent[]): void {
  const reads = events.filter((event) => event.type === "ok" && event.f === "read");
  reads[Math.floor(reads.length * 0.9)].value = "never written";
}

if (import.meta.main) {
  measureChecker(Number(Deno.args[0] ?? 2000), Number(Deno.args[1] ?? 4));
}
