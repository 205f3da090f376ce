/**
 * Round trip of a 22 KB AppendEntries between two real `deno` processes on loopback
 * (docs/architecture.md#peer-transport; the target: well under 2 ms), at concurrency 1, for each
 * way `PeerTransport` carries messages, over plain TCP and over TLS:
 *
 * - `h2c` / `h2 tls`: the default, one long-lived `node:http2` stream per peer
 *   (`peer_channel.ts`), served by `Deno.serve` (h2c) or `node:http2`'s secure server (TLS);
 * - `ws`: one WebSocket per peer (plain TCP only: Deno's WebSocket cannot be given a CA);
 * - `http1` / `http1 tls`: a request per batch over Deno's `fetch` (the fallback);
 * - `http1 tls Deno.serve`: the TLS path before issue 12 (`fetch` over HTTP/1.1 to `Deno.serve`
 *   with a certificate), for comparison.
 *
 * - `raft app -> appResp`: node 1 sends an `app` with 10 entries of 2.2 KB through its
 *   transport; node 2 (the child process) answers with an `appResp` through its own; timed
 *   until node 1's `onMessages` sees the answer. Two one-way messages, as Raft uses them.
 * - `call`: `Transport.call` with the same 22 KB body, answered by 8 bytes.
 *
 * Run: `deno task bench:transport [iterations]` (default 2000, after 200 warm-up). The script
 * re-runs itself with `--serve ...` as the child process. TLS needs `openssl` (skipped without).
 * `BENCH_WIRES=ws,h2c` measures only those wires, in that order. Each line also gives the CPU
 * time both processes spent per round trip (from /proc; steadier than wall time on a busy box).
 *
 * @module
 */

import type { Message } from "../src/raft/types.ts";
import { encodeMessages } from "../src/transport/codec.ts";
import { createPeerHandler } from "../src/transport/peer_server.ts";
import { type PeerProtocol, PeerTransport } from "../src/transport/peer_transport.ts";
import { cpuMillis } from "./proc_stats.ts";
import { hasOpenssl, testCertificates } from "../tests/process/certificates.ts";

const SECRET = "bench-secret";
const WARMUP = 200;

const appendMessage = (index: number): Message => ({
  type: "app",
  from: 1,
  to: 2,
  term: 1,
  logTerm: 1,
  index,
  commit: index,
  reject: false,
  rejectHint: 0,
  entries: Array.from({ length: 10 }, (_, i) => ({
    term: 1,
    index: index + 1 + i,
    type: "normal" as const,
    data: new Uint8Array(2200).fill(i),
  })),
});

/** How messages travel, and what serves them: no TLS, node:http2's TLS, or Deno.serve's. */
interface Wire {
  name: string;
  protocol: PeerProtocol;
  tls: "none" | "node" | "deno";
}

const WIRES: Wire[] = [
  { name: "h2c", protocol: "h2", tls: "none" },
  { name: "ws", protocol: "ws", tls: "none" },
  { name: "http1", protocol: "http1", tls: "none" },
  { name: "h2 tls", protocol: "h2", tls: "node" },
  { name: "http1 tls", protocol: "http1", tls: "node" },
  { name: "http1 tls Deno.serve", protocol: "http1", tls: "deno" },
];

/** PEM text of the cluster CA and a certificate for 127.0.0.1. */
interface Pems {
  ca: string;
  cert: string;
  key: string;
}

/**
 * A transport for one side: its own peer port as the wire says (with `Deno.serve` over TLS
 * served beside it, since the transport itself serves TLS with `node:http2`).
 */
async function endpoint(
  id: number,
  wire: Wire,
  pems: Pems | undefined,
  events: ConstructorParameters<typeof PeerTransport>[0]["events"],
): Promise<{ transport: PeerTransport; url: string; stop(): Promise<void> }> {
  const scheme = wire.tls === "none" ? "http" : "https";
  const options = { nodeId: id, clusterSecret: SECRET, protocol: wire.protocol, ca: pems?.ca };
  if (wire.tls !== "deno") {
    const tls = wire.tls === "node" ? { cert: pems!.cert, key: pems!.key } : {};
    const listen = { hostname: "127.0.0.1", port: 0, ...tls };
    const transport = new PeerTransport({ ...options, events, listen });
    const port = (await transport.listening())!.port;
    return { transport, url: `${scheme}://127.0.0.1:${port}`, stop: () => transport.close() };
  }
  const stopServer = new AbortController();
  const transport = new PeerTransport({ ...options, events });
  const handler = createPeerHandler({
    clusterSecret: SECRET,
    nodeId: id,
    onMessages: (m) => events.onMessages(m),
    onCall: events.onCall?.bind(events),
    signal: stopServer.signal,
  });
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    cert: pems!.cert,
    key: pems!.key,
    onListen() {},
  }, handler);
  return {
    transport,
    url: `${scheme}://127.0.0.1:${server.addr.port}`,
    async stop() {
      stopServer.abort();
      await transport.close();
      await server.shutdown();
    },
  };
}

/** The child: node 2, answering every `app` from node 1 with an `appResp`. */
async function serve(parentUrl: string, wire: Wire, pems: Pems | undefined): Promise<void> {
  const side = await endpoint(2, wire, pems, {
    onMessages(msgs) {
      const answers = msgs.filter((m) => m.type === "app" && m.from === 1).map((m): Message => ({
        ...m,
        type: "appResp",
        from: 2,
        to: 1,
        entries: [],
        index: m.index + m.entries.length,
      }));
      if (answers.length > 0) side.transport.send(answers);
    },
    onUnreachable: () => {},
    onCall: () => Promise.resolve(new Uint8Array(8)),
  });
  side.transport.setPeers(new Map([[1, parentUrl]]));
  console.log(JSON.stringify({ url: side.url }));
  // Run until the parent closes our stdin (or kills us).
  for await (const _ of Deno.stdin.readable) { /* ignore input */ }
  await side.stop();
}

/** Reads the child's first stdout line. */
async function firstLine(stream: ReadableStream<Uint8Array>): Promise<string> {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let text = "";
  while (!text.includes("\n")) {
    const { done, value } = await reader.read();
    if (done) throw new Error(`the child exited before it was ready: ${text}`);
    text += decoder.decode(value, { stream: true });
  }
  reader.releaseLock();
  return text.slice(0, text.indexOf("\n"));
}

function report(name: string, samples: number[], wallMs: number, cpuMs?: number): void {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  const rate = samples.length / (wallMs / 1000);
  const cpu = cpuMs === undefined ? "" : `  cpu ${(cpuMs * 1000 / samples.length).toFixed(0)} us`;
  console.log(
    `${name.padEnd(34)} n=${String(samples.length).padStart(5)}  p50 ${at(0.5).toFixed(3)} ms` +
      `  p99 ${at(0.99).toFixed(3)} ms  max ${sorted[sorted.length - 1].toFixed(3)} ms` +
      `  ${rate.toFixed(0)} req/s${cpu}`,
  );
}

/**
 * Times `rounds` calls of `once`; with `childPid`, also the CPU both processes spent per round
 * (user + system, from /proc: the machine is shared, so CPU time is steadier than wall time).
 */
async function measure(
  name: string,
  rounds: number,
  once: (i: number) => Promise<void>,
  childPid?: number,
): Promise<void> {
  for (let i = 0; i < Math.min(WARMUP, rounds); i++) await once(i);
  const samples: number[] = [];
  const cpu = () => {
    const own = cpuMillis("self");
    const child = childPid === undefined ? 0 : cpuMillis(childPid);
    return own === undefined || child === undefined ? undefined : own + child;
  };
  const cpuBefore = cpu();
  const start = performance.now();
  for (let i = 0; i < rounds; i++) {
    const t = performance.now();
    await once(i);
    samples.push(performance.now() - t);
  }
  const cpuAfter = cpu();
  const cpuMs = cpuBefore === undefined || cpuAfter === undefined
    ? undefined
    : cpuAfter - cpuBefore;
  report(name, samples, performance.now() - start, cpuMs);
}

/**
 * `BENCH_CPU_PROF=dir` has the child write a V8 CPU profile there too (run the parent with
 * `deno run -A --cpu-prof --cpu-prof-dir=dir`): where each side spends its time.
 */
function childProfile(): string[] {
  const dir = Deno.env.get("BENCH_CPU_PROF");
  return dir ? ["--cpu-prof", `--cpu-prof-dir=${dir}`] : [];
}

/** Measures one wire against a child of its own. */
async function measureWire(wire: Wire, iterations: number, pems: Pems | undefined): Promise<void> {
  let answered: ((m: Message) => void) | undefined;
  const node1 = await endpoint(1, wire, pems, {
    onMessages: (msgs) => msgs.forEach((m) => answered?.(m)),
    onUnreachable: (peer) => console.error(`peer ${peer} unreachable`),
  });
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", ...childProfile(), import.meta.filename!, "--serve", node1.url, wire.name],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
    env: pems ? { BENCH_PEMS: JSON.stringify(pems) } : {},
  }).spawn();
  try {
    const { url } = JSON.parse(await firstLine(child.stdout));
    node1.transport.setPeers(new Map([[2, url]]));
    const body = encodeMessages([appendMessage(1)]);
    // BENCH_ONLY=raft or BENCH_ONLY=call measures only that.
    const only = Deno.env.get("BENCH_ONLY");
    if (only !== "call") {
      await measure(`${wire.name} raft app -> appResp`, iterations, async (i) => {
        const reply = new Promise<Message>((resolve) => (answered = resolve));
        node1.transport.send([appendMessage(i * 10)]);
        const m = await reply;
        if (m.type !== "appResp") throw new Error(`unexpected ${m.type}`);
      }, child.pid);
    }
    if (only !== "raft") {
      await measure(`${wire.name} call`, iterations, async () => {
        await node1.transport.call(2, "append", body);
      }, child.pid);
    }
  } finally {
    // A graceful end: the child closes its streams and server when its stdin closes.
    await child.stdin.close().catch(() => {});
    const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
    const status = await child.status;
    clearTimeout(timer);
    await child.stdout.cancel().catch(() => {});
    await node1.stop();
    if (status.signal !== null && status.signal !== "SIGKILL") {
      console.error(`the child died of ${status.signal}`);
    }
  }
}

async function main(iterations: number): Promise<void> {
  const body = encodeMessages([appendMessage(1)]);
  console.log(`22 KB AppendEntries (${body.byteLength} bytes on the wire), concurrency 1`);
  let pems: Pems | undefined;
  const dir = await Deno.makeTempDir({ prefix: "edgeraft_bench_tls_" });
  try {
    if (hasOpenssl()) {
      const files = await testCertificates(dir, "node");
      const [ca, cert, key] = await Promise.all(
        [files.ca, files.cert, files.key].map((f) => Deno.readTextFile(f)),
      );
      pems = { ca, cert, key };
    } else console.warn("openssl is not installed: the TLS wires are skipped");
    // BENCH_WIRES=ws,h2c measures only those, in that order.
    const only = Deno.env.get("BENCH_WIRES")?.split(",");
    const wires = only ? only.map((n) => WIRES.find((w) => w.name === n)!).filter(Boolean) : WIRES;
    for (const wire of wires) {
      if (wire.tls !== "none" && !pems) continue;
      await measureWire(wire, iterations, wire.tls === "none" ? undefined : pems);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) {
  if (Deno.args[0] === "--serve") {
    const pemsText = Deno.env.get("BENCH_PEMS");
    const wire = WIRES.find((w) => w.name === Deno.args[2])!;
    await serve(Deno.args[1], wire, pemsText ? JSON.parse(pemsText) : undefined);
  } else await main(Number(Deno.args[0] ?? 2000));
}
