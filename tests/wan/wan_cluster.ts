/**
 * A WAN on one machine, for tests: N real `deno` node processes, node `i` on its own loopback
 * address 127.0.1.i (client and peer ports), and every peer link delayed by a
 * {@linkcode TcpProxy}, so that a test sets the one-way delay of each link, and changes it
 * while the cluster runs. Clients reach the nodes directly (no delay), as a client next to
 * each region would. Nodes beyond the founding ones (`joiners`) get their address, ports and
 * delayed links at start and are started later with `--join` (`join`), as learners.
 *
 * Every member reaches node `j` at one peer URL, that of j's {@linkcode PeerProxy} on
 * 127.0.1.j (the replicated member directory has one per member), which tells senders apart
 * by the `x-edgeraft-from` header of a connection's first request and sends a connection from
 * `i` on through the proxy of the ordered pair (i, j). Bytes from `i` to `j` travel that proxy
 * forwards, and also the proxy (j, i) backwards (answers on the connections `j` opened), so
 * the delay of the link i -> j is set on both.
 *
 * Every process it starts is ended by `stop()`, paused ones resumed first.
 *
 * @module
 */

import { freePort } from "../process/net.ts";
import {
  agreedLeader,
  fetchNodeStatus,
  killNode,
  type NodeStatus,
  pauseNode,
  resumeNode,
} from "../faults/node_process.ts";
import { PeerProxy } from "../faults/peer_proxy.ts";
import { TcpProxy } from "../faults/tcp_proxy.ts";
import { poll } from "../process/poll.ts";

const NODE_MAIN = new URL("../../src/cli/node.ts", import.meta.url).pathname;
const CONFIG = new URL("../../deno.json", import.meta.url).pathname;

/**
 * Settings of a {@linkcode WanCluster}.
 *
 * @example
 * ```ts
 * import type { WanClusterOptions } from "./wan_cluster.ts";
 * const options: WanClusterOptions = { nodes: 3, oneWayMs: 150, args: ["--timing", "wan"] };
 * ```
 */
export interface WanClusterOptions {
  /** How many founding nodes (with `joiners`, at most 254: one loopback address each). */
  nodes: number;
  /**
   * How many nodes to make room for that `join` starts later (ids after the founders'); their
   * links are delayed like any other from the start. Default 0.
   */
  joiners?: number;
  /** The one-way delay of every link at start (ms), or of each link `from -> to`. Default 0. */
  oneWayMs?: number | ((from: number, to: number) => number);
  /** Extra flags for every node (e.g. `["--timing", "wan"]`). */
  args?: string[];
  /** Extra flags for one node. */
  nodeArgs?: (id: number) => string[];
  /** Where the node logs go (`node-<id>.log`); default a temporary directory `stop()` removes. */
  logDir?: string;
}

interface Member {
  id: number;
  host: string;
  clientPort: number;
  peerPort: number;
  dataDir: string;
  log: string;
  child?: Deno.ChildProcess;
  exited?: Promise<unknown>;
  paused: boolean;
}

/**
 * A running WAN cluster.
 *
 * @example
 * ```ts ignore
 * const wan = await WanCluster.start({ nodes: 3, oneWayMs: 25 });
 * try {
 *   const leader = await wan.waitForLeader(10_000);
 *   wan.setAllDelays(150); // the round trips jump to 300 ms
 *   await wan.pause(leader);
 * } finally {
 *   await wan.stop();
 * }
 * ```
 */
export class WanCluster {
  /** The founding nodes' ids: 1 to `nodes`. */
  readonly ids: number[];
  /** The ids `join` may start: after the founders'. */
  readonly joinerIds: number[];
  readonly #members = new Map<number, Member>();
  /** proxies.get(`${from}>${to}`) carries the connections `from` opens to `to`. */
  readonly #proxies = new Map<string, TcpProxy>();
  /** routers.get(to): every member's peer URL for `to`. */
  readonly #routers = new Map<number, PeerProxy>();
  /** Peer connections that named no sender, and so went undelayed. */
  #unnamed = 0;
  readonly #options: WanClusterOptions;
  readonly #root: string;

  private constructor(options: WanClusterOptions, root: string) {
    this.#options = options;
    this.#root = root;
    this.ids = Array.from({ length: options.nodes }, (_, i) => i + 1);
    this.joinerIds = Array.from({ length: options.joiners ?? 0 }, (_, i) => options.nodes + i + 1);
  }

  /** Founders and joiners. */
  get #all(): number[] {
    return [...this.ids, ...this.joinerIds];
  }

  /**
   * Starts the proxies and every node (it does not wait for a leader: see `waitForLeader`).
   *
   * @example
   * ```ts ignore
   * const wan = await WanCluster.start({ nodes: 3, oneWayMs: (from, to) => from === 3 ? 100 : 10 });
   * ```
   */
  static async start(options: WanClusterOptions): Promise<WanCluster> {
    const total = options.nodes + (options.joiners ?? 0);
    if (options.nodes < 1 || total > 254) throw new RangeError("1 to 254 nodes");
    const root = await Deno.makeTempDir({ prefix: "edgeraft-wan-" });
    const cluster = new WanCluster(options, root);
    const logDir = options.logDir ?? `${root}/logs`;
    await Deno.mkdir(logDir, { recursive: true });
    try {
      for (const id of cluster.#all) {
        cluster.#members.set(id, {
          id,
          host: `127.0.1.${id}`,
          clientPort: freePort(),
          peerPort: freePort(),
          dataDir: `${root}/n${id}`,
          log: `${logDir}/node-${id}.log`,
          paused: false,
        });
      }
      for (const from of cluster.#all) {
        for (const to of cluster.#all) {
          if (from === to) continue;
          const target = cluster.#member(to);
          const proxy = await TcpProxy.start({ hostname: target.host, port: target.peerPort });
          cluster.#proxies.set(`${from}>${to}`, proxy);
        }
      }
      for (const to of cluster.#all) {
        const target = cluster.#member(to);
        const direct = { hostname: target.host, port: target.peerPort };
        const route = (from: number) => {
          // A connection that names no member (none expected) reaches the node undelayed;
          // `unroutedConnections` counts them.
          const proxy = cluster.#proxies.get(`${from}>${to}`);
          if (proxy) return { hostname: "127.0.0.1", port: proxy.port };
          cluster.#unnamed++;
          return direct;
        };
        cluster.#routers.set(to, PeerProxy.start(route, { hostname: target.host }));
      }
      const initial = options.oneWayMs ?? 0;
      for (const from of cluster.#all) {
        for (const to of cluster.#all) {
          if (from !== to) {
            cluster.setDelay(from, to, typeof initial === "number" ? initial : initial(from, to));
          }
        }
      }
      for (const id of cluster.ids) await cluster.#spawn(id);
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  #member(id: number): Member {
    const member = this.#members.get(id);
    if (!member) throw new Error(`no node ${id}`);
    return member;
  }

  /**
   * The base URL of node `id`'s client API (what `X-Leader` names).
   *
   * @example
   * ```ts ignore
   * await fetch(`${wan.clientUrl(1)}/v1/cluster`);
   * ```
   */
  clientUrl(id: number): string {
    const m = this.#member(id);
    return `http://${m.host}:${m.clientPort}`;
  }

  /**
   * The peer URL every member reaches node `id` at (its router's), as the members record it.
   *
   * @example
   * ```ts ignore
   * const members = await (await fetch(`${wan.clientUrl(1)}/v1/members`)).json();
   * assert.equal(members[3].peerUrl, wan.peerUrl(4));
   * ```
   */
  peerUrl(id: number): string {
    const router = this.#routers.get(id);
    if (!router) throw new Error(`no node ${id}`);
    return `http://${this.#member(id).host}:${router.port}`;
  }

  /**
   * Sets the one-way delay of the link `from -> to` (ms), open connections included.
   *
   * @example
   * ```ts ignore
   * wan.setDelay(1, 3, 120);
   * ```
   */
  setDelay(from: number, to: number, oneWayMs: number): void {
    const out = this.#proxies.get(`${from}>${to}`)!;
    out.setDelay(oneWayMs, out.delay.backwardMs);
    const back = this.#proxies.get(`${to}>${from}`)!;
    back.setDelay(back.delay.forwardMs, oneWayMs);
  }

  /**
   * Sets every link's one-way delay (ms): round trips of twice that.
   *
   * @example
   * ```ts ignore
   * wan.setAllDelays(150); // RTT 300 ms
   * ```
   */
  setAllDelays(oneWayMs: number): void {
    for (const from of this.#all) {
      for (const to of this.#all) if (from !== to) this.setDelay(from, to, oneWayMs);
    }
  }

  /**
   * Stalls the connections node `from` opens to node `to` (Raft messages from `from` travel
   * on them): their bytes are held both ways, as over a link that loses every packet, until
   * `heal`. What `to` sends `from` on its own connections still flows.
   *
   * @example
   * ```ts ignore
   * wan.stall(1, 4); // node 4 hears nothing from node 1
   * wan.heal(1, 4);
   * ```
   */
  stall(from: number, to: number): void {
    this.#proxies.get(`${from}>${to}`)!.block("stall");
  }

  /**
   * Lets a stalled link flow again; held bytes go on where they stopped.
   *
   * @example
   * ```ts ignore
   * wan.heal(1, 4);
   * ```
   */
  heal(from: number, to: number): void {
    this.#proxies.get(`${from}>${to}`)!.unblock();
  }

  /**
   * Starts joiner `id` with `--join` through member `via`'s client URL: the cluster adds it
   * as a learner, it starts from `via`'s snapshot and catches up over its delayed links. It
   * does not wait for any of that (poll the node, e.g. a stale read of a key written before).
   *
   * @example
   * ```ts ignore
   * const wan = await WanCluster.start({ nodes: 3, joiners: 1, args: ["--timing", "wan"] });
   * await wan.join(4, 1);
   * ```
   */
  async join(id: number, via: number): Promise<void> {
    if (!this.joinerIds.includes(id)) throw new Error(`node ${id} is no joiner`);
    if (this.#member(id).child) return;
    await this.#spawn(id, [
      ...["--join", this.clientUrl(via)],
      ...["--advertise-peer-url", this.peerUrl(id)],
      ...["--advertise-client-url", this.clientUrl(id)],
    ]);
  }

  /**
   * How many peer connections named no sender, and so went undelayed: 0 unless a peer
   * protocol stops sending `x-edgeraft-from` in its first head (then the delays are a lie).
   *
   * @example
   * ```ts ignore
   * assert.equal(wan.unroutedConnections(), 0);
   * ```
   */
  unroutedConnections(): number {
    return this.#unnamed;
  }

  /**
   * Founders get the same `--peers` (every router's URL) and `--client-urls`; joiners get
   * `joinArgs` instead, and a restarted joiner nothing: its data directory has the members.
   */
  async #spawn(id: number, joinArgs: string[] = []): Promise<void> {
    const m = this.#member(id);
    const members = this.ids.includes(id)
      ? [
        ...["--peers", this.ids.map((other) => `${other}=${this.peerUrl(other)}`).join(",")],
        ...[
          "--client-urls",
          this.ids.map((other) => `${other}=${this.clientUrl(other)}`).join(","),
        ],
      ]
      : joinArgs;
    const log = await Deno.open(m.log, { create: true, append: true });
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-all",
        "--config",
        CONFIG,
        NODE_MAIN,
        ...["--id", String(id), "--data-dir", m.dataDir],
        ...["--client-addr", `${m.host}:${m.clientPort}`],
        ...["--peer-addr", `${m.host}:${m.peerPort}`],
        ...members,
        ...["--cluster-secret", "wan-secret", "--log-format", "json"],
        ...(this.#options.args ?? []),
        ...(this.#options.nodeArgs?.(id) ?? []),
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const copy = async (stream: ReadableStream<Uint8Array>) => {
      for await (const chunk of stream) await log.write(chunk);
    };
    m.child = child;
    m.paused = false;
    m.exited = Promise.all([
      child.status,
      copy(child.stdout).catch(() => {}),
      copy(child.stderr).catch(() => {}),
    ]).finally(() => log.close());
  }

  /**
   * Node `id`'s view of the cluster, or undefined if it does not answer within `timeoutMs`.
   *
   * @example
   * ```ts ignore
   * const status = await wan.status(1);
   * ```
   */
  status(id: number, timeoutMs = 1000): Promise<NodeStatus | undefined> {
    return fetchNodeStatus(this.clientUrl(id), timeoutMs);
  }

  /**
   * The leader that every running, unpaused node names, if they agree on one of them.
   *
   * @example
   * ```ts ignore
   * const leader = await wan.currentLeader();
   * ```
   */
  async currentLeader(): Promise<number | undefined> {
    const running = this.#all.filter((id) => this.#member(id).child && !this.#member(id).paused);
    return await agreedLeader(running, (id) => this.status(id));
  }

  /**
   * Waits until the running nodes agree on a leader; returns it. Throws after `timeoutMs`.
   *
   * @example
   * ```ts ignore
   * const leader = await wan.waitForLeader(10_000);
   * ```
   */
  async waitForLeader(timeoutMs: number): Promise<number> {
    return await poll(() => this.currentLeader(), { what: "an agreed leader", timeoutMs });
  }

  /**
   * Waits until one leader has held, agreed on by every running node, for `holdMs` in a row
   * (a leader that is voted out again at once is no stable leader); returns it.
   *
   * @example
   * ```ts ignore
   * const leader = await wan.waitForStableLeader(1000, 10_000);
   * ```
   */
  async waitForStableLeader(holdMs: number, timeoutMs: number): Promise<number> {
    let since = 0;
    let held: number | undefined;
    return await poll(async () => {
      const leader = await this.currentLeader();
      if (leader === undefined || leader !== held) {
        held = leader;
        since = Date.now();
        return undefined;
      }
      return Date.now() - since >= holdMs ? leader : undefined;
    }, { what: `a leader that holds for ${holdMs} ms`, timeoutMs, intervalMs: 50 });
  }

  /**
   * Freezes node `id` with SIGSTOP: it keeps its sockets and its beliefs, and does nothing.
   *
   * @example
   * ```ts ignore
   * await wan.pause(1);
   * ```
   */
  pause(id: number): Promise<void> {
    pauseNode(this.#member(id));
    return Promise.resolve();
  }

  /**
   * Wakes node `id` with SIGCONT.
   *
   * @example
   * ```ts ignore
   * await wan.resume(1);
   * ```
   */
  resume(id: number): Promise<void> {
    resumeNode(this.#member(id));
    return Promise.resolve();
  }

  /**
   * Kills node `id` (SIGKILL) and waits for it to end; `restart` brings it back.
   *
   * @example
   * ```ts ignore
   * await wan.kill(2);
   * await wan.restart(2);
   * ```
   */
  async kill(id: number): Promise<void> {
    await killNode(this.#member(id));
  }

  /**
   * Starts a killed node again on the same address, ports and data directory.
   *
   * @example
   * ```ts ignore
   * await wan.restart(2);
   * ```
   */
  async restart(id: number): Promise<void> {
    if (this.#member(id).child) return;
    await this.#spawn(id);
  }

  /**
   * What node `id` logged so far, one parsed JSON object per line (lines that are not JSON,
   * such as a startup banner, are left out).
   *
   * @example
   * ```ts ignore
   * const campaigns = (await wan.logs(1)).filter((l) => l.event === "campaign started");
   * ```
   */
  async logs(id: number): Promise<Record<string, unknown>[]> {
    const text = await Deno.readTextFile(this.#member(id).log).catch(() => "");
    const lines: Record<string, unknown>[] = [];
    for (const line of text.split("\n")) {
      if (!line.startsWith("{")) continue;
      try {
        lines.push(JSON.parse(line));
      } catch {
        // a line cut short by a kill
      }
    }
    return lines;
  }

  /**
   * Every node's log lines (joiners' included) whose `event` is `event`.
   *
   * @example
   * ```ts ignore
   * const campaigns = await wan.logged("campaign started");
   * ```
   */
  async logged(event: string): Promise<Record<string, unknown>[]> {
    const all = await Promise.all(this.#all.map((id) => this.logs(id)));
    return all.flat().filter((line) => line.event === event);
  }

  /**
   * Ends every node (SIGCONT first for paused ones, then SIGKILL), closes the proxies and
   * removes the data directories (and the logs, unless `logDir` was given).
   *
   * @example
   * ```ts ignore
   * await wan.stop();
   * ```
   */
  async stop(): Promise<void> {
    await Promise.all(this.#all.filter((id) => this.#members.has(id)).map((id) => this.kill(id)));
    for (const router of this.#routers.values()) router.close();
    for (const proxy of this.#proxies.values()) proxy.close();
    await Deno.remove(this.#root, { recursive: true }).catch(() => {});
  }
}

/**
 * Runs `body` against a fresh {@linkcode WanCluster} and stops it after, passed or not. A
 * failure keeps the node logs (and says where): they are the only account of what the nodes
 * did.
 *
 * @example
 * ```ts ignore
 * await withWan({ nodes: 3, oneWayMs: 25 }, async (wan) => {
 *   await wan.waitForStableLeader(1000, 15_000);
 * });
 * ```
 */
export async function withWan(
  options: Omit<WanClusterOptions, "logDir">,
  body: (wan: WanCluster) => Promise<void>,
): Promise<void> {
  const logDir = await Deno.makeTempDir({ prefix: "edgeraft-wan-logs-" });
  const wan = await WanCluster.start({ ...options, logDir });
  let passed = false;
  try {
    await body(wan);
    passed = true;
  } finally {
    await wan.stop();
    if (passed) await Deno.remove(logDir, { recursive: true });
    else console.error(`node logs kept in ${logDir}`);
  }
}
