/**
 * What a driver logs about elections (issue 18: a cluster climbed from term 5 to 136 with no
 * leader while its nodes logged nothing). The core counts its campaigns and knows its
 * back-off; {@linkcode campaignEvents} turns two successive observations of that into the
 * lines to log, so that the node logs each campaign and its outcome with the term, and the
 * rule of what is worth a line lives here, next to the core that decides.
 *
 * @module
 */

import { type NodeId, NONE, type Role } from "./types.ts";

/** The part of a core's state that says how its elections go (`Raft.campaignState()`). */
export interface CampaignState {
  role: Role;
  term: number;
  leader: NodeId;
  /** Campaigns (pre-votes and votes) this node has started since it started. */
  campaigns: number;
  /** Doublings of the election timeout after failed campaigns (0 once a leader is known). */
  electionBackoff: number;
  /** The election timeout now drawn, in ticks. */
  electionTimeoutTicks: number;
}

/** One line to log at info. */
export interface CampaignEvent {
  event: "campaign started" | "campaign won" | "campaign lost" | "campaign ended";
  fields: Record<string, unknown>;
}

/**
 * The campaign lines to log between observation `prev` (undefined at start: nothing to report
 * yet) and `now`: the campaigns started since, with the term each is for and the back-off in force, and the
 * outcome when the node stops campaigning: won (it leads), ended (another leader is known) or
 * lost (it is a follower with no leader, and will campaign again).
 *
 * @example
 * ```ts
 * import { campaignEvents } from "./campaign_log.ts";
 * const before = { role: "follower", term: 4, leader: 0, campaigns: 0, electionBackoff: 0,
 *   electionTimeoutTicks: 17 } as const;
 * const after = { ...before, role: "candidate", term: 5, campaigns: 1 } as const;
 * console.log(campaignEvents(before, after)[0].event); // "campaign started"
 * ```
 */
export function campaignEvents(
  prev: CampaignState | undefined,
  now: CampaignState,
): CampaignEvent[] {
  const out: CampaignEvent[] = [];
  const started = now.campaigns - (prev?.campaigns ?? now.campaigns);
  const campaigning = now.role === "preCandidate" || now.role === "candidate";
  if (started > 0) {
    out.push({
      event: "campaign started",
      fields: {
        // A pre-vote asks for the term the node would campaign in; its own term is unchanged.
        term: now.role === "preCandidate" ? now.term + 1 : now.term,
        ...(campaigning ? { kind: now.role === "preCandidate" ? "pre-vote" : "vote" } : {}),
        backoff: now.electionBackoff,
        timeoutTicks: now.electionTimeoutTicks,
        ...(started > 1 ? { campaigns: started } : {}),
      },
    });
  }
  const wasCampaigning = prev?.role === "preCandidate" || prev?.role === "candidate";
  if ((wasCampaigning || started > 0) && !campaigning) {
    if (now.role === "leader") {
      out.push({ event: "campaign won", fields: { term: now.term } });
    } else if (now.leader !== NONE) {
      out.push({ event: "campaign ended", fields: { term: now.term, leader: now.leader } });
    } else {
      out.push({
        event: "campaign lost",
        fields: { term: now.term, backoff: now.electionBackoff },
      });
    }
  }
  return out;
}
