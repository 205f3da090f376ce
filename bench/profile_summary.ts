/**
 * The heaviest functions of a V8 CPU profile (`deno run --cpu-prof`, or `deno task bench
 * --profile DIR`) by self time, for a first look without opening DevTools.
 *
 * Run: `deno run --allow-read bench/profile_summary.ts FILE.cpuprofile [top N, default 25]`.
 *
 * @module
 */

/**
 * A node of a V8 CPU profile's call tree (the fields the bench's readers use).
 *
 * @example
 * ```ts
 * import type { ProfileNode } from "./profile_summary.ts";
 * const n: ProfileNode = { id: 1, callFrame: { functionName: "(idle)", url: "", lineNumber: -1 } };
 * ```
 */
export interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

/**
 * A V8 CPU profile (`.cpuprofile`): the call tree, and per sample its node and the µs since the
 * previous one.
 *
 * @example
 * ```ts
 * import type { CpuProfile } from "./profile_summary.ts";
 * const p: CpuProfile = { nodes: [], startTime: 0, endTime: 0 };
 * ```
 */
export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

/**
 * Reads the profile named on the command line, or says how to call `script` and exits 2.
 *
 * @example
 * ```ts ignore
 * import { readProfileArg } from "./profile_summary.ts";
 * const { file, profile, rest } = await readProfileArg("bench/profile_stalls.ts", "[min ms]");
 * ```
 */
export async function readProfileArg(
  script: string,
  more: string,
): Promise<{ file: string; profile: CpuProfile; rest: string[] }> {
  const [file, ...rest] = Deno.args;
  if (!file) {
    console.error(`usage: deno run --allow-read ${script} FILE.cpuprofile ${more}`);
    Deno.exit(2);
  }
  return { file, profile: JSON.parse(await Deno.readTextFile(file)) as CpuProfile, rest };
}

/**
 * One line of the summary: a function (name and place) and its share of the samples.
 *
 * @example
 * ```ts
 * import type { SelfTime } from "./profile_summary.ts";
 * const s: SelfTime = { name: "encode", where: "codec.ts:12", samples: 340, percent: 12.5 };
 * ```
 */
export interface SelfTime {
  name: string;
  where: string;
  samples: number;
  percent: number;
}

/**
 * Sums the samples of each function (all nodes of one name and place) and sorts them, the
 * heaviest first.
 *
 * @example
 * ```ts
 * import { selfTimes } from "./profile_summary.ts";
 * const top = selfTimes({
 *   startTime: 0,
 *   endTime: 1,
 *   nodes: [
 *     { id: 1, callFrame: { functionName: "(idle)", url: "", lineNumber: -1 }, hitCount: 3 },
 *     { id: 2, callFrame: { functionName: "f", url: "file:///a.ts", lineNumber: 4 }, hitCount: 1 },
 *   ],
 * });
 * top[0].name; // "(idle)"
 * ```
 */
export function selfTimes(profile: CpuProfile): SelfTime[] {
  const byFunction = new Map<string, SelfTime>();
  let total = 0;
  for (const node of profile.nodes) {
    const hits = node.hitCount ?? 0;
    total += hits;
    const { functionName, url, lineNumber } = node.callFrame;
    const file = url.replace(/^file:\/\/.*\/(src|bench|node_modules)\//, "$1/");
    const where = url ? `${file}:${lineNumber + 1}` : "";
    const name = functionName || "(anonymous)";
    const key = `${name}@${where}`;
    const entry = byFunction.get(key) ?? { name, where, samples: 0, percent: 0 };
    entry.samples += hits;
    byFunction.set(key, entry);
  }
  const sorted = [...byFunction.values()].sort((a, b) => b.samples - a.samples);
  for (const s of sorted) s.percent = total === 0 ? 0 : (100 * s.samples) / total;
  return sorted;
}

if (import.meta.main) {
  const { file, profile, rest: [topText] } = await readProfileArg(
    "bench/profile_summary.ts",
    "[N]",
  );
  const seconds = (profile.endTime - profile.startTime) / 1e6;
  console.log(`${file}: ${seconds.toFixed(1)} s profiled; self time by function:`);
  for (const s of selfTimes(profile).slice(0, Number(topText ?? 25))) {
    console.log(`${s.percent.toFixed(1).padStart(5)} %  ${s.name}  ${s.where}`);
  }
}
