/**
 * The commands of the replicated state machine, the envelope that carries one through the log,
 * and their msgpack encoding.
 *
 * Decoding validates strictly (no missing, extra or mistyped field) and never throws: a bad
 * entry must get the same error answer on every node, whatever the bytes are.
 *
 * Size limits (key length, value size, ttl range) are the API's business: they are configurable
 * per node, and a state machine that applied them could disagree with itself across nodes.
 *
 * @module
 */

import { Decoder, Encoder } from "@msgpack/msgpack";
import { InvalidCommandError } from "./errors.ts";
import { checkJsonValue, isWellFormedString, type JsonValue } from "./json_value.ts";

// Shared across calls: building an encoder per call was a visible share of a write's CPU.
// Absent optional fields must stay absent, not turn into nil (which the decoder refuses).
const encoder = new Encoder({ ignoreUndefined: true });
const decoder = new Decoder();

/**
 * Sets a config value. `ifRevision` makes it a compare-and-set on the key's revision (0 means
 * "absent"); `ifAbsent` makes it create-only.
 *
 * @example
 * ```ts
 * import type { PutCommand } from "./commands.ts";
 * const c: PutCommand = { op: "put", key: "app/flags", value: { dark: true }, ifRevision: 7 };
 * ```
 */
export interface PutCommand {
  op: "put";
  key: string;
  value: JsonValue;
  ifRevision?: number;
  ifAbsent?: boolean;
}

/**
 * Deletes a config value, optionally only if its revision is `ifRevision`.
 *
 * @example
 * ```ts
 * import type { DeleteCommand } from "./commands.ts";
 * const c: DeleteCommand = { op: "delete", key: "app/flags" };
 * ```
 */
export interface DeleteCommand {
  op: "delete";
  key: string;
  ifRevision?: number;
}

/**
 * Takes a lock for `ttlMs`; when it is held, waits in line up to `waitMs` (0: do not wait).
 *
 * @example
 * ```ts
 * import type { AcquireCommand } from "./commands.ts";
 * const c: AcquireCommand = { op: "acquire", name: "cron", owner: "eu-1", ttlMs: 10_000, waitMs: 0 };
 * ```
 */
export interface AcquireCommand {
  op: "acquire";
  name: string;
  owner: string;
  ttlMs: number;
  waitMs: number;
}

/**
 * Extends the lease of the holder whose fencing token is `token` by its ttl.
 *
 * @example
 * ```ts
 * import type { RenewCommand } from "./commands.ts";
 * const c: RenewCommand = { op: "renew", name: "cron", token: 42 };
 * ```
 */
export interface RenewCommand {
  op: "renew";
  name: string;
  token: number;
}

/**
 * Frees the lock if `token` still holds it, and hands it to the first waiter.
 *
 * @example
 * ```ts
 * import type { ReleaseCommand } from "./commands.ts";
 * const c: ReleaseCommand = { op: "release", name: "cron", token: 42 };
 * ```
 */
export interface ReleaseCommand {
  op: "release";
  name: string;
  token: number;
}

/**
 * Takes a waiter out of a lock's queue (its client went away). What older nodes proposed; it
 * names no attempt, so only a wait with one attempt attached is withdrawn (see
 * `AbandonWaitCommand`).
 *
 * @example
 * ```ts
 * import type { CancelWaitCommand } from "./commands.ts";
 * const c: CancelWaitCommand = { op: "cancelWait", name: "cron", waiterId: 43 };
 * ```
 */
export interface CancelWaitCommand {
  op: "cancelWait";
  name: string;
  waiterId: number;
}

/**
 * Lets go of one attempt at the wait `waiterId` of an acquire whose client went away. `at` is
 * the index of that attempt's own entry: the acquire applied afresh, or a retry with the same
 * key answered from its record (each such entry is attached to the wait). Once no attempt is
 * attached, the wait is withdrawn: waiter `waiterId` leaves the line or, if the lock was granted
 * to it meanwhile, the lock is released. While another attempt is attached (a retry whose client
 * may be there, whichever came first in the log), nothing is withdrawn. A retry that comes after
 * the withdrawal is applied afresh: the exactly-once record of the wait is cleared.
 *
 * @example
 * ```ts
 * import type { AbandonWaitCommand } from "./commands.ts";
 * const c: AbandonWaitCommand = { op: "abandonWait", name: "cron", waiterId: 43, at: 43 };
 * ```
 */
export interface AbandonWaitCommand {
  op: "abandonWait";
  name: string;
  waiterId: number;
  at: number;
}

/**
 * Only moves the clock forward: leases expire, waiters time out, locks pass to waiters.
 *
 * @example
 * ```ts
 * import type { TickCommand } from "./commands.ts";
 * const c: TickCommand = { op: "tick" };
 * ```
 */
export interface TickCommand {
  op: "tick";
}

/**
 * Any command of the state machine.
 *
 * @example
 * ```ts
 * import type { Command } from "./commands.ts";
 * const c: Command = { op: "put", key: "k", value: 1 };
 * ```
 */
export type Command =
  | PutCommand
  | DeleteCommand
  | AcquireCommand
  | RenewCommand
  | ReleaseCommand
  | CancelWaitCommand
  | AbandonWaitCommand
  | TickCommand;

/**
 * What one log entry carries: the command, the leader's clock when it proposed it (ms since
 * the epoch), and what makes a retry recognisable (a client session's `clientId` + `seq`, or an
 * `idempotencyKey`). Sessions and keys belong to a `principal` (the API token's identity;
 * absent: the open API's one principal), and `fingerprint` (a digest of the request, computed
 * by the API) tells a retry from a different request under the same key or (id, seq).
 *
 * @example
 * ```ts
 * import type { Envelope } from "./commands.ts";
 * const e: Envelope = { cmd: { op: "tick" }, time: 1_700_000_000_000 };
 * ```
 */
export interface Envelope {
  cmd: Command;
  time: number;
  clientId?: string;
  seq?: number;
  idempotencyKey?: string;
  principal?: string;
  fingerprint?: string;
}

/**
 * The outcome of checking or decoding an envelope.
 *
 * @example
 * ```ts
 * import { validateEnvelope, type EnvelopeCheck } from "./commands.ts";
 * const check: EnvelopeCheck = validateEnvelope({ cmd: { op: "tick" }, time: 1 });
 * if (!check.ok) console.log(check.detail);
 * ```
 */
export type EnvelopeCheck = { ok: true; envelope: Envelope } | { ok: false; detail: string };

/** Checks one field; `path` names it in the sentence returned when it is wrong. */
type FieldCheck = (value: unknown, path: string) => string | undefined;

const nonEmptyString: FieldCheck = (v, path) =>
  isWellFormedString(v) && v.length > 0
    ? undefined
    : `${path} must be a non-empty well-formed string`;
const anyString: FieldCheck = (v, path) =>
  isWellFormedString(v) ? undefined : `${path} must be a well-formed string`;
const boolean: FieldCheck = (v, path) =>
  typeof v === "boolean" ? undefined : `${path} must be a boolean`;
const count: FieldCheck = (v, path) =>
  Number.isSafeInteger(v) && (v as number) >= 0 ? undefined : `${path} must be an integer >= 0`;
const positive: FieldCheck = (v, path) =>
  Number.isSafeInteger(v) && (v as number) >= 1 ? undefined : `${path} must be an integer >= 1`;
const jsonValue: FieldCheck = (v, path) => checkJsonValue(v, path);

/** Each op's fields: name -> [required, check]. `op` itself is checked before these. */
const COMMAND_FIELDS: Record<Command["op"], Record<string, [boolean, FieldCheck]>> = {
  put: {
    key: [true, nonEmptyString],
    value: [true, jsonValue],
    ifRevision: [false, count],
    ifAbsent: [false, boolean],
  },
  delete: { key: [true, nonEmptyString], ifRevision: [false, count] },
  acquire: {
    name: [true, nonEmptyString],
    owner: [true, anyString],
    ttlMs: [true, positive],
    waitMs: [true, count],
  },
  renew: { name: [true, nonEmptyString], token: [true, positive] },
  release: { name: [true, nonEmptyString], token: [true, positive] },
  cancelWait: { name: [true, nonEmptyString], waiterId: [true, positive] },
  abandonWait: { name: [true, nonEmptyString], waiterId: [true, positive], at: [true, positive] },
  tick: {},
};

const ENVELOPE_FIELDS: Record<string, [boolean, FieldCheck]> = {
  cmd: [true, () => undefined],
  time: [true, count],
  clientId: [false, nonEmptyString],
  seq: [false, count],
  idempotencyKey: [false, nonEmptyString],
  principal: [false, nonEmptyString],
  fingerprint: [false, nonEmptyString],
};

function isRecord(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function checkFields(
  record: Record<string, unknown>,
  fields: Record<string, [boolean, FieldCheck]>,
  where: string,
  skip?: string,
): string | undefined {
  for (const name of Object.keys(record)) {
    if (name !== skip && !(name in fields)) return `${where}: unknown field "${name}"`;
  }
  for (const [name, [required, check]] of Object.entries(fields)) {
    if (!Object.hasOwn(record, name) || record[name] === undefined) {
      if (required) return `${where}.${name} is required`;
      continue;
    }
    const problem = check(record[name], `${where}.${name}`);
    if (problem !== undefined) return problem;
  }
  return undefined;
}

/**
 * Checks that `input` is a well-formed envelope. The envelope is returned as given (not
 * copied) when it is.
 *
 * @example
 * ```ts
 * import { validateEnvelope } from "./commands.ts";
 * validateEnvelope({ cmd: { op: "delete", key: "" }, time: 1 });
 * // { ok: false, detail: "cmd.key must be a non-empty well-formed string" }
 * ```
 */
export function validateEnvelope(input: unknown): EnvelopeCheck {
  if (!isRecord(input)) return { ok: false, detail: "the envelope must be an object" };
  const envelopeProblem = checkFields(input, ENVELOPE_FIELDS, "envelope");
  if (envelopeProblem !== undefined) return { ok: false, detail: envelopeProblem };
  if ((input.clientId === undefined) !== (input.seq === undefined)) {
    return { ok: false, detail: "envelope: clientId and seq go together" };
  }
  const cmd = input.cmd;
  if (!isRecord(cmd)) return { ok: false, detail: "cmd must be an object" };
  if (typeof cmd.op !== "string" || !Object.hasOwn(COMMAND_FIELDS, cmd.op)) {
    return { ok: false, detail: `cmd.op must be one of ${Object.keys(COMMAND_FIELDS).join(", ")}` };
  }
  const problem = checkFields(cmd, COMMAND_FIELDS[cmd.op as Command["op"]], "cmd", "op");
  if (problem !== undefined) return { ok: false, detail: problem };
  return { ok: true, envelope: input as unknown as Envelope };
}

/**
 * Encodes an envelope for the log. Throws an {@linkcode InvalidCommandError} if the envelope
 * is not well-formed, so that a bad request fails before it is proposed rather than after it
 * is committed.
 *
 * @example
 * ```ts
 * import { decodeCommand, encodeCommand } from "./commands.ts";
 * const bytes = encodeCommand({ cmd: { op: "tick" }, time: 5 });
 * decodeCommand(bytes); // { ok: true, envelope: { cmd: { op: "tick" }, time: 5 } }
 * ```
 */
export function encodeCommand(envelope: Envelope): Uint8Array {
  const check = validateEnvelope(envelope);
  if (!check.ok) throw new InvalidCommandError(check.detail);
  return encoder.encode(envelope);
}

/**
 * Decodes and validates one log entry's bytes. Never throws.
 *
 * @example
 * ```ts
 * import { decodeCommand } from "./commands.ts";
 * decodeCommand(new Uint8Array([0xc1])); // { ok: false, detail: "not msgpack: ..." }
 * ```
 */
export function decodeCommand(bytes: Uint8Array): EnvelopeCheck {
  let decoded: unknown;
  try {
    decoded = decoder.decode(bytes);
  } catch (error) {
    return { ok: false, detail: `not msgpack: ${error instanceof Error ? error.message : error}` };
  }
  return validateEnvelope(decoded);
}
