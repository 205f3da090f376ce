/**
 * The client port's own cost: one node (a one-node cluster, so no Raft traffic between
 * processes), stale reads, puts and lock cycles at a few client counts, with the load
 * generator of `deno task bench`. `--root` runs the node from another source tree (e.g. a worktree of the
 * commit before the connection layer) to compare the two on the same machine.
 *
 * ```sh
 * deno task bench:client-port                          # stale-get and put at 1, 16, 64 clients
 * deno task bench:client-port --workloads get,stale-get # "get": linearizable reads
 * deno task bench:client-port --serve both             # the layer and plain Deno.serve, alternating
 * git worktree add /tmp/before a6cfe76~1
 * deno task bench:client-port --root /tmp/before --duration 3
 * deno task bench:client-port --workloads stale-get --clients 16 --profile /tmp/prof
 * git worktree add /tmp/before HEAD~1
 * deno task bench:client-port --workloads put --versus /tmp/before # this tree and another
 * deno task bench:client-port --workloads lock --clients 1,16 # acquire+release cycles
 * ```
 *
 * Workloads: `stale-get`, `get` (linearizable), `put`, and `lock`: one uncontended cycle per
 * operation (a try-lock acquire and its release, each client on a lock of its own), so that
 * its CPU per op is per cycle, two requests and two proposals; `lock-contended`: the same on
 * one lock for all clients, each acquire waiting in line (`waitMs`), so that 1 / (ops/s) is
 * the time a hand-over takes (release applied, next waiter answered and its release sent).
 *
 * `--profile DIR` runs the node under `deno run --cpu-prof` (summarize its profile with
 * `bench/profile_summary.ts`).
 *
 * `--serve deno` runs the node with plain `Deno.serve` on its client port instead of the
 * connection layer (`src/api/http_front.ts`), from a copy of `--root`'s `src/` whose
 * `serveClientPort` is patched to call `Deno.serve` (no limits, no head shortcuts: the
 * handler's `Request` shortcut still takes stale reads); `--serve both` runs both nodes and
 * alternates them measurement by measurement, which is how the two compare fairly on a shared
 * machine. `--versus DIR` does the same with the connection layer of `--root` and of another
 * checkout (before and after a change), labelled `root` and `versus`.
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
  serve: "layer",
  versus: "",
});
if (!["layer", "deno", "both"].includes(args.serve)) {
  console.error("--serve takes layer, deno or both");
  Deno.exit(2);
}
if (args.versus !== "" && args.serve !== "layer") {
  console.error("--versus compares two checkouts' layers: it does not go with --serve");
  Deno.exit(2);
}
/** Whether lines name the node they measured (more than one runs). */
const labelled = args.serve === "both" || args.versus !== "";

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

/** The call `serveClientPort` makes, replaced by one to `Deno.serve` in the copy. */
const LAYER_CALL = "return Promise.resolve(startServer(options, handler));";
const DENO_SERVE_CALL = `const s = Deno.serve({
      hostname: options.hostname, port: options.port, cert: options.cert, key: options.key,
      onListen: (a) => options.onListen?.(a as Deno.NetAddr),
    }, handler);
    return Promise.resolve({
      addr: s.addr as Deno.NetAddr,
      connections: () => Promise.resolve(0),
      shutdown: () => s.shutdown(),
    });`;

/** A copy of `root`'s sources whose client port is plain `Deno.serve`; returns its root. */
async function denoServeCopy(root: string): Promise<string> {
  const copy = await Deno.makeTempDir({ prefix: "edgeraft-deno-serve-" });
  const cp = new Deno.Command("cp", { args: ["-r", `${root}/src`, `${root}/deno.json`, copy] });
  if (!(await cp.output()).success) throw new Error(`could not copy ${root}`);
  if (await Deno.stat(`${root}/deno.lock`).then(() => true, () => false)) {
    await Deno.copyFile(`${root}/deno.lock`, `${copy}/deno.lock`);
  }
  const file = `${copy}/src/api/http_front.ts`;
  const text = await Deno.readTextFile(file);
  if (!text.includes(LAYER_CALL)) throw new Error(`${file} no longer has: ${LAYER_CALL}`);
  await Deno.writeTextFile(file, text.replace(LAYER_CALL, DENO_SERVE_CALL));
  return copy;
}

type BenchNode = Awaited<ReturnType<typeof startNode>> & { label: string };

const nodes: BenchNode[] = [];
const copies: string[] = [];
try {
  const labels = args.versus !== ""
    ? ["root", "versus"]
    : args.serve === "both"
    ? ["layer", "deno"]
    : [args.serve];
  for (const label of labels) {
    let root = label === "versus" ? args.versus : args.root;
    if (label === "deno") {
      root = await denoServeCopy(args.root);
      copies.push(root);
    }
    nodes.push({ ...(await startNode(root, args.profile)), label });
  }
  for (const node of nodes) {
    const loader = openHttpClient("raw", node.origin);
    for (let i = 0; i < KEYS; i++) {
      const answer = await loader.request({
        method: "PUT",
        path: `/v1/config/k${i}`,
        body: VALUE,
      });
      if (answer.status !== 200) throw new Error(`preload: ${answer.status} ${answer.body}`);
    }
    loader.close();
  }
  let turn = 0;
  for (const workload of args.workloads.split(",")) {
    for (const clients of args.clients.split(",").map(Number)) {
      // Who goes first alternates, so that neither always runs right after the other.
      const order = turn++ % 2 === 0 ? nodes : [...nodes].reverse();
      for (const node of order) await measure(node, workload, clients);
    }
  }
} finally {
  for (const node of nodes) await node.stop();
  for (const copy of copies) await Deno.remove(copy, { recursive: true }).catch(() => {});
}

/** One lock cycle on `path`: an acquire (a try-lock, or one that waits), then its release. */
async function lockCycle(
  client: ReturnType<typeof openHttpClient>,
  path: string,
  wait: boolean,
): Promise<void> {
  const acquired = await client.request({
    method: "POST",
    path: `${path}/acquire`,
    body: wait
      ? '{"ttlMs":30000,"owner":"bench","waitMs":30000}'
      : '{"ttlMs":30000,"owner":"bench"}',
  });
  if (acquired.status !== 200) throw new Error(`acquire: ${acquired.status} ${acquired.body}`);
  const { token } = JSON.parse(acquired.body);
  const released = await client.request({
    method: "POST",
    path: `${path}/release`,
    body: `{"token":${token}}`,
  });
  if (released.status !== 200) throw new Error(`release: ${released.status} ${released.body}`);
}

/** One measurement of `workload` at `clients` on `node`, printed as one line. */
async function measure(node: BenchNode, workload: string, clients: number): Promise<void> {
  let cpuAtStart = 0;
  const result = await runLoad({
    onProgress: (p) => {
      if (p.phase === "measure" && cpuAtStart === 0) cpuAtStart = cpuMicros(node.pid);
    },
    progressIntervalMs: 50,
    workers: clients,
    durationMs: Number(args.duration) * 1000,
    warmupMs: Number(args.warmup) * 1000,
    makeWorker: (index) => {
      const client = openHttpClient("raw", node.origin);
      // One lock per client (each measurement its own names): uncontended cycles; or one lock
      // for all, each acquire waiting in line.
      const contended = workload === "lock-contended";
      const lock = `/v1/locks/bench-${workload}-${clients}-${contended ? 0 : index}`;
      return {
        async op() {
          if (workload === "lock" || contended) return await lockCycle(client, lock, contended);
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
      ...(labelled ? [node.label.padEnd(6)] : []),
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
