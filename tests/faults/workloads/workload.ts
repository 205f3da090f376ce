/**
 * What every fault-run workload provides: clients that run while the nemesis works, final
 * reads once the cluster has healed, and a check of what was recorded.
 *
 * @module
 */

import type { Prng } from "../../checker/prng.ts";
import type { HistoryRecorder } from "../../checker/history.ts";
import type { FaultCluster } from "../cluster.ts";

/**
 * What a workload gets to work with.
 *
 * @example
 * ```ts ignore
 * const ctx: WorkloadContext = {
 *   cluster, history, prng, clients: 5, ambiguous503: false, elapsedNs: () => 0,
 *   explain: () => {},
 * };
 * ```
 */
export interface WorkloadContext {
  cluster: FaultCluster;
  history: HistoryRecorder;
  prng: Prng;
  /** Concurrent clients (logical processes). */
  clients: number;
  /** Count 503 answers as unknown outcomes (see `http_call.ts`). */
  ambiguous503: boolean;
  /** Now, in the history's time (ns since it started): a client's own clock. */
  elapsedNs: () => number;
  /** Says why an operation did not succeed (kept in `outcomes.jsonl` for bug reports). */
  explain: (process: number, f: string, key: string, why: string) => void;
}

/**
 * A workload's verdict. `valid` is `"unknown"` when a checker ran out of budget or the run
 * could not be judged (e.g. the cluster never healed).
 *
 * @example
 * ```ts
 * import type { WorkloadVerdict } from "./workload.ts";
 * const v: WorkloadVerdict = { valid: true, opsChecked: 120, details: ["linearizable"] };
 * ```
 */
export interface WorkloadVerdict {
  valid: boolean | "unknown";
  /** Client operations the checkers looked at. */
  opsChecked: number;
  /** Human-readable findings, violations first. */
  details: string[];
  /** Workload-specific numbers for the summary. */
  stats?: Record<string, number>;
  /** Extra files for the results folder: name -> content. */
  files?: Record<string, string>;
}

/**
 * A workload.
 *
 * @example
 * ```ts ignore
 * await workload.run(ctx, AbortSignal.timeout(60_000));
 * await workload.finish(ctx);
 * const verdict = workload.check(ctx);
 * ```
 */
export interface Workload {
  readonly name: string;
  /** Runs the clients until `signal` aborts; returns once every client has stopped. */
  run(ctx: WorkloadContext, signal: AbortSignal): Promise<void>;
  /** Final operations on the healed, converged cluster. */
  finish(ctx: WorkloadContext): Promise<void>;
  /** Judges everything recorded. */
  check(ctx: WorkloadContext): WorkloadVerdict;
}

/**
 * The client timeout of an operation, ms: above the nodes' own 5 s request timeout would
 * leave clients blocked for long behind a paused node; below it, more outcomes are unknown.
 *
 * @example
 * ```ts
 * import { OPERATION_TIMEOUT_MS } from "./workload.ts";
 * AbortSignal.timeout(OPERATION_TIMEOUT_MS);
 * ```
 */
export const OPERATION_TIMEOUT_MS = 3000;
