/**
 * What Linux says a process costs: CPU time (`/proc/<pid>/stat`) and resident memory
 * (`/proc/<pid>/status` VmRSS). Off Linux both answer undefined and the report leaves them out.
 *
 * @module
 */

/** USER_HZ: the unit of utime and stime in /proc, 100 on every Linux the bench runs on. */
const TICKS_PER_SECOND = 100;

/**
 * User + system CPU time of `pid` (all its threads) in ms, or undefined when unreadable.
 *
 * @example
 * ```ts ignore
 * import { cpuMillis } from "./proc_stats.ts";
 * cpuMillis("self"); // e.g. 830
 * ```
 */
export function cpuMillis(pid: number | "self"): number | undefined {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // The command name (field 2) may hold spaces; the fields after it are plain numbers.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[11]) + Number(fields[12]);
    return Number.isFinite(ticks) ? (ticks * 1000) / TICKS_PER_SECOND : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Resident set size of `pid` in bytes, or undefined when unreadable.
 *
 * @example
 * ```ts ignore
 * import { rssBytes } from "./proc_stats.ts";
 * rssBytes(Deno.pid); // e.g. 61_000_000
 * ```
 */
export function rssBytes(pid: number): number | undefined {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const kb = /^VmRSS:\s+(\d+) kB/m.exec(status)?.[1];
    return kb === undefined ? undefined : Number(kb) * 1024;
  } catch {
    return undefined;
  }
}

/**
 * Sums CPU ms over `pids`; undefined if any is unreadable.
 *
 * @example
 * ```ts ignore
 * import { totalCpuMillis } from "./proc_stats.ts";
 * totalCpuMillis([1234, 1235, 1236]);
 * ```
 */
export function totalCpuMillis(pids: number[]): number | undefined {
  let sum = 0;
  for (const pid of pids) {
    const ms = cpuMillis(pid);
    if (ms === undefined) return undefined;
    sum += ms;
  }
  return sum;
}
