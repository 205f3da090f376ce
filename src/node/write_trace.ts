/**
 * An opt-in timeline of a node's write path, for finding where a write's latency goes
 * (`--trace-file`; `deno task bench:trace` runs a cluster with it and reads the result).
 *
 * Each line is `<ms since the epoch, µs precision> <node id> <event> [numbers]`, written in
 * batches so that tracing costs little; the clocks of processes on one machine agree well
 * enough to line up their events. Events: `propose <seq>`, `ready <first> <last>` (a Ready
 * with new entries), `appended <last>` (they are on disk), `recv-app <from> <first> <last>`
 * (an AppendEntries with entries), `recv-ack <from> <index>` (an accepted appResp),
 * `applied <index> <seq>` (an entry this node proposed).
 *
 * @module
 */

import { type NodeClock, systemClock } from "./clock.ts";

/**
 * Records one event.
 *
 * @example
 * ```ts
 * import type { WriteTrace } from "./write_trace.ts";
 * const trace: WriteTrace = (event, ...numbers) => console.log(event, ...numbers);
 * trace("propose", 1);
 * ```
 */
export type WriteTrace = (event: string, ...numbers: number[]) => void;

/**
 * Starts a trace appended to `path`. `close()` writes what is still buffered.
 *
 * @example
 * ```ts
 * import { openWriteTrace } from "./write_trace.ts";
 * const path = Deno.makeTempFileSync();
 * const trace = openWriteTrace(path, 1);
 * trace.record("propose", 7);
 * trace.close();
 * console.log(Deno.readTextFileSync(path).includes(" 1 propose 7")); // true
 * ```
 */
export function openWriteTrace(
  path: string,
  nodeId: number,
  clock: NodeClock = systemClock,
): { record: WriteTrace; close(): void } {
  let lines: string[] = [];
  const flush = () => {
    if (lines.length === 0) return;
    Deno.writeTextFileSync(path, lines.join("\n") + "\n", { append: true });
    lines = [];
  };
  return {
    record(event, ...numbers) {
      const at = (performance.timeOrigin + clock.monotonic()).toFixed(3);
      lines.push([at, nodeId, event, ...numbers].join(" "));
      if (lines.length >= 1000) flush();
    },
    close: flush,
  };
}
