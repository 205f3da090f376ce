/**
 * One node as a real `deno` process (src/cli/node.ts), optionally under libfaketime so that
 * the harness can shift its wall clock, with its output appended to a log file.
 *
 * @module
 */

import { jsonOrUndefined } from "../process/net.ts";
import {
  type LoopbackMember,
  loopbackNodeArgs,
  NODE_PROCESS_ENV,
} from "../../src/cli/node_command.ts";

const LIBFAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";
const NODE_MAIN = new URL("../../src/cli/node.ts", import.meta.url).pathname;
const CONFIG = new URL("../../deno.json", import.meta.url).pathname;

/**
 * Whether libfaketime is installed (`apt-get install -y faketime`).
 *
 * @example
 * ```ts
 * import { faketimeAvailable } from "./node_process.ts";
 * console.log(faketimeAvailable() ? "clock faults possible" : "no clock faults");
 * ```
 */
export function faketimeAvailable(): boolean {
  try {
    return Deno.statSync(LIBFAKETIME).isFile;
  } catch {
    return false;
  }
}

/**
 * How to start a node.
 *
 * @example
 * ```ts
 * import type { NodeSpec } from "./node_process.ts";
 * const spec: Partial<NodeSpec> = { clusterSecret: "s", args: [] };
 * ```
 */
export interface NodeSpec {
  self: LoopbackMember;
  /**
   * Every member as this node reaches it: the others' `peerPort` is that of the proxy this
   * node's traffic to them goes through.
   */
  members: LoopbackMember[];
  clusterSecret: string;
  /** Extra node flags. */
  args: string[];
  /** With a file, the node runs under libfaketime, offset by what the file says ("+1.5"). */
  clockFile?: string;
  /** Where its stdout and stderr go (appended). */
  log: Deno.FsFile;
  /** The `deno` arguments, when not the founding member's (`loopbackNodeArgs`). */
  command?: string[];
}

/**
 * The `deno` arguments that start a node which joins the cluster through `joinUrl` (a
 * member's client URL), or, without one, restart a node that joined from its data directory.
 * `self.peerUrl` is the URL the members reach it by (its proxy's), `self.peerPort` the port
 * it listens on.
 *
 * @example
 * ```ts
 * import { joinNodeArgs } from "./node_process.ts";
 * const self = { id: 4, clientPort: 7004, peerPort: 7104, dataDir: "/tmp/n4",
 *   peerUrl: "http://127.0.0.1:7204" };
 * const args = joinNodeArgs(self, { secret: "s" }, "http://127.0.0.1:7001");
 * console.log(args.includes("--join")); // true
 * ```
 */
export function joinNodeArgs(
  self: LoopbackMember & { peerUrl: string },
  opts: { secret: string; extra?: string[] },
  joinUrl?: string,
): string[] {
  return [
    "run",
    "--allow-all",
    "--config",
    CONFIG,
    NODE_MAIN,
    ...["--id", String(self.id), "--data-dir", self.dataDir],
    ...["--client-addr", `127.0.0.1:${self.clientPort}`],
    ...["--peer-addr", `127.0.0.1:${self.peerPort}`],
    ...["--cluster-secret", opts.secret, "--log-format", "json"],
    ...(joinUrl === undefined ? [] : ["--join", joinUrl, "--advertise-peer-url", self.peerUrl]),
    ...(opts.extra ?? []),
  ];
}

/**
 * A started node process: `exited` settles once the process ended and its output is in the
 * log.
 *
 * @example
 * ```ts ignore
 * const { child, exited } = spawnNode(spec);
 * child.kill("SIGKILL");
 * await exited;
 * ```
 */
export interface NodeProcess {
  child: Deno.ChildProcess;
  exited: Promise<unknown>;
}

/**
 * Starts a node process.
 *
 * @example
 * ```ts ignore
 * const node = spawnNode({ self, members, clusterSecret: "s", args: [], log });
 * ```
 */
export function spawnNode(spec: NodeSpec): NodeProcess {
  // The node's own process settings (V8 and malloc), as `deno task cluster` starts it.
  const env: Record<string, string> = { ...NODE_PROCESS_ENV };
  if (spec.clockFile) {
    // Only the wall clock moves: timers and performance.now() keep real time, as when NTP
    // steps a clock. FAKETIME_NO_CACHE makes a new offset in the file count at once.
    env.LD_PRELOAD = LIBFAKETIME;
    env.FAKETIME_TIMESTAMP_FILE = spec.clockFile;
    env.FAKETIME_NO_CACHE = "1";
    env.FAKETIME_DONT_FAKE_MONOTONIC = "1";
  }
  const child = new Deno.Command(Deno.execPath(), {
    args: spec.command ?? loopbackNodeArgs(spec.self, spec.members, {
      secret: spec.clusterSecret,
      extra: spec.args,
    }),
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const copy = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream) await spec.log.write(chunk);
  };
  const exited = Promise.all([
    child.status,
    copy(child.stdout).catch(() => {}),
    copy(child.stderr).catch(() => {}),
  ]);
  return { child, exited };
}

/**
 * A node's process as a cluster fixture keeps it: none (not started, or killed), running, or
 * frozen with SIGSTOP (`paused`).
 *
 * @example
 * ```ts ignore
 * const node: NodeSlot = { ...spawnNode(spec), paused: false };
 * ```
 */
export interface NodeSlot {
  child?: Deno.ChildProcess;
  exited?: Promise<unknown>;
  paused: boolean;
}

/**
 * Freezes a running node with SIGSTOP: it keeps its sockets and its beliefs, and does nothing.
 *
 * @example
 * ```ts ignore
 * pauseNode(node);
 * resumeNode(node);
 * ```
 */
export function pauseNode(node: NodeSlot): void {
  if (node.child && !node.paused) {
    node.child.kill("SIGSTOP");
    node.paused = true;
  }
}

/**
 * Wakes a paused node with SIGCONT.
 *
 * @example
 * ```ts ignore
 * resumeNode(node);
 * ```
 */
export function resumeNode(node: NodeSlot): void {
  if (node.child && node.paused) {
    node.child.kill("SIGCONT");
    node.paused = false;
  }
}

/**
 * Kills a node (SIGCONT first should it be paused, then SIGKILL) and waits for its process to
 * end and its output to be logged. `killing` holds the process meanwhile, so that whoever
 * watches for crashes does not take this end for one.
 *
 * @example
 * ```ts ignore
 * await killNode(node);
 * node.child; // undefined
 * ```
 */
export async function killNode(node: NodeSlot, killing?: Set<Deno.ChildProcess>): Promise<void> {
  const child = node.child;
  if (!child) return;
  killing?.add(child);
  try {
    child.kill("SIGCONT");
    child.kill("SIGKILL");
  } catch {
    // already gone
  }
  await node.exited;
  killing?.delete(child);
  node.child = undefined;
  node.paused = false;
}

/**
 * What `GET /v1/cluster` answers (the fields the harness uses).
 *
 * @example
 * ```ts
 * import type { NodeStatus } from "./node_process.ts";
 * const s: NodeStatus = { nodeId: 1, leaderId: 2, term: 3, commitIndex: 9, appliedIndex: 9 };
 * ```
 */
export interface NodeStatus {
  nodeId: number;
  leaderId: number | null;
  term: number;
  commitIndex: number;
  appliedIndex: number;
}

/**
 * A node's `GET /v1/cluster`, or undefined if it does not answer within `timeoutMs`.
 *
 * @example
 * ```ts ignore
 * const status = await fetchNodeStatus("http://127.0.0.1:7001", 1000);
 * ```
 */
export async function fetchNodeStatus(
  clientUrl: string,
  timeoutMs: number,
): Promise<NodeStatus | undefined> {
  return await jsonOrUndefined(`${clientUrl}/v1/cluster`, undefined, timeoutMs) as
    | NodeStatus
    | undefined;
}

/**
 * The leader that every node of `running` names, if they all answer and agree on one of them
 * (a leader outside `running`, paused or down, is no leader to wait for).
 *
 * @example
 * ```ts ignore
 * const leader = await agreedLeader([1, 2, 3], (id) => fetchNodeStatus(urls[id], 1000));
 * ```
 */
export async function agreedLeader(
  running: readonly number[],
  status: (id: number) => Promise<NodeStatus | undefined>,
): Promise<number | undefined> {
  const statuses = await Promise.all(running.map(status));
  const leaders = new Set(statuses.map((s) => s?.leaderId ?? 0));
  if (leaders.size !== 1) return undefined;
  const [leader] = leaders;
  return leader && running.includes(leader) ? leader : undefined;
}
