/**
 * Turns the raw value msgpack decoded from a peer's body into `Message`s, checking every
 * field's type and range and every count, or throws `MessageDecodeError` naming the field.
 *
 * Beyond types, it checks what must hold for any message a correct node sends, so that the
 * core never sees an impossible one: the sender and recipient are real node ids, a `snap`
 * carries a snapshot chunk and no other type does, a chunk stays within its snapshot's size,
 * and the entries of an `app` follow `index` one by one with terms that never decrease, never
 * fall below `logTerm` and never exceed the message's term.
 *
 * @module
 */

import type { ConfState, Entry, Message, NodeId, SnapshotChunk } from "../raft/types.ts";
import { MessageDecodeError } from "./message_decode_error.ts";
import {
  type DecodeLimits,
  MESSAGE_FIELDS,
  WIRE_ENTRY_TYPES,
  WIRE_MESSAGE_TYPES,
  WIRE_VERSION,
} from "./wire_format.ts";

const ENTRY_FIELDS = 4;
const CHUNK_FIELDS = 8;

/**
 * Validates a decoded batch `[version, [message, ...]]` and builds its messages.
 *
 * @example
 * ```ts
 * import { validateBatch } from "./codec_validate.ts";
 * import { DEFAULT_DECODE_LIMITS } from "./wire_format.ts";
 * const hb = [9, 1, 2, 5, 0, 0, [], 9, false, 0, null, null];
 * console.log(validateBatch([1, [hb]], DEFAULT_DECODE_LIMITS)[0].type); // "heartbeat"
 * ```
 */
export function validateBatch(raw: unknown, limits: DecodeLimits): Message[] {
  if (!Array.isArray(raw) || raw.length !== 2) {
    fail("batch", `expected [version, messages], got ${describe(raw)}`);
  }
  if (raw[0] !== WIRE_VERSION) fail("version", `expected ${WIRE_VERSION}, got ${describe(raw[0])}`);
  const list = raw[1];
  if (!Array.isArray(list)) fail("messages", `expected an array, got ${describe(list)}`);
  if (list.length === 0) fail("messages", "a batch must hold at least one message");
  if (list.length > limits.maxMessages) {
    fail("messages", `${list.length} messages exceed the limit of ${limits.maxMessages}`);
  }
  const budget = { entries: limits.maxEntries };
  const out: Message[] = new Array(list.length);
  for (let i = 0; i < list.length; i++) {
    out[i] = toMessage(list[i], `messages[${i}]`, limits, budget);
  }
  return out;
}

function toMessage(
  raw: unknown,
  at: string,
  limits: DecodeLimits,
  budget: { entries: number },
): Message {
  if (!Array.isArray(raw) || raw.length !== MESSAGE_FIELDS) {
    fail(at, `expected an array of ${MESSAGE_FIELDS} fields, got ${describe(raw)}`);
  }
  const code = raw[0];
  const type = Number.isInteger(code) ? WIRE_MESSAGE_TYPES[code as number] : undefined;
  if (type === undefined) fail(`${at}.type`, `unknown message type code ${describe(code)}`);
  const m: Message = {
    type,
    from: nodeId(raw[1], `${at}.from`),
    to: nodeId(raw[2], `${at}.to`),
    term: uint(raw[3], `${at}.term`),
    logTerm: uint(raw[4], `${at}.logTerm`),
    index: uint(raw[5], `${at}.index`),
    entries: [],
    commit: uint(raw[7], `${at}.commit`),
    reject: bool(raw[8], `${at}.reject`),
    rejectHint: uint(raw[9], `${at}.rejectHint`),
  };
  const entries = raw[6];
  if (!Array.isArray(entries)) fail(`${at}.entries`, `expected an array, got ${describe(entries)}`);
  budget.entries -= entries.length;
  if (budget.entries < 0) {
    fail(`${at}.entries`, `the batch holds more than ${limits.maxEntries} entries`);
  }
  m.entries = entries.map((e, j) => toEntry(e, `${at}.entries[${j}]`));
  if (type === "app") checkAppendedEntries(m, at);

  const chunk = raw[10];
  if (type === "snap") {
    m.snapshot = toChunk(chunk, `${at}.snapshot`, limits);
  } else if (chunk !== null) {
    fail(`${at}.snapshot`, `only a snap message carries a snapshot, this is ${type}`);
  }
  const context = raw[11];
  if (context !== null) m.context = bytes(context, `${at}.context`, limits.maxContextBytes);
  return m;
}

function toEntry(raw: unknown, at: string): Entry {
  if (!Array.isArray(raw) || raw.length !== ENTRY_FIELDS) {
    fail(at, `expected [term, index, type, data], got ${describe(raw)}`);
  }
  const code = raw[2];
  const type = Number.isInteger(code) ? WIRE_ENTRY_TYPES[code as number] : undefined;
  if (type === undefined) fail(`${at}.type`, `unknown entry type code ${describe(code)}`);
  return {
    term: uint(raw[0], `${at}.term`),
    index: uint(raw[1], `${at}.index`),
    type,
    data: bytes(raw[3], `${at}.data`, Infinity),
  };
}

/** AppendEntries must extend the log right after `index` (Raft paper, figure 2). */
function checkAppendedEntries(m: Message, at: string): void {
  let prevIndex = m.index;
  let prevTerm = m.logTerm;
  for (let j = 0; j < m.entries.length; j++) {
    const e = m.entries[j];
    if (e.index !== prevIndex + 1) {
      fail(`${at}.entries[${j}].index`, `expected ${prevIndex + 1}, got ${e.index}`);
    }
    if (e.term < prevTerm || e.term > m.term) {
      fail(`${at}.entries[${j}].term`, `${e.term} is outside [${prevTerm}, ${m.term}]`);
    }
    prevIndex = e.index;
    prevTerm = e.term;
  }
}

function toChunk(raw: unknown, at: string, limits: DecodeLimits): SnapshotChunk {
  if (!Array.isArray(raw) || raw.length !== CHUNK_FIELDS) {
    fail(at, `expected a snapshot chunk of ${CHUNK_FIELDS} fields, got ${describe(raw)}`);
  }
  const chunk: SnapshotChunk = {
    metadata: {
      index: uint(raw[0], `${at}.index`),
      term: uint(raw[1], `${at}.term`),
      conf: toConf(raw[2], raw[3], at, limits.maxMembers),
    },
    offset: uint(raw[4], `${at}.offset`),
    data: bytes(raw[5], `${at}.data`, Infinity),
    done: bool(raw[6], `${at}.done`),
    total: uint(raw[7], `${at}.total`),
  };
  const end = chunk.offset + chunk.data.byteLength;
  if (end > chunk.total) {
    fail(`${at}.data`, `chunk ends at byte ${end}, past the snapshot's ${chunk.total} bytes`);
  }
  if (chunk.done && end !== chunk.total) {
    fail(`${at}.done`, `the last chunk ends at byte ${end}, not at the total ${chunk.total}`);
  }
  return chunk;
}

function toConf(voters: unknown, learners: unknown, at: string, maxMembers: number): ConfState {
  const v = nodeIds(voters, `${at}.voters`, maxMembers);
  const l = nodeIds(learners, `${at}.learners`, maxMembers - v.length);
  const seen = new Set<NodeId>();
  for (const id of [...v, ...l]) {
    if (seen.has(id)) fail(`${at}.conf`, `node ${id} is listed twice`);
    seen.add(id);
  }
  return { voters: v, learners: l };
}

function nodeIds(raw: unknown, at: string, max: number): NodeId[] {
  if (!Array.isArray(raw)) fail(at, `expected an array of node ids, got ${describe(raw)}`);
  if (raw.length > max) fail(at, `more members than the limit allows (${raw.length})`);
  return raw.map((id, k) => nodeId(id, `${at}[${k}]`));
}

function uint(v: unknown, at: string): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) {
    fail(at, `expected a non-negative safe integer, got ${describe(v)}`);
  }
  return v;
}

function nodeId(v: unknown, at: string): NodeId {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 1) {
    fail(at, `expected a node id (a positive safe integer), got ${describe(v)}`);
  }
  return v;
}

function bool(v: unknown, at: string): boolean {
  if (typeof v !== "boolean") fail(at, `expected a boolean, got ${describe(v)}`);
  return v;
}

function bytes(v: unknown, at: string, max: number): Uint8Array {
  if (!(v instanceof Uint8Array)) fail(at, `expected binary data, got ${describe(v)}`);
  if (v.byteLength > max) fail(at, `${v.byteLength} bytes exceed the limit of ${max}`);
  return v;
}

function fail(at: string, reason: string): never {
  throw new MessageDecodeError(`${at}: ${reason}`);
}

/** A short, safe description of a value for an error message (never the whole value). */
function describe(v: unknown): string {
  if (v === null) return "nil";
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (v instanceof Uint8Array) return `${v.byteLength} bytes of binary`;
  if (typeof v === "number") return String(v);
  if (typeof v === "boolean") return String(v);
  return typeof v;
}
