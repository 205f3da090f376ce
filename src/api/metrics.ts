/**
 * The counters behind `GET /metrics`, in the Prometheus text format (version 0.0.4).
 *
 * @module
 */

import type { ApiNode } from "./api_node.ts";

/** Upper bounds (ms) of the proposal latency buckets. */
const LATENCY_BUCKETS_MS = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000];

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
  readonly #latencyCounts = LATENCY_BUCKETS_MS.map(() => 0);
  #latencySum = 0;
  #latencyCount = 0;
  /** Open watch streams. */
  watchers = 0;
  /** Lock requests waiting in line. */
  lockWaits = 0;

  /** Counts one answered request. `route` must come from a fixed set (label cardinality). */
  countRequest(method: string, route: string, status: number): void {
    const labels = `method="${method}",route="${route}",status="${status}"`;
    this.#requests.set(labels, (this.#requests.get(labels) ?? 0) + 1);
  }

  /** Records how long one proposal took to be applied. */
  observeProposal(ms: number): void {
    this.#latencySum += ms;
    this.#latencyCount++;
    for (let i = 0; i < LATENCY_BUCKETS_MS.length; i++) {
      if (ms <= LATENCY_BUCKETS_MS[i]) this.#latencyCounts[i]++;
    }
  }

  /** The metrics of this API and its node, as Prometheus text. */
  render(node: ApiNode): string {
    const status = node.status();
    const lines: string[] = [];
    const gauge = (name: string, help: string, value: number) => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`, `${name} ${value}`);
    };
    gauge("edgeraft_term", "The node's current Raft term.", status.term);
    gauge("edgeraft_commit_index", "The highest log index known committed.", status.commit);
    gauge("edgeraft_applied_index", "The highest log index applied.", node.appliedIndex());
    gauge("edgeraft_revision", "The config revision of the applied state.", node.revision());
    gauge("edgeraft_is_leader", "1 when this node is the leader.", node.isLeader() ? 1 : 0);
    gauge("edgeraft_leader_id", "The known leader's id (0: none).", node.leaderId());
    gauge("edgeraft_watchers", "Open watch streams.", this.watchers);
    gauge("edgeraft_lock_waits", "Lock requests waiting in line on this node.", this.lockWaits);
    const memory = Deno.memoryUsage();
    gauge("process_resident_memory_bytes", "Resident memory of the process.", memory.rss);
    gauge("deno_heap_used_bytes", "V8 heap in use.", memory.heapUsed);
    gauge("deno_heap_total_bytes", "V8 heap reserved.", memory.heapTotal);
    gauge(
      "deno_external_memory_bytes",
      "Memory held outside the V8 heap by JS objects.",
      memory.external,
    );
    peerLines(node, lines);
    lines.push(
      "# HELP edgeraft_http_requests_total HTTP requests answered, by method, route and status.",
      "# TYPE edgeraft_http_requests_total counter",
    );
    for (const [labels, count] of this.#requests) {
      lines.push(`edgeraft_http_requests_total{${labels}} ${count}`);
    }
    const h = "edgeraft_proposal_duration_ms";
    lines.push(
      `# HELP ${h} Time from submitting a command to its outcome on this node.`,
      `# TYPE ${h} histogram`,
    );
    LATENCY_BUCKETS_MS.forEach((le, i) => {
      lines.push(`${h}_bucket{le="${le}"} ${this.#latencyCounts[i]}`);
    });
    lines.push(`${h}_bucket{le="+Inf"} ${this.#latencyCount}`);
    lines.push(`${h}_sum ${this.#latencySum}`, `${h}_count ${this.#latencyCount}`);
    return lines.join("\n") + "\n";
  }
}

/** What a transport with per-peer numbers (`PeerTransport.stats`) shows. */
interface PeerStatsSource {
  stats(): { peer: number; protocol: string; up: boolean; bytesSent: number; framesSent: number }[];
}

/**
 * The peer lines: whether each peer's stream is up, and what was sent to it. Read from the
 * node's transport when it has `stats()` (the real one does; test fakes need not).
 */
function peerLines(node: ApiNode, lines: string[]): void {
  const transport = (node as { transport?: Partial<PeerStatsSource> }).transport;
  if (typeof transport?.stats !== "function") return;
  const stats = transport.stats();
  const series = [
    ["edgeraft_peer_stream_up", "gauge", "1 when the stream to the peer is open.", "up"],
    ["edgeraft_peer_sent_bytes_total", "counter", "Bytes sent to the peer.", "bytesSent"],
    ["edgeraft_peer_sent_frames_total", "counter", "Frames sent to the peer.", "framesSent"],
  ] as const;
  for (const [name, type, help, field] of series) {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const s of stats) {
      const value = Number(s[field]);
      lines.push(`${name}{peer="${s.peer}",protocol="${s.protocol}"} ${value}`);
    }
  }
}
