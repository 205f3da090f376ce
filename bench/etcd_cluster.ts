/**
 * A fresh local 3-node etcd for the benchmark, started as docs/architecture.md#benchmarks says
 * (member i listens on 127.0.0.1:i2379 for clients and i2380 for peers, temporary data
 * directories, etcd's defaults: fsync on, 100 ms heartbeat, 1 s election timeout).
 *
 * @module
 */

import {
  type BenchCluster,
  jsonOrUndefined,
  portInUse,
  type SystemName,
  waitFor,
} from "./bench_cluster.ts";
import { ChildProcess } from "./child_process.ts";

/**
 * `etcd --version`'s first line (e.g. "etcd Version: 3.4.23"), or undefined when there is no
 * `etcd` on the PATH.
 *
 * @example
 * ```ts ignore
 * import { etcdVersion } from "./etcd_cluster.ts";
 * if (!(await etcdVersion())) console.log("edgeraft only");
 * ```
 */
export async function etcdVersion(): Promise<string | undefined> {
  try {
    const out = await new Deno.Command("etcd", { args: ["--version"], stdout: "piped" }).output();
    return new TextDecoder().decode(out.stdout).split("\n")[0].trim() || "etcd";
  } catch {
    return undefined;
  }
}

interface MemberStatus {
  header?: { member_id?: string };
  leader?: string;
}

const INITIAL_CLUSTER = [1, 2, 3].map((i) => `n${i}=http://127.0.0.1:${i}2380`).join(",");

/**
 * The running cluster; see {@linkcode BenchCluster}.
 *
 * @example
 * ```ts ignore
 * import { EtcdCluster } from "./etcd_cluster.ts";
 * const cluster = await EtcdCluster.start();
 * console.log(cluster.clientUrl(await cluster.leaderId()));
 * await cluster.stop();
 * ```
 */
export class EtcdCluster implements BenchCluster {
  readonly system: SystemName = "etcd";
  readonly ids = [1, 2, 3];
  #root: string;
  #processes = new Map<number, ChildProcess>();
  /** etcd's member id (a uint64 as a decimal string) of each of our ids, once seen. */
  #memberIds = new Map<number, string>();

  private constructor(root: string) {
    this.#root = root;
  }

  /** Starts three members and waits until they agree on a leader. */
  static async start(opts: { timeoutMs?: number } = {}): Promise<EtcdCluster> {
    const busy = [1, 2, 3].flatMap((i) => [Number(`${i}2379`), Number(`${i}2380`)])
      .filter(portInUse);
    if (busy.length > 0) {
      throw new Error(`ports ${busy.join(", ")} are in use (another etcd running?)`);
    }
    const root = await Deno.makeTempDir({ prefix: "etcd-bench-" });
    const cluster = new EtcdCluster(root);
    try {
      for (const id of cluster.ids) cluster.#spawn(id);
      await cluster.leaderId({ timeoutMs: opts.timeoutMs ?? 30_000 });
    } catch (e) {
      const tails = cluster.ids.map((id) => `n${id}:\n${cluster.#processes.get(id)?.tail()}`);
      await cluster.stop();
      throw new Error(`the etcd cluster did not start: ${e}\n${tails.join("\n")}`);
    }
    return cluster;
  }

  clientUrl(id: number): string {
    return `http://127.0.0.1:${id}2379`;
  }

  pid(id: number): number | undefined {
    const p = this.#processes.get(id);
    return p?.running ? p.pid : undefined;
  }

  async leaderId(opts: { exclude?: number[]; timeoutMs?: number } = {}): Promise<number> {
    const ids = this.ids.filter((id) => !opts.exclude?.includes(id) && this.pid(id) !== undefined);
    return await waitFor("the etcd members to agree on a leader", async () => {
      const statuses = await Promise.all(ids.map(async (id) => {
        const url = `${this.clientUrl(id)}/v3/maintenance/status`;
        const status = (await jsonOrUndefined(url, {})) as MemberStatus | undefined;
        const memberId = status?.header?.member_id;
        if (memberId) this.#memberIds.set(id, memberId);
        return status;
      }));
      const leaders = new Set(statuses.map((s) => s?.leader));
      if (leaders.size !== 1) return undefined;
      const [leaderMember] = leaders;
      const leader = ids.find((id) => this.#memberIds.get(id) === leaderMember);
      return leaderMember && leaderMember !== "0" ? leader : undefined;
    }, opts.timeoutMs ?? 20_000);
  }

  kill(id: number): { exited: Promise<unknown> } {
    const p = this.#processes.get(id);
    if (!p) return { exited: Promise.resolve() };
    p.signal("SIGKILL");
    return { exited: p.exited };
  }

  async restart(id: number): Promise<void> {
    const p = this.#processes.get(id);
    if (p?.running) throw new Error(`etcd member n${id} is running`);
    await p?.exited;
    this.#spawn(id);
  }

  pause(): void {
    for (const p of this.#processes.values()) p.signal("SIGSTOP");
  }

  resume(): void {
    for (const p of this.#processes.values()) p.signal("SIGCONT");
  }

  async stop(): Promise<void> {
    await Promise.all([...this.#processes.values()].map((p) => p.kill()));
    await Deno.remove(this.#root, { recursive: true }).catch(() => {});
  }

  #spawn(id: number): void {
    // Restarting with the same flags is fine: etcd ignores --initial-* once its data exists.
    this.#processes.set(
      id,
      ChildProcess.spawn("etcd", [
        "--name",
        `n${id}`,
        "--data-dir",
        `${this.#root}/n${id}`,
        "--listen-client-urls",
        this.clientUrl(id),
        "--advertise-client-urls",
        this.clientUrl(id),
        "--listen-peer-urls",
        `http://127.0.0.1:${id}2380`,
        "--initial-advertise-peer-urls",
        `http://127.0.0.1:${id}2380`,
        "--initial-cluster",
        INITIAL_CLUSTER,
        "--initial-cluster-state",
        "new",
        "--log-level",
        "error",
      ]),
    );
  }
}
