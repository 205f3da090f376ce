/**
 * Round trip of a 22 KB AppendEntries between two real `deno` processes on loopback
 * (docs/architecture.md#peer-transport; the target: well under 2 ms), at concurrency 1, for each
 * way `PeerTransport` carries messages: `ws` (the default: one WebSocket per peer), `http1` (a
 * request per batch over Deno's `fetch`) and `h2` (`node:http2`):
 *
 * - `raft app -> appResp`: node 1 sends an `app` with 10 entries of 2.2 KB through its
 *   transport; node 2 (the child process) answers with an `appResp` through its own; timed
 *   until node 1's `onMessages` sees the answer. Two one-way requests, as Raft uses them.
 * - `call`: `Transport.call` with the same 22 KB body, answered by 8 bytes.
 * - `fetch h2c`: the same body posted with Deno's `fetch` over h2c (`Deno.createHttpClient`),
 *   for contrast: it leaves Nagle on and stalls ~40 ms per request, so it runs fewer rounds.
 *
 * Run: `deno run -A bench/transport_rtt.ts [iterations]` (default 2000, after 200 warm-up).
 * The script re-runs itself with `--serve <parent url> <client>` as the child process, and
 * kills it with SIGKILL at the end: a graceful shutdown would send GOAWAY, which the
 * `node:http2` client of Deno 2.9.6 may not survive (denoland/deno#36788).
 *
 * @module
 */

import type { Message } from "../src/raft/types.ts";
import { encodeMessages } from "../src/transport/codec.ts";
import { PeerTransport } from "../src/transport/peer_transport.ts";
import type { PeerClientKind } from "../src/transport/peer_client.ts";

const SECRET = "bench-secret";
const WARMUP = 200;
const FETCH_ROUNDS = 100;

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

/** How messages travel: a request client, with or without the WebSocket stream. */
interface Wire {
  name: string;
  client: PeerClientKind;
  stream: boolean;
}

const WIRES: Wire[] = [
  { name: "ws", client: "fetch-http1", stream: true },
  { name: "http1", client: "fetch-http1", stream: false },
  { name: "h2", client: "node-http2", stream: false },
];

/** The child: node 2, answering every `app` from node 1 with an `appResp`. */
async function serve(parentUrl: string, wire: Wire): Promise<void> {
  const transport: PeerTransport = new PeerTransport({
    nodeId: 2,
    clusterSecret: SECRET,
    client: wire.client,
    stream: wire.stream,
    listen: { hostname: "127.0.0.1", port: 0 },
    events: {
      onMessages(msgs) {
        const answers = msgs.filter((m) => m.type === "app" && m.from === 1).map((m): Message => ({
          ...m,
          type: "appResp",
          from: 2,
          to: 1,
          entries: [],
          index: m.index + m.entries.length,
        }));
        if (answers.length > 0) transport.send(answers);
      },
      onUnreachable: () => {},
      onCall: () => Promise.resolve(new Uint8Array(8)),
    },
  });
  transport.setPeers(new Map([[1, parentUrl]]));
  console.log(JSON.stringify({ port: transport.addr?.port }));
  // Run until the parent kills us, or closes our stdin if it died first.
  for await (const _ of Deno.stdin.readable) { /* ignore input */ }
  await transport.close();
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

function report(name: string, samples: number[], wallMs: number): void {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  const rate = samples.length / (wallMs / 1000);
  console.log(
    `${name.padEnd(32)} n=${String(samples.length).padStart(5)}  p50 ${at(0.5).toFixed(3)} ms` +
      `  p99 ${at(0.99).toFixed(3)} ms  max ${sorted[sorted.length - 1].toFixed(3)} ms` +
      `  ${rate.toFixed(0)} req/s`,
  );
}

async function measure(
  name: string,
  rounds: number,
  once: (i: number) => Promise<void>,
): Promise<void> {
  for (let i = 0; i < Math.min(WARMUP, rounds); i++) await once(i);
  const samples: number[] = [];
  const start = performance.now();
  for (let i = 0; i < rounds; i++) {
    const t = performance.now();
    await once(i);
    samples.push(performance.now() - t);
  }
  report(name, samples, performance.now() - start);
}

/** Measures one wire against a child of its own; the fetch h2c contrast on request. */
async function measureWire(wire: Wire, iterations: number, withContrast: boolean): Promise<void> {
  let answered: ((m: Message) => void) | undefined;
  const node1 = new PeerTransport({
    nodeId: 1,
    clusterSecret: SECRET,
    client: wire.client,
    stream: wire.stream,
    listen: { hostname: "127.0.0.1", port: 0 },
    events: {
      onMessages: (msgs) => msgs.forEach((m) => answered?.(m)),
      onUnreachable: (peer) => console.error(`peer ${peer} unreachable`),
    },
  });
  const parentUrl = `http://127.0.0.1:${node1.addr?.port}`;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", import.meta.filename!, "--serve", parentUrl, wire.name],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const h2c = Deno.createHttpClient({ http1: false, http2: true });
  try {
    const { port } = JSON.parse(await firstLine(child.stdout));
    const peerUrl = `http://127.0.0.1:${port}`;
    node1.setPeers(new Map([[2, peerUrl]]));
    const body = encodeMessages([appendMessage(1)]);

    await measure(`${wire.name} raft app -> appResp`, iterations, async (i) => {
      const reply = new Promise<Message>((resolve) => (answered = resolve));
      node1.send([appendMessage(i * 10)]);
      const m = await reply;
      if (m.type !== "appResp") throw new Error(`unexpected ${m.type}`);
    });
    await measure(`${wire.name} call`, iterations, async () => {
      await node1.call(2, "append", body);
    });
    if (!withContrast) return;
    // Sent from a node id the child does not answer, so only the POST itself is timed.
    const fetchBody = encodeMessages([{ ...appendMessage(1), from: 9 }]);
    await measure("fetch h2c (contrast)", Math.min(FETCH_ROUNDS, iterations), async () => {
      const res = await fetch(`${peerUrl}/raft/v1/messages`, {
        method: "POST",
        client: h2c,
        body: fetchBody,
        headers: { authorization: `Bearer ${SECRET}` },
      });
      await res.body?.cancel();
      if (res.status !== 204) throw new Error(`fetch got ${res.status}`);
    });
  } finally {
    h2c.close();
    child.kill("SIGKILL");
    await child.status;
    await child.stdout.cancel().catch(() => {});
    await child.stdin.close().catch(() => {});
    await node1.close();
  }
}

async function main(iterations: number): Promise<void> {
  const body = encodeMessages([appendMessage(1)]);
  console.log(`22 KB AppendEntries (${body.byteLength} bytes on the wire), concurrency 1`);
  for (const wire of WIRES) await measureWire(wire, iterations, wire.name === "h2");
}

if (import.meta.main) {
  if (Deno.args[0] === "--serve") {
    await serve(Deno.args[1], WIRES.find((w) => w.name === Deno.args[2])!);
  } else await main(Number(Deno.args[0] ?? 2000));
}
