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
