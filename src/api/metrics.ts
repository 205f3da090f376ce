/**
 * The counters behind `GET /metrics`, in the Prometheus text format (version 0.0.4). Names and
 * units follow Prometheus' conventions (base units: seconds and bytes; counters end in
 * `_total`); `promtool check metrics` accepts the output (tests/api/metrics_promtool_test.ts).
 * docs/operations.md lists every metric and the alerts worth setting on them.
 *
 * @module
 */

import { FixedHistogram } from "../node/node_counters.ts";
import type { NodeId } from "../raft/types.ts";
import type { ApiNode } from "./api_node.ts";

/**
 * Upper bounds (seconds) of the proposal latency buckets: a write commits in about a millisecond
 * on one machine and in a round trip plus a disk write across regions.
 *
 * @example
 * ```ts
 * import { PROPOSAL_BUCKETS_SECONDS } from "./metrics.ts";
 * console.log(PROPOSAL_BUCKETS_SECONDS[0]); // 0.001
 * ```
 */
export const PROPOSAL_BUCKETS_SECONDS: readonly number[] = [
  0.001,
  0.002,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
];

/**
 * The version this node reports (`edgeraft_build_info`, the status page); the client package
 * has the same number (src/cli/build_client.ts).
 *
 * @example
 * ```ts
 * import { EDGERAFT_VERSION } from "./metrics.ts";
 * console.log(EDGERAFT_VERSION); // "0.1.0"
 * ```
 */
export const EDGERAFT_VERSION = "0.1.0";

/**
 * One peer as this node sees it: reachable, and (on the leader only) how far its log matches.
 *
 * @example
 * ```ts
 * import type { PeerHealth } from "./metrics.ts";
 * const p: PeerHealth = { id: 2, reachable: true, matchIndex: 9, lagEntries: 0 };
 * ```
 */
export interface PeerHealth {
  id: NodeId;
  /** False once sending to it failed and nothing came back since, or its stream is down. */
  reachable: boolean;
  /** The leader's match index for it; null on a follower, which does not know. */
  matchIndex: number | null;
  /** The leader's last index minus the match index; null on a follower. */
  lagEntries: number | null;
}

/** What a transport with per-peer numbers (`PeerTransport.stats`) shows. */
interface PeerStatsSource {
  stats(): { peer: number; protocol: string; up: boolean; bytesSent: number; framesSent: number }[];
}

type PeerStats = ReturnType<PeerStatsSource["stats"]>;

/** The transport's per-peer numbers, when it has them (the real one does; test fakes need not). */
function transportStats(node: ApiNode): PeerStats {
  const transport = (node as { transport?: Partial<PeerStatsSource> }).transport;
  return typeof transport?.stats === "function" ? transport.stats() : [];
}

/**
 * Every other member's health as `node` sees it, by id: the status page and `/metrics` show the
 * same. A peer is unreachable when the node reported it so and has not heard from it since, or
 * when the transport says its stream is down.
 *
 * @example
 * ```ts ignore
 * for (const p of peerHealth(node)) console.log(p.id, p.reachable);
 * ```
 */
export function peerHealth(
  node: ApiNode,
  extraIds: Iterable<NodeId> = [],
  stats: PeerStats = transportStats(node),
): PeerHealth[] {
  const status = node.status();
  const down = new Set(node.unreachablePeers?.() ?? []);
  const up = new Map(stats.map((s) => [s.peer, s.up]));
  const ids = new Set([...status.conf.voters, ...status.conf.learners, ...extraIds]);
  ids.delete(node.id);
  const lastIndex = status.lastIndex ?? status.commit;
  const leading = node.isLeader();
  return [...ids].sort((a, b) => a - b).map((id) => {
    const match = leading ? status.progress.get(id)?.match ?? null : null;
    return {
      id,
      reachable: !down.has(id) && up.get(id) !== false,
      matchIndex: match,
      lagEntries: match === null ? null : Math.max(0, lastIndex - match),
    };
  });
}

/** A label value in the text format: backslash, quote and newline escaped. */
function label(value: string | number): string {
  return String(value).replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

/** Writes the text format: each family's HELP and TYPE once, then its samples. */
class Exposition {
  readonly lines: string[] = [];

  family(name: string, type: "gauge" | "counter" | "histogram", help: string): this {
    this.lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    return this;
  }

  sample(name: string, value: number, labels: Record<string, string | number> = {}): this {
    const pairs = Object.entries(labels).map(([k, v]) => `${k}="${label(v)}"`);
    const text = Number.isFinite(value) ? String(value) : Number.isNaN(value) ? "NaN" : "+Inf";
    this.lines.push(`${name}${pairs.length ? `{${pairs.join(",")}}` : ""} ${text}`);
    return this;
  }

  one(name: string, type: "gauge" | "counter", help: string, value: number): this {
    return this.family(name, type, help).sample(name, value);
  }

  histogram(name: string, help: string, h: FixedHistogram): this {
    this.family(name, "histogram", help);
    h.bounds.forEach((le, i) => this.sample(`${name}_bucket`, h.counts[i], { le }));
    this.sample(`${name}_bucket`, h.count, { le: "+Inf" });
    return this.sample(`${name}_sum`, h.sum).sample(`${name}_count`, h.count);
  }
}

/**
 * Request counts by route and status, proposal latencies, open watches.
 *
 * @example
 * ```ts
 * import { ApiMetrics } from "./metrics.ts";
 * const m = new ApiMetrics();
 * m.countRequest("GET", "/v1/config/{key}", 200);
 * m.observeProposal(3.2);
 * ```
 */
export class ApiMetrics {
  readonly #requests = new Map<string, number>();
  readonly #proposals = new FixedHistogram(PROPOSAL_BUCKETS_SECONDS);
  /** Open watch streams. */
  watchers = 0;
  /** Lock requests waiting in line on this node. */
  lockWaits = 0;

  /** Counts one answered request. `route` must come from a fixed set (label cardinality). */
  countRequest(method: string, route: string, status: number): void {
    // Not escaped: this runs per request, and both come from fixed sets without quotes.
    const labels = `method="${method}",route="${route}",status="${status}"`;
    this.#requests.set(labels, (this.#requests.get(labels) ?? 0) + 1);
  }

  /** Records how long one proposal took to be applied (ms, as `performance.now()` measures). */
  observeProposal(ms: number): void {
    this.#proposals.observe(ms / 1000);
  }

  /** The metrics of this API and its node, as Prometheus text. */
  render(node: ApiNode): string {
    const status = node.status();
    const applied = node.appliedIndex();
    const out = new Exposition();
    out.family("edgeraft_build_info", "gauge", "Always 1; the labels say what is running.")
      .sample("edgeraft_build_info", 1, { version: EDGERAFT_VERSION, deno: Deno.version.deno });
    out.one(
      "process_start_time_seconds",
      "gauge",
      "When the process started (seconds since the epoch).",
      performance.timeOrigin / 1000,
    );
    out.one("edgeraft_term", "gauge", "The node's current Raft term.", status.term);
    out.one(
      "edgeraft_commit_index",
      "gauge",
      "The highest log index known committed.",
      status.commit,
    );
    out.one("edgeraft_applied_index", "gauge", "The highest log index applied.", applied);
    out.one(
      "edgeraft_apply_lag_entries",
      "gauge",
      "Entries the leader committed (as last heard) that this node has not applied yet.",
      Math.max(0, Math.max(status.commit, status.leaderCommit ?? 0) - applied),
    );
    out.one(
      "edgeraft_revision",
      "gauge",
      "The config revision of the applied state.",
      node.revision(),
    );
    out.one(
      "edgeraft_is_leader",
      "gauge",
      "1 when this node is the leader.",
      node.isLeader() ? 1 : 0,
    );
    out.one("edgeraft_leader_id", "gauge", "The known leader's id (0: none).", node.leaderId());
    out.one(
      "edgeraft_has_leader",
      "gauge",
      "1 when this node knows a leader.",
      node.leaderId() === 0 ? 0 : 1,
    );
    if (node.lastContact > 0) {
      out.one(
        "edgeraft_leader_last_contact_seconds",
        "gauge",
        "Seconds since this node last heard from a leader (or led).",
        // The leader's `lastContact` is when it became leader: it is in contact with itself.
        node.isLeader() ? 0 : Math.max(0, Date.now() - node.lastContact) / 1000,
      );
    }
    this.#nodeCounters(node, out);
    out.one("edgeraft_watch_streams", "gauge", "Open watch streams on this node.", this.watchers);
    out.one(
      "edgeraft_lock_waiters",
      "gauge",
      "Lock requests waiting in line on this node (their HTTP requests are open here).",
      this.lockWaits,
    );
    const locks = node.listLocks?.();
    if (locks) {
      out.one("edgeraft_locks_held", "gauge", "Locks held, as applied here.", locks.length);
      out.one(
        "edgeraft_lock_queue_length",
        "gauge",
        "Waiters queued behind held locks across the cluster, as applied here.",
        locks.reduce((n, l) => n + l.waiters.length, 0),
      );
    }
    const memory = Deno.memoryUsage();
    out.one(
      "process_resident_memory_bytes",
      "gauge",
      "Resident memory of the process.",
      memory.rss,
    );
    out.one("deno_heap_used_bytes", "gauge", "V8 heap in use.", memory.heapUsed);
    out.one("deno_heap_total_bytes", "gauge", "V8 heap reserved.", memory.heapTotal);
    out.one(
      "deno_external_memory_bytes",
      "gauge",
      "Memory held outside the V8 heap by JS objects.",
      memory.external,
    );
    this.#peers(node, out);
    out.family(
      "edgeraft_http_requests_total",
      "counter",
      "HTTP requests answered, by method, route and status.",
    );
    for (const [labels, count] of this.#requests) {
      out.lines.push(`edgeraft_http_requests_total{${labels}} ${count}`);
    }
    out.histogram(
      "edgeraft_proposal_duration_seconds",
      "Time from submitting a command to its outcome on this node.",
      this.#proposals,
    );
    return out.lines.join("\n") + "\n";
  }

  /** The node's own counters, when it keeps them (the real node does; test fakes need not). */
  #nodeCounters(node: ApiNode, out: Exposition): void {
    const c = node.counters;
    if (!c) return;
    out.one(
      "edgeraft_campaigns_total",
      "counter",
      "Elections this node started (pre-votes included).",
      c.campaigns,
    );
    out.one(
      "edgeraft_leader_changes_total",
      "counter",
      "Times this node saw a new leader.",
      c.leaderChanges,
    );
    out.one(
      "edgeraft_leader_losses_total",
      "counter",
      "Times this node lost track of the leader (none known).",
      c.leaderLosses,
    );
    out.one(
      "edgeraft_proposals_failed_total",
      "counter",
      "Accepted commands that ended in an error (no leader, timeout, node stopping).",
      c.proposalsFailed,
    );
    out.histogram(
      "edgeraft_disk_write_duration_seconds",
      "The node's own log and hard state writes, each awaited before it goes on.",
      c.diskWrites,
    );
    out.one(
      "edgeraft_snapshots_taken_total",
      "counter",
      "Snapshots of its own state this node wrote (log compactions).",
      c.snapshotsTaken,
    );
    out.one(
      "edgeraft_snapshots_installed_total",
      "counter",
      "Leader snapshots this node installed.",
      c.snapshotsInstalled,
    );
    out.one(
      "edgeraft_snapshot_reads_back_total",
      "counter",
      "Times this leader read its snapshot back from disk to send it to a follower (the snapshot's " +
        "data is kept on disk only while no follower needs it).",
      c.snapshotReadsBack,
    );
    out.family(
      "edgeraft_stall_heartbeats_total",
      "counter",
      "Heartbeat rounds sent for this leader while its event loop (cause keeper) or its own disk " +
        "write (cause disk) held it up.",
    );
    out.sample("edgeraft_stall_heartbeats_total", c.keeperHeartbeats, { cause: "keeper" });
    out.sample("edgeraft_stall_heartbeats_total", c.diskWaitHeartbeats, { cause: "disk" });
    out.one(
      "edgeraft_snapshot_size_bytes",
      "gauge",
      "Size of the last snapshot taken or installed (0: none yet).",
      c.lastSnapshotBytes,
    );
    out.one(
      "edgeraft_event_loop_delay_p99_seconds",
      "gauge",
      "99th percentile of how late the node's 10 ms ticks fired, over the last 1000 ticks.",
      c.tickDelay.p99() / 1000,
    );
    out.one(
      "edgeraft_event_loop_delay_max_seconds",
      "gauge",
      "The latest a node tick fired, over the last 1000 ticks.",
      c.tickDelay.max() / 1000,
    );
    // Where the thread's run-queue wait can be read (Linux): the delay the node's own work made.
    if (c.tickOwnDelay.size > 0) {
      out.one(
        "edgeraft_event_loop_own_delay_p99_seconds",
        "gauge",
        "99th percentile of the ticks' delay less the time the loop's thread waited for a CPU, " +
          "over the last 1000 ticks.",
        c.tickOwnDelay.p99() / 1000,
      );
      out.one(
        "edgeraft_event_loop_own_delay_max_seconds",
        "gauge",
        "The largest tick delay less the time the loop's thread waited for a CPU, over the last " +
          "1000 ticks.",
        c.tickOwnDelay.max() / 1000,
      );
    }
  }

  /** Per peer: reachable, replication lag (leader only), and the transport's streams. */
  #peers(node: ApiNode, out: Exposition): void {
    const stats = transportStats(node);
    const peers = peerHealth(node, stats.map((s) => s.peer), stats);
    out.family("edgeraft_peer_reachable", "gauge", "1 when this node can reach the peer.");
    for (const p of peers) {
      out.sample("edgeraft_peer_reachable", p.reachable ? 1 : 0, { peer: p.id });
    }
    if (node.isLeader()) {
      out.family("edgeraft_peer_match_index", "gauge", "The leader's match index for the peer.");
      for (const p of peers) {
        out.sample("edgeraft_peer_match_index", p.matchIndex ?? 0, { peer: p.id });
      }
      out.family(
        "edgeraft_peer_lag_entries",
        "gauge",
        "Entries in the leader's log that the peer has not acknowledged (on the leader only).",
      );
      for (const p of peers) {
        out.sample("edgeraft_peer_lag_entries", p.lagEntries ?? 0, { peer: p.id });
      }
    }
    const rtts = node.peerRtts?.() ?? [];
    const rttSeries = [
      ["edgeraft_peer_rtt_seconds", "Median round trip to the peer", "p50Ms"],
      ["edgeraft_peer_rtt_p99_seconds", "99th percentile round trip to the peer", "p99Ms"],
    ] as const;
    for (const [name, what, field] of rtts.length > 0 ? rttSeries : []) {
      out.family(name, "gauge", `${what}, from its last 256 heartbeats (timed while leading).`);
      for (const r of rtts) out.sample(name, r[field] / 1000, { peer: r.peer });
    }
    if (stats.length === 0) return;
    const series = [
      ["edgeraft_peer_stream_up", "gauge", "1 when the stream to the peer is open.", "up"],
      ["edgeraft_peer_sent_bytes_total", "counter", "Bytes sent to the peer.", "bytesSent"],
      ["edgeraft_peer_sent_frames_total", "counter", "Frames sent to the peer.", "framesSent"],
    ] as const;
    for (const [name, type, help, field] of series) {
      out.family(name, type, help);
      for (const s of stats) {
        out.sample(name, Number(s[field]), { peer: s.peer, protocol: s.protocol });
      }
    }
  }
}
