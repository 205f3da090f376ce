/**
 * The pure half of the `deno task cluster` launcher, kept apart so that it can be unit-tested:
 * its options, the plan of nodes and their flags, the colored `n1 │` line prefixes, and which
 * node is the leader. Nothing here does I/O; `cluster.ts` does.
 *
 * @module
 */

import { join } from "node:path";
import { parseArgs } from "node:util";

/**
 * The launcher's options, after parsing and checking.
 *
 * @example
 * ```ts
 * import { parseClusterArgs } from "./cluster_output.ts";
 * const options = parseClusterArgs(["--nodes", "5"]);
 * options.clientPort; // 7001
 * ```
 */
export interface ClusterOptions {
  /** How many voters: 1, 3 or 5. */
  nodes: number;
  /**
   * How many learners (read replicas) join after the voters, on the ports after theirs (node
   * `nodes + 1` first); 0 to 4.
   */
  learners: number;
  /** The data root; node `i` keeps its data in `<dataRoot>/n<i>`. */
  dataRoot: string;
  /** Node `i` serves the client API on `clientPort + i - 1`. */
  clientPort: number;
  /** Node `i` serves peers on `peerPort + i - 1`. */
  peerPort: number;
  /** Passed on to the nodes as `--tick-ms` when set. */
  tickMs: number | undefined;
  logFormat: "pretty" | "json";
  /** How long the nodes get to exit after SIGTERM before they are killed. */
  stopTimeoutMs: number;
  /** Another node entry point than `src/cli/node.ts` (for tests, or a patched node). */
  nodeScript: string | undefined;
  help: boolean;
}

/**
 * The usage text that `--help` prints.
 *
 * @example
 * ```ts
 * import { CLUSTER_USAGE } from "./cluster_output.ts";
 * console.log(CLUSTER_USAGE);
 * ```
 */
export const CLUSTER_USAGE = `Usage: deno task cluster [options]

Starts a local edgeraft cluster on 127.0.0.1; Ctrl-C stops it.

Options:
  --nodes N              1, 3 or 5 voters (default 3)
  --learners N           then N learners (read replicas, 0 to 4, default 0): node nodes+1, ...
                         on the next ports, each joining with --join once a leader is known
  --data-dir DIR         data root: nodes use DIR/n1, DIR/n2, ... (default ./data/cluster);
                         the shared cluster secret is kept in DIR/secret
  --client-port P        client API ports P, P+1, ... (default 7001)
  --peer-port P          peer ports P, P+1, ... (default 7101)
  --tick-ms MS           Raft tick of every node (default: the node's own)
  --log-format F         pretty or json (default pretty)
  --stop-timeout-ms MS   wait this long after SIGTERM before SIGKILL (default 10000)
  --node-script FILE     run FILE instead of src/cli/node.ts
  -h, --help             show this text

A node that dies (or that you kill, to watch a failover) stays down: the launcher prints the
command that restarts it with its own data; run it in another terminal.`;

/**
 * Thrown for command-line arguments the launcher cannot use; the message says which and why.
 *
 * @example
 * ```ts
 * import { ClusterUsageError, parseClusterArgs } from "./cluster_output.ts";
 * try {
 *   parseClusterArgs(["--nodes", "4"]);
 * } catch (error) {
 *   if (error instanceof ClusterUsageError) console.error(error.message);
 * }
 * ```
 */
export class ClusterUsageError extends Error {
  /** Keeps the message. */
  constructor(message: string) {
    super(message);
    this.name = "ClusterUsageError";
  }
}

/**
 * Parses the launcher's arguments, filling in the defaults of
 * docs/architecture.md#processes-and-ports.
 *
 * @example
 * ```ts
 * import { parseClusterArgs } from "./cluster_output.ts";
 * const options = parseClusterArgs(["--client-port", "17001", "--peer-port", "17101"]);
 * options.nodes; // 3
 * ```
 */
export function parseClusterArgs(args: readonly string[]): ClusterOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...args],
      strict: true,
      allowPositionals: false,
      options: {
        "nodes": { type: "string", default: "3" },
        "learners": { type: "string", default: "0" },
        "data-dir": { type: "string", default: "./data/cluster" },
        "client-port": { type: "string", default: "7001" },
        "peer-port": { type: "string", default: "7101" },
        "tick-ms": { type: "string" },
        "log-format": { type: "string", default: "pretty" },
        "stop-timeout-ms": { type: "string", default: "10000" },
        "node-script": { type: "string" },
        "help": { type: "boolean", short: "h", default: false },
      },
    }));
  } catch (error) {
    throw new ClusterUsageError((error as Error).message);
  }
  const nodes = integerFlag("--nodes", values.nodes, 1, 5);
  // Even sizes tolerate no more failures than the odd size below them, and cost a vote more.
  if (nodes % 2 === 0) throw new ClusterUsageError(`--nodes must be 1, 3 or 5, not ${nodes}`);
  const learners = integerFlag("--learners", values.learners, 0, 4);
  const total = nodes + learners;
  const clientPort = integerFlag("--client-port", values["client-port"], 1, 65536 - total);
  const peerPort = integerFlag("--peer-port", values["peer-port"], 1, 65536 - total);
  if (Math.abs(clientPort - peerPort) < total) {
    throw new ClusterUsageError(
      `client ports ${clientPort}.. and peer ports ${peerPort}.. overlap for ${total} nodes`,
    );
  }
  const logFormat = values["log-format"];
  if (logFormat !== "pretty" && logFormat !== "json") {
    throw new ClusterUsageError(`--log-format must be pretty or json, not ${logFormat}`);
  }
  const tickMs = values["tick-ms"];
  return {
    nodes,
    learners,
    dataRoot: values["data-dir"],
    clientPort,
    peerPort,
    tickMs: tickMs === undefined ? undefined : integerFlag("--tick-ms", tickMs, 1, 60_000),
    logFormat,
    stopTimeoutMs: integerFlag("--stop-timeout-ms", values["stop-timeout-ms"], 1, 600_000),
    nodeScript: values["node-script"],
    help: values.help,
  };
}

function integerFlag(name: string, text: string, min: number, max: number): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min || value > max) {
    throw new ClusterUsageError(
      `${name} must be a whole number from ${min} to ${max}, not ${text}`,
    );
  }
  return value;
}

/**
 * The loopback address that every node of the local cluster listens on.
 *
 * @example
 * ```ts
 * import { CLUSTER_HOST } from "./cluster_output.ts";
 * Deno.listen({ hostname: CLUSTER_HOST, port: 0 }).close();
 * ```
 */
export const CLUSTER_HOST = "127.0.0.1";

/**
 * Where one node of the local cluster lives.
 *
 * @example
 * ```ts
 * import { parseClusterArgs, planCluster } from "./cluster_output.ts";
 * const [first] = planCluster(parseClusterArgs([]), "/tmp/edgeraft");
 * first.clientUrl; // "http://127.0.0.1:7001"
 * ```
 */
export interface NodePlan {
  id: number;
  /** A founding voter, or a learner that joins once the voters have a leader. */
  role: "voter" | "learner";
  dataDir: string;
  clientPort: number;
  peerPort: number;
  /** `host:port` as the node's `--client-addr` wants it. */
  clientAddr: string;
  peerAddr: string;
  clientUrl: string;
  peerUrl: string;
}

/**
 * The nodes of the cluster, ids from 1, their data directories under `dataRoot`: the voters,
 * then the learners.
 *
 * @example
 * ```ts
 * import { parseClusterArgs, planCluster } from "./cluster_output.ts";
 * planCluster(parseClusterArgs(["--nodes", "5"]), "/tmp/edgeraft").map((node) => node.peerUrl);
 * // ["http://127.0.0.1:7101", ..., "http://127.0.0.1:7105"]
 * ```
 */
export function planCluster(options: ClusterOptions, dataRoot: string): NodePlan[] {
  return Array.from({ length: options.nodes + options.learners }, (_, index) => {
    const id = index + 1;
    const clientPort = options.clientPort + index;
    const peerPort = options.peerPort + index;
    return {
      id,
      role: id <= options.nodes ? "voter" : "learner",
      dataDir: join(dataRoot, `n${id}`),
      clientPort,
      peerPort,
      clientAddr: `${CLUSTER_HOST}:${clientPort}`,
      peerAddr: `${CLUSTER_HOST}:${peerPort}`,
      clientUrl: `http://${CLUSTER_HOST}:${clientPort}`,
      peerUrl: `http://${CLUSTER_HOST}:${peerPort}`,
    };
  });
}

/**
 * The command-line flags of `src/cli/node.ts` for one node of the cluster. The secret is not
 * among them: it goes by environment, where `ps` does not show it. A voter gets the founding
 * voters as `--peers`; a learner joins through the voters' client APIs (`--join`), which it
 * ignores once its data directory has joined, so the same flags restart it.
 *
 * @example
 * ```ts
 * import { nodeArgs, parseClusterArgs, planCluster } from "./cluster_output.ts";
 * const options = parseClusterArgs([]);
 * const nodes = planCluster(options, "/tmp/edgeraft");
 * nodeArgs(nodes[0], nodes, options); // ["--id", "1", "--data-dir", "/tmp/edgeraft/n1", ...]
 * ```
 */
export function nodeArgs(
  node: NodePlan,
  cluster: readonly NodePlan[],
  options: ClusterOptions,
): string[] {
  const voters = cluster.filter((member) => member.role === "voter");
  const tick = options.tickMs === undefined ? [] : ["--tick-ms", String(options.tickMs)];
  const own = [
    ...["--id", String(node.id), "--data-dir", node.dataDir],
    ...["--client-addr", node.clientAddr, "--peer-addr", node.peerAddr],
  ];
  if (node.role === "learner") {
    const join = voters.map((member) => member.clientUrl).join(",");
    return [...own, "--join", join, "--log-format", options.logFormat, ...tick];
  }
  const peers = voters.map((member) => `${member.id}=${member.peerUrl}`).join(",");
  // The client URLs let a follower name the leader's client API in `X-Leader`.
  const clientUrls = voters.map((member) => `${member.id}=${member.clientUrl}`).join(",");
  return [
    ...own,
    "--peers",
    peers,
    ...["--client-urls", clientUrls, "--log-format", options.logFormat, ...tick],
  ];
}

/**
 * A word quoted for a POSIX shell: as it is when it holds only characters no shell treats
 * specially, else in single quotes (a `'` inside becomes `'\''`).
 *
 * @example
 * ```ts
 * import { shellQuote } from "./cluster_output.ts";
 * shellQuote("/tmp/n1"); // "/tmp/n1"
 * shellQuote("my data"); // "'my data'"
 * ```
 */
export function shellQuote(word: string): string {
  if (/^[A-Za-z0-9_\/.,:=@%+-]+$/.test(word)) return word;
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/** What the restart command of a node runs, besides the node's own flags. */
export interface RestartPaths {
  /** The `deno` executable. */
  deno: string;
  /** The `deno.json` the launcher runs nodes with. */
  config: string;
  /** The node's entry point. */
  nodeScript: string;
  /** `<data root>/secret`, read by the command so that the secret is never printed. */
  secretPath: string;
  /** Environment variables every node starts with (glibc's malloc settings). */
  env: Readonly<Record<string, string>>;
}

/**
 * The shell command that starts `node` again exactly as the launcher started it (same flags,
 * data directory, secret and malloc settings), from any directory. The launcher prints it when
 * a node dies: it does not restart nodes itself, so that a killed node stays down for as long
 * as one wants to watch the others fail over.
 *
 * @example
 * ```ts
 * import { parseClusterArgs, planCluster, restartCommand } from "./cluster_output.ts";
 * const options = parseClusterArgs([]);
 * const nodes = planCluster(options, "/tmp/edgeraft");
 * restartCommand(nodes[1], nodes, options, {
 *   deno: "/usr/bin/deno", config: "/src/deno.json", nodeScript: "/src/src/cli/node.ts",
 *   secretPath: "/tmp/edgeraft/secret", env: { MALLOC_ARENA_MAX: "2" },
 * });
 * // env EDGERAFT_CLUSTER_SECRET="$(cat /tmp/edgeraft/secret)" MALLOC_ARENA_MAX=2 /usr/bin/deno ...
 * ```
 */
export function restartCommand(
  node: NodePlan,
  cluster: readonly NodePlan[],
  options: ClusterOptions,
  paths: RestartPaths,
): string {
  const env = Object.entries(paths.env).map(([name, value]) => `${name}=${shellQuote(value)}`);
  return [
    // `env` rather than bare assignments: it works after `exec`, `sudo` or `nohup` too.
    "env",
    `EDGERAFT_CLUSTER_SECRET="$(cat ${shellQuote(paths.secretPath)})"`,
    ...env,
    shellQuote(paths.deno),
    "run",
    "--allow-all",
    `--config=${shellQuote(paths.config)}`,
    shellQuote(paths.nodeScript),
    ...nodeArgs(node, cluster, options).map(shellQuote),
  ].join(" ");
}

/** ANSI colors of nodes 1 to 5, in order: distinct from each other and readable on dark and light. */
const NODE_COLORS = ["\x1b[36m", "\x1b[35m", "\x1b[33m", "\x1b[32m", "\x1b[34m"] as const;
const LAUNCHER_COLOR = "\x1b[1m";
const RESET = "\x1b[0m";

/**
 * The label of the launcher's own lines. Node labels are padded to its width so that the `│`
 * column lines up.
 *
 * @example
 * ```ts
 * import { LAUNCHER_LABEL } from "./cluster_output.ts";
 * LAUNCHER_LABEL; // "cluster"
 * ```
 */
export const LAUNCHER_LABEL = "cluster";

/**
 * Whether to color the output: never when `NO_COLOR` is set to anything but the empty string
 * (https://no-color.org), nor when stdout is not a terminal (a file or a pipe would keep the
 * escape codes).
 *
 * @example
 * ```ts
 * import { shouldUseColor } from "./cluster_output.ts";
 * shouldUseColor({ noColor: Deno.env.get("NO_COLOR"), isTerminal: Deno.stdout.isTerminal() });
 * ```
 */
export function shouldUseColor(
  environment: { noColor: string | undefined; isTerminal: boolean },
): boolean {
  return environment.isTerminal &&
    (environment.noColor === undefined || environment.noColor === "");
}

/**
 * The ANSI color of node `id` (1-based); ids past the palette wrap around.
 *
 * @example
 * ```ts
 * import { nodeColor } from "./cluster_output.ts";
 * nodeColor(1); // "\x1b[36m" (cyan)
 * ```
 */
export function nodeColor(id: number): string {
  return NODE_COLORS[(id - 1) % NODE_COLORS.length];
}

/**
 * The prefix of every line of node `id`, or of the launcher itself when `id` is undefined:
 * `"n1      │ "`, colored when `color` is true.
 *
 * @example
 * ```ts
 * import { linePrefix } from "./cluster_output.ts";
 * linePrefix(2, false); // "n2      │ "
 * linePrefix(undefined, false); // "cluster │ "
 * ```
 */
export function linePrefix(id: number | undefined, color: boolean): string {
  const label = (id === undefined ? LAUNCHER_LABEL : `n${id}`).padEnd(LAUNCHER_LABEL.length);
  if (!color) return `${label} │ `;
  const start = id === undefined ? LAUNCHER_COLOR : nodeColor(id);
  return `${start}${label} │${RESET} `;
}

/**
 * Cuts a stream of text chunks into whole lines. A line split across chunks comes out once, whole;
 * `\r\n` and `\n` both end a line.
 *
 * @example
 * ```ts
 * import { LineSplitter } from "./cluster_output.ts";
 * const splitter = new LineSplitter();
 * splitter.push("listening on 7001\nelect"); // ["listening on 7001"]
 * splitter.push("ed leader\n"); // ["elected leader"]
 * splitter.flush(); // []
 * ```
 */
export class LineSplitter {
  #partial = "";

  /** Adds a chunk and returns the lines it completed. */
  push(chunk: string): string[] {
    const text = this.#partial + chunk;
    const lines = text.split("\n");
    this.#partial = lines.pop() ?? "";
    return lines.map(withoutCarriageReturn);
  }

  /** Returns the unterminated last line, if any, at the end of the stream. */
  flush(): string[] {
    const rest = this.#partial;
    this.#partial = "";
    return rest === "" ? [] : [withoutCarriageReturn(rest)];
  }
}

function withoutCarriageReturn(line: string): string {
  return line.endsWith("\r") ? line.slice(0, -1) : line;
}

/**
 * The part of a node's `GET /v1/cluster` answer that tells who leads.
 *
 * @example
 * ```ts
 * import type { LeaderView } from "./cluster_output.ts";
 * const view: LeaderView = { nodeId: 1, leaderId: 2, term: 3 };
 * ```
 */
export interface LeaderView {
  nodeId: number;
  /** Undefined while this node knows no leader. */
  leaderId: number | undefined;
  term: number;
}

/**
 * Reads a `GET /v1/cluster` body, or returns undefined when it is not one. A leader id of 0 or
 * null means "no leader", as in etcd.
 *
 * @example
 * ```ts
 * import { parseLeaderView } from "./cluster_output.ts";
 * parseLeaderView({ nodeId: 1, leaderId: 0, term: 1 }); // { nodeId: 1, leaderId: undefined, term: 1 }
 * ```
 */
export function parseLeaderView(body: unknown): LeaderView | undefined {
  if (typeof body !== "object" || body === null) return undefined;
  const { nodeId, leaderId, term } = body as Record<string, unknown>;
  const node = Number(nodeId);
  if (!Number.isInteger(node) || typeof term !== "number") return undefined;
  const leader = Number(leaderId ?? 0);
  return {
    nodeId: node,
    leaderId: Number.isInteger(leader) && leader > 0 ? leader : undefined,
    term,
  };
}

/**
 * Who leads, as far as the answering nodes know: the leader named in the highest term. A node
 * that lags behind still names the leader of an older term, so the newest term wins.
 *
 * @example
 * ```ts
 * import { pickLeader } from "./cluster_output.ts";
 * pickLeader([
 *   { nodeId: 1, leaderId: 1, term: 2 },
 *   { nodeId: 2, leaderId: 3, term: 3 },
 * ]); // { leaderId: 3, term: 3 }
 * ```
 */
export function pickLeader(
  views: readonly LeaderView[],
): { leaderId: number; term: number } | undefined {
  let best: { leaderId: number; term: number } | undefined;
  for (const view of views) {
    if (view.leaderId === undefined) continue;
    if (best === undefined || view.term > best.term) {
      best = { leaderId: view.leaderId, term: view.term };
    }
  }
  return best;
}

/**
 * The launcher's line about a change of leader, or undefined when nothing changed worth saying.
 *
 * @example
 * ```ts
 * import { describeLeaderChange } from "./cluster_output.ts";
 * describeLeaderChange(undefined, { leaderId: 2, term: 3 }, "http://127.0.0.1:7002");
 * // "leader is n2 (term 3), client API http://127.0.0.1:7002"
 * ```
 */
export function describeLeaderChange(
  previous: number | undefined,
  current: { leaderId: number; term: number } | undefined,
  leaderUrl: string | undefined,
): string | undefined {
  if (previous === current?.leaderId) return undefined;
  if (current === undefined) return `no leader known (was n${previous})`;
  const where = leaderUrl === undefined ? "" : `, client API ${leaderUrl}`;
  return `leader is n${current.leaderId} (term ${current.term})${where}`;
}

/**
 * How a node process ended, for humans: `"exited with code 1"` or `"was killed by SIGKILL"`.
 *
 * @example
 * ```ts
 * import { describeExit } from "./cluster_output.ts";
 * describeExit({ success: false, code: 137, signal: "SIGKILL" }); // "was killed by SIGKILL"
 * ```
 */
export function describeExit(status: Deno.CommandStatus): string {
  return status.signal === null
    ? `exited with code ${status.code}`
    : `was killed by ${status.signal}`;
}
