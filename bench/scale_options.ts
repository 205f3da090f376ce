/**
 * The command line of `deno task bench:scale` (bench/scale.ts).
 *
 * @module
 */

import type { SystemName } from "./bench_cluster.ts";
import { UsageError } from "./options.ts";

/**
 * What to run.
 *
 * @example
 * ```ts
 * import { parseScaleOptions } from "./scale_options.ts";
 * const o = parseScaleOptions(["--keys", "3000", "--batch", "1000"]);
 * o.clients; // 64
 * ```
 */
export interface ScaleOptions {
  keys: number;
  batch: number;
  clients: number;
  /** undefined: edgeraft, and etcd when it is on the PATH. */
  systems?: SystemName[];
  /** Idle seconds before the settled RSS reading. */
  settleS: number;
  /** undefined: bench/results/<UTC timestamp>-scale/. */
  outDir?: string;
  /** Passed to every edgeraft node, after the cluster's own flags. */
  nodeArgs: string[];
  /** A file that gets every edgeraft node's output lines, timed (with DENO_V8_FLAGS=--trace-gc, say). */
  nodeOutput?: string;
  /** Run the edgeraft nodes under `deno run --cpu-prof`, writing their profiles here. */
  profileDir?: string;
  help: boolean;
}

/**
 * The help text.
 *
 * @example
 * ```ts
 * import { SCALE_USAGE } from "./scale_options.ts";
 * SCALE_USAGE.includes("--node-arg"); // true
 * ```
 */
export const SCALE_USAGE =
  `usage: deno task bench:scale [flags]   (deno run --allow-all bench/scale.ts)
  --keys N              keys of 100 bytes to load (default 1000000)
  --batch N             keys per reported batch (default 100000)
  --clients N           concurrent writers (default 64)
  --systems LIST        edgeraft,etcd (default: both, etcd when it is on the PATH)
  --settle S            idle seconds before the settled RSS reading (default 30)
  --out DIR             report directory (default bench/results/<UTC timestamp>-scale/)
  --node-arg X          a flag for every edgeraft node, repeatable; a value that starts with
                        "--" is taken as is: --node-arg --snapshot-entries --node-arg 50000
  --node-output FILE    append every edgeraft node's output lines to FILE, each with the time
                        and the node (run with DENO_V8_FLAGS=--trace-gc to see its collections)
  --profile DIR         run the edgeraft nodes under deno --cpu-prof, profiles to DIR/n<id>/
                        (read the stalls with bench/profile_stalls.ts)`;

function positiveInteger(flag: string, text: string | undefined): number {
  const n = Number(text);
  if (text === undefined || !Number.isInteger(n) || n <= 0) {
    throw new UsageError(`${flag} wants a positive integer, not ${text}`);
  }
  return n;
}

/**
 * Parses the flags; throws {@linkcode UsageError} on anything unknown or malformed.
 *
 * @example
 * ```ts
 * import { parseScaleOptions } from "./scale_options.ts";
 * parseScaleOptions(["--node-arg", "--snapshot-entries", "--node-arg", "5000"]).nodeArgs;
 * // ["--snapshot-entries", "5000"]
 * ```
 */
export function parseScaleOptions(args: string[]): ScaleOptions {
  const o: ScaleOptions = {
    keys: 1_000_000,
    batch: 100_000,
    clients: 64,
    settleS: 30,
    nodeArgs: [],
    help: false,
  };
  for (let i = 0; i < args.length; i++) {
    const [flag, inline] = args[i].startsWith("--") && args[i].includes("=")
      ? [args[i].slice(0, args[i].indexOf("=")), args[i].slice(args[i].indexOf("=") + 1)]
      : [args[i], undefined];
    const value = () => inline ?? args[++i];
    switch (flag) {
      case "--help":
      case "-h":
        o.help = true;
        break;
      case "--keys":
        o.keys = positiveInteger(flag, value());
        break;
      case "--batch":
        o.batch = positiveInteger(flag, value());
        break;
      case "--clients":
        o.clients = positiveInteger(flag, value());
        break;
      case "--settle": {
        const text = value();
        o.settleS = text === "0" ? 0 : positiveInteger(flag, text);
        break;
      }
      case "--systems": {
        const names = (value() ?? "").split(",").map((s) => s.trim()).filter((s) => s !== "");
        for (const n of names) {
          if (n !== "edgeraft" && n !== "etcd") {
            throw new UsageError(`--systems wants edgeraft and/or etcd, not ${n}`);
          }
        }
        if (names.length === 0) throw new UsageError("--systems wants edgeraft,etcd");
        o.systems = [...new Set(names as SystemName[])];
        break;
      }
      case "--out":
        o.outDir = value();
        if (!o.outDir) throw new UsageError("--out wants a directory");
        break;
      case "--node-output":
        o.nodeOutput = value();
        if (!o.nodeOutput) throw new UsageError("--node-output wants a file");
        break;
      case "--profile":
        o.profileDir = value();
        if (!o.profileDir) throw new UsageError("--profile wants a directory");
        break;
      case "--node-arg": {
        const arg = value();
        if (arg === undefined) throw new UsageError("--node-arg wants a value");
        o.nodeArgs.push(arg);
        break;
      }
      default:
        throw new UsageError(`unknown flag ${args[i]}`);
    }
  }
  if (o.batch > o.keys) throw new UsageError(`--batch ${o.batch} is more than --keys ${o.keys}`);
  return o;
}

/**
 * The heartbeat interval in ms that the node flags `args` give (the lan preset: 10 ms ticks, a
 * heartbeat every 5; wan: 50 ms, every 2), the event loop's delay target.
 *
 * @example
 * ```ts
 * import { heartbeatMs } from "./scale_options.ts";
 * heartbeatMs([]); // 50
 * heartbeatMs(["--timing", "wan"]); // 100
 * heartbeatMs(["--tick-ms=20"]); // 100
 * ```
 */
export function heartbeatMs(args: string[]): number {
  const flag = (name: string): string | undefined => {
    let found: string | undefined;
    args.forEach((a, i) => {
      if (a === name) found = args[i + 1];
      else if (a.startsWith(`${name}=`)) found = a.slice(name.length + 1);
    });
    return found;
  };
  const wan = flag("--timing") === "wan";
  const tickMs = Number(flag("--tick-ms") ?? (wan ? 50 : 10));
  const ticks = Number(flag("--heartbeat-ticks") ?? (wan ? 2 : 5));
  return tickMs * ticks;
}
