/**
 * Majority arithmetic over a set of voters: the commit index and the outcome of a vote.
 *
 * @module
 */

import type { NodeId } from "../types.ts";

/**
 * How many votes make a majority of `voters`.
 *
 * @example
 * ```ts
 * import { quorumSize } from "./majority.ts";
 * console.log(quorumSize(3), quorumSize(4), quorumSize(5)); // 2 3 3
 * ```
 */
export function quorumSize(voters: number): number {
  return Math.floor(voters / 2) + 1;
}

/**
 * The highest index that a majority of voters has: the median-ish of their match indexes.
 * Voters without a known match count as 0.
 *
 * @example
 * ```ts
 * import { committedIndex } from "./majority.ts";
 * const match = new Map([[1, 9], [2, 7], [3, 3]]);
 * console.log(committedIndex([1, 2, 3], (id) => match.get(id) ?? 0)); // 7
 * ```
 */
export function committedIndex(voters: NodeId[], matchOf: (id: NodeId) => number): number {
  if (voters.length === 0) return Number.MAX_SAFE_INTEGER;
  const sorted = voters.map(matchOf).sort((a, b) => b - a);
  return sorted[quorumSize(voters.length) - 1];
}

/** The state of an election, counted from the votes received so far. */
export type VoteResult = "won" | "lost" | "pending";

/**
 * Tallies votes: `won` once a majority granted, `lost` once a majority refused.
 *
 * @example
 * ```ts
 * import { voteResult } from "./majority.ts";
 * console.log(voteResult([1, 2, 3], new Map([[1, true], [2, true]]))); // "won"
 * ```
 */
export function voteResult(voters: NodeId[], votes: Map<NodeId, boolean>): VoteResult {
  let granted = 0;
  let rejected = 0;
  for (const id of voters) {
    const v = votes.get(id);
    if (v === true) granted++;
    else if (v === false) rejected++;
  }
  const q = quorumSize(voters.length);
  if (granted >= q) return "won";
  if (rejected >= q) return "lost";
  return "pending";
}
