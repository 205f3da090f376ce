/**
 * Heartbeats that survive a stalled event loop (docs/architecture.md#heartbeats-through-stalls).
 *
 * A leader's heartbeats come from its event loop. On a busy machine that loop stalls now and
 * then for longer than an election timeout: a garbage collection of a heap holding a million
 * keys, a snapshot's slices competing with 64 clients on two cores (issue 17, 1 election per
 * million writes after every other fix). The followers then hear nothing and elect another
 * leader, although this one is alive and will go on the moment the stall ends.
 *
 * The keeper is a worker thread (its own V8 isolate, so none of the main thread's collections
 * stop it). The main thread tells it at every tick, through shared memory, that it is alive and
 * whether it leads, in which term. When the main thread has said nothing for a heartbeat interval
 * while leading, the worker sends the followers a heartbeat of that term itself, over its own
 * connections; it stops once the silence reaches `maxStallMs`, so that a main thread that is stuck
 * for good (not merely slow) still lets the followers elect another leader after
 * `maxStallMs` + an election timeout. A crashed, killed or frozen (SIGSTOP) process takes the
 * worker with it: failover then is as fast as without it.
 *
 * It is safe for the reasons a late heartbeat is: the node is the leader of that term (it could
 * not have learnt otherwise while stalled), the heartbeat carries no commit index and no read round,
 * a follower in a later term refuses it, and its answers go to the main thread as usual.
 *
 * @module
 */

import type { NodeId } from "../raft/types.ts";

/**
 * What the worker needs to reach the peers (`heartbeat_keeper_worker.ts`).
 *
 * @example
 * ```ts
 * import type { KeeperConfig } from "./heartbeat_keeper.ts";
 * const c: KeeperConfig = {
 *   nodeId: 1, clusterSecret: "s", peers: [[2, "http://127.0.0.1:7102"]],
 *   heartbeatMs: 50, maxStallMs: 2000,
 * };
 * ```
 */
export interface KeeperConfig {
  nodeId: NodeId;
  clusterSecret: string;
  /** The other members' peer URLs. */
  peers: [NodeId, string][];
  /** PEM CA for `https://` peers, and this node's client certificate (mutual TLS). */
  ca?: string;
  clientCert?: { cert: string; key: string };
  heartbeatMs: number;
  /** Silence of the main thread after which the worker stops speaking for it. */
  maxStallMs: number;
}

/**
 * Slots of the shared memory: the main thread's last word, its term while it leads, and the
 * heartbeat rounds the worker has sent (written by the worker only).
 */
const ALIVE_AT = 0;
const LEADER_TERM = 1;
const ROUNDS_SENT = 2;

/**
 * The clock both threads read: milliseconds since the epoch, at sub-millisecond precision
 * (each isolate's `performance.now()` has its own origin).
 *
 * @example
 * ```ts
 * import { sharedNow } from "./heartbeat_keeper.ts";
 * sharedNow() > 1.7e12; // true
 * ```
 */
export function sharedNow(): number {
  return performance.timeOrigin + performance.now();
}

/**
 * When the main thread was last alive, on the worker's own clock: the time its word was last
 * seen to change. The two isolates' clocks need not agree (each starts from its own reading of
 * the wall clock, which a clock fault can move between the two starts), and measuring their
 * offset with a message took in the worker's start-up: the keeper then began ~200 ms late,
 * after the followers' election timeout (issue 17). Seen every check (a fifth of a heartbeat
 * interval), so the silence is known to within one check.
 *
 * @example
 * ```ts
 * import { MainSilence } from "./heartbeat_keeper.ts";
 * const s = new MainSilence();
 * s.aliveAt(5_000_123, 100); // 100: changed when seen
 * s.aliveAt(5_000_123, 180); // 100: unchanged since
 * ```
 */
export class MainSilence {
  #word = 0;
  #changedAt = 0;

  /** `word`: the main thread's latest `aliveAt`; `now`: the worker's clock. */
  aliveAt(word: number, now: number): number {
    if (word !== this.#word) {
      this.#word = word;
      this.#changedAt = now;
    }
    return this.#changedAt;
  }
}

/**
 * Whether the worker should send a heartbeat now: the main thread leads, has been silent for at
 * least a heartbeat interval but less than `maxStallMs`, and the worker's last heartbeat is a
 * heartbeat interval old.
 *
 * @example
 * ```ts
 * import { keeperShouldBeat } from "./heartbeat_keeper.ts";
 * const s = { aliveAt: 1000, leaderTerm: 3, lastSentAt: 0 };
 * keeperShouldBeat(s, 1080, 50, 2000); // true: 80 ms of silence
 * keeperShouldBeat(s, 1030, 50, 2000); // false: the main thread is on time
 * keeperShouldBeat(s, 3100, 50, 2000); // false: stuck for good, let the others elect
 * ```
 */
export function keeperShouldBeat(
  s: { aliveAt: number; leaderTerm: number; lastSentAt: number },
  now: number,
  heartbeatMs: number,
  maxStallMs: number,
): boolean {
  if (s.leaderTerm <= 0 || s.aliveAt <= 0) return false;
  const silent = now - s.aliveAt;
  return silent >= heartbeatMs && silent < maxStallMs && now - s.lastSentAt >= heartbeatMs;
}

/**
 * The main thread's side: starts the worker, writes its word at every tick.
 *
 * @example
 * ```ts ignore
 * import { HeartbeatKeeper } from "./heartbeat_keeper.ts";
 * const keeper = HeartbeatKeeper.start(config);
 * keeper.alive(isLeader ? term : 0); // at every tick
 * keeper.stop();
 * ```
 */
export class HeartbeatKeeper {
  readonly #shared: Float64Array;
  readonly #worker: Worker;
  /** Resolves once the worker runs (loading its modules takes a moment, more on a busy host). */
  readonly ready: Promise<void>;

  private constructor(shared: Float64Array, worker: Worker) {
    this.#shared = shared;
    this.#worker = worker;
    const { promise, resolve } = Promise.withResolvers<void>();
    this.ready = promise;
    worker.onmessage = () => resolve();
  }

  /** Starts the worker with `config`. */
  static start(config: KeeperConfig): HeartbeatKeeper {
    const shared = new Float64Array(new SharedArrayBuffer(3 * Float64Array.BYTES_PER_ELEMENT));
    const worker = new Worker(new URL("./heartbeat_keeper_worker.ts", import.meta.url), {
      type: "module",
    });
    // The worker times the main thread's silence on its own clock (see the worker's `check`).
    worker.postMessage({ kind: "start", config, shared });
    return new HeartbeatKeeper(shared, worker);
  }

  /** The main thread is alive; it leads in `leaderTerm` (0: it does not lead). */
  alive(leaderTerm: number): void {
    this.#shared[LEADER_TERM] = leaderTerm;
    this.#shared[ALIVE_AT] = sharedNow();
  }

  /** Heartbeat rounds the worker has sent for this node. */
  sent(): number {
    return this.#shared[ROUNDS_SENT];
  }

  /** The members changed. */
  setPeers(peers: [NodeId, string][]): void {
    this.#worker.postMessage({ kind: "peers", peers });
  }

  /** Stops the worker. */
  stop(): void {
    this.#worker.terminate();
  }
}

/**
 * Reads the main thread's word from the shared memory (the worker's side).
 *
 * @example
 * ```ts
 * import { readMainWord } from "./heartbeat_keeper.ts";
 * const shared = new Float64Array(new SharedArrayBuffer(16));
 * readMainWord(shared); // { aliveAt: 0, leaderTerm: 0 }
 * ```
 */
export function readMainWord(shared: Float64Array): { aliveAt: number; leaderTerm: number } {
  return { aliveAt: shared[ALIVE_AT], leaderTerm: shared[LEADER_TERM] };
}

/**
 * Counts one heartbeat round sent by the worker (the worker's side), for `HeartbeatKeeper.sent`.
 *
 * @example
 * ```ts
 * import { countRoundSent } from "./heartbeat_keeper.ts";
 * const shared = new Float64Array(new SharedArrayBuffer(24));
 * countRoundSent(shared);
 * console.log(shared[2]); // 1
 * ```
 */
export function countRoundSent(shared: Float64Array): void {
  shared[ROUNDS_SENT]++;
}
