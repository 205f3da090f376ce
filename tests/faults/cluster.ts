/**
 * A cluster of real `deno` node processes for fault runs: every member reaches node j through
 * j's {@linkcode PeerProxy}, which can cut what any one node sends to j (so a partition cuts
 * ordered pairs, and every node still knows each member by one peer URL, as the replicated
 * member directory requires), and each node's clock can be shifted through libfaketime
 * (Debian's `faketime`) when it is installed.
 *
 * Membership changes: `join` starts a fresh node with `--join` (a new id: ids are never
 * reused), `retire` ends a node for good and wipes its data. A retired node is never started
 * again (a wiped voter that came back empty would break Raft's promises); `ids` lists the
 * nodes that are not retired.
 *
 * Every process this module starts is ended by `stop()`, paused ones resumed first.
 *
 * @module
 */

import { freePort } from "../process/net.ts";
import { setTimeout as delay } from "node:timers/promises";
import {
  agreedLeader,
  faketimeAvailable,
  fetchNodeStatus,
  joinNodeArgs,
  killNode,
  type NodeStatus,
  pauseNode,
  resumeNode,
  spawnNode,
} from "./node_process.ts";
import type { BlockMode } from "./tcp_proxy.ts";
import { PeerProxy } from "./peer_proxy.ts";

/**
 * Settings of a {@linkcode FaultCluster}.
 *
 * @example
 * ```ts
 * import type { FaultClusterOptions } from "./cluster.ts";
 * const options: FaultClusterOptions = { nodes: 3, logDir: "/tmp/run" };
 * ```
 */
export interface FaultClusterOptions {
  nodes: 3 | 5;
  /** Each node's output goes to `<logDir>/node-<id>.log`. */
  logDir: string;
  /** Extra flags for every node. */
  args?: string[];
  /** Start every node under libfaketime (needed for clock faults). */
  fakeClocks?: boolean;
}

interface Member {
  id: number;
  clientPort: number;
  peerPort: number;
  dataDir: string;
  clockFile: string;
  /** What every other node reaches this one through. */
  proxy: PeerProxy;
  /** The client URL it joined through; undefined for a founding member. */
  joinedVia?: string;
  /** Started once (a joined node restarts from its data directory alone). */
  started: boolean;
  /** Ended for good (removed or replaced); never started again. */
  retired: boolean;
  /** Listed in `ids` (a joining node is, once the cluster added it). */
  admitted: boolean;
  child?: Deno.ChildProcess;
  paused: boolean;
  exited?: Promise<unknown>;
  /** Set when the process ended without being killed (it failed to start, or crashed). */
  diedOnItsOwn?: boolean;
  log: Deno.FsFile;
}

/** How many times a node that found its port taken is started again before it counts as dead. */
const PORT_TAKEN_RETRIES = 8;

/**
 * A running fault cluster.
 *
 * @example
 * ```ts ignore
 * const cluster = await FaultCluster.start({ nodes: 3, logDir });
 * try {
 *   const leader = await cluster.waitForLeader(20_000);
 *   await cluster.pause(leader);
 *   await cluster.resume(leader);
 * } finally {
 *   await cluster.stop();
 * }
 * ```
 */
export class FaultCluster {
  /**
   * Every cluster started and not yet stopped, so that a signal handler can end them all.
   *
   * @example
   * ```ts ignore
   * await Promise.all([...FaultCluster.running].map((cluster) => cluster.stop()));
   * ```
   */
  static readonly running = new Set<FaultCluster>();
  readonly #members = new Map<number, Member>();
  /** The founding members, whose `--peers` every founding node starts with. */
  readonly #founders: number[];
  /** Processes being killed on purpose, so that their end is not taken for a crash. */
  readonly #killing = new Set<Deno.ChildProcess>();
  readonly #options: FaultClusterOptions;
  readonly #root: string;
  #nextId: number;

  private constructor(options: FaultClusterOptions, root: string) {
    this.#options = options;
    this.#root = root;
    this.#founders = Array.from({ length: options.nodes }, (_, i) => i + 1);
    this.#nextId = options.nodes + 1;
  }

  /**
   * The nodes that are not retired (members, or joining), in id order.
   *
   * @example
   * ```ts ignore
   * const node = prng.pick(cluster.ids);
   * ```
   */
  get ids(): number[] {
    return [...this.#members.values()].filter((m) => !m.retired && m.admitted).map((m) => m.id)
      .sort((a, b) => a - b);
  }

  /**
   * Picks ports, starts the proxies and spawns every node.
   *
   * @example
   * ```ts ignore
   * const cluster = await FaultCluster.start({ nodes: 5, logDir: "/tmp/x", fakeClocks: true });
   * ```
   */
  static async start(options: FaultClusterOptions): Promise<FaultCluster> {
    if (options.fakeClocks && !faketimeAvailable()) {
      throw new Error("clock faults need libfaketime: apt-get install faketime");
    }
    const root = await Deno.makeTempDir({ prefix: "edgeraft-faults-" });
    const cluster = new FaultCluster(options, root);
    FaultCluster.running.add(cluster);
    try {
      for (const id of cluster.#founders) await cluster.#addMember(id);
      for (const id of cluster.#founders) cluster.#spawn(id);
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  /**
   * The base URL of node `id`'s client API.
   *
   * @example
   * ```ts ignore
   * await fetch(`${cluster.clientUrl(1)}/v1/cluster`);
   * ```
   */
  clientUrl(id: number): string {
    return `http://127.0.0.1:${this.#member(id).clientPort}`;
  }

  /**
   * The peer URL every member knows node `id` by (its proxy's).
   *
   * @example
   * ```ts ignore
   * const url = cluster.peerUrl(4);
   * ```
   */
  peerUrl(id: number): string {
    return `http://127.0.0.1:${this.#member(id).proxy.port}`;
  }

  #member(id: number): Member {
    const member = this.#members.get(id);
    if (!member) throw new Error(`no node ${id}`);
    return member;
  }

  async #addMember(id: number, joinedVia?: string): Promise<Member> {
    const clockFile = `${this.#root}/clock-${id}`;
    await Deno.writeTextFile(clockFile, "+0\n");
    const peerPort = freePort();
    const member: Member = {
      id,
      clientPort: freePort(),
      peerPort,
      dataDir: `${this.#root}/n${id}`,
      clockFile,
      proxy: PeerProxy.start({ hostname: "127.0.0.1", port: peerPort }),
      joinedVia,
      started: false,
      retired: false,
      admitted: joinedVia === undefined,
      paused: false,
      log: await Deno.open(`${this.#options.logDir}/node-${id}.log`, {
        create: true,
        append: true,
      }),
    };
    this.#members.set(id, member);
    return member;
  }

  #spawn(id: number, portsTries = 0): void {
    const m = this.#member(id);
    if (m.retired) throw new Error(`node ${id} is retired: it never starts again`);
    // Every node, itself included, is known by its proxy's URL; each binds its real port.
    const members = this.#founders.map((other) => {
      const o = this.#member(other);
      return { id: other, clientPort: o.clientPort, peerPort: o.proxy.port, dataDir: o.dataDir };
    });
    const self = { id, clientPort: m.clientPort, peerPort: m.peerPort, dataDir: m.dataDir };
    const { child, exited } = spawnNode({
      self,
      members,
      clusterSecret: "fault-secret",
      args: this.#options.args ?? [],
      clockFile: this.#options.fakeClocks ? m.clockFile : undefined,
      log: m.log,
      // A joined node's first start joins; later ones start from its data directory alone.
      command: m.joinedVia === undefined ? undefined : joinNodeArgs(
        { ...self, peerUrl: this.peerUrl(id) },
        { secret: "fault-secret", extra: this.#options.args ?? [] },
        m.started ? undefined : m.joinedVia,
      ),
    });
    m.started = true;
    m.child = child;
    m.exited = exited;
    m.paused = false;
    m.diedOnItsOwn = false;
    exited.then(() => {
      if (m.child !== child || this.#killing.has(child)) return;
      // Another test running in parallel can hold a port for a moment (its own freePort probe
      // binds each candidate): a node that found its address taken gets a few more tries on the
      // same ports before it counts as dead.
      if (portsTries < PORT_TAKEN_RETRIES && /address .* is in use/.test(this.#logTail(id, 2))) {
        setTimeout(() => {
          if (m.child === child && !m.retired) this.#spawn(id, portsTries + 1);
        }, 250);
        return;
      }
      m.diedOnItsOwn = true;
    }, () => {});
  }

  /** The last `lines` lines of node `id`'s log ("" if it cannot be read). */
  #logTail(id: number, lines: number): string {
    try {
      const text = Deno.readTextFileSync(`${this.#options.logDir}/node-${id}.log`);
      return text.trim().split("\n").slice(-lines).join(" | ");
    } catch {
      return "";
    }
  }

  /**
   * Throws if a node exited by itself (e.g. its port stayed taken): it will never answer, so a
   * wait for it says so at once, with the last lines of its log (the log directory may be a
   * test's temporary one, gone by the time anyone looks).
   */
  #throwIfAnyDied(): void {
    const dead = this.ids.filter((id) => this.#member(id).diedOnItsOwn);
    if (dead.length === 0) return;
    const tails = dead.map((id) => `node ${id}: ${this.#logTail(id, 3)}`);
    throw new Error(
      `node(s) ${dead.join(", ")} exited on their own; last lines: ${tails.join("; ")}`,
    );
  }

  /**
   * Whether node `id` has a process (running or paused).
   *
   * @example
   * ```ts ignore
   * if (!cluster.isUp(2)) await cluster.restart(2);
   * ```
   */
  isUp(id: number): boolean {
    return this.#member(id).child !== undefined;
  }

  /**
   * Whether node `id`'s process ended without being killed (it failed to start, or exited
   * after learning it was removed).
   *
   * @example
   * ```ts ignore
   * if (cluster.diedOnItsOwn(4)) console.log("the join failed; see node-4.log");
   * ```
   */
  diedOnItsOwn(id: number): boolean {
    return this.#member(id).diedOnItsOwn === true;
  }

  /**
   * Starts a fresh node that joins through node `via`'s client port (`--join`), with the
   * next unused id; returns that id. It is a learner once the cluster added it, and in `ids`
   * once `admit` says so.
   *
   * @example
   * ```ts ignore
   * const id = await cluster.join(cluster.ids[0]);
   * ```
   */
  async join(via: number): Promise<number> {
    const id = this.#nextId++;
    await this.#addMember(id, this.clientUrl(via));
    this.#spawn(id);
    return id;
  }

  /**
   * Lists a joined node in `ids`, where clients and faults find it.
   *
   * @example
   * ```ts ignore
   * cluster.admit(4);
   * ```
   */
  admit(id: number): void {
    this.#member(id).admitted = true;
  }

  /**
   * Ends node `id` for good (SIGKILL if it still runs) and wipes its data directory: what is
   * left of a node whose disk died, or of one removed from the cluster.
   *
   * @example
   * ```ts ignore
   * await cluster.retire(2);
   * ```
   */
  async retire(id: number): Promise<void> {
    const m = this.#member(id);
    if (m.child && m.paused) await this.resume(id);
    await this.kill(id);
    m.retired = true;
    m.proxy.unblockAll();
    await Deno.remove(m.dataDir, { recursive: true }).catch(() => {});
  }

  /**
   * Whether node `id` is stopped by SIGSTOP.
   *
   * @example
   * ```ts ignore
   * if (cluster.isPaused(2)) await cluster.resume(2);
   * ```
   */
  isPaused(id: number): boolean {
    return this.#member(id).paused;
  }

  /**
   * Kills node `id` with SIGKILL (kill -9) and waits for the process to end.
   *
   * @example
   * ```ts ignore
   * await cluster.kill(1);
   * ```
   */
  async kill(id: number): Promise<void> {
    await killNode(this.#member(id), this.#killing);
  }

  /**
   * Starts node `id` again on the same ports and data directory.
   *
   * @example
   * ```ts ignore
   * await cluster.restart(1);
   * ```
   */
  restart(id: number): Promise<void> {
    if (this.isUp(id) || this.#member(id).retired) return Promise.resolve();
    this.#spawn(id);
    return Promise.resolve();
  }

  /**
   * Freezes node `id` with SIGSTOP: it keeps its sockets and its beliefs, and does nothing.
   *
   * @example
   * ```ts ignore
   * await cluster.pause(1);
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
   * await cluster.resume(1);
   * ```
   */
  resume(id: number): Promise<void> {
    resumeNode(this.#member(id));
    return Promise.resolve();
  }

  /**
   * Cuts the links `from -> to` listed (each an ordered pair).
   *
   * @example
   * ```ts ignore
   * cluster.cut([[1, 2], [2, 1]], "drop"); // 1 and 2 no longer talk
   * ```
   */
  cut(links: readonly (readonly [number, number])[], mode: BlockMode): void {
    for (const [from, to] of links) this.#members.get(to)?.proxy.block(from, mode);
  }

  /**
   * Restores every link.
   *
   * @example
   * ```ts ignore
   * cluster.healLinks();
   * ```
   */
  healLinks(): void {
    for (const m of this.#members.values()) m.proxy.unblockAll();
  }

  /**
   * Shifts node `id`'s wall clock by `offsetMs` from real time (needs `fakeClocks`).
   *
   * @example
   * ```ts ignore
   * await cluster.setClockOffset(2, 15_000);
   * ```
   */
  async setClockOffset(id: number, offsetMs: number): Promise<void> {
    if (!this.#options.fakeClocks) throw new Error("the cluster was started without fakeClocks");
    const seconds = (offsetMs / 1000).toFixed(3);
    await Deno.writeTextFile(this.#member(id).clockFile, `${offsetMs >= 0 ? "+" : ""}${seconds}\n`);
  }

  /**
   * Node `id`'s view of the cluster, or undefined if it does not answer within `timeoutMs`.
   *
   * @example
   * ```ts ignore
   * const status = await cluster.status(1);
   * ```
   */
  status(id: number, timeoutMs = 1000): Promise<NodeStatus | undefined> {
    return fetchNodeStatus(this.clientUrl(id), timeoutMs);
  }

  /**
   * The leader as the nodes that are up and running see it, if they agree on one that is up.
   *
   * @example
   * ```ts ignore
   * const leader = await cluster.currentLeader();
   * ```
   */
  async currentLeader(): Promise<number | undefined> {
    const running = this.ids.filter((id) => this.isUp(id) && !this.isPaused(id));
    return await agreedLeader(running, (id) => this.status(id));
  }

  /**
   * Waits until every node is up, agrees on a leader and has applied what the leader had
   * committed when asked; returns the leader. Throws after `timeoutMs`.
   *
   * @example
   * ```ts ignore
   * const leader = await cluster.waitConverged(30_000);
   * ```
   */
  async waitConverged(timeoutMs: number): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    let last = "";
    let statuses: (NodeStatus | undefined)[] = [];
    while (Date.now() < deadline) {
      this.#throwIfAnyDied();
      const ids = this.ids;
      statuses = await Promise.all(ids.map((id) => this.status(id)));
      const leaderIds = new Set(statuses.map((s) => s?.leaderId ?? 0));
      const leader = statuses.find((s) => s && s.leaderId === s.nodeId);
      last = JSON.stringify(statuses);
      if (leader && leaderIds.size === 1) {
        const caughtUp = statuses.every((s) => s && s.appliedIndex >= leader.commitIndex);
        if (caughtUp) return leader.nodeId;
      }
      await delay(100);
    }
    // A node that is up but never answers: its log says why (a startup that hangs, a crash loop).
    const ids = this.ids;
    const silent = ids.filter((_, i) => statuses[i] === undefined)
      .map((id) => `node ${id} (${this.isUp(id) ? "up" : "down"}): ${this.#logTail(id, 5)}`);
    throw new Error(
      `the cluster did not converge in ${timeoutMs} ms; last statuses: ${last}` +
        (silent.length > 0 ? `; silent nodes: ${silent.join("; ")}` : ""),
    );
  }

  /**
   * Waits until the running nodes agree on a leader; returns it. Throws after `timeoutMs`.
   *
   * @example
   * ```ts ignore
   * const leader = await cluster.waitForLeader(20_000);
   * ```
   */
  async waitForLeader(timeoutMs: number): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      this.#throwIfAnyDied();
      const leader = await this.currentLeader();
      if (leader !== undefined) return leader;
      await delay(100);
    }
    throw new Error(`no leader within ${timeoutMs} ms`);
  }

  /**
   * Ends every node (SIGCONT first for paused ones, then SIGKILL), closes the proxies and log
   * files, and removes the data directories.
   *
   * @example
   * ```ts ignore
   * await cluster.stop();
   * ```
   */
  async stop(): Promise<void> {
    FaultCluster.running.delete(this);
    await Promise.all([...this.#members.values()].map((m) => killNode(m, this.#killing)));
    for (const m of this.#members.values()) {
      try {
        m.log.close();
      } catch {
        // already closed
      }
    }
    for (const m of this.#members.values()) m.proxy.close();
    await Deno.remove(this.#root, { recursive: true }).catch(() => {});
  }
}
