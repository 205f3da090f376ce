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
 * The environment every node process starts with: settings of glibc's malloc and of V8 that
 * must be there at exec (a running process cannot change them). Values already in the
 * environment win.
 *
 * - `MALLOC_ARENA_MAX`, `MALLOC_TRIM_THRESHOLD_`: by default glibc keeps an arena per thread
 *   (Deno runs tokio, SQLite and V8 helper threads) and trims freed memory only at 128 KiB
 *   steps that grow with use, so a node that took a burst of writes stays large long after V8
 *   collected the garbage. Two arenas and a fixed trim threshold: 100k keys settle at ~135 MB
 *   instead of ~155 MB, with no measurable throughput cost (bench/README.md).
 * - `DENO_V8_FLAGS=--no-allocation-site-pretenuring`: V8 learns which allocation sites make
 *   objects that survive young-generation collections and then allocates theirs in the old
 *   generation directly. A leader serving 64 clients has enough requests in flight at each
 *   collection that the router's and the HTTP parser's sites get that treatment, so their
 *   garbage (7 KB per write) filled the old generation: full collections of 300 MB that kept
 *   80, pauses up to 200 ms, and 800 MB of heap kept after the load at 1M keys (issue 17;
 *   `bench/heap_sample.ts` shows where). Without it: 2.3 KB per write reaches the old
 *   generation.
 *
 * @example
 * ```ts
 * import { NODE_PROCESS_ENV } from "./node_command.ts";
 * console.log(NODE_PROCESS_ENV.MALLOC_ARENA_MAX); // "2"
 * ```
 */
export const NODE_PROCESS_ENV: Readonly<Record<string, string>> = {
  MALLOC_ARENA_MAX: "2",
  MALLOC_TRIM_THRESHOLD_: "131072",
  DENO_V8_FLAGS: "--no-allocation-site-pretenuring",
};

/**
 * `env` with `NODE_PROCESS_ENV` added where it does not say otherwise.
 *
 * @example
 * ```ts
 * import { withNodeProcessEnv } from "./node_command.ts";
 * console.log(withNodeProcessEnv({ MALLOC_ARENA_MAX: "4" }).MALLOC_ARENA_MAX); // "4"
 * ```
 */
export function withNodeProcessEnv(env: Record<string, string>): Record<string, string> {
  return { ...NODE_PROCESS_ENV, ...env };
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
