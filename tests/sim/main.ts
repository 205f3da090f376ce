/**
 * The simulator's command line.
 *
 *   deno task sim --seed 42                 replay one seed, verbosely
 *   deno task sim --seeds 20000             a campaign over seeds 1..20000
 *   deno task sim --seeds 1000 --from 5000  seeds 5000..5999
 *   options: --nodes 3|5  --steps N  --bug voteTwice|commitOldTerm|...
 *
 * Exits 1 on the first violation, printing the command that replays it.
 *
 * @module
 */

import type { UnsafeBugs } from "../../src/raft/config.ts";
import { type SimReport, Simulation } from "./simulation.ts";

function flag(name: string): string | undefined {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Deno.args[i + 1] : undefined;
}

/** The settings that seed `seed` runs with, so that a campaign varies cluster size. */
export function nodesForSeed(seed: number, fixed?: number): number {
  return fixed ?? (seed % 2 === 0 ? 5 : 3);
}

const steps = Number(flag("steps") ?? 4000);
const fixedNodes = flag("nodes") ? Number(flag("nodes")) : undefined;
const bug = flag("bug");
const unsafe: UnsafeBugs | undefined = bug ? { [bug]: true } : undefined;

function replayCommand(seed: number): string {
  const extra = [
    fixedNodes ? ` --nodes ${fixedNodes}` : "",
    steps !== 4000 ? ` --steps ${steps}` : "",
    bug ? ` --bug ${bug}` : "",
  ].join("");
  return `deno task sim --seed ${seed}${extra}`;
}

function runSeed(seed: number): SimReport {
  return new Simulation({ seed, steps, nodes: nodesForSeed(seed, fixedNodes), unsafe }).run();
}

if (Deno.args.includes("--survey")) {
  // How often, and as what, a run fails: used to show each deliberate bug is caught.
  const count = Number(flag("seeds") ?? 100);
  const found = new Map<string, number>();
  for (let seed = 1; seed <= count; seed++) {
    const r = runSeed(seed);
    const what = r.property ?? (r.live ? "ok" : "no progress");
    found.set(what, (found.get(what) ?? 0) + 1);
  }
  console.log(Object.fromEntries(found));
} else if (flag("seed")) {
  const seed = Number(flag("seed"));
  const r = runSeed(seed);
  console.log(JSON.stringify({ ...r, linearizability: r.linearizability?.verdict }, null, 2));
  if (r.violation || !r.live) {
    console.log(
      `FAILED: ${r.violation ?? "no progress after healing"}\nreplay: ${replayCommand(seed)}`,
    );
    Deno.exit(1);
  }
} else {
  const count = Number(flag("seeds") ?? 100);
  const from = Number(flag("from") ?? 1);
  const t0 = performance.now();
  let totalSteps = 0;
  let ops = 0;
  for (let seed = from; seed < from + count; seed++) {
    const r = runSeed(seed);
    totalSteps += r.steps;
    ops += r.ops;
    if (r.violation || !r.live) {
      console.log(`FAILED seed ${seed}: ${r.violation ?? "no progress after healing"}`);
      console.log(`replay: ${replayCommand(seed)}`);
      Deno.exit(1);
    }
    if ((seed - from + 1) % 1000 === 0) {
      const secs = (performance.now() - t0) / 1000;
      console.log(
        `${seed - from + 1} seeds, ${totalSteps} steps, ${Math.round(totalSteps / secs)} steps/s`,
      );
    }
  }
  const secs = (performance.now() - t0) / 1000;
  console.log(
    `${count} seeds (${from}..${from + count - 1}): 0 violations, ${totalSteps} steps, ` +
      `${ops} client operations checked, ${secs.toFixed(1)} s, ${
        Math.round(totalSteps / secs)
      } steps/s`,
  );
}
