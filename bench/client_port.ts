/**
 * The client port's own cost: one node (a one-node cluster, so no Raft traffic between
 * processes), stale reads and puts at a few client counts, with the load generator of
 * `deno task bench`. `--root` runs the node from another source tree (e.g. a worktree of the
 * commit before the connection layer) to compare the two on the same machine.
 *
 * ```sh
 * deno task bench:client-port                          # stale-get and put at 1, 16, 64 clients
 * deno task bench:client-port --workloads get,stale-get # "get": linearizable reads
 * git worktree add /tmp/before a6cfe76~1
 * deno task bench:client-port --root /tmp/before --duration 3
 * deno task bench:client-port --workloads stale-get --clients 16 --profile /tmp/prof
 * ```
 *
 * `--profile DIR` runs the node under `deno run --cpu-prof` (summarize its profile with
 * `bench/profile_summary.ts`).
 *
 * Prints one line per measurement: workload, clients, ops/s, p50 and p99 in ms, and the node
 * process's CPU (all its threads, user + system) per operation, which moves far less than
 * ops/s when other work shares the machine.
 *
 * @module
 */

import { openHttpClient } from "./http_clients.ts";
import { runLoad } from "./load.ts";

/** `--name value` flags over their defaults. */
function parseFlags(argv: string[], defaults: Record<string, string>): Record<string, string> {
  const flags = { ...defaults };
  for (let i = 0; i < argv.length; i += 2) {
    const name = argv[i].replace(/^--/, "");
    if (!(name in flags) || argv[i + 1] === undefined) {
      console.error(
        `usage: client_port.ts ${Object.keys(defaults).map((n) => `[--${n} X]`).join(" ")}`,
      );
      Deno.exit(2);
    }
    flags[name] = argv[i + 1];
  }
  return flags;
}

const args = parseFlags(Deno.args, {
  root: new URL("..", import.meta.url).pathname.replace(/\/$/, ""),
  clients: "1,16,64",
  workloads: "stale-get,put",
  duration: "3",
  warmup: "1",
  profile: "",
});

const KEYS = 1000;
const TICK_US = 1_000_000 / 100; // USER_HZ is 100 on Linux

/** utime + stime of process `pid`, all threads, in µs. */
function cpuMicros(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * TICK_US;
}
const VALUE = JSON.stringify("v".repeat(100));

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/**
 * Starts a one-node cluster from the source tree `root`; resolves once it has a leader.
 */
async function startNode(root: string, profile: string) {
  const dataDir = await Deno.makeTempDir({ prefix: "edgeraft-client-port-" });
  const clientPort = freePort();
  const peerPort = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      "--config",
      `${root}/deno.json`,
      ...(profile === "" ? [] : ["--cpu-prof", "--cpu-prof-dir", profile]),
      `${root}/src/cli/node.ts`,
      ...["--id", "1", "--data-dir", dataDir],
      ...["--client-addr", `127.0.0.1:${clientPort}`],
      ...["--peer-addr", `127.0.0.1:${peerPort}`],
      ...["--peers", `1=http://127.0.0.1:${peerPort}`],
      ...["--cluster-secret", "bench-secret-bench-secret", "--log-format", "json"],
    ],
    env: { MALLOC_ARENA_MAX: "2", MALLOC_TRIM_THRESHOLD_: "131072" },
    stdout: "null",
    stderr: "null",
  }).spawn();
  const origin = `http://127.0.0.1:${clientPort}`;
  const pid = child.pid;
  const stop = async () => {
    // SIGTERM lets a profiled node write its profile; SIGKILL if it takes long.
    const timer = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch {
        // already gone
      }
    }, 10_000);
    try {
      child.kill(profile === "" ? "SIGKILL" : "SIGTERM");
    } catch {
      // already gone
    }
    await child.status;
    clearTimeout(timer);
    await Deno.remove(dataDir, { recursive: true }).catch(() => {});
  };
  for (let i = 0; i < 300; i++) {
    try {
      const res = await fetch(`${origin}/v1/cluster`);
      const body = await res.json();
      if (body.leaderId === 1) return { origin, pid, stop };
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  await stop();
  throw new Error("the node did not become leader");
}

const node = await startNode(args.root, args.profile);
try {
  const loader = openHttpClient("raw", node.origin);
  for (let i = 0; i < KEYS; i++) {
    const answer = await loader.request({ method: "PUT", path: `/v1/config/k${i}`, body: VALUE });
    if (answer.status !== 200) throw new Error(`preload: ${answer.status} ${answer.body}`);
  }
  loader.close();
  for (const workload of args.workloads.split(",")) {
    for (const clients of args.clients.split(",").map(Number)) {
      let cpuAtStart = 0;
      const result = await runLoad({
        onProgress: (p) => {
          if (p.phase === "measure" && cpuAtStart === 0) cpuAtStart = cpuMicros(node.pid);
        },
        progressIntervalMs: 50,
        workers: clients,
        durationMs: Number(args.duration) * 1000,
        warmupMs: Number(args.warmup) * 1000,
        makeWorker: () => {
          const client = openHttpClient("raw", node.origin);
          return {
            async op() {
              const key = `k${Math.floor(Math.random() * KEYS)}`;
              const answer = workload === "put"
                ? await client.request({ method: "PUT", path: `/v1/config/${key}`, body: VALUE })
                : await client.request({
                  method: "GET",
                  path: workload === "get"
                    ? `/v1/config/${key}`
                    : `/v1/config/${key}?consistency=stale`,
                });
              if (answer.status !== 200) throw new Error(`${answer.status} ${answer.body}`);
            },
            close: () => client.close(),
          };
        },
      });
      const cpuPerOp = (cpuMicros(node.pid) - cpuAtStart) / Math.max(1, result.ops);
      console.log(
        [
          workload.padEnd(9),
          `x${clients}`.padStart(4),
          `${Math.round(result.opsPerSec)} ops/s`.padStart(13),
          `p50 ${result.latencyMs.p50.toFixed(3)} ms`,
          `p99 ${result.latencyMs.p99.toFixed(3)} ms`,
          `cpu ${cpuPerOp.toFixed(0)} µs/op`,
          `errors ${result.errors}`,
        ].join("  "),
      );
    }
  }
} finally {
  await node.stop();
}
