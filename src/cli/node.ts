/**
 * The node process: `deno task start` (one node, data under ./data) or one member of a cluster
 * (`--id`, `--peers`, ...; see `--help`). Bad configuration gets one line and exit code 2.
 *
 * @module
 */

import { createApp } from "../api/app.ts";
import { createLogger } from "../node/logger.ts";
import { RaftNode } from "../node/raft_node.ts";
import { openWriteTrace } from "../node/write_trace.ts";
import { DataDirLockedError } from "../storage/data_dir_lock.ts";
import { KvStorage } from "../storage/kv_storage.ts";
import { PeerTransport } from "../transport/peer_transport.ts";
import { startMallocTrim } from "./malloc_trim.ts";
import { ConfigError, type NodeConfig, parseNodeConfig, usage } from "./node_config.ts";
import { loadTokens } from "./tokens_file.ts";

function die(message: string, code: number): never {
  console.error(`edgeraft: ${message}`);
  Deno.exit(code);
}

async function main(): Promise<void> {
  if (Deno.args.includes("--help") || Deno.args.includes("-h")) {
    console.log(usage());
    return;
  }
  let cfg: NodeConfig;
  try {
    cfg = parseNodeConfig(Deno.args, Deno.env.toObject());
  } catch (e) {
    if (e instanceof ConfigError) die(e.message, 2);
    throw e;
  }
  const logger = createLogger({ nodeId: cfg.id, format: cfg.logFormat });
  const trace = cfg.traceFile === undefined ? undefined : openWriteTrace(cfg.traceFile, cfg.id);
  const tokens = cfg.tokensFile
    ? await loadTokens(cfg.tokensFile).catch((e) => die(e.message, 2))
    : undefined;
  await Deno.mkdir(cfg.dataDir, { recursive: true });
  let storage: KvStorage;
  try {
    storage = await KvStorage.open(cfg.dataDir);
  } catch (e) {
    if (e instanceof DataDirLockedError) die(e.message, 2);
    throw e;
  }
  const readFile = (path?: string) => (path ? Deno.readTextFileSync(path) : undefined);
  let tls: { cert?: string; key?: string; ca?: string };
  try {
    tls = { cert: readFile(cfg.tlsCert), key: readFile(cfg.tlsKey), ca: readFile(cfg.tlsCa) };
  } catch (e) {
    die(`cannot read a TLS file: ${(e as Error).message}`, 2);
  }
  if (cfg.defaultSecret && cfg.peers.size > 1) {
    logger.log(
      "warn",
      "no --cluster-secret given: using the development default; set one in production",
    );
  }
  let node: RaftNode;
  try {
    node = await RaftNode.start({
      id: cfg.id,
      peers: cfg.peers,
      storage,
      logger,
      trace: trace?.record,
      tickMs: cfg.tickMs,
      raft: { electionTicks: cfg.electionTicks, heartbeatTicks: cfg.heartbeatTicks },
      snapshotEntries: cfg.snapshotEntries,
      transport: (events) =>
        new PeerTransport({
          nodeId: cfg.id,
          clusterSecret: cfg.clusterSecret,
          client: cfg.peerProtocol === "h2" ? "node-http2" : "fetch-http1",
          stream: cfg.peerProtocol === "ws",
          events,
          ca: tls.ca,
          listen: { hostname: cfg.peerHost, port: cfg.peerPort, cert: tls.cert, key: tls.key },
        }),
    });
  } catch (e) {
    storage.close();
    if (e instanceof Deno.errors.AddrInUse) {
      die(`peer address ${cfg.peerHost}:${cfg.peerPort} is in use`, 2);
    }
    throw e;
  }
  const app = createApp(node, {
    clusterId: "edgeraft",
    peers: cfg.peers,
    clientUrls: cfg.clientUrls,
    tokens,
    logger,
  });
  let server: Deno.HttpServer;
  try {
    server = Deno.serve({
      hostname: cfg.clientHost,
      port: cfg.clientPort,
      onListen: ({ hostname, port }) =>
        logger.log("info", "listening", {
          client: `http://${hostname}:${port}`,
          peer: cfg.peers.get(cfg.id),
          dataDir: cfg.dataDir,
        }),
    }, app.fetch);
  } catch (e) {
    await node.stop();
    if (e instanceof Deno.errors.AddrInUse) {
      die(`client address ${cfg.clientHost}:${cfg.clientPort} is in use`, 2);
    }
    throw e;
  }

  const trimmer = cfg.mallocTrimMs > 0 ? startMallocTrim(cfg.mallocTrimMs) : undefined;

  let stopping = false;
  const shutdown = async (reason: string, code: number) => {
    if (stopping) return;
    stopping = true;
    logger.log("info", "shutting down", { reason });
    trimmer?.stop();
    await server.shutdown();
    await node.stop();
    trace?.close();
    Deno.exit(code);
  };
  Deno.addSignalListener("SIGINT", () => shutdown("SIGINT", 0));
  Deno.addSignalListener("SIGTERM", () => shutdown("SIGTERM", 0));
  // A node whose disk failed must not go on (its core would be ahead of its disk).
  const watchdog = setInterval(() => {
    if (node.failure) {
      clearInterval(watchdog);
      shutdown(`failure: ${node.failure.message}`, 1);
    }
  }, 100);
}

if (import.meta.main) await main();
