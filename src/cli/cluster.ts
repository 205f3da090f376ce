/**
 * `deno task cluster`: a local cluster of 3 (or 1 or 5) nodes for development, each node a child
 * `deno` process on loopback, their output interleaved behind `n1 │` prefixes; with
 * `--learners N`, N learners (read replicas) join it once the voters have a leader.
 *
 * The launcher prints where each node listens, polls `GET /v1/cluster` every 500 ms to say who
 * leads (and again when that changes), and on Ctrl-C or SIGTERM stops every node: SIGTERM, then
 * SIGKILL after `--stop-timeout-ms` (a second Ctrl-C kills at once). A node that dies on its own
 * is reported and the others keep running (kill one to watch a failover); the launcher does not
 * restart it but prints the one command that does, from another terminal, with the node's data
 * and secret. When all have died the launcher exits with 1.
 *
 * The nodes share a cluster secret kept in `<data-dir>/secret` (32 random bytes in hex, mode
 * 0600), made on the first run and reused after, so that a restarted cluster keeps talking to
 * itself and two data roots never share a secret by accident. It reaches the nodes through the
 * environment (`EDGERAFT_CLUSTER_SECRET`), not the command line, where `ps` would show it.
 *
 * @example
 * ```sh
 * deno run --allow-all src/cli/cluster.ts --nodes 5 --data-dir ./data/five --client-port 8001
 * ```
 *
 * @module
 */

import { join, resolve } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import {
  CLUSTER_HOST,
  CLUSTER_USAGE,
  type ClusterOptions,
  ClusterUsageError,
  describeExit,
  describeLeaderChange,
  type LeaderView,
  linePrefix,
  LineSplitter,
  nodeArgs,
  type NodePlan,
  parseClusterArgs,
  parseLeaderView,
  pickLeader,
  planCluster,
  restartCommand,
  type RestartPaths,
  shouldUseColor,
} from "./cluster_output.ts";
import { NODE_PROCESS_ENV, withNodeProcessEnv } from "./node_command.ts";

const DEFAULT_NODE_SCRIPT = fileURLToPath(new URL("./node.ts", import.meta.url));
const CONFIG = fileURLToPath(new URL("../../deno.json", import.meta.url));
const LEADER_POLL_MS = 500;
const LEADER_FETCH_TIMEOUT_MS = 400;
/** How long output may still trickle in after every node exited (a grandchild may hold a pipe). */
const OUTPUT_DRAIN_MS = 2_000;

/** One started node process. */
interface RunningNode {
  readonly plan: NodePlan;
  readonly process: Deno.ChildProcess;
  /** Set once it exited. */
  status: Deno.CommandStatus | undefined;
  readonly exited: Promise<Deno.CommandStatus>;
  readonly output: Promise<void>;
}

async function main(args: readonly string[]): Promise<number> {
  let options: ClusterOptions;
  try {
    options = parseClusterArgs(args);
  } catch (error) {
    if (!(error instanceof ClusterUsageError)) throw error;
    console.error(`edgeraft cluster: ${error.message}\n\n${CLUSTER_USAGE}`);
    return 2;
  }
  if (options.help) {
    console.log(CLUSTER_USAGE);
    return 0;
  }
  const nodeScript = options.nodeScript === undefined
    ? DEFAULT_NODE_SCRIPT
    : resolve(options.nodeScript);
  try {
    await Deno.stat(nodeScript);
  } catch {
    console.error(`edgeraft cluster: the node entry point ${nodeScript} does not exist`);
    return 1;
  }
  const dataRoot = resolve(options.dataRoot);
  const nodes = planCluster(options, dataRoot);
  const busy = busyPorts(nodes);
  if (busy.length > 0) {
    console.error(
      `edgeraft cluster: port ${busy.join(", ")} already in use on ${CLUSTER_HOST}. Is another ` +
        `cluster running? Stop it, or choose other ports with --client-port and --peer-port.`,
    );
    return 1;
  }
  return await runCluster(nodes, options, nodeScript, await loadOrCreateSecret(dataRoot));
}

/**
 * The ports that something already listens on, as `"7001 (n1 client API)"`. Checked before any
 * node starts, so that a second cluster says why it cannot start instead of printing every
 * node's bind error.
 */
function busyPorts(nodes: readonly NodePlan[]): string[] {
  const busy: string[] = [];
  for (const node of nodes) {
    const ports = [[node.clientPort, "client API"], [node.peerPort, "peer"]] as const;
    for (const [port, role] of ports) {
      try {
        Deno.listen({ hostname: CLUSTER_HOST, port }).close();
      } catch (error) {
        if (!(error instanceof Deno.errors.AddrInUse)) throw error;
        busy.push(`${port} (n${node.id} ${role})`);
      }
    }
  }
  return busy;
}

/** Reads `<dataRoot>/secret`, or makes it on the first run. */
async function loadOrCreateSecret(
  dataRoot: string,
): Promise<{ secret: string; path: string; created: boolean }> {
  await Deno.mkdir(dataRoot, { recursive: true });
  const path = join(dataRoot, "secret");
  const fresh = Array.from(crypto.getRandomValues(new Uint8Array(32)))
    .map((byte) => byte.toString(16).padStart(2, "0")).join("");
  try {
    // createNew: two launchers racing on one root must not end up with different secrets.
    await Deno.writeTextFile(path, `${fresh}\n`, { createNew: true, mode: 0o600 });
    return { secret: fresh, path, created: true };
  } catch (error) {
    if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
  }
  const secret = (await Deno.readTextFile(path)).trim();
  if (secret === "") throw new Error(`${path} is empty; delete it and a new one will be made`);
  return { secret, path, created: false };
}

async function runCluster(
  plans: readonly NodePlan[],
  options: ClusterOptions,
  nodeScript: string,
  secret: { secret: string; path: string; created: boolean },
): Promise<number> {
  const color = shouldUseColor({
    noColor: Deno.env.get("NO_COLOR"),
    isTerminal: Deno.stdout.isTerminal(),
  });
  const say = (line: string) => writeLine(linePrefix(undefined, color) + line);
  say(`${secret.created ? "made a new" : "using the"} cluster secret in ${secret.path}`);

  const stopping = new AbortController();
  const stopRequested = Promise.withResolvers<"signal" | "all exited">();
  const killNow = Promise.withResolvers<void>();
  const onSignal = () => {
    // A second Ctrl-C means "now": skip the rest of the grace period.
    if (stopping.signal.aborted) killNow.resolve();
    else stopRequested.resolve("signal");
  };
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  for (const signal of signals) Deno.addSignalListener(signal, onSignal);

  const environment = nodeEnvironment(secret.secret);
  const restartPaths: RestartPaths = {
    deno: Deno.execPath(),
    config: CONFIG,
    nodeScript,
    secretPath: secret.path,
    env: Object.fromEntries(Object.keys(NODE_PROCESS_ENV).map((name) => [name, environment[name]])),
  };
  const running: RunningNode[] = [];
  const launch = (plan: NodePlan) => {
    const node = startNode(plan, nodeArgs(plan, plans, options), nodeScript, environment, color);
    running.push(node);
    say(
      `n${plan.id} pid ${node.process.pid}: ${plan.role === "learner" ? "learner, " : ""}` +
        `client API ${plan.clientUrl}, peer ${plan.peerUrl}, data ${plan.dataDir}`,
    );
    node.exited.then((status) => {
      if (stopping.signal.aborted) return;
      const alive = running.filter((other) => other.status === undefined);
      const rest = alive.map((other) => `n${other.plan.id}`).join(", ");
      say(`n${plan.id} ${describeExit(status)}${rest === "" ? "" : `; still running: ${rest}`}`);
      if (alive.length === 0) {
        stopRequested.resolve("all exited");
        return;
      }
      // The launcher leaves a dead node down (to watch the others fail over); this is how
      // to bring it back, with its own data, from another terminal.
      say(`to restart n${plan.id}, run in another terminal (Ctrl-C there stops it):`);
      say(`  ${restartCommand(plan, plans, options, restartPaths)}`);
    });
  };
  try {
    for (const plan of plans.filter((plan) => plan.role === "voter")) launch(plan);
    say(`waiting for a leader (polling ${plans[0].clientUrl}/v1/cluster and the others)`);
    const watching = watchLeader(running, say, stopping.signal);
    const learners = plans.filter((plan) => plan.role === "learner");
    // A learner joins through the voters' API, which can add it only once they have a leader.
    const joining = learners.length === 0 ? Promise.resolve() : (async () => {
      const voters = running.slice();
      while (!stopping.signal.aborted) {
        const views = await Promise.all(
          voters.map((n) => fetchLeaderView(n.plan, stopping.signal)),
        );
        if (pickLeader(views.filter((view) => view !== undefined)) !== undefined) break;
        await delay(LEADER_POLL_MS / 2, undefined, { signal: stopping.signal }).catch(() => {});
      }
      if (stopping.signal.aborted) return;
      say(`the voters have a leader: starting ${learners.map((p) => `n${p.id}`).join(", ")}`);
      for (const plan of learners) launch(plan);
    })();
    const reason = await stopRequested.promise;
    stopping.abort();
    await Promise.all([watching, joining]);
    if (reason === "all exited") say("every node has exited; stopping");
  } finally {
    stopping.abort();
    await stopNodes(running, options.stopTimeoutMs, killNow.promise, say);
    for (const signal of signals) Deno.removeSignalListener(signal, onSignal);
  }
  return (await stopRequested.promise) === "signal" ? 0 : 1;
}

/**
 * The launcher's environment less every `EDGERAFT_*` variable: the launcher configures each node
 * by flags, and an inherited `EDGERAFT_TLS_CERT` would turn on TLS that the peer URLs do not expect.
 */
function nodeEnvironment(secret: string): Record<string, string> {
  const inherited = Object.entries(Deno.env.toObject())
    .filter(([name]) => !name.startsWith("EDGERAFT_"));
  return withNodeProcessEnv({ ...Object.fromEntries(inherited), EDGERAFT_CLUSTER_SECRET: secret });
}

function startNode(
  plan: NodePlan,
  args: string[],
  nodeScript: string,
  env: Record<string, string>,
  color: boolean,
): RunningNode {
  const process = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", `--config=${CONFIG}`, nodeScript, ...args],
    env,
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const prefix = linePrefix(plan.id, color);
  const node: RunningNode = {
    plan,
    process,
    status: undefined,
    exited: process.status.then((status) => (node.status = status)),
    output: Promise.all([
      copyLines(process.stdout, prefix),
      copyLines(process.stderr, prefix),
    ]).then(() => {}),
  };
  return node;
}

async function copyLines(stream: ReadableStream<Uint8Array>, prefix: string): Promise<void> {
  const splitter = new LineSplitter();
  try {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      for (const line of splitter.push(chunk)) writeLine(prefix + line);
    }
  } catch {
    // The pipe broke with the process: keep what was read.
  }
  for (const line of splitter.flush()) writeLine(prefix + line);
}

function writeLine(line: string): void {
  try {
    console.log(line);
  } catch {
    // stdout is gone (a closed pipe): the nodes must still be stopped.
  }
}

async function watchLeader(
  nodes: readonly RunningNode[],
  say: (line: string) => void,
  stop: AbortSignal,
): Promise<void> {
  let leader: number | undefined;
  while (!stop.aborted) {
    const alive = nodes.filter((node) => node.status === undefined);
    const views = await Promise.all(alive.map((node) => fetchLeaderView(node.plan, stop)));
    if (stop.aborted) return;
    const current = pickLeader(views.filter((view) => view !== undefined));
    const url = nodes.find((node) => node.plan.id === current?.leaderId)?.plan.clientUrl;
    const message = describeLeaderChange(leader, current, url);
    if (message !== undefined) say(message);
    leader = current?.leaderId;
    await delay(LEADER_POLL_MS, undefined, { signal: stop }).catch(() => {});
  }
}

async function fetchLeaderView(
  plan: NodePlan,
  stop: AbortSignal,
): Promise<LeaderView | undefined> {
  try {
    const response = await fetch(`${plan.clientUrl}/v1/cluster`, {
      signal: AbortSignal.any([stop, AbortSignal.timeout(LEADER_FETCH_TIMEOUT_MS)]),
    });
    if (!response.ok) {
      await response.body?.cancel();
      return undefined;
    }
    return parseLeaderView(await response.json());
  } catch {
    // Not listening yet, or busy electing: the next poll asks again.
    return undefined;
  }
}

/** SIGTERM to every live node, SIGKILL to those still alive after `timeoutMs` or on `killNow`. */
async function stopNodes(
  nodes: readonly RunningNode[],
  timeoutMs: number,
  killNow: Promise<void>,
  say: (line: string) => void,
): Promise<void> {
  const alive = nodes.filter((node) => node.status === undefined);
  if (alive.length > 0) {
    say(`stopping ${alive.map((node) => `n${node.plan.id}`).join(", ")} (SIGTERM)`);
  }
  for (const node of alive) sendSignal(node, "SIGTERM");
  const allExited = Promise.all(nodes.map((node) => node.exited));
  const graceOver = new AbortController();
  await Promise.race([
    allExited,
    killNow,
    delay(timeoutMs, undefined, { signal: graceOver.signal }).catch(() => {}),
  ]);
  graceOver.abort();
  for (const node of nodes.filter((node) => node.status === undefined)) {
    say(`n${node.plan.id} did not stop within ${timeoutMs} ms; sending SIGKILL`);
    sendSignal(node, "SIGKILL");
  }
  await allExited;
  const drained = new AbortController();
  await Promise.race([
    Promise.all(nodes.map((node) => node.output)),
    delay(OUTPUT_DRAIN_MS, undefined, { signal: drained.signal }).catch(() => {}),
  ]);
  drained.abort();
  for (const node of nodes) say(`n${node.plan.id} ${describeExit(node.status!)}`);
}

function sendSignal(node: RunningNode, signal: Deno.Signal): void {
  try {
    node.process.kill(signal);
  } catch {
    // It exited between the check and the kill.
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
