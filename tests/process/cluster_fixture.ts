/**
 * Real clusters for tests: N `deno` node processes on free loopback ports with their own
 * temporary data directories, that a test can kill, pause, restart and stop.
 *
 * @module
 */

import { loopbackNodeArgs } from "../../src/cli/node_command.ts";
import { freePort, jsonOrUndefined } from "./net.ts";
import { poll } from "./poll.ts";

/** What `GET /v1/cluster` answers. */
export interface ClusterStatus {
  clusterId: string;
  nodeId: number;
  leaderId: number;
  term: number;
  commitIndex: number;
  appliedIndex: number;
  members: { id: number; url: string; role: string; matchIndex: number | null }[];
}

/** Options of {@linkcode startCluster}. */
export interface ClusterOptions {
  nodes?: number;
  /** Extra flags for every node (e.g. `["--snapshot-entries", "20"]`). */
  args?: string[];
  /** Extra environment variables for every node (e.g. a failpoint). */
  env?: Record<string, string>;
}

interface Member {
  id: number;
  clientPort: number;
  peerPort: number;
  dataDir: string;
  child?: Deno.ChildProcess;
  output: string[];
  exited?: Promise<Deno.CommandStatus>;
}

/**
 * A running test cluster.
 *
 * @example
 * ```ts ignore
 * const c = await startCluster({ nodes: 3 });
 * const leader = await c.waitForLeader();
 * await c.stop();
 * ```
 */
export class TestCluster {
  readonly members = new Map<number, Member>();
  #root = "";
  #args: string[] = [];
  #env: Record<string, string> = {};

  static async start(opts: ClusterOptions = {}): Promise<TestCluster> {
    const c = new TestCluster();
    c.#root = await Deno.makeTempDir({ prefix: "edgeraft-cluster-" });
    c.#args = opts.args ?? [];
    c.#env = opts.env ?? {};
    const n = opts.nodes ?? 3;
    for (let id = 1; id <= n; id++) {
      c.members.set(id, {
        id,
        clientPort: freePort(),
        peerPort: freePort(),
        dataDir: `${c.#root}/n${id}`,
        output: [],
      });
    }
    for (const id of c.members.keys()) c.#spawn(id);
    return c;
  }

  get ids(): number[] {
    return [...this.members.keys()];
  }

  clientUrl(id: number): string {
    return `http://127.0.0.1:${this.members.get(id)!.clientPort}`;
  }

  #spawn(id: number): void {
    const m = this.members.get(id)!;
    const child = new Deno.Command(Deno.execPath(), {
      args: loopbackNodeArgs(m, [...this.members.values()], {
        secret: "test-secret",
        extra: this.#args,
      }),
      env: this.#env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    m.child = child;
    m.exited = child.status;
    const collect = async (stream: ReadableStream<Uint8Array>) => {
      for await (const line of stream.pipeThrough(new TextDecoderStream()).values()) {
        m.output.push(line);
      }
    };
    collect(child.stdout).catch(() => {});
    collect(child.stderr).catch(() => {});
  }

  /** Everything node `id` printed, across restarts. */
  output(id: number): string {
    return this.members.get(id)!.output.join("");
  }

  /** The node's `/v1/cluster`, or undefined when it does not answer within a second. */
  async status(id: number): Promise<ClusterStatus | undefined> {
    const url = `${this.clientUrl(id)}/v1/cluster?consistency=stale`;
    return await jsonOrUndefined(url) as ClusterStatus | undefined;
  }

  /** Waits until the running nodes (minus `exclude`) agree on one leader; returns its id. */
  async waitForLeader(opts: { exclude?: number[]; timeoutMs?: number } = {}): Promise<number> {
    const ids = this.ids.filter((id) => !opts.exclude?.includes(id) && this.isRunning(id));
    return await poll(async () => {
      const statuses = await Promise.all(ids.map((id) => this.status(id)));
      const leaders = new Set(statuses.map((s) => s?.leaderId));
      if (leaders.size !== 1) return undefined;
      const [leader] = leaders;
      return leader && ids.includes(leader) ? leader : undefined;
    }, { what: "a leader", timeoutMs: opts.timeoutMs ?? 15_000 });
  }

  isRunning(id: number): boolean {
    return this.members.get(id)?.child !== undefined;
  }

  /** Sends a signal; after SIGKILL the member is down until `restart`. */
  async kill(id: number, signal: Deno.Signal = "SIGKILL"): Promise<void> {
    const m = this.members.get(id)!;
    if (!m.child) return;
    m.child.kill(signal);
    if (signal === "SIGKILL" || signal === "SIGTERM") {
      await m.exited;
      m.child = undefined;
    }
  }

  /** Starts a stopped member again on the same ports and data directory. */
  restart(id: number): Promise<void> {
    if (this.isRunning(id)) throw new Error(`node ${id} is running`);
    this.#spawn(id);
    return Promise.resolve();
  }

  /** Kills every node and removes the data. */
  async stop(): Promise<void> {
    for (const m of this.members.values()) {
      if (!m.child) continue;
      try {
        m.child.kill("SIGCONT");
        m.child.kill("SIGKILL");
      } catch {
        // already gone
      }
    }
    await Promise.all([...this.members.values()].map((m) => m.exited));
    for (const m of this.members.values()) m.child = undefined;
    await Deno.remove(this.#root, { recursive: true }).catch(() => {});
  }
}

/** Starts a cluster; see {@linkcode TestCluster}. */
export function startCluster(opts: ClusterOptions = {}): Promise<TestCluster> {
  return TestCluster.start(opts);
}
