/**
 * The node process: `deno task start` (one node, data under ./data) or one member of a cluster
 * (`--id`, `--peers`, ...; see `--help`). Bad configuration gets one line and exit code 2: a bad
 * flag, an unreadable tokens or TLS file, an unreadable backup (`--restore-from`), a port already
 * in use (checked before the data directory is touched), a data directory that cannot be used,
 * or a join the cluster refused.
 *
 * How a data directory begins, once (then `<data-dir>/node.json` says who the node is):
 * founded with `--peers` (the cluster id derived from them), joined with `--join` (added as a
 * learner, started from a member's snapshot), or restored with `--restore-from` (a new cluster
 * from a backup). SIGTERM or SIGINT on a leader hands leadership over before the node stops,
 * so that a rolling restart waits out no election timeout.
 *
 * @module
 */

import { createApp } from "../api/app.ts";
import { type ClientServer, serveClientPort } from "../api/http_front.ts";
import { createLogger, type Logger } from "../node/logger.ts";
import { RaftNode } from "../node/raft_node.ts";
import { openWriteTrace } from "../node/write_trace.ts";
import type { TokenConfig } from "../api/mod.ts";
import { forNewCluster, startFromBackup } from "../node/bootstrap.ts";
import type { NodeId } from "../raft/types.ts";
import { type Backup, BackupFileError, decodeBackup } from "../storage/backup_file.ts";
import { DataDirLockedError, DataDirUnusableError } from "../storage/data_dir_lock.ts";
import { KvStorage } from "../storage/kv_storage.ts";
import { PeerTransport } from "../transport/peer_transport.ts";
import { joinCluster, JoinError } from "./join.ts";
import { quietSinceLastAsked, startMallocTrim } from "./malloc_trim.ts";
import { HeartbeatKeeper } from "../node/heartbeat_keeper.ts";
import { runQueueWaitReader } from "../node/run_queue_wait.ts";
import { ConfigError, dataDirOf, type NodeConfig, parseNodeConfig, usage } from "./node_config.ts";
import {
  foundersRecord,
  foundingClusterId,
  IdentityFileError,
  type NodeIdentity,
  readIdentity,
  restoredClusterId,
  writeIdentity,
} from "./node_identity.ts";
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

/** How long a joining node keeps asking while the cluster has no leader or is changing. */
const JOIN_TIMEOUT_MS = 30_000;

/** A backup to start from (`--restore-from`), read and checked before anything is touched. */
interface Restore {
  backup: Backup;
  checksum: string;
}

/**
 * Reads and checks the `--restore-from` file; a missing, truncated or corrupt one is a
 * `ConfigError` (one line, exit 2, nothing started).
 */
async function readRestore(path: string): Promise<Restore> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    throw new ConfigError(`cannot read the --restore-from file ${path}: ${(e as Error).message}`);
  }
  try {
    const backup = await decodeBackup(bytes);
    // Its checksum was checked against the header as it was read: no second pass over the data.
    return { backup, checksum: backup.sha256 };
  } catch (e) {
    if (e instanceof BackupFileError) throw new ConfigError(`--restore-from ${path}: ${e.message}`);
    throw e;
  }
}

/** Whether the data directory holds nothing yet (or does not exist). */
async function isEmptyDir(path: string): Promise<boolean> {
  try {
    for await (const _ of Deno.readDir(path)) return false;
    return true;
  } catch (e) {
    // Missing: empty. A file or unreadable: the storage reports it in its own words.
    return e instanceof Deno.errors.NotFound || !(e instanceof Deno.errors.PermissionDenied);
  }
}

/**
 * Where the node's data begins when its directory has no identity yet: a `--join`, a
 * `--restore-from`, or neither (a founder). Checked before anything is started: a restore or
 * a join needs an empty data directory.
 */
async function checkBeginning(
  cfg: NodeConfig,
  stored: NodeIdentity | undefined,
  restore: Restore | undefined,
): Promise<void> {
  if (stored !== undefined) {
    if (restore !== undefined && stored.restoredFrom !== restore.checksum) {
      throw new ConfigError(
        `data directory ${cfg.dataDir} is not empty (node ${stored.id} of cluster ` +
          `${stored.clusterId}): --restore-from starts a new cluster on empty data directories`,
      );
    }
    return;
  }
  if ((cfg.join !== undefined || restore !== undefined) && !(await isEmptyDir(cfg.dataDir))) {
    const flag = cfg.join !== undefined ? "--join" : "--restore-from";
    throw new ConfigError(
      `data directory ${cfg.dataDir} is not empty but has no node.json: ${flag} starts only ` +
        `an empty data directory (remove its contents, or start without ${flag})`,
    );
  }
}

/** The maps `createApp` starts with, from the node's member directory. */
function directoryMaps(
  node: RaftNode,
): { peers: Map<NodeId, string>; clientUrls: Map<NodeId, string> } {
  const peers = new Map<NodeId, string>();
  const clientUrls = new Map<NodeId, string>();
  for (const [id, m] of node.directory().members) {
    peers.set(id, m.peerUrl);
    if (m.clientUrl !== "") clientUrls.set(id, m.clientUrl);
  }
  return { peers, clientUrls };
}

/** A `malloc_trim` this long is logged (it holds malloc's locks for the whole process). */
const SLOW_TRIM_MS = 50;

/**
 * Fewer entries applied than this since the trimmer last asked (one `--malloc-trim-ms`, 5 s by
 * default) is quiet enough to trim: lease ticks and a trickle of writes are, a sustained load
 * (thousands of writes a second) is not (see malloc_trim.ts).
 */
const TRIM_QUIET_ENTRIES = 500;

async function main(): Promise<void> {
  if (Deno.args.includes("--help") || Deno.args.includes("-h")) {
    console.log(usage());
    return;
  }
  const env = Deno.env.toObject();
  let cfg: NodeConfig;
  let files: StartupFiles;
  let stored: NodeIdentity | undefined;
  let restore: Restore | undefined;
  try {
    stored = await readIdentity(dataDirOf(Deno.args, env)).catch((e) => {
      if (e instanceof IdentityFileError) throw new ConfigError(e.message);
      throw e;
    });
    cfg = parseNodeConfig(Deno.args, env, stored);
    files = await readStartupFiles(cfg);
    if (cfg.restoreFrom !== undefined) restore = await readRestore(cfg.restoreFrom);
    await checkBeginning(cfg, stored, restore);
    checkPorts(cfg, files);
  } catch (e) {
    if (e instanceof ConfigError) die(e.message, 2);
    throw e;
  }
  let logger = createLogger({ nodeId: cfg.id ?? 0, format: cfg.logFormat });
  if (stored !== undefined && cfg.join !== undefined) {
    logger.log("info", "this data directory has joined already (node.json): --join is ignored", {
      id: stored.id,
      clusterId: stored.clusterId,
    });
  }
  if (stored !== undefined && restore !== undefined) {
    logger.log(
      "info",
      "this data directory was restored from this backup: --restore-from is ignored",
      {
        id: stored.id,
        clusterId: stored.clusterId,
      },
    );
  }
  // A new data directory: where it begins (the identity is written once its storage holds it).
  let identity = stored;
  let startFrom: Backup | undefined;
  if (identity === undefined && cfg.join !== undefined) {
    logger.log("info", "joining", {
      via: cfg.join,
      peerUrl: cfg.advertisePeerUrl,
      clientUrl: cfg.advertiseClientUrl,
    });
    try {
      const joined = await joinCluster({
        urls: cfg.join,
        token: cfg.joinToken,
        id: cfg.id,
        peerUrl: cfg.advertisePeerUrl,
        clientUrl: cfg.advertiseClientUrl,
        timeoutMs: JOIN_TIMEOUT_MS,
        log: (event, fields) => logger.log("info", event, fields),
      });
      identity = { id: joined.id, clusterId: joined.backup.clusterId, origin: "joined" };
      startFrom = joined.backup;
      logger = createLogger({ nodeId: joined.id, format: cfg.logFormat });
      logger.log("info", "joined: starting from a member's snapshot", {
        via: joined.via,
        clusterId: joined.backup.clusterId,
        index: joined.backup.index,
        term: joined.backup.term,
      });
    } catch (e) {
      if (e instanceof JoinError) die(e.message, 2);
      throw e;
    }
  } else if (identity === undefined && restore !== undefined) {
    const clusterId = await restoredClusterId(cfg.peers, restore.checksum);
    const voters = [...cfg.peers.keys()].sort((a, b) => a - b);
    startFrom = forNewCluster(restore.backup, { voters, learners: [] }, clusterId);
    identity = {
      id: cfg.id!,
      clusterId,
      origin: "restored",
      restoredFrom: restore.checksum,
      founders: foundersRecord(cfg.peers, cfg.clientUrls),
    };
    logger.log("info", "restoring a new cluster from a backup", {
      file: cfg.restoreFrom,
      from: restore.backup.clusterId,
      clusterId,
      index: restore.backup.index,
      voters,
    });
  } else if (identity === undefined) {
    identity = {
      id: cfg.id!,
      clusterId: await foundingClusterId(cfg.peers),
      origin: "founded",
      founders: foundersRecord(cfg.peers, cfg.clientUrls),
    };
  }
  const id = identity.id;
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
  if (stored === undefined) {
    try {
      if (startFrom !== undefined) await startFromBackup(storage, startFrom);
      // Last: a data directory with node.json is a complete one.
      await writeIdentity(cfg.dataDir, identity);
    } catch (e) {
      storage.close();
      die(`data directory ${cfg.dataDir}: ${(e as Error).message}`, 2);
    }
  }
  const trace = cfg.traceFile === undefined ? undefined : openWriteTrace(cfg.traceFile, id);
  const tls = files.peerTls;
  if (cfg.defaultSecret && (cfg.peers.size > 1 || identity.origin === "joined")) {
    logger.log(
      "warn",
      "no --cluster-secret given: using the development default; set one in production",
    );
  }
  // Set once the process can stop itself; a removal applied before that is kept for then.
  const removed = Promise.withResolvers<void>();
  // Another thread keeps the leader's heartbeats going through stalls of the event loop.
  const keeper = cfg.stallHeartbeatMs > 0
    ? HeartbeatKeeper.start({
      nodeId: id,
      clusterSecret: cfg.clusterSecret,
      peers: [...cfg.peers].filter(([peer]) => peer !== id),
      ca: tls.ca,
      clientCert: tls.client,
      heartbeatMs: cfg.heartbeatTicks * cfg.tickMs,
      maxStallMs: cfg.stallHeartbeatMs,
    })
    : undefined;
  keeper?.ready.then(() =>
    logger.log("info", "heartbeat keeper started", { maxStallMs: cfg.stallHeartbeatMs })
  );
  // Opened here, on the main thread, whose wait it reads (the ticks run here).
  const cpuWait = runQueueWaitReader();
  let node: RaftNode;
  try {
    node = await RaftNode.start({
      keeper,
      runQueueWaitMs: cpuWait?.read,
      id,
      // A joined node's members come from its snapshot and log (its config has no peers).
      peers: cfg.peers,
      clientUrls: cfg.clientUrls,
      clusterId: identity.clusterId,
      onRemoved: () => removed.resolve(),
      storage,
      logger,
      trace: trace?.record,
      tickMs: cfg.tickMs,
      raft: { electionTicks: cfg.electionTicks, heartbeatTicks: cfg.heartbeatTicks },
      snapshotEntries: cfg.snapshotEntries,
      snapshotPolicy: { logRatio: cfg.snapshotLogRatio, maxLogBytes: cfg.snapshotLogMaxBytes },
      transport: (events) =>
        new PeerTransport({
          nodeId: id,
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
    keeper?.stop();
    if (e instanceof Deno.errors.AddrInUse) {
      die(`peer address ${cfg.peerHost}:${cfg.peerPort} is in use`, 2);
    }
    throw e;
  }
  const app = createApp(node, {
    clusterId: identity.clusterId,
    ...directoryMaps(node),
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
          peer: node.directory().members.get(id)?.peerUrl ?? cfg.advertisePeerUrl,
          dataDir: cfg.dataDir,
          clusterId: identity.clusterId,
        }),
    );
  } catch (e) {
    await node.stop();
    if (e instanceof Deno.errors.AddrInUse) {
      die(`client address ${cfg.clientHost}:${cfg.clientPort} is in use`, 2);
    }
    throw e;
  }

  const trimmer = cfg.mallocTrimMs > 0
    ? startMallocTrim(cfg.mallocTrimMs, {
      when: quietSinceLastAsked(() => node.appliedIndex(), TRIM_QUIET_ENTRIES),
      onTrimmed: (ms, released) => {
        // Long ones hold the whole process (malloc's locks), heartbeat keeper included: say so.
        if (ms >= SLOW_TRIM_MS) {
          logger.log("warn", "malloc_trim was slow", { ms: Math.round(ms), released });
        }
      },
    })
    : undefined;
  // Two of the longest election timeouts (they are drawn from [T, 2T)): a transfer to a
  // caught-up voter takes a round trip and a vote; one that takes longer is not worth waiting.
  const handOverMs = Math.max(1000, 4 * cfg.electionTicks * cfg.tickMs);

  let stopping = false;
  const shutdown = async (reason: string, code: number, handOver: boolean) => {
    if (stopping) return;
    stopping = true;
    logger.log("info", "shutting down", { reason });
    // A leader with another voter hands over; a cluster of one has nobody to hand over to.
    if (handOver && node.isLeader() && node.status().conf.voters.length > 1) {
      await handLeadershipOver(node, logger, handOverMs);
    }
    trimmer?.stop();
    await server.shutdown();
    await node.stop();
    keeper?.stop();
    cpuWait?.close();
    trace?.close();
    Deno.exit(code);
  };
  startStallFailpoint(node, logger);
  Deno.addSignalListener("SIGINT", () => shutdown("SIGINT", 0, true));
  Deno.addSignalListener("SIGTERM", () => shutdown("SIGTERM", 0, true));
  // The cluster removed this node: its work here is done (RaftNode logged how it learnt it).
  removed.promise.then(() => shutdown("removed from the cluster", 0, false));
  // A node whose disk failed must not go on (its core would be ahead of its disk).
  const watchdog = setInterval(() => {
    if (node.failure) {
      clearInterval(watchdog);
      shutdown(`failure: ${node.failure.message}`, 1, false);
    }
  }, 100);
}

/**
 * Hands leadership to the most caught-up live voter before this leader stops, so that the
 * others need not wait out an election timeout; bounded by `timeoutMs`, after which (or on a
 * refusal: no other voter) the node stops anyway.
 */
async function handLeadershipOver(
  node: RaftNode,
  logger: ReturnType<typeof createLogger>,
  timeoutMs: number,
): Promise<void> {
  const started = performance.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no new leader within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    const answer = await Promise.race([node.membership.change({ op: "transfer" }), timeout]);
    logger.log("info", "handed leadership over", {
      to: "leader" in answer ? answer.leader : undefined,
      ms: Math.round(performance.now() - started),
    });
  } catch (e) {
    logger.log("warn", "could not hand leadership over; stopping anyway", {
      reason: (e as Error).message,
    });
  } finally {
    clearTimeout(timer);
  }
}

if (import.meta.main) await main();

/**
 * A failpoint for tests, as etcd has gofail: with `EDGERAFT_FAILPOINT_LEADER_STALL=MS/EVERY` in
 * the environment, a leader blocks its event loop for MS ms every EVERY ms, as a long garbage
 * collection does (tests/process/stall_test.ts). Never set in production.
 */
function startStallFailpoint(node: RaftNode, logger: Logger): void {
  const spec = Deno.env.get("EDGERAFT_FAILPOINT_LEADER_STALL");
  const match = spec ? /^(\d+)\/(\d+)$/.exec(spec) : null;
  if (!match) return;
  const [stallMs, everyMs] = [Number(match[1]), Number(match[2])];
  logger.log("warn", "failpoint: the leader stalls its event loop", { stallMs, everyMs });
  const timer = setInterval(() => {
    if (!node.isLeader()) return;
    const until = performance.now() + stallMs;
    while (performance.now() < until) {
      // blocked, as in a stop-the-world collection
    }
  }, everyMs);
  Deno.unrefTimer(timer);
}
