/**
 * The node process: `deno task start` (one node, data under ./data) or one member of a cluster
 * (`--id`, `--peers`, ...; see `--help`). Bad configuration gets one line and exit code 2: a bad
 * flag, an unreadable tokens or TLS file, a port already in use (checked before the data
 * directory is touched) or a data directory that cannot be used.
 *
 * @module
 */

import { createApp } from "../api/app.ts";
import { type ClientServer, serveClientPort } from "../api/http_front.ts";
import { createLogger } from "../node/logger.ts";
import { RaftNode } from "../node/raft_node.ts";
import { openWriteTrace } from "../node/write_trace.ts";
import type { TokenConfig } from "../api/mod.ts";
import { DataDirLockedError, DataDirUnusableError } from "../storage/data_dir_lock.ts";
import { KvStorage } from "../storage/kv_storage.ts";
import { PeerTransport } from "../transport/peer_transport.ts";
import { startMallocTrim } from "./malloc_trim.ts";
import { ConfigError, type NodeConfig, parseNodeConfig, usage } from "./node_config.ts";
import { loadTokens } from "./tokens_file.ts";

function die(message: string, code: number): never {
  console.error(`edgeraft: ${message}`);
  Deno.exit(code);
}

/** The PEM files a node reads at start, read before anything else is touched. */
interface StartupFiles {
  tokens?: TokenConfig[];
  /** The peer port's certificate, key and cluster CA, and the certificate shown to peers. */
  peerTls: {
    cert?: string;
    key?: string;
    ca?: string;
    client?: { cert: string; key: string };
  };
  /** The client API's certificate and key, when it serves HTTPS. */
  clientTls?: { cert: string; key: string };
}

/**
 * Reads the tokens file and every TLS file, and checks that the trace file can be written; a
 * mistake is a `ConfigError` naming the flag and the file.
 */
async function readStartupFiles(cfg: NodeConfig): Promise<StartupFiles> {
  const tokens = cfg.tokensFile === undefined ? undefined : await loadTokens(cfg.tokensFile)
    .catch((e: Error) => {
      throw new ConfigError(e.message);
    });
  const read = (flag: string, path?: string) => {
    if (path === undefined) return undefined;
    try {
      return Deno.readTextFileSync(path);
    } catch (e) {
      throw new ConfigError(`cannot read the ${flag} file ${path}: ${(e as Error).message}`);
    }
  };
  const peerTls = {
    cert: read("--tls-cert", cfg.tlsCert),
    key: read("--tls-key", cfg.tlsKey),
    ca: read("--tls-ca", cfg.tlsCa),
    client: undefined as { cert: string; key: string } | undefined,
  };
  const peerClientCert = read("--tls-client-cert", cfg.tlsClientCert);
  const peerClientKey = read("--tls-client-key", cfg.tlsClientKey);
  if (peerClientCert !== undefined && peerClientKey !== undefined) {
    peerTls.client = { cert: peerClientCert, key: peerClientKey };
  }
  const cert = read("--client-tls-cert", cfg.clientTlsCert);
  const key = read("--client-tls-key", cfg.clientTlsKey);
  const clientTls = cert !== undefined && key !== undefined ? { cert, key } : undefined;
  if (cfg.traceFile !== undefined) {
    // The trace is written in batches while the node runs: a path it cannot write would stop
    // the node mid-run, so it is tried now (created empty, or appended to as the trace is).
    try {
      Deno.openSync(cfg.traceFile, { append: true, create: true }).close();
    } catch (e) {
      throw new ConfigError(
        `cannot write the --trace-file ${cfg.traceFile}: ${(e as Error).message}`,
      );
    }
  }
  return { tokens, peerTls, clientTls };
}

/**
 * Refuses to go on when the client or the peer port cannot be listened on, before the data
 * directory is touched: a node that cannot serve must not start Raft and write its log first.
 * Each port is tried with its certificate, if any, so that a certificate or key that does not
 * parse is found here too. Binding and closing at once leaves a small window in which another
 * process could take the port; the real bind after it still reports that, only later.
 */
function checkPorts(cfg: NodeConfig, files: StartupFiles): void {
  const { cert, key } = files.peerTls;
  const peerTls = cert !== undefined && key !== undefined ? { cert, key } : undefined;
  const ports = [
    ["client", cfg.clientHost, cfg.clientPort, files.clientTls, "--client-tls-cert"],
    ["peer", cfg.peerHost, cfg.peerPort, peerTls, "--tls-cert"],
  ] as const;
  for (const [role, hostname, port, tls, certFlag] of ports) {
    try {
      if (tls === undefined) Deno.listen({ hostname, port }).close();
      else Deno.listenTls({ hostname, port, ...tls }).close();
    } catch (e) {
      if (e instanceof Deno.errors.AddrInUse) {
        throw new ConfigError(`${role} address ${hostname}:${port} is in use`);
      }
      if (tls !== undefined && !(e instanceof Deno.errors.AddrNotAvailable)) {
        const keyFlag = certFlag.replace("cert", "key");
        throw new ConfigError(
          `${certFlag} and ${keyFlag} do not make a TLS server: ${(e as Error).message}`,
        );
      }
      throw new ConfigError(
        `cannot listen on the ${role} address ${hostname}:${port}: ${(e as Error).message}`,
      );
    }
  }
}

/**
 * Serves the client API on the configured address, over HTTPS when the node has a client
 * certificate. Kept in one place so that whatever stands in front of the handler (limits,
 * timeouts) is added here once.
 */
function serveClientApi(
  cfg: NodeConfig,
  tls: StartupFiles["clientTls"],
  handler: Deno.ServeHandler,
  onListen: (url: string) => void,
): Promise<ClientServer> {
  const scheme = tls === undefined ? "http" : "https";
  return serveClientPort({
    hostname: cfg.clientHost,
    port: cfg.clientPort,
    ...(tls ?? {}),
    limits: {
      headerTimeoutMs: cfg.headerTimeoutMs,
      idleTimeoutMs: cfg.idleTimeoutMs,
      bodyTimeoutMs: cfg.bodyTimeoutMs,
    },
    onListen: ({ hostname, port }) => onListen(`${scheme}://${hostname}:${port}`),
  }, handler);
}

async function main(): Promise<void> {
  if (Deno.args.includes("--help") || Deno.args.includes("-h")) {
    console.log(usage());
    return;
  }
  let cfg: NodeConfig;
  let files: StartupFiles;
  try {
    cfg = parseNodeConfig(Deno.args, Deno.env.toObject());
    files = await readStartupFiles(cfg);
    checkPorts(cfg, files);
  } catch (e) {
    if (e instanceof ConfigError) die(e.message, 2);
    throw e;
  }
  const logger = createLogger({ nodeId: cfg.id, format: cfg.logFormat });
  let storage: KvStorage;
  try {
    storage = await KvStorage.open(cfg.dataDir);
  } catch (e) {
    if (e instanceof DataDirLockedError || e instanceof DataDirUnusableError) die(e.message, 2);
    // Deno KV's own refusals (raft.kv not a file, or read-only) are plain Errors: name them.
    const message = (e as Error).message ?? "";
    if (/unable to open database|readonly database|not a database/i.test(message)) {
      die(`data directory ${cfg.dataDir} cannot be used: raft.kv: ${message.trim()}`, 2);
    }
    throw e;
  }
  const trace = cfg.traceFile === undefined ? undefined : openWriteTrace(cfg.traceFile, cfg.id);
  const tls = files.peerTls;
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
          protocol: cfg.peerProtocol,
          events,
          ca: tls.ca,
          clientCert: tls.client,
          listen: {
            hostname: cfg.peerHost,
            port: cfg.peerPort,
            cert: tls.cert,
            key: tls.key,
            // Mutual TLS: a node that shows a certificate to its peers requires theirs.
            requireClientCert: tls.client !== undefined,
          },
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
    tokens: files.tokens,
    logger,
  });
  let server: ClientServer;
  try {
    server = await serveClientApi(
      cfg,
      files.clientTls,
      app.fetch,
      (client) =>
        logger.log("info", "listening", {
          client,
          peer: cfg.peers.get(cfg.id),
          dataDir: cfg.dataDir,
        }),
    );
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
