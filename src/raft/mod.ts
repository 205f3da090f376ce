/**
 * The pure Raft core: a deterministic state machine with no I/O, clock, timers or randomness of
 * its own. Drive it with {@linkcode RawNode}.
 *
 * @example
 * ```ts
 * import { RawNode, withDefaults } from "./mod.ts";
 * const node = new RawNode(withDefaults({ id: 1, random: () => 0.5 }), {
 *   hardState: { term: 0, vote: 0, commit: 0 }, entries: [], conf: { voters: [1], learners: [] },
 * });
 * node.tick();
 * ```
 *
 * @module
 */

export * from "./types.ts";
export * from "./config.ts";
export { type ProgressStatus, ProposalDroppedError, RawNode, type Status } from "./raw_node.ts";
export { type StoredState, TRANSFER_CONTEXT } from "./raft.ts";
export { RaftInvariantError } from "./raft_log.ts";
export { decodeConfChange } from "./conf_change.ts";
export { type CampaignEvent, campaignEvents, type CampaignState } from "./campaign_log.ts";
