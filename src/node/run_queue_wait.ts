/**
 * How long the calling thread has waited, runnable, for a CPU (Linux's
 * `/proc/thread-self/schedstat`, its second field, since the thread started).
 *
 * Why a node asks: a tick that fires late was held up either by the node's own work (a long
 * task, a collection) or by a machine with more runnable threads than CPUs, where the kernel
 * runs others first. On the 2-core machine of `deno task bench:scale`, three nodes and the load
 * generator kept the CPUs 97 % busy, and the main threads waited for one ~40 % of the time; most
 * of every tick 50 ms late was that wait (bench/README.md, "A million keys"). The difference of
 * two readings around a tick tells the two apart: `edgeraft_event_loop_own_delay_*` in
 * `/metrics` is the delay minus the wait (docs/operations.md).
 *
 * @module
 */

const SCHEDSTAT = "/proc/thread-self/schedstat";

/**
 * A reader of the calling thread's run-queue wait in ms, or undefined where there is none to
 * read (not Linux, no schedstat in the kernel, or no read permission).
 *
 * @example
 * ```ts
 * import { runQueueWaitReader } from "./run_queue_wait.ts";
 * const waited = runQueueWaitReader();
 * if (waited) {
 *   const before = waited();
 *   // ... a tick later
 *   console.log(`waited for a CPU: ${waited() - before} ms`);
 * }
 * ```
 */
export function runQueueWaitReader(): (() => number) | undefined {
  if (Deno.build.os !== "linux") return undefined;
  const read = () => parseRunQueueWaitMs(Deno.readTextFileSync(SCHEDSTAT));
  try {
    return read() === undefined ? undefined : () => read() ?? 0;
  } catch {
    return undefined; // no /proc, or no --allow-read for it
  }
}

/**
 * The run-queue wait (ms) in the text of a schedstat file: "<ran ns> <waited ns> <slices>".
 *
 * @example
 * ```ts
 * import { parseRunQueueWaitMs } from "./run_queue_wait.ts";
 * parseRunQueueWaitMs("2285000000 2109000000 4956\n"); // 2109
 * parseRunQueueWaitMs("garbage"); // undefined
 * ```
 */
export function parseRunQueueWaitMs(text: string): number | undefined {
  const waitedNs = Number(text.trim().split(/\s+/)[1]);
  return Number.isFinite(waitedNs) ? waitedNs / 1e6 : undefined;
}
