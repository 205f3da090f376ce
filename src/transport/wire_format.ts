/**
 * The constants of the peer wire format shared by the encoder and the validator: the version,
 * the integer codes of message and entry types, and the decoder's bounds.
 *
 * A batch is `[1, [message, ...]]` (the leading 1 is the format version). A message is a
 * positional array, so no field names travel:
 *
 * ```
 * [type, from, to, term, logTerm, index, entries, commit, reject, rejectHint, snapshot, context]
 * entry    = [term, index, entryType, data]
 * snapshot = [index, term, voters, learners, offset, data, done, total]   (or nil)
 * context  = binary (or nil)
 * ```
 *
 * @module
 */

import type { EntryType, MessageType } from "../raft/types.ts";

/** The version number that leads every encoded batch. */
export const WIRE_VERSION = 1;

/** The number of fields of an encoded message. */
export const MESSAGE_FIELDS = 12;

/**
 * The message types that may travel between nodes, indexed by their wire code. Append-only:
 * a code never changes meaning. The local inputs of the core (`hup`, `beat`, `unreachable`,
 * `snapStatus`) are absent on purpose: a peer must not be able to start an election here.
 *
 * @example
 * ```ts
 * import { WIRE_MESSAGE_TYPES } from "./wire_format.ts";
 * console.log(WIRE_MESSAGE_TYPES.indexOf("heartbeat")); // 9
 * ```
 */
export const WIRE_MESSAGE_TYPES: readonly MessageType[] = Object.freeze(
  [
    "prop",
    "app",
    "appResp",
    "vote",
    "voteResp",
    "preVote",
    "preVoteResp",
    "snap",
    "snapResp",
    "heartbeat",
    "heartbeatResp",
    "readIndex",
    "readIndexResp",
    "transferLeader",
    "timeoutNow",
  ] as const,
);

/**
 * Entry types indexed by their wire code. Append-only.
 *
 * @example
 * ```ts
 * import { WIRE_ENTRY_TYPES } from "./wire_format.ts";
 * console.log(WIRE_ENTRY_TYPES[1]); // "conf"
 * ```
 */
export const WIRE_ENTRY_TYPES: readonly EntryType[] = Object.freeze(["normal", "conf"] as const);

/**
 * Bounds the decoder enforces on a peer's body.
 *
 * @example
 * ```ts
 * import type { DecodeLimits } from "./wire_format.ts";
 * const strict: Partial<DecodeLimits> = { maxMessages: 10 };
 * ```
 */
export interface DecodeLimits {
  /** The largest body accepted, in bytes. */
  maxBytes: number;
  /** Messages per batch. */
  maxMessages: number;
  /** Entries per batch, over all its messages. */
  maxEntries: number;
  /** Voters plus learners in a snapshot's membership. */
  maxMembers: number;
  /** Bytes of a message's read context. */
  maxContextBytes: number;
}

/**
 * The default bounds: room for a snapshot chunk of several MiB and thousands of messages, far
 * below what would hurt the process.
 *
 * @example
 * ```ts
 * import { DEFAULT_DECODE_LIMITS } from "./wire_format.ts";
 * console.log(DEFAULT_DECODE_LIMITS.maxBytes); // 33554432
 * ```
 */
export const DEFAULT_DECODE_LIMITS: Readonly<DecodeLimits> = Object.freeze({
  maxBytes: 32 * 1024 * 1024,
  maxMessages: 10_000,
  maxEntries: 100_000,
  maxMembers: 1_000,
  maxContextBytes: 64 * 1024,
});

/** Arrays nest at most batch > messages > message > entries > entry (or snapshot > voters). */
export const MAX_ARRAY_DEPTH = 5;
