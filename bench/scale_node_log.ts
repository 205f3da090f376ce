/**
 * What the edgeraft nodes' own log lines (JSON, one a line) tell the scale bench: each
 * `log compacted` with its encode and write time, and the lines worth reading when something
 * went wrong (warnings, errors, leadership and elections), each tagged with the batch it fell
 * in.
 *
 * @module
 */

/**
 * One compaction a node logged.
 *
 * @example
 * ```ts
 * import type { CompactionLine } from "./scale_node_log.ts";
 * const c: CompactionLine = { node: 1, batch: 0, index: 10000, bytes: 1.2e6, encodeMs: 40, writeMs: 30 };
 * ```
 */
export interface CompactionLine {
  node: number;
  /** The batch being loaded (-1 before the load, `batches` after it). */
  batch: number;
  index: number;
  bytes: number;
  encodeMs: number;
  writeMs: number;
}

/**
 * A log line kept for the report, as the node printed it.
 *
 * @example
 * ```ts
 * import type { NotableLine } from "./scale_node_log.ts";
 * const n: NotableLine = { node: 2, batch: 3, line: '{"level":"warn","event":"leader lost"}' };
 * ```
 */
export interface NotableLine {
  node: number;
  batch: number;
  line: string;
}

/** Enough lines to show what happened, not so many that a noisy run fills the json. */
const MAX_NOTABLE = 300;

const NOTABLE_EVENT = /leader|elect|campaign|term|stall|slow|lost|timeout|started|installed/i;
/** Said once at every start of a bench node: noise here. */
const EXPECTED_WARNING = /^no API tokens configured/;

/**
 * Collects the lines; {@linkcode NodeLogWatcher.hear} is the cluster's `onLine`.
 *
 * @example
 * ```ts
 * import { NodeLogWatcher } from "./scale_node_log.ts";
 * const w = new NodeLogWatcher();
 * w.batch = 0;
 * w.hear(1, '{"level":"info","event":"log compacted","index":10,"bytes":5,"encodeMs":1,"writeMs":2}');
 * w.compactions.length; // 1
 * ```
 */
export class NodeLogWatcher {
  /** Which batch the lines heard now belong to. */
  batch = -1;
  readonly compactions: CompactionLine[] = [];
  readonly notable: NotableLine[] = [];
  /** Notable lines not kept once {@linkcode MAX_NOTABLE} were. */
  notableDropped = 0;

  hear(node: number, line: string): void {
    let entry: Record<string, unknown>;
    try {
      entry = JSON.parse(line);
    } catch {
      // Not a log line (a stack trace, deno's own output): worth reading if it comes at all.
      this.#keep(node, line);
      return;
    }
    const event = String(entry.event ?? "");
    if (event === "log compacted") {
      this.compactions.push({
        node,
        batch: this.batch,
        index: Number(entry.index),
        bytes: Number(entry.bytes),
        encodeMs: Number(entry.encodeMs),
        writeMs: Number(entry.writeMs),
      });
    } else if (EXPECTED_WARNING.test(event)) {
      return;
    } else if (entry.level === "warn" || entry.level === "error" || NOTABLE_EVENT.test(event)) {
      this.#keep(node, line);
    }
  }

  /** The compactions logged during batch `batch`. */
  compactionsIn(batch: number): CompactionLine[] {
    return this.compactions.filter((c) => c.batch === batch);
  }

  #keep(node: number, line: string): void {
    if (this.notable.length >= MAX_NOTABLE) {
      this.notableDropped++;
      return;
    }
    this.notable.push({ node, batch: this.batch, line });
  }
}
