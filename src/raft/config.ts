/**
 * Configuration of one Raft core, with the defaults a node starts from.
 *
 * @module
 */

import type { NodeId } from "./types.ts";

/**
 * Settings of a Raft core. Time is counted in ticks; the driver decides how long a tick is.
 *
 * @example
 * ```ts
 * import { withDefaults } from "./config.ts";
 * const cfg = withDefaults({ id: 1, random: () => 0.5 });
 * console.log(cfg.electionTicks); // 15
 * ```
 */
export interface RaftConfig {
  /** This node's id; never 0. */
  id: NodeId;
  /** Ticks without hearing from a leader before a follower campaigns (randomized up to 2x). */
  electionTicks: number;
  /** Ticks between a leader's heartbeats; must be well below electionTicks. */
  heartbeatTicks: number;
  /** The byte budget of one AppendEntries message (at least one entry is always sent). */
  maxSizePerMsg: number;
  /**
   * The byte budget of the committed entries one Ready hands out for apply (at least one entry
   * always goes). A node that restarts, or catches up, may find a hundred thousand entries
   * committed at once; applying them in one go held its event loop for 0.8 s at a million keys
   * (etcd-io/raft's MaxCommittedSizePerReady).
   */
  maxCommittedSizePerReady: number;
  /** How many AppendEntries may be in flight to one follower in the replicate state. */
  maxInflightMsgs: number;
  /** The size of one InstallSnapshot chunk. */
  snapshotChunkBytes: number;
  /** Pre-vote (thesis 9.6): a partitioned node does not disrupt the cluster when it returns. */
  preVote: boolean;
  /** Check-quorum (thesis 6.2): a leader that cannot reach a majority steps down. */
  checkQuorum: boolean;
  /**
   * How many times consecutive failed campaigns may double the election timeout (0: never).
   * A campaign fails when the timer fires again before any leader is heard of, which is what
   * happens when a round trip approaches the timeout: each new term starts before the votes of
   * the last one arrive. Backing off lets the slowest round trip fit; hearing of a leader
   * resets it. The default 4 allows up to 16x (2.4-4.8 s with the default 150-300 ms).
   */
  electionBackoffLimit: number;
  /** A seeded source of randomness in [0, 1) for the election timeout jitter. */
  random: () => number;
}

/** The defaults; with 10 ms ticks: elections after 150-300 ms, heartbeats every 50 ms. */
export const DEFAULT_CONFIG: Omit<RaftConfig, "id" | "random"> = {
  electionTicks: 15,
  heartbeatTicks: 5,
  maxSizePerMsg: 1024 * 1024,
  maxCommittedSizePerReady: 256 * 1024,
  maxInflightMsgs: 256,
  snapshotChunkBytes: 1024 * 1024,
  preVote: true,
  checkQuorum: true,
  electionBackoffLimit: 4,
};

/**
 * Fills in defaults and rejects settings that would break the protocol or leave it stuck.
 *
 * @example
 * ```ts
 * import { withDefaults } from "./config.ts";
 * const cfg = withDefaults({ id: 2, random: Math.random, electionTicks: 20 });
 * ```
 */
export function withDefaults(
  partial: Partial<RaftConfig> & Pick<RaftConfig, "id" | "random">,
): RaftConfig {
  const cfg: RaftConfig = { ...DEFAULT_CONFIG, ...partial };
  if (!Number.isSafeInteger(cfg.id) || cfg.id <= 0) {
    throw new RangeError(`raft: node id must be a positive integer, got ${cfg.id}`);
  }
  if (cfg.heartbeatTicks < 1) throw new RangeError("raft: heartbeatTicks must be >= 1");
  if (cfg.electionTicks <= cfg.heartbeatTicks) {
    throw new RangeError("raft: electionTicks must be greater than heartbeatTicks");
  }
  if (
    !Number.isInteger(cfg.electionBackoffLimit) || cfg.electionBackoffLimit < 0 ||
    cfg.electionBackoffLimit > 10
  ) {
    throw new RangeError("raft: electionBackoffLimit must be an integer from 0 to 10");
  }
  if (cfg.maxInflightMsgs < 1) throw new RangeError("raft: maxInflightMsgs must be >= 1");
  if (cfg.snapshotChunkBytes < 1) throw new RangeError("raft: snapshotChunkBytes must be >= 1");
  return cfg;
}
