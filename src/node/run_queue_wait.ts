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
 * The calling thread's run-queue wait, read again at every tick. The file stays open: opening
 * `/proc/thread-self/schedstat` binds it to the thread that opened it, and reading it again
 * through the same handle costs a seek and a read (~4 µs) where reading it by name costs an open,
 * a stat, a read and a close (~12 µs idle, ~2 % of a busy follower's main thread under
 * `deno task bench --workloads put`).
 *
 * @example
 * ```ts
 * import { runQueueWaitReader } from "./run_queue_wait.ts";
 * using waited = runQueueWaitReader();
 * if (waited !== undefined) {
 *   const before = waited.read();
 *   // ... a tick later
 *   console.log(`waited for a CPU: ${waited.read() - before} ms`);
 * }
 * ```
 */
export interface RunQueueWaitReader extends Disposable {
  /** The thread's run-queue wait since it started, in ms. */
  read(): number;
  /** Closes the file; `read` then returns 0. */
  close(): void;
}

/**
 * A reader of the calling thread's run-queue wait in ms, or undefined where there is none to
 * read (not Linux, no schedstat in the kernel, or no read permission). Open it on the thread
 * whose wait it should read: a node opens it on its main thread, where its ticks run.
 *
 * @example
 * ```ts
 * import { runQueueWaitReader } from "./run_queue_wait.ts";
 * const waited = runQueueWaitReader();
 * console.log(waited === undefined || waited.read() >= 0); // true
 * waited?.close();
 * ```
 */
export function runQueueWaitReader(): RunQueueWaitReader | undefined {
  if (Deno.build.os !== "linux") return undefined;
  let file: Deno.FsFile | undefined;
  try {
    file = Deno.openSync(SCHEDSTAT);
  } catch {
    return undefined; // no /proc, or no --allow-read for it
  }
  const buffer = new Uint8Array(128);
  const decoder = new TextDecoder();
  const read = () => {
    if (file === undefined) return undefined;
    file.seekSync(0, Deno.SeekMode.Start);
    const n = file.readSync(buffer) ?? 0;
    return parseRunQueueWaitMs(decoder.decode(buffer.subarray(0, n)));
  };
  const close = () => {
    file?.close();
    file = undefined;
  };
  if (read() === undefined) {
    close();
    return undefined;
  }
  return { read: () => read() ?? 0, close, [Symbol.dispose]: close };
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
