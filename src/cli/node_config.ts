/**
 * The node's configuration from flags and environment variables, validated into one object;
 * a mistake becomes one clear sentence (the CLI prints it and exits with code 2).
 *
 * @module
 */

import type { NodeId } from "../raft/types.ts";
import type { NodeIdentity } from "./node_identity.ts";

/** A configuration mistake, worded for the operator. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

/** Everything a node process needs to start. */
export interface NodeConfig {
  /**
   * This node's id: `--id`, else the one its data directory keeps (`node.json`), else 1; left
   * undefined only for a node that joins without `--id` (the cluster assigns one).
   */
  id: NodeId | undefined;
  /** `--join`: client URLs of members of a running cluster to join (tried in turn). */
  join?: string[];
  /** `--join-token`: the bearer token (admin scope) for the join's requests. */
  joinToken?: string;
  /** `--restore-from`: a backup file a new cluster starts from. */
  restoreFrom?: string;
  /** The peer URL this node is reached at, as the cluster should record it (`--join`). */
  advertisePeerUrl: string;
  /** The client URL this node is reached at, as the cluster should record it (`--join`). */
  advertiseClientUrl: string;
  dataDir: string;
  clientHost: string;
  clientPort: number;
  peerHost: string;
  peerPort: number;
  /** id -> peer URL, this node included; empty for a node that joins (it learns them). */
  peers: Map<NodeId, string>;
  /** id -> client URL, when known (for X-Leader). */
  clientUrls: Map<NodeId, string>;
  clusterSecret: string;
  /** True when no secret was given and the development default is used. */
  defaultSecret: boolean;
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
  /**
   * A certificate (and key) this node presents to peers over TLS: mutual TLS, and then its
   * peer port requires peers' certificates signed by `tlsCa`.
   */
  tlsClientCert?: string;
  tlsClientKey?: string;
  /** PEM certificate chain of the client API: with `clientTlsKey`, the client port is HTTPS. */
  clientTlsCert?: string;
  /** PEM private key of the client API's certificate. */
  clientTlsKey?: string;
  tickMs: number;
  electionTicks: number;
  heartbeatTicks: number;
  snapshotEntries: number;
  /** Compact once the log holds this fraction of the last snapshot's bytes. */
  snapshotLogRatio: number;
  /** Bytes of log past which `snapshotEntries` no longer holds compaction back. */
  snapshotLogMaxBytes: number;
  logFormat?: "json" | "pretty";
  /** Path of a JSON file of API tokens (see docs/api.md). */
  tokensFile?: string;
  /**
   * How peer messages travel: one long-lived HTTP/2 stream per peer (`h2`, the default), a
   * WebSocket per peer (`ws`, plain TCP only), or HTTP/1.1 requests (`http1`, the fallback).
   */
  peerProtocol: "h2" | "ws" | "http1";
  /** Give glibc's free memory back to the kernel this often (0: never); see malloc_trim.ts. */
  mallocTrimMs: number;
  /** How long a worker sends the leader's heartbeats while the event loop stalls (0: never). */
  stallHeartbeatMs: number;
  /** Append a timeline of the write path here (src/node/write_trace.ts); off when unset. */
  traceFile?: string;
  /** Client port: a request head must arrive within this long of its first byte (408). */
  headerTimeoutMs: number;
  /** Client port: a connection without a request under way is closed after this long. */
  idleTimeoutMs: number;
  /** Client port: a request body must arrive within this long of its head (408). */
  bodyTimeoutMs: number;
}

/** The flags, each also readable from EDGERAFT_<NAME> (dashes as underscores). */
export const FLAGS = [
  "id",
  "data-dir",
  "client-addr",
  "peer-addr",
  "client-port",
  "peer-port",
  "advertise-client-url",
  "advertise-peer-url",
  "join",
  "join-token",
  "restore-from",
  "peers",
  "client-urls",
  "cluster-secret",
  "tls-cert",
  "tls-key",
  "tls-ca",
  "tls-client-cert",
  "tls-client-key",
  "client-tls-cert",
  "client-tls-key",
  "timing",
  "tick-ms",
  "election-ticks",
  "heartbeat-ticks",
  "snapshot-entries",
  "snapshot-log-ratio",
  "snapshot-log-max-mb",
  "log-format",
  "tokens-file",
  "peer-protocol",
  "malloc-trim-ms",
  "stall-heartbeat-ms",
  "trace-file",
  "header-timeout-ms",
  "idle-timeout-ms",
  "body-timeout-ms",
] as const;

/** Addresses that bind every interface, and so name none a peer could reach. */
const WILDCARD_HOSTS: readonly string[] = ["0.0.0.0", "::"];

/** The development secret used when none is given (the node warns about it). */
export const DEV_SECRET = "edgeraft-dev-secret";

/** The flags given, by name (`--name value` or `--name=value`; a lone `--` is skipped). */
function readFlags(args: string[]): Map<string, string> {
  const given = new Map<string, string>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    // `deno task start -- --id 4` passes the `--` on.
    if (arg === "--") continue;
    if (!arg.startsWith("--")) throw new ConfigError(`unexpected argument "${arg}"`);
    const eq = arg.indexOf("=");
    const name = eq > 0 ? arg.slice(2, eq) : arg.slice(2);
    if (name === "help") throw new ConfigError(usage());
    if (!(FLAGS as readonly string[]).includes(name)) {
      throw new ConfigError(
        `unknown flag --${name} (known: ${FLAGS.map((f) => "--" + f).join(" ")})`,
      );
    }
    const value = eq > 0 ? arg.slice(eq + 1) : args[++i];
    if (value === undefined) throw new ConfigError(`--${name} needs a value`);
    given.set(name, value);
  }
  return given;
}

type Getter = (name: (typeof FLAGS)[number]) => string | undefined;

function getter(args: string[], env: Record<string, string | undefined>): Getter {
  const given = readFlags(args);
  return (name) => given.get(name) ?? env[`EDGERAFT_${name.toUpperCase().replaceAll("-", "_")}`];
}

/**
 * The data directory the flags and environment name, read first: the node's identity
 * (`node.json`) in it completes the configuration (`parseNodeConfig`'s `stored`).
 *
 * @example
 * ```ts
 * import { dataDirOf } from "./node_config.ts";
 * console.log(dataDirOf(["--", "--data-dir", "/srv/n4"], {})); // "/srv/n4"
 * ```
 */
export function dataDirOf(args: string[], env: Record<string, string | undefined>): string {
  return getter(args, env)("data-dir") ?? "./data";
}

/**
 * Parses flags (`--name value` or `--name=value`) over environment variables over defaults;
 * `stored` is the identity the data directory keeps (`node.json`), which gives the id when
 * `--id` does not and must agree with it when it does, and the founding `--peers` and
 * `--client-urls` when they are not given (a given `--peers` must name the same nodes).
 *
 * @example
 * ```ts
 * import { parseNodeConfig } from "./node_config.ts";
 * const cfg = parseNodeConfig(["--id", "1"], {});
 * console.log(cfg.clientPort, cfg.peers.get(1)); // 7001 http://127.0.0.1:7101
 * ```
 */
export function parseNodeConfig(
  args: string[],
  env: Record<string, string | undefined>,
  stored?: Pick<NodeIdentity, "id" | "origin" | "founders">,
): NodeConfig {
  const get = getter(args, env);
  const dataDir = get("data-dir") ?? "./data";
  const join = get("join") === undefined ? undefined : urlList("join", get("join")!);
  const restoreFrom = get("restore-from");
  if (join !== undefined && restoreFrom !== undefined) {
    throw new ConfigError(
      "--join and --restore-from do not go together: join a running cluster, or start a new one",
    );
  }
  if (join !== undefined && get("peers") !== undefined) {
    throw new ConfigError(
      "--join and --peers do not go together: a joining node learns the members from the cluster",
    );
  }
  const flagId = get("id") === undefined ? undefined : int("id", get("id")!, 1, 1_000_000);
  if (stored !== undefined && flagId !== undefined && flagId !== stored.id) {
    throw new ConfigError(
      `--id ${flagId} does not match the data directory ${dataDir}: it belongs to node ` +
        `${stored.id} (its node.json); start it with --id ${stored.id} or without --id`,
    );
  }
  const id = flagId ?? stored?.id ?? (join === undefined ? 1 : undefined);
  const clientAddr = portOrAddr("client", get("client-addr"), get("client-port"), id, 7000);
  const peerAddr = portOrAddr("peer", get("peer-addr"), get("peer-port"), id, 7100);
  const [clientHost, clientPort] = addr("client-addr", clientAddr);
  const [peerHost, peerPort] = addr("peer-addr", peerAddr);
  const founders = stored?.founders;
  const joined = join !== undefined || id === undefined || stored?.origin === "joined";
  const peers = joined
    ? new Map<NodeId, string>()
    : get("peers") !== undefined
    ? idMap("peers", get("peers")!)
    : founders !== undefined
    ? fromRecord(founders.peers)
    : new Map([[id, `http://127.0.0.1:${peerPort}`]]);
  if (!joined && !peers.has(id)) {
    throw new ConfigError(`--peers must include this node (id ${id}), got ${get("peers")}`);
  }
  if (founders !== undefined && !joined) {
    const want = Object.keys(founders.peers).map(Number).sort((a, b) => a - b).join(",");
    const got = [...peers.keys()].sort((a, b) => a - b).join(",");
    if (want !== got) {
      throw new ConfigError(
        `--peers names nodes ${got}, but the cluster of data directory ${dataDir} was founded ` +
          `by nodes ${want} (its node.json): flags cannot change the members; leave --peers ` +
          `out, or change members through the API (docs/operations.md)`,
      );
    }
  }
  const clientTlsCert = get("client-tls-cert");
  const clientTlsKey = get("client-tls-key");
  if ((clientTlsCert === undefined) !== (clientTlsKey === undefined)) {
    throw new ConfigError(
      "--client-tls-cert and --client-tls-key go together: give both or neither",
    );
  }
  const clientScheme = clientTlsCert === undefined ? "http" : "https";
  const urlHost = (host: string) => host === "0.0.0.0" ? "127.0.0.1" : host;
  const ownClientUrl = `${clientScheme}://${urlHost(clientHost)}:${clientPort}`;
  const clientUrls = get("client-urls")
    ? idMap("client-urls", get("client-urls")!)
    : founders !== undefined && get("peers") === undefined
    ? fromRecord(founders.clientUrls)
    : new Map(id === undefined ? [] : [[id, ownClientUrl]]);
  const secret = get("cluster-secret");
  const tlsCert = get("tls-cert");
  const tlsKey = get("tls-key");
  if ((tlsCert === undefined) !== (tlsKey === undefined)) {
    throw new ConfigError("--tls-cert and --tls-key go together: give both or neither");
  }
  if (join !== undefined) {
    // Bound to every interface, the node cannot tell which address the others reach it at;
    // 127.0.0.1 would be recorded for good in the member directory.
    for (const [role, host] of [["peer", peerHost], ["client", clientHost]] as const) {
      if (WILDCARD_HOSTS.includes(host) && get(`advertise-${role}-url`) === undefined) {
        throw new ConfigError(
          `--join with --${role}-addr ${host}:... needs --advertise-${role}-url: the URL ` +
            `the other members and clients reach this node's ${role} port at`,
        );
      }
    }
  }
  const advertisePeerUrl = oneUrl(
    "advertise-peer-url",
    get("advertise-peer-url") ?? (id === undefined ? undefined : peers.get(id)) ??
      `${tlsCert === undefined ? "http" : "https"}://${urlHost(peerHost)}:${peerPort}`,
  );
  const advertiseClientUrl = oneUrl(
    "advertise-client-url",
    get("advertise-client-url") ?? (id === undefined ? undefined : clientUrls.get(id)) ??
      ownClientUrl,
  );
  const tlsClientCert = get("tls-client-cert");
  const tlsClientKey = get("tls-client-key");
  if ((tlsClientCert === undefined) !== (tlsClientKey === undefined)) {
    throw new ConfigError(
      "--tls-client-cert and --tls-client-key go together: give both or neither",
    );
  }
  if (tlsClientCert !== undefined && (tlsCert === undefined || get("tls-ca") === undefined)) {
    throw new ConfigError(
      "--tls-client-cert (mutual TLS) needs --tls-cert, --tls-key and --tls-ca",
    );
  }
  const timing = get("timing") ?? "lan";
  const preset = TIMING_PRESETS[timing as keyof typeof TIMING_PRESETS];
  if (!preset) throw new ConfigError(`--timing must be lan or wan, got "${timing}"`);
  const tickMs = int("tick-ms", get("tick-ms") ?? String(preset.tickMs), 1, 10_000);
  const electionTicks = int(
    "election-ticks",
    get("election-ticks") ?? String(preset.electionTicks),
    2,
    100_000,
  );
  const heartbeatTicks = int(
    "heartbeat-ticks",
    get("heartbeat-ticks") ?? String(preset.heartbeatTicks),
    1,
    100_000,
  );
  if (heartbeatTicks >= electionTicks) {
    throw new ConfigError("--heartbeat-ticks must be smaller than --election-ticks");
  }
  const logFormat = get("log-format");
  if (logFormat !== undefined && logFormat !== "json" && logFormat !== "pretty") {
    throw new ConfigError(`--log-format must be json or pretty, got "${logFormat}"`);
  }
  const peerProtocol = choosePeerProtocol(
    get("peer-protocol") ?? "auto",
    tlsCert !== undefined || [...peers.values()].some((url) => url.startsWith("https:")),
  );
  if (peerProtocol === "ws" && tlsCert !== undefined) {
    throw new ConfigError("--peer-protocol ws works on plain TCP only: use h2 with --tls-cert");
  }
  return {
    id,
    join,
    joinToken: get("join-token"),
    restoreFrom,
    advertisePeerUrl,
    advertiseClientUrl,
    peerProtocol,
    dataDir,
    clientHost,
    clientPort,
    peerHost,
    peerPort,
    peers,
    clientUrls,
    clusterSecret: secret ?? DEV_SECRET,
    defaultSecret: secret === undefined,
    tlsCert,
    tlsKey,
    tlsCa: get("tls-ca"),
    tlsClientCert,
    tlsClientKey,
    clientTlsCert,
    clientTlsKey,
    tickMs,
    electionTicks,
    heartbeatTicks,
    snapshotEntries: int("snapshot-entries", get("snapshot-entries") ?? "10000", 2, 1e9),
    snapshotLogRatio: ratio("snapshot-log-ratio", get("snapshot-log-ratio") ?? "0.5", 0, 100),
    snapshotLogMaxBytes: int("snapshot-log-max-mb", get("snapshot-log-max-mb") ?? "64", 1, 65536) *
      1024 * 1024,
    mallocTrimMs: int("malloc-trim-ms", get("malloc-trim-ms") ?? "5000", 0, 3_600_000),
    stallHeartbeatMs: int("stall-heartbeat-ms", get("stall-heartbeat-ms") ?? "2000", 0, 600_000),
    logFormat,
    tokensFile: get("tokens-file"),
    traceFile: get("trace-file"),
    headerTimeoutMs: int("header-timeout-ms", get("header-timeout-ms") ?? "10000", 1, 3_600_000),
    idleTimeoutMs: int("idle-timeout-ms", get("idle-timeout-ms") ?? "30000", 1, 3_600_000),
    bodyTimeoutMs: int("body-timeout-ms", get("body-timeout-ms") ?? "30000", 1, 3_600_000),
  };
}

/**
 * `--client-addr` / `--peer-addr`, or `127.0.0.1:<--client-port / --peer-port>`, or the
 * default port `base + id`; a node joining without an id has no default and must say.
 */
function portOrAddr(
  role: "client" | "peer",
  addrText: string | undefined,
  portText: string | undefined,
  id: NodeId | undefined,
  base: number,
): string {
  if (addrText !== undefined && portText !== undefined) {
    throw new ConfigError(`--${role}-addr and --${role}-port do not go together: give one`);
  }
  if (addrText !== undefined) return addrText;
  if (portText !== undefined) return `127.0.0.1:${int(`${role}-port`, portText, 0, 65535)}`;
  if (id === undefined) {
    throw new ConfigError(
      `--join without --id needs --${role}-port (or --${role}-addr): the cluster assigns ` +
        `the id, and the default ports follow from it`,
    );
  }
  return `127.0.0.1:${base + id}`;
}

function fromRecord(record: Record<string, string>): Map<NodeId, string> {
  return new Map(Object.entries(record).map(([id, url]) => [Number(id), url]));
}

function oneUrl(name: string, url: string): string {
  try {
    const u = new URL(url);
    if (u.protocol !== "http:" && u.protocol !== "https:") throw new Error();
  } catch {
    throw new ConfigError(`--${name}: "${url}" is not an http(s) URL`);
  }
  return url.replace(/\/$/, "");
}

function urlList(name: string, text: string): string[] {
  const urls = text.split(",").map((s) => s.trim()).filter(Boolean).map((u) => oneUrl(name, u));
  if (urls.length === 0) throw new ConfigError(`--${name} is empty`);
  return urls;
}

function int(name: string, text: string, min: number, max: number): number {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new ConfigError(`--${name} must be a whole number from ${min} to ${max}, got "${text}"`);
  }
  return n;
}

function ratio(name: string, text: string, min: number, max: number): number {
  const n = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text.trim()) || n < min || n > max) {
    throw new ConfigError(`--${name} must be a number from ${min} to ${max}, got "${text}"`);
  }
  return n;
}

function addr(name: string, text: string): [string, number] {
  const i = text.lastIndexOf(":");
  if (i <= 0) throw new ConfigError(`--${name} must look like host:port, got "${text}"`);
  return [text.slice(0, i).replace(/^\[|\]$/g, ""), int(name, text.slice(i + 1), 0, 65535)];
}

function idMap(name: string, text: string): Map<NodeId, string> {
  const map = new Map<NodeId, string>();
  for (const part of text.split(",").map((s) => s.trim()).filter(Boolean)) {
    const eq = part.indexOf("=");
    if (eq <= 0) throw new ConfigError(`--${name} must be a list of id=url, got "${part}"`);
    const id = int(name, part.slice(0, eq), 1, 1_000_000);
    const url = oneUrl(name, part.slice(eq + 1));
    if (map.has(id)) throw new ConfigError(`--${name} names node ${id} twice`);
    map.set(id, url);
  }
  if (map.size === 0) throw new ConfigError(`--${name} is empty`);
  return map;
}

/**
 * The help text.
 *
 * @example
 * ```ts
 * import { usage } from "./node_config.ts";
 * console.log(usage().includes("--client-tls-cert")); // true
 * ```
 */
export function usage(): string {
  return [
    "usage: deno task start [flags]   (each flag also as EDGERAFT_<FLAG>, e.g. EDGERAFT_DATA_DIR)",
    "  --id N                 this node's id (default: the one its data dir keeps, else 1)",
    "  --data-dir DIR         where the Raft log and node.json (id, cluster id) live (./data)",
    "  --client-addr H:P      client HTTP API (default 127.0.0.1:700<id>)",
    "  --client-port P --peer-port P   the same on 127.0.0.1",
    "  --client-tls-cert F --client-tls-key F   serve the client API over HTTPS (PEM files)",
    "  --header-timeout-ms N  client port: a request head must arrive within N ms (10000; 408)",
    "  --idle-timeout-ms N    client port: close a connection idle for N ms (30000)",
    "  --body-timeout-ms N    client port: a request body must arrive within N ms (30000; 408)",
    "  --peer-addr H:P        peer port: Raft messages, snapshots and forwarded writes over one",
    "                         stream per peer (--peer-protocol) (default 127.0.0.1:710<id>)",
    "  --peers LIST           id=url of every node's peer port, e.g. 1=http://127.0.0.1:7101,...",
    "  --client-urls LIST     id=url of every node's client port (names the leader in X-Leader)",
    "  --cluster-secret S     shared secret of the peer port",
    "  --join URL[,URL]       join a running cluster through a member's client URL: added as a",
    "                         learner (unless a member has this peer URL already), started from",
    "                         its snapshot; ignored once the data dir has joined (node.json)",
    "  --join-token T         bearer token with the admin scope, when the cluster has tokens",
    "  --advertise-peer-url U --advertise-client-url U   the URLs the cluster records for this",
    "                         node when it joins (default: from --peer-addr / --client-addr)",
    "  --restore-from FILE    start a new cluster (the --peers) from a backup (GET /v1/snapshot)",
    "                         on empty data dirs; a truncated or corrupt file: exit 2",
    "  --tls-cert F --tls-key F [--tls-ca F]   TLS on the peer port (peers then use https://",
    "                         URLs; --tls-ca: the cluster's own CA to trust; see README)",
    "  --tls-client-cert F --tls-client-key F   mutual TLS: present this certificate to peers,",
    "                         and require theirs, signed by --tls-ca",
    "  --timing lan|wan       lan (default): 10 ms ticks, elections after 300-600 ms, heartbeats",
    "                         every 50 ms; wan: 50 ms ticks, 1-2 s, 100 ms, for round trips up",
    "                         to ~100 ms (docs/operations.md, Timing)",
    "  --tick-ms N --election-ticks N --heartbeat-ticks N   timing, over the preset (10 ms, 30, 5)",
    "  --snapshot-log-ratio R compact the log once it holds R x the last snapshot's bytes (0.5):",
    "                         the cost per write stays flat as the state grows",
    "  --snapshot-entries N   but not before N entries since the last snapshot (10000),",
    "  --snapshot-log-max-mb N   unless the log holds N MB (64) (docs/operations.md)",
    "  --malloc-trim-ms N     hand free malloc memory back to the kernel every N ms when the\n" +
    "                         node is not under sustained writes (5000; 0: never)",
    "  --stall-heartbeat-ms N while the leader's event loop stalls (a long garbage collection), a",
    "                         worker thread sends its heartbeats, for up to N ms (2000; 0: never)",
    "  --trace-file PATH      append a timeline of each write's steps (deno task bench:trace)",
    "  --log-format json|pretty   --tokens-file F (API tokens, see docs/api.md)",
    "  --peer-protocol auto|h2|ws|http1  auto (default): h2 over TLS, ws on plain TCP;",
    "                         h2: one HTTP/2 stream pair per peer; ws: a WebSocket per peer (plain",
    "                         TCP only); http1: requests, for HTTP/1.1-only proxies",
  ].join("\n");
}

/**
 * The peer protocol a node speaks: `auto` is HTTP/2 over TLS (Deno's WebSocket cannot be given
 * the cluster CA) and the WebSocket on plain TCP, where Deno 2.9.6's `node:http2` costs ~0.15 ms
 * and ~40-50 µs of CPU more per hop, which made a single client's write 0.5-0.8 ms slower
 * (`deno task bench:trace`; docs/architecture.md#peer-transport).
 *
 * @example
 * ```ts
 * import { choosePeerProtocol } from "./node_config.ts";
 * console.log(choosePeerProtocol("auto", true), choosePeerProtocol("auto", false)); // h2 ws
 * ```
 */
export function choosePeerProtocol(asked: string, tls: boolean): "h2" | "ws" | "http1" {
  if (asked === "auto") return tls ? "h2" : "ws";
  if (asked === "h2" || asked === "ws" || asked === "http1") return asked;
  throw new ConfigError(`--peer-protocol must be auto, h2, ws or http1, got "${asked}"`);
}

/**
 * The timing presets (`--timing`): `lan` keeps failover fast (elections after 300-600 ms, and a
 * crashed leader is noticed sooner, by its lost connections); `wan` keeps the election timeout
 * (1-2 s) at least 10x a round trip of up to ~100 ms, with heartbeats about every round trip
 * (docs/operations.md, "Timing"). Explicit `--tick-ms`, `--election-ticks` and
 * `--heartbeat-ticks` win over the preset.
 *
 * @example
 * ```ts
 * import { TIMING_PRESETS } from "./node_config.ts";
 * const wan = TIMING_PRESETS.wan;
 * console.log(wan.tickMs * wan.electionTicks); // 1000
 * ```
 */
export const TIMING_PRESETS = {
  // 30, not 15: a 2-core machine loaded with a million keys saw peer round trips of p99 35-254
  // ms, and a 150 ms check-quorum cost elections in three of the last six such loads
  // (docs/operations.md, Timing).
  lan: { tickMs: 10, electionTicks: 30, heartbeatTicks: 5 },
  wan: { tickMs: 50, electionTicks: 20, heartbeatTicks: 2 },
} as const;
