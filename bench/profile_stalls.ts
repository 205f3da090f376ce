/**
 * The event loop's long stalls in a V8 CPU profile (`deno run --cpu-prof`, or `deno task bench
 * --profile DIR`): every stretch of at least `min` ms (default 40) in which the main thread never
 * went idle, with what it was doing (the functions with the most samples in it, and the outermost
 * frames of the project's own code, which say which task it was). A node's heartbeats and votes
 * wait for the end of such a stretch (issue 17).
 *
 * Run: `deno run --allow-read bench/profile_stalls.ts FILE.cpuprofile [min ms, default 40]`.
 *
 * @module
 */

import { type CpuProfile, type ProfileNode, readProfileArg } from "./profile_summary.ts";

/**
 * One stall: when it began (ms since the profile started), how long it lasted, and what ran.
 *
 * @example
 * ```ts
 * import type { Stall } from "./profile_stalls.ts";
 * const s: Stall = { atMs: 1200, ms: 85, top: ["(garbage collector) 60%"], tasks: ["#tick"] };
 * ```
 */
export interface Stall {
  atMs: number;
  ms: number;
  /** The leaf functions with the most samples in the stall, with their share. */
  top: string[];
  /** The outermost project frames (src/, bench/) seen in the stall, by samples. */
  tasks: string[];
}

const IDLE = new Set(["(idle)"]);

function label(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const file = url.includes("/src/") ? url.slice(url.indexOf("/src/") + 1) : url.split("/").pop();
  return `${functionName || "(anonymous)"}${file ? ` ${file}:${lineNumber + 1}` : ""}`;
}

/**
 * Finds the stalls of at least `minMs` in a profile, longest first.
 *
 * @example
 * ```ts
 * import { findStalls } from "./profile_stalls.ts";
 * const profile = {
 *   startTime: 0,
 *   endTime: 61_000,
 *   nodes: [
 *     { id: 1, callFrame: { functionName: "(root)", url: "", lineNumber: -1 }, children: [2, 3] },
 *     { id: 2, callFrame: { functionName: "(idle)", url: "", lineNumber: -1 } },
 *     { id: 3, callFrame: { functionName: "encode", url: "file:///x/src/a.ts", lineNumber: 0 } },
 *   ],
 *   samples: [2, 3, 3, 3, 2],
 *   timeDeltas: [0, 1000, 30_000, 30_000, 1000],
 * };
 * findStalls(profile, 40)[0].ms; // 61
 * ```
 */
export function findStalls(profile: CpuProfile, minMs: number): Stall[] {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  const stalls: Stall[] = [];
  let t = 0;
  let start = -1;
  let startT = 0;
  const close = (end: number, endT: number) => {
    const ms = (endT - startT) / 1000;
    if (ms >= minMs) stalls.push(describe(start, end, startT / 1000, ms));
    start = -1;
  };
  const describe = (from: number, to: number, atMs: number, ms: number): Stall => {
    const leaves = new Map<string, number>();
    const tasks = new Map<string, number>();
    for (let i = from; i < to; i++) {
      const leaf = byId.get(samples[i])!;
      leaves.set(label(leaf), (leaves.get(label(leaf)) ?? 0) + 1);
      let outer: ProfileNode | undefined;
      for (let id: number | undefined = leaf.id; id !== undefined; id = parent.get(id)) {
        const n = byId.get(id)!;
        if (/\/(src|bench)\//.test(n.callFrame.url)) outer = n;
      }
      if (outer) tasks.set(label(outer), (tasks.get(label(outer)) ?? 0) + 1);
    }
    const count = to - from;
    const rank = (m: Map<string, number>) =>
      [...m].sort((a, b) => b[1] - a[1]).slice(0, 5).map(([name, n]) =>
        `${name} ${Math.round((100 * n) / count)}%`
      );
    return { atMs: Math.round(atMs), ms: Math.round(ms), top: rank(leaves), tasks: rank(tasks) };
  };
  for (let i = 0; i < samples.length; i++) {
    t += deltas[i] ?? 0;
    const idle = IDLE.has(byId.get(samples[i])?.callFrame.functionName ?? "(idle)");
    if (idle && start >= 0) close(i, t);
    else if (!idle && start < 0) {
      start = i;
      // The stretch began just after the previous sample, the last one seen idle.
      startT = t - (deltas[i] ?? 0);
    }
  }
  if (start >= 0) close(samples.length, t);
  return stalls.sort((a, b) => b.ms - a.ms);
}

if (import.meta.main) {
  const { file, profile, rest: [minText] } = await readProfileArg(
    "bench/profile_stalls.ts",
    "[min ms, default 40]",
  );
  const stalls = findStalls(profile, Number(minText ?? 40));
  console.log(`${file}: ${stalls.length} stalls of ${minText ?? 40} ms or more`);
  for (const s of stalls.slice(0, 20)) {
    console.log(`${s.ms} ms at ${(s.atMs / 1000).toFixed(1)} s`);
    console.log(`  leaves: ${s.top.join(", ")}`);
    console.log(`  tasks:  ${s.tasks.join(", ")}`);
  }
}
