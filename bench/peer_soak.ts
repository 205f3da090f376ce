/**
 * A restart soak of the peer transport: N real `deno` processes (default 3), each a
 * `PeerTransport` that keeps sending to every other one (a heartbeat every 10 ms, a call every
 * 20 ms, a 256 KB snapshot chunk every 500 ms), while one of them at a time is stopped,
 * gracefully (SIGTERM: the transport closes its streams, then its server) or with kill -9, and
 * started again on the same port. This is what made the per-message `node:http2` client abort
 * Deno 2.9.6 (a GOAWAY on a session that had carried many streams, denoland/deno#36788).
 *
 * Counted: process aborts (a node that exits on its own, or by a signal we did not send, or
 * not with 0 after SIGTERM), restarts after which the cluster did not reconnect within 10 s,
 * and at the end whether every node has its stream up to every other and hears from it.
 *
 * Run: `deno task soak:peers [restarts] [nodes] [protocol] [tls]` (default 500, 3, h2, plain
 * TCP; `tls`: `https://` peers with a throwaway CA, served by `node:http2`). Prints one
 * JSON line of results; exits 1 unless there were 0 aborts and every node ended connected.
 * `tests/transport/peer_soak_test.ts` runs a short version (20 restarts).
 *
 * @module
 */

import type { Message, NodeId } from "../src/raft/types.ts";
import { type PeerProtocol, PeerTransport } from "../src/transport/peer_transport.ts";
import { testCertificates } from "../tests/process/certificates.ts";
import { freePort } from "../tests/process/net.ts";

const SECRET = "soak-secret";
/** A restart counts as not reconnected when the cluster is not whole again within this. */
const RECONNECT_TIMEOUT_MS = 10_000;

/**
 * What a soak found.
 *
 * @example
 * ```ts
 * import type { SoakResult } from "./peer_soak.ts";
 * const ok = (r: SoakResult) => r.aborts === 0 && r.allConnected;
 * ```
 */
export interface SoakResult {
  restarts: number;
  graceful: number;
  killed: number;
  /** Exits we did not cause, or that were not clean after SIGTERM; each described. */
  aborts: number;
  abortDetails: string[];
  /** Restarts after which the cluster was not whole again within 10 s. */
  slowReconnects: number;
  /** At the end, every node had its stream up to every other and heard from each lately. */
  allConnected: boolean;
  /** Messages and calls the nodes had exchanged by the end (of their last run). */
  delivered: number;
  calls: number;
  wallSeconds: number;
}

/**
 * How a soak runs.
 *
 * @example
 * ```ts
 * import type { SoakOptions } from "./peer_soak.ts";
 * const o: SoakOptions = { restarts: 20, nodes: 3, protocol: "h2" };
 * ```
 */
export interface SoakOptions {
  restarts: number;
  nodes: number;
  protocol: PeerProtocol;
  /** Over TLS (`https://` peers, a throwaway cluster CA; needs `openssl`). */
  tls?: boolean;
  /** Told of progress every 50 restarts. */
  onProgress?: (line: string) => void;
}

/** What a node reports on stdout every 100 ms. */
interface NodeStatus {
  id: NodeId;
  up: NodeId[];
  heard: NodeId[];
  delivered: number;
  calls: number;
}

/** The child: one node, sending to every peer until SIGTERM (graceful) or SIGKILL. */
function runNode(
  id: NodeId,
  urls: Map<NodeId, string>,
  protocol: PeerProtocol,
  pems?: { ca: string; cert: string; key: string },
): void {
  const port = Number(new URL(urls.get(id)!).port);
  const lastHeard = new Map<NodeId, number>();
  let delivered = 0;
  let calls = 0;
  const transport = new PeerTransport({
    nodeId: id,
    clusterSecret: SECRET,
    protocol,
    backoff: { initialMs: 20, maxMs: 200 },
    ca: pems?.ca,
    listen: { hostname: "127.0.0.1", port, cert: pems?.cert, key: pems?.key },
    events: {
      onMessages(msgs) {
        for (const m of msgs) lastHeard.set(m.from, performance.now());
        delivered += msgs.length;
      },
      onUnreachable: () => {},
      onSnapshotStatus: () => {},
      onCall: (_method, body) => Promise.resolve(body.subarray(0, 8)),
    },
  });
  const peers = new Map([...urls].filter(([p]) => p !== id));
  transport.setPeers(peers);
  const to = [...peers.keys()];
  const heartbeat = (peer: NodeId, commit: number): Message => ({
    type: "heartbeat",
    from: id,
    to: peer,
    term: 1,
    logTerm: 0,
    index: 0,
    entries: [],
    commit,
    reject: false,
    rejectHint: 0,
  });
  let n = 0;
  const timers = [
    setInterval(() => transport.send(to.map((p) => heartbeat(p, n++))), 10),
    setInterval(() => {
      const peer = to[n % to.length];
      transport.call(peer, "echo", new Uint8Array(64)).then(() => calls++, () => {});
    }, 20),
    setInterval(() => {
      const peer = to[n % to.length];
      const size = 256 * 1024;
      transport.send([{
        ...heartbeat(peer, 0),
        type: "snap",
        snapshot: {
          metadata: { index: 1, term: 1, conf: { voters: [...urls.keys()], learners: [] } },
          offset: 0,
          data: new Uint8Array(size),
          done: true,
          total: size,
        },
      }]);
    }, 500),
    setInterval(() => {
      const now = performance.now();
      const status: NodeStatus = {
        id,
        up: protocol === "h2" ? transport.stats().filter((s) => s.up).map((s) => s.peer) : to,
        heard: to.filter((p) => now - (lastHeard.get(p) ?? -Infinity) < 500),
        delivered,
        calls,
      };
      console.log(JSON.stringify(status));
    }, 100),
  ];
  Deno.addSignalListener("SIGTERM", async () => {
    timers.forEach(clearInterval);
    await transport.close();
    Deno.exit(0);
  });
}

/** A running child and the last status it printed. */
interface Child {
  id: NodeId;
  process: Deno.ChildProcess;
  status?: NodeStatus;
  /** The signal we sent it, if any: its exit is then expected. */
  stopping?: "SIGTERM" | "SIGKILL";
  exited: Promise<void>;
}

/**
 * Runs the soak (see the module doc) and resolves with what it found; leaves no process.
 *
 * @example
 * ```ts ignore
 * const r = await runSoak({ restarts: 20, nodes: 3, protocol: "h2" });
 * console.log(r.aborts, r.allConnected);
 * ```
 */
export async function runSoak(options: SoakOptions): Promise<SoakResult> {
  const started = performance.now();
  const ids = Array.from({ length: options.nodes }, (_, i) => i + 1);
  const scheme = options.tls ? "https" : "http";
  const urls = new Map(ids.map((id) => [id, `${scheme}://127.0.0.1:${freePort()}`]));
  const certDir = options.tls ? await Deno.makeTempDir({ prefix: "edgeraft_soak_" }) : undefined;
  let pemsJson: string | undefined;
  if (certDir) {
    const files = await testCertificates(certDir, "node");
    const [ca, cert, key] = await Promise.all(
      [files.ca, files.cert, files.key].map((f) => Deno.readTextFile(f)),
    );
    pemsJson = JSON.stringify({ ca, cert, key });
  }
  const urlArg = [...urls].map(([id, url]) => `${id}=${url}`).join(",");
  const children = new Map<NodeId, Child>();
  const abortDetails: string[] = [];
  let graceful = 0;
  let killed = 0;
  let slowReconnects = 0;

  const start = (id: NodeId): Child => {
    const process = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", import.meta.filename!, "--node", String(id), urlArg, options.protocol],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: pemsJson ? { SOAK_PEMS: pemsJson } : {},
    }).spawn();
    const child: Child = { id, process, exited: Promise.resolve() };
    const readLines = async () => {
      let text = "";
      const decoder = new TextDecoder();
      for await (const chunk of process.stdout) {
        text += decoder.decode(chunk, { stream: true });
        let at;
        while ((at = text.indexOf("\n")) >= 0) {
          const line = text.slice(0, at);
          text = text.slice(at + 1);
          try {
            child.status = JSON.parse(line);
          } catch {
            // Not a status line.
          }
        }
      }
    };
    const stderr = new Response(process.stderr).text();
    child.exited = Promise.all([readLines(), process.status, stderr]).then(([, status, err]) => {
      const expected = child.stopping === "SIGKILL"
        ? status.signal === "SIGKILL"
        : child.stopping === "SIGTERM" && status.code === 0 && status.signal === null;
      if (!expected) {
        abortDetails.push(
          `node ${id} (${child.stopping ?? "not stopped"}) exited with code ${status.code}` +
            ` signal ${status.signal}: ${err.trim().split("\n").slice(-3).join(" | ")}`,
        );
      }
    });
    children.set(id, child);
    return child;
  };

  /** Whether every running node has its stream up to, and hears from, every other one. */
  const whole = () =>
    ids.every((id) => {
      const s = children.get(id)?.status;
      return s !== undefined && s.up.length === ids.length - 1 &&
        s.heard.length === ids.length - 1;
    });
  const waitWhole = async (timeoutMs: number): Promise<boolean> => {
    const deadline = performance.now() + timeoutMs;
    while (performance.now() < deadline) {
      if (whole()) return true;
      await new Promise((r) => setTimeout(r, 50));
    }
    return whole();
  };

  let random = 12345;
  const next = () => (random = (random * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  try {
    ids.forEach(start);
    if (!await waitWhole(30_000)) throw new Error("the cluster never connected at the start");
    for (let r = 1; r <= options.restarts; r++) {
      const victim = children.get(ids[Math.floor(next() * ids.length)])!;
      victim.stopping = next() < 0.5 ? "SIGTERM" : "SIGKILL";
      if (victim.stopping === "SIGTERM") graceful++;
      else killed++;
      // Let the victim run a little, so that its streams carry traffic when it goes.
      await new Promise((res) => setTimeout(res, 20 + next() * 200));
      victim.process.kill(victim.stopping);
      await victim.exited;
      start(victim.id);
      // Statuses from before the restart do not count: wait for fresh ones from everyone.
      for (const c of children.values()) c.status = undefined;
      if (!await waitWhole(RECONNECT_TIMEOUT_MS)) slowReconnects++;
      if (r % 50 === 0) {
        options.onProgress?.(
          `${r} restarts, ${abortDetails.length} aborts, ${slowReconnects} slow reconnects`,
        );
      }
    }
    const allConnected = await waitWhole(RECONNECT_TIMEOUT_MS);
    const statuses = [...children.values()].map((c) => c.status);
    return {
      restarts: options.restarts,
      graceful,
      killed,
      aborts: abortDetails.length,
      abortDetails,
      slowReconnects,
      allConnected,
      delivered: statuses.reduce((n, s) => n + (s?.delivered ?? 0), 0),
      calls: statuses.reduce((n, s) => n + (s?.calls ?? 0), 0),
      wallSeconds: Math.round((performance.now() - started) / 1000),
    };
  } finally {
    for (const c of children.values()) {
      c.stopping = "SIGKILL";
      try {
        c.process.kill("SIGKILL");
      } catch {
        // Already gone.
      }
    }
    await Promise.all([...children.values()].map((c) => c.exited));
    if (certDir) await Deno.remove(certDir, { recursive: true });
  }
}

if (import.meta.main) {
  if (Deno.args[0] === "--node") {
    const urls = new Map(
      Deno.args[2].split(",").map((part) => {
        const [id, url] = part.split("=");
        return [Number(id), url] as [NodeId, string];
      }),
    );
    const pems = Deno.env.get("SOAK_PEMS");
    runNode(Number(Deno.args[1]), urls, Deno.args[3] as PeerProtocol, pems && JSON.parse(pems));
  } else {
    const result = await runSoak({
      restarts: Number(Deno.args[0] ?? 500),
      nodes: Number(Deno.args[1] ?? 3),
      protocol: (Deno.args[2] ?? "h2") as PeerProtocol,
      tls: Deno.args[3] === "tls",
      onProgress: (line) => console.error(line),
    });
    console.log(JSON.stringify(result));
    Deno.exit(result.aborts === 0 && result.allConnected ? 0 : 1);
  }
}
