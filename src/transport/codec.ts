/**
 * Encodes a batch of Raft messages as compact msgpack, and decodes a peer's body strictly.
 * The layout is described in `wire_format.ts`.
 *
 * Payloads travel as msgpack binaries; the decoder returns them as views into the body it was
 * given, without copying, so a decoded entry keeps the whole body alive until it is dropped or
 * copied (storage copies when it writes).
 *
 * Decoding trusts nothing: the bytes are shape-checked before the msgpack decoder allocates,
 * then every field is checked for type and range and every count and size is bounded. Any
 * failure throws `MessageDecodeError`, and nothing else is ever thrown.
 *
 * @module
 */

import { decode, encode, Encoder } from "@msgpack/msgpack";
import type { Entry, Message, MessageType, SnapshotChunk } from "../raft/types.ts";
import { MessageDecodeError } from "./message_decode_error.ts";
import { checkMsgpackShape } from "./msgpack_guard.ts";
import { validateBatch } from "./codec_validate.ts";
import {
  type DecodeLimits,
  DEFAULT_DECODE_LIMITS,
  MAX_ARRAY_DEPTH,
  MESSAGE_FIELDS,
  WIRE_ENTRY_TYPES,
  WIRE_MESSAGE_TYPES,
  WIRE_VERSION,
} from "./wire_format.ts";

export { type DecodeLimits, DEFAULT_DECODE_LIMITS, MessageDecodeError };

const MESSAGE_CODES = new Map(WIRE_MESSAGE_TYPES.map((t, i) => [t, i]));
const ENTRY_CODES = new Map(WIRE_ENTRY_TYPES.map((t, i) => [t, i]));

// Shared across calls: building an encoder per call was a visible share of a write's CPU.
const encoder = new Encoder();

/**
 * Whether a message type may be sent to a peer (the others are local inputs of the core).
 *
 * @example
 * ```ts
 * import { isWireMessageType } from "./codec.ts";
 * console.log(isWireMessageType("app"), isWireMessageType("hup")); // true false
 * ```
 */
export function isWireMessageType(type: MessageType): boolean {
  return MESSAGE_CODES.has(type);
}

/**
 * Encodes a batch of messages for one peer. Throws `TypeError` on a local-only message type
 * or an unknown entry type: those are bugs in the caller, not conditions of the network.
 *
 * @example
 * ```ts
 * import { decodeMessages, encodeMessages } from "./codec.ts";
 * const body = encodeMessages([{
 *   type: "heartbeat", from: 1, to: 2, term: 5, logTerm: 0, index: 0,
 *   entries: [], commit: 9, reject: false, rejectHint: 0,
 * }]);
 * console.log(decodeMessages(body)[0].commit); // 9
 * ```
 */
export function encodeMessages(messages: readonly Message[]): Uint8Array<ArrayBuffer> {
  return joinBatch(messages.map(encodeMessage));
}

/**
 * Encodes one message on its own, to be framed later with `batchHeader`: a transport encodes
 * each message when it is queued (so it knows the exact size, and a bad message fails in the
 * caller's hands) and then frames whatever is queued into one body without re-encoding.
 *
 * @example
 * ```ts
 * import { batchHeader, decodeMessages, encodeMessage } from "./codec.ts";
 * const hb = encodeMessage({
 *   type: "heartbeat", from: 1, to: 2, term: 5, logTerm: 0, index: 0,
 *   entries: [], commit: 9, reject: false, rejectHint: 0,
 * });
 * const head = batchHeader(1);
 * const body = new Uint8Array([...head, ...hb]);
 * console.log(decodeMessages(body).length); // 1
 * ```
 */
export function encodeMessage(m: Message): Uint8Array {
  // A snapshot chunk gets an encoder of its own, so the shared one never grows to its size.
  if (m.snapshot) return encode(toWire(m), { initialBufferSize: estimateSize(m) });
  return encoder.encode(toWire(m));
}

/**
 * The bytes that precede `count` encoded messages to make a batch: `[version, [` in msgpack.
 *
 * @example
 * ```ts
 * import { batchHeader } from "./codec.ts";
 * console.log(batchHeader(2)); // Uint8Array [0x92, 0x01, 0x92]
 * ```
 */
export function batchHeader(count: number): Uint8Array {
  if (count < 16) return new Uint8Array([0x92, WIRE_VERSION, 0x90 | count]);
  if (count < 0x10000) return new Uint8Array([0x92, WIRE_VERSION, 0xdc, count >> 8, count & 0xff]);
  const head = new Uint8Array(7);
  head.set([0x92, WIRE_VERSION, 0xdd]);
  new DataView(head.buffer).setUint32(3, count);
  return head;
}

function joinBatch(encoded: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const head = batchHeader(encoded.length);
  let size = head.byteLength;
  for (const e of encoded) size += e.byteLength;
  const body = new Uint8Array(size);
  body.set(head);
  let at = head.byteLength;
  for (const e of encoded) {
    body.set(e, at);
    at += e.byteLength;
  }
  return body;
}

/** A close upper guess of a message's encoded size, so the encoder allocates once. */
function estimateSize(m: Message): number {
  let size = 96 + (m.context?.byteLength ?? 0);
  for (const e of m.entries) size += 32 + e.data.byteLength;
  if (m.snapshot) {
    const { conf } = m.snapshot.metadata;
    size += 64 + m.snapshot.data.byteLength + 9 * (conf.voters.length + conf.learners.length);
  }
  return size;
}

function toWire(m: Message): unknown[] {
  const code = MESSAGE_CODES.get(m.type);
  if (code === undefined) throw new TypeError(`message type "${m.type}" cannot be sent to a peer`);
  return [
    code,
    m.from,
    m.to,
    m.term,
    m.logTerm,
    m.index,
    m.entries.map(entryToWire),
    m.commit,
    m.reject,
    m.rejectHint,
    m.snapshot === undefined ? null : chunkToWire(m.snapshot),
    m.context ?? null,
  ];
}

function entryToWire(e: Entry): unknown[] {
  const code = ENTRY_CODES.get(e.type);
  if (code === undefined) throw new TypeError(`entry type "${e.type}" is unknown`);
  return [e.term, e.index, code, e.data];
}

function chunkToWire(c: SnapshotChunk): unknown[] {
  const { index, term, conf } = c.metadata;
  return [index, term, conf.voters, conf.learners, c.offset, c.data, c.done, c.total];
}

/**
 * Decodes and validates a peer's body. Throws `MessageDecodeError` (and nothing else) when
 * the body is not a well-formed batch within `limits`.
 *
 * @example
 * ```ts
 * import { decodeMessages, MessageDecodeError } from "./codec.ts";
 * try {
 *   decodeMessages(new Uint8Array([0x92, 0x02, 0x90]));
 * } catch (e) {
 *   console.log((e as MessageDecodeError).message); // "version: expected 1, got 2"
 * }
 * ```
 */
export function decodeMessages(bytes: Uint8Array, limits?: Partial<DecodeLimits>): Message[] {
  const lim: DecodeLimits = { ...DEFAULT_DECODE_LIMITS, ...limits };
  if (!(bytes instanceof Uint8Array)) throw new MessageDecodeError("body is not a Uint8Array");
  if (bytes.byteLength === 0) throw new MessageDecodeError("body is empty");
  if (bytes.byteLength > lim.maxBytes) {
    throw new MessageDecodeError(`body of ${bytes.byteLength} bytes exceeds ${lim.maxBytes}`);
  }
  let raw: unknown;
  try {
    checkMsgpackShape(bytes, MAX_ARRAY_DEPTH);
    raw = decode(bytes, {
      maxStrLength: 0,
      maxMapLength: 0,
      maxExtLength: 0,
      maxBinLength: lim.maxBytes,
      maxArrayLength: Math.max(MESSAGE_FIELDS, lim.maxMessages, lim.maxEntries, lim.maxMembers),
    });
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e);
    throw new MessageDecodeError(`malformed msgpack: ${reason}`, { cause: e });
  }
  try {
    return validateBatch(raw, lim);
  } catch (e) {
    if (e instanceof MessageDecodeError) throw e;
    // A validator bug must still not leak a different exception to the peer endpoint.
    throw new MessageDecodeError(`invalid batch: ${String(e)}`, { cause: e });
  }
}
