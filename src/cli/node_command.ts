/**
 * The command line that starts one node of a cluster on loopback, shared by the tests that
 * start real clusters, the fault-injection harness and the benchmarks, so that they all run
 * the node the same way.
 *
 * @module
 */

/** One member of a loopback cluster. */
export interface LoopbackMember {
  id: number;
  clientPort: number;
  peerPort: number;
  dataDir: string;
}

/**
 * glibc malloc settings every node process starts with (they must be in its environment at
 * exec; a running process cannot change them). By default glibc keeps an arena per thread
 * (Deno runs tokio, SQLite and V8 helper threads) and trims freed memory only at 128 KiB
 * steps that grow with use, so a node that took a burst of writes stays large long after V8
 * collected the garbage. Two arenas and a fixed trim threshold: 100k keys settle at ~135 MB
 * instead of ~155 MB, with no measurable throughput cost (bench/README.md). Values already
 * in the environment win.
 *
 * @example
 * ```ts
 * import { NODE_MALLOC_ENV } from "./node_command.ts";
 * console.log(NODE_MALLOC_ENV.MALLOC_ARENA_MAX); // "2"
 * ```
 */
export const NODE_MALLOC_ENV: Readonly<Record<string, string>> = {
  MALLOC_ARENA_MAX: "2",
  MALLOC_TRIM_THRESHOLD_: "131072",
};

/**
 * `env` with `NODE_MALLOC_ENV` added where it does not say otherwise.
 *
 * @example
 * ```ts
 * import { withNodeMallocEnv } from "./node_command.ts";
 * console.log(withNodeMallocEnv({ MALLOC_ARENA_MAX: "4" }).MALLOC_ARENA_MAX); // "4"
 * ```
 */
export function withNodeMallocEnv(env: Record<string, string>): Record<string, string> {
  return { ...NODE_MALLOC_ENV, ...env };
}

const NODE_MAIN = new URL("./node.ts", import.meta.url).pathname;
const CONFIG = new URL("../../deno.json", import.meta.url).pathname;

/**
 * The arguments of `deno` (after the executable) that start `self`.
 *
 * @example
 * ```ts
 * import { loopbackNodeArgs } from "./node_command.ts";
 * const members = [1, 2, 3].map((id) => ({
 *   id, clientPort: 7000 + id, peerPort: 7100 + id, dataDir: `/tmp/n${id}`,
 * }));
 * const args = loopbackNodeArgs(members[0], members, { secret: "s" });
 * console.log(args.includes("--peers")); // true
 * ```
 */
export function loopbackNodeArgs(
  self: LoopbackMember,
  members: readonly LoopbackMember[],
  opts: { secret: string; denoFlags?: string[]; extra?: string[] },
): string[] {
  const peers = members.map((m) => `${m.id}=http://127.0.0.1:${m.peerPort}`).join(",");
  const clientUrls = members.map((m) => `${m.id}=http://127.0.0.1:${m.clientPort}`).join(",");
  return [
    "run",
    "--allow-all",
    "--config",
    CONFIG,
    ...(opts.denoFlags ?? []),
    NODE_MAIN,
    ...["--id", String(self.id), "--data-dir", self.dataDir],
    ...["--client-addr", `127.0.0.1:${self.clientPort}`],
    ...["--peer-addr", `127.0.0.1:${self.peerPort}`],
    ...["--peers", peers, "--client-urls", clientUrls],
    ...["--cluster-secret", opts.secret, "--log-format", "json"],
    ...(opts.extra ?? []),
  ];
}
