/**
 * The command line of `deno task bench` (bench/run.ts).
 *
 * @module
 */

import type { SystemName } from "./bench_cluster.ts";
import { HTTP_CLIENT_KINDS, type HttpClientKind } from "./http_clients.ts";
import { LOAD_WORKLOADS } from "./workloads.ts";

/**
 * Every workload name `--workloads` accepts: the load workloads, then `failover` and `memory`.
 *
 * @example
 * ```ts
 * import { ALL_WORKLOADS } from "./options.ts";
 * ALL_WORKLOADS.includes("failover"); // true
 * ```
 */
export const ALL_WORKLOADS = [...LOAD_WORKLOADS, "failover", "memory"] as const;

/**
 * A name from {@linkcode ALL_WORKLOADS}.
 *
 * @example
 * ```ts
 * import type { WorkloadName } from "./options.ts";
 * const w: WorkloadName = "memory";
 * ```
 */
export type WorkloadName = typeof ALL_WORKLOADS[number];

/**
 * What to run.
 *
 * @example
 * ```ts
 * import { parseBenchOptions } from "./options.ts";
 * const o = parseBenchOptions(["--quick", "--only", "edgeraft"]);
 * o.durationS; // 1
 * ```
 */
export interface BenchOptions {
  quick: boolean;
  /** Measured seconds per workload and client count. */
  durationS: number;
  /** Unmeasured seconds before each measurement. */
  warmupS: number;
  /** Run one system only; undefined: both (etcd when it is installed). */
  only?: SystemName;
  workloads: WorkloadName[];
  clients: number[];
  failoverRuns: number;
  /**
   * How many times every load measurement runs (the systems taking turns each time); the report
   * shows each system's median over the rounds. Default 1.
   */
  rounds: number;
  memoryKeys: number;
  /** Where report.md, chart.svg and raw.json go; undefined: bench/results/<date>/. */
  outDir?: string;
  httpClient: HttpClientKind;
  /** Run the edgeraft nodes under `--cpu-prof`, writing their profiles here. */
  profileDir?: string;
  help: boolean;
}

/**
 * The help text.
 *
 * @example
 * ```ts
 * import { USAGE } from "./options.ts";
 * USAGE.includes("--quick"); // true
 * ```
 */
export const USAGE = `usage: deno task bench [flags]   (deno run --allow-all bench/run.ts)
  --quick                 short run: 1 s per measurement, 2 failovers, 5k keys for memory
  --duration S            measured seconds per workload and client count (default 5)
  --warmup S              unmeasured seconds before each measurement (default 1)
  --only edgeraft|etcd    one system only (default: both, etcd when it is on the PATH)
  --workloads LIST        of ${ALL_WORKLOADS.join(",")} (default all)
  --clients LIST          concurrent clients (default 1,16,64)
  --rounds N              run every load measurement N times, the systems taking turns each
                          time; the tables show each system's median (default 1)
  --failover-runs N       leader kills per system (default 5)
  --memory-keys N         keys of 100 bytes for the memory measurement (default 100000)
  --http-client KIND      the load generator's client: ${HTTP_CLIENT_KINDS.join("|")} (default raw)
  --out DIR               report directory (default bench/results/<date>/)
  --profile DIR           run the edgeraft nodes under deno --cpu-prof, profiles to DIR/n<id>/`;

/**
 * A command line the bench does not understand.
 *
 * @example
 * ```ts
 * import { parseBenchOptions, UsageError } from "./options.ts";
 * try {
 *   parseBenchOptions(["--verbose"]);
 * } catch (e) {
 *   e instanceof UsageError; // true
 * }
 * ```
 */
export class UsageError extends Error {
  override name = "UsageError";
}

function positiveNumber(flag: string, text: string | undefined, integer: boolean): number {
  const n = Number(text);
  if (text === undefined || !Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    throw new UsageError(`${flag} wants a positive ${integer ? "integer" : "number"}, not ${text}`);
  }
  return n;
}

function oneOf<T extends string>(flag: string, text: string | undefined, allowed: readonly T[]): T {
  if (!allowed.includes(text as T)) {
    throw new UsageError(`${flag} wants one of ${allowed.join(", ")}, not ${text}`);
  }
  return text as T;
}

function list(flag: string, text: string | undefined): string[] {
  const items = (text ?? "").split(",").map((s) => s.trim()).filter((s) => s !== "");
  if (items.length === 0) throw new UsageError(`${flag} wants a comma-separated list`);
  return items;
}

/**
 * Parses the flags; throws {@linkcode UsageError} on anything unknown or malformed.
 *
 * @example
 * ```ts
 * import { parseBenchOptions } from "./options.ts";
 * parseBenchOptions(["--clients", "1,8", "--workloads", "put,get"]).clients; // [1, 8]
 * ```
 */
export function parseBenchOptions(args: string[]): BenchOptions {
  const quick = args.includes("--quick");
  const options: BenchOptions = {
    quick,
    durationS: quick ? 1 : 5,
    warmupS: quick ? 0.3 : 1,
    workloads: [...ALL_WORKLOADS],
    clients: [1, 16, 64],
    failoverRuns: quick ? 2 : 5,
    rounds: 1,
    memoryKeys: quick ? 5_000 : 100_000,
    httpClient: "raw",
    help: false,
  };
  for (let i = 0; i < args.length; i++) {
    const flag = args[i];
    const value = () => args[++i];
    switch (flag) {
      case "--quick":
        break;
      case "--help":
      case "-h":
        options.help = true;
        break;
      case "--duration":
        options.durationS = positiveNumber(flag, value(), false);
        break;
      case "--warmup": {
        const text = value();
        options.warmupS = text === "0" ? 0 : positiveNumber(flag, text, false);
        break;
      }
      case "--only":
        options.only = oneOf(flag, value(), ["edgeraft", "etcd"] as const);
        break;
      case "--workloads":
        options.workloads = list(flag, value()).map((w) => oneOf(flag, w, ALL_WORKLOADS));
        break;
      case "--clients":
        options.clients = list(flag, value()).map((c) => positiveNumber(flag, c, true));
        break;
      case "--failover-runs":
        options.failoverRuns = positiveNumber(flag, value(), true);
        break;
      case "--rounds":
        options.rounds = positiveNumber(flag, value(), true);
        break;
      case "--memory-keys":
        options.memoryKeys = positiveNumber(flag, value(), true);
        break;
      case "--http-client":
        options.httpClient = oneOf(flag, value(), HTTP_CLIENT_KINDS);
        break;
      case "--out":
        options.outDir = value();
        if (!options.outDir) throw new UsageError("--out wants a directory");
        break;
      case "--profile":
        options.profileDir = value();
        if (!options.profileDir) throw new UsageError("--profile wants a directory");
        break;
      default:
        throw new UsageError(`unknown flag ${flag}`);
    }
  }
  return options;
}
