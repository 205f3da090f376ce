/**
 * What a node writes into a log entry: a small binary header (who proposed it, its sequence
 * number, the leader's time stamp) before the submission's msgpack bytes, so that the applying
 * node finds the proposer and the stamp without decoding the command, and the command is
 * encoded once, where it was submitted (a follower forwards the same bytes to the leader):
 *
 * ```
 * 0xc1  version (1)  proposer (varint)  seq (varint)  time (varint)  submission (msgpack)
 * ```
 *
 * 0xc1 is the one byte msgpack never produces, so no entry of another format starts with it.
 * Varints are unsigned LEB128, at most 8 bytes (up to 2^53 - 1).
 *
 * Entries written by older nodes are the msgpack array `[proposer, seq, envelope bytes]`, the
 * envelope holding its time; `unwrapLegacyProposal` still reads them (from the log of an existing
 * data directory, or from a peer not yet upgraded).
 *
 * @module
 */

import { Decoder } from "@msgpack/msgpack";
import type { NodeId } from "../raft/types.ts";

/** The first byte of every proposal: one msgpack never produces. */
const MARKER = 0xc1;
/** The header's version; a reader refuses others (they would be a newer node's format). */
const VERSION = 1;
/** 8 LEB128 bytes hold 56 bits: enough for any safe integer. */
const MAX_VARINT_BYTES = 8;

const decoder = new Decoder();

/**
 * A proposal as read from an entry: the header's fields and the submission's bytes (a view into
 * the entry's data, not a copy).
 *
 * @example
 * ```ts
 * import type { Proposal } from "./proposal_envelope.ts";
 * const p: Proposal = { proposer: 1, seq: 7, time: 1_700_000_000_000, body: new Uint8Array() };
 * ```
 */
export interface Proposal {
  proposer: NodeId;
  seq: number;
  /** The leader's clock when it proposed the entry (ms since the epoch). */
  time: number;
  /** The submission's msgpack bytes (`encodeSubmission`). */
  body: Uint8Array;
}

function varintLength(v: number): number {
  let n = 1;
  while (v >= 128) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

/** Writes `v` at `at`; returns the position after it. */
function writeVarint(out: Uint8Array, at: number, v: number): number {
  while (v >= 128) {
    out[at++] = (v % 128) | 128;
    v = Math.floor(v / 128);
  }
  out[at++] = v;
  return at;
}

function checkHeaderField(name: string, v: number): void {
  if (!Number.isSafeInteger(v) || v < 0) {
    throw new RangeError(`proposal ${name} must be an integer >= 0, got ${v}`);
  }
}

/**
 * Builds an entry's data: the header, then the submission's bytes, in one allocation.
 * Throws a `RangeError` if a header field is not a safe integer >= 0 (the node's own bug).
 *
 * @example
 * ```ts
 * import { frameProposal, readProposal } from "./proposal_envelope.ts";
 * const data = frameProposal({ proposer: 1, seq: 7, time: 5, body: new Uint8Array([0x80]) });
 * console.log(readProposal(data)?.seq); // 7
 * ```
 */
export function frameProposal(p: Proposal): Uint8Array {
  checkHeaderField("proposer", p.proposer);
  checkHeaderField("seq", p.seq);
  checkHeaderField("time", p.time);
  const header = 2 + varintLength(p.proposer) + varintLength(p.seq) + varintLength(p.time);
  const out = new Uint8Array(header + p.body.byteLength);
  out[0] = MARKER;
  out[1] = VERSION;
  let at = writeVarint(out, 2, p.proposer);
  at = writeVarint(out, at, p.seq);
  at = writeVarint(out, at, p.time);
  out.set(p.body, at);
  return out;
}

/**
 * Reads an entry written by {@linkcode frameProposal}; undefined if the data does not start
 * with the marker or its header is cut short, too long or of another version. The body is not
 * looked at: the state machine checks it when it applies it.
 *
 * @example
 * ```ts
 * import { readProposal } from "./proposal_envelope.ts";
 * readProposal(new Uint8Array([0x93, 1, 2])); // undefined: not this format
 * ```
 */
export function readProposal(data: Uint8Array): Proposal | undefined {
  if (data.length < 5 || data[0] !== MARKER || data[1] !== VERSION) return undefined;
  const fields = [0, 0, 0];
  let at = 2;
  for (let f = 0; f < 3; f++) {
    let value = 0;
    let scale = 1;
    for (let n = 0;; n++) {
      if (at >= data.length || n === MAX_VARINT_BYTES) return undefined;
      const byte = data[at++];
      value += (byte & 127) * scale;
      scale *= 128;
      if (byte < 128) break;
    }
    if (!Number.isSafeInteger(value)) return undefined;
    fields[f] = value;
  }
  return { proposer: fields[0], seq: fields[1], time: fields[2], body: data.subarray(at) };
}

/**
 * A proposal in the format of older nodes: the msgpack array `[proposer, seq, envelope]`,
 * where `envelope` is `encodeCommand`'s bytes (the time inside).
 *
 * @example
 * ```ts
 * import type { LegacyProposal } from "./proposal_envelope.ts";
 * const p: LegacyProposal = { proposer: 1, seq: 7, command: new Uint8Array([0x80]) };
 * ```
 */
export interface LegacyProposal {
  proposer: NodeId;
  seq: number;
  command: Uint8Array;
}

/**
 * Unwraps an entry in the older nodes' format; undefined for data that is not one.
 *
 * @example
 * ```ts
 * import { encode } from "@msgpack/msgpack";
 * import { unwrapLegacyProposal } from "./proposal_envelope.ts";
 * const data = encode([1, 7, new Uint8Array([0x80])]);
 * console.log(unwrapLegacyProposal(data)?.seq); // 7
 * ```
 */
export function unwrapLegacyProposal(data: Uint8Array): LegacyProposal | undefined {
  try {
    const v = decoder.decode(data);
    if (
      Array.isArray(v) && v.length === 3 && Number.isSafeInteger(v[0]) &&
      Number.isSafeInteger(v[1]) && v[2] instanceof Uint8Array
    ) {
      return { proposer: v[0], seq: v[1], command: v[2] };
    }
  } catch {
    // not this format either: the state machine answers it as a bad command
  }
  return undefined;
}
