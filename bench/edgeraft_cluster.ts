/**
 * A fresh local 3-node edgeraft cluster for the benchmark: real `deno run src/cli/node.ts`
 * processes on free loopback ports, each with its own temporary data directory, with the
 * node's default timing and durability (followers fsync before they acknowledge).
 *
 * @module
 */

import {
  type BenchCluster,
  freePort,
  jsonOrUndefined,
  type SystemName,
  waitFor,
} from "./bench_cluster.ts";
import { ChildProcess } from "./child_process.ts";
import { loopbackNodeArgs, withNodeProcessEnv } from "../src/cli/node_command.ts";

const REPO_ROOT = new URL("../", import.meta.url).pathname;

interface Member {
  id: number;
  clientPort: number;
  peerPort: number;
  dataDir: string;
  process?: ChildProcess;
}

/**
 * The running cluster; see {@linkcode BenchCluster}.
 *
 * @example
 * ```ts ignore
 * import { EdgeraftCluster } from "./edgeraft_cluster.ts";
 * const cluster = await EdgeraftCluster.start();
 * console.log(cluster.clientUrl(await cluster.leaderId()));
 * await cluster.stop();
 * ```
 */
export class EdgeraftCluster implements BenchCluster {
  readonly system: SystemName = "edgeraft";
  readonly ids = [1, 2, 3];
  #root: string;
  #secret = crypto.randomUUID();
  #members = new Map<number, Member>();
  #cpuProfileDir?: string;
  #traceDir?: string;
  #nodeArgs: string[] = [];
  #inspectBasePort: number | undefined;
  #onLine?: (id: number, line: string) => void;

  private constructor(root: string, cpuProfileDir?: string, traceDir?: string) {
    this.#traceDir = traceDir;
    this.#root = root;
    this.#cpuProfileDir = cpuProfileDir;
    for (const id of this.ids) {
      this.#members.set(id, {
        id,
        clientPort: freePort(),
        peerPort: freePort(),
        dataDir: `${root}/n${id}`,
      });
    }
  }

  /**
   * Starts three nodes and waits until they agree on a leader. With `cpuProfileDir`, each node
   * runs under `deno run --cpu-prof` and writes its profile to `<cpuProfileDir>/n<id>/` when
   * `stop` ends it gracefully (a node killed by the failover measurement writes none). With
   * `traceDir`, each node appends its write trace to `<traceDir>/n<id>.trace`. `nodeArgs` go to
   * every node's command line (after the cluster's own); `onLine` hears every line each node
   * prints, restarts included.
   */
  static async start(
    opts: {
      timeoutMs?: number;
      cpuProfileDir?: string;
      traceDir?: string;
      nodeArgs?: string[];
      onLine?: (id: number, line: string) => void;
      /** Node `id` opens V8's inspector on 127.0.0.1:(`inspectBasePort` + id), for heap profiles. */
      inspectBasePort?: number;
    } = {},
    attempt = 1,
  ): Promise<EdgeraftCluster> {
    const root = await Deno.makeTempDir({ prefix: "edgeraft-bench-" });
    const cluster = new EdgeraftCluster(root, opts.cpuProfileDir, opts.traceDir);
    cluster.#nodeArgs = opts.nodeArgs ?? [];
    cluster.#onLine = opts.onLine;
    cluster.#inspectBasePort = opts.inspectBasePort;
    try {
      for (const id of cluster.ids) cluster.#spawn(id);
      await cluster.leaderId({ timeoutMs: opts.timeoutMs ?? 30_000 });
    } catch (e) {
      const tails = cluster.ids.map((id) =>
        `node ${id}:\n${cluster.#members.get(id)!.process?.tail()}`
      );
      await cluster.stop();
      // A free port picked at random can be taken by a test running beside this one before the
      // node binds it: once, start afresh on other ports.
      if (attempt === 1 && tails.some((t) => / address \S+ is in use/.test(t))) {
        return await EdgeraftCluster.start(opts, 2);
      }
      throw new Error(`the edgeraft cluster did not start: ${e}\n${tails.join("\n")}`);
    }
    return cluster;
  }

  clientUrl(id: number): string {
    return `http://127.0.0.1:${this.#members.get(id)!.clientPort}`;
  }

  pid(id: number): number | undefined {
    const p = this.#members.get(id)?.process;
    return p?.running ? p.pid : undefined;
  }

  async leaderId(opts: { exclude?: number[]; timeoutMs?: number } = {}): Promise<number> {
    const ids = this.ids.filter((id) => !opts.exclude?.includes(id) && this.pid(id) !== undefined);
    return await waitFor("the edgeraft nodes to agree on a leader", async () => {
      const views = await Promise.all(
        ids.map((id) => jsonOrUndefined(`${this.clientUrl(id)}/v1/cluster`)),
      );
      const leaders = new Set(views.map((v) => (v as { leaderId?: number } | undefined)?.leaderId));
      if (leaders.size !== 1) return undefined;
      const [leader] = leaders;
      return leader !== undefined && ids.includes(leader) ? leader : undefined;
    }, opts.timeoutMs ?? 20_000);
  }

  kill(id: number): { exited: Promise<unknown> } {
    const p = this.#members.get(id)!.process;
    if (!p) return { exited: Promise.resolve() };
    p.signal("SIGKILL");
    return { exited: p.exited };
  }

  async restart(id: number): Promise<void> {
    const m = this.#members.get(id)!;
    if (m.process?.running) throw new Error(`edgeraft node ${id} is running`);
    await m.process?.exited;
    this.#spawn(id);
  }

  pause(): void {
    for (const m of this.#members.values()) m.process?.signal("SIGSTOP");
  }

  resume(): void {
    for (const m of this.#members.values()) m.process?.signal("SIGCONT");
  }

  async stop(): Promise<void> {
    if (this.#cpuProfileDir || this.#traceDir) await this.#stopGracefully();
    await Promise.all([...this.#members.values()].map((m) => m.process?.kill()));
    await Deno.remove(this.#root, { recursive: true }).catch(() => {});
  }

  /** SIGTERM, so that nodes write their profiles and traces; SIGKILL after 10 s. */
  async #stopGracefully(): Promise<void> {
    await Promise.all([...this.#members.values()].map(async (m) => {
      if (!m.process?.running) return;
      m.process.signal("SIGCONT");
      m.process.signal("SIGTERM");
      const timer = setTimeout(() => m.process?.signal("SIGKILL"), 10_000);
      await m.process.exited;
      clearTimeout(timer);
    }));
  }

  #spawn(id: number): void {
    const m = this.#members.get(id)!;
    const all = [...this.#members.values()];
    const profile = this.#cpuProfileDir
      ? ["--cpu-prof", "--cpu-prof-dir", `${this.#cpuProfileDir}/n${id}`]
      : [];
    if (this.#inspectBasePort) profile.push(`--inspect=127.0.0.1:${this.#inspectBasePort + id}`);
    m.process = ChildProcess.spawn(
      Deno.execPath(),
      loopbackNodeArgs(m, all, {
        secret: this.#secret,
        denoFlags: profile,
        extra: [
          ...(this.#traceDir ? ["--trace-file", `${this.#traceDir}/n${id}.trace`] : []),
          ...this.#nodeArgs,
        ],
      }),
      // Run as `deno task cluster` runs them, with the node's malloc settings.
      { cwd: REPO_ROOT, env: withNodeProcessEnv(Deno.env.toObject()) },
    );
    const onLine = this.#onLine;
    if (onLine) m.process.onLine((line) => onLine(id, line));
  }
}
