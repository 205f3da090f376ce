/**
 * The commands of the replicated state machine, the envelope that carries one through the log,
 * and their msgpack encoding.
 *
 * A node checks and encodes a submission (the envelope without its time) once, where a client
 * submits it (`encodeSubmission`); the leader puts those bytes in the log after a small header
 * holding its time stamp (src/node/proposal_envelope.ts), and every node decodes and checks them
 * once when it applies the entry (`decodeSubmission`). `encodeCommand` / `decodeCommand` are the
 * whole envelope, time inside: the format of entries written before issue 11, still applied.
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
 * The kinds of field a command or an envelope has. Each has one check here, which the state
 * machine applies to every entry, and one meaning for the API, which builds its request
 * schemas from the same kinds (adding only its per-node limits and path rules):
 *
 * - `name`: a non-empty well-formed string (a key, a lock name, an id);
 * - `text`: a well-formed string, possibly empty (a lock owner);
 * - `count`: a safe integer >= 0;
 * - `positive`: a safe integer >= 1 (a fencing token, a ttl, an index);
 * - `flag`: a boolean;
 * - `json`: a JSON value as `checkJsonValue` accepts it.
 *
 * @example
 * ```ts
 * import type { FieldKind } from "./commands.ts";
 * const kind: FieldKind = "positive";
 * ```
 */
export type FieldKind = "name" | "text" | "count" | "positive" | "flag" | "json";

/** The TypeScript type of each kind of field. */
interface FieldTypes {
  name: string;
  text: string;
  count: number;
  positive: number;
  flag: boolean;
  json: JsonValue;
}

/**
 * One field of a command: its kind and whether it must be present.
 *
 * @example
 * ```ts
 * import { COMMAND_SHAPES, type FieldSpec } from "./commands.ts";
 * const token: FieldSpec = COMMAND_SHAPES.renew.token; // { kind: "positive", required: true }
 * ```
 */
export interface FieldSpec {
  readonly kind: FieldKind;
  readonly required: boolean;
}

const required = <K extends FieldKind>(kind: K) => ({ kind, required: true }) as const;
const optional = <K extends FieldKind>(kind: K) => ({ kind, required: false }) as const;

/**
 * The one statement of each command's shape: op -> field -> kind and presence. The command
 * types below are derived from it, the state machine validates every entry against it, and the
 * API builds its request schemas from its kinds. `op` itself is not listed.
 *
 * @example
 * ```ts
 * import { COMMAND_SHAPES } from "./commands.ts";
 * Object.keys(COMMAND_SHAPES.delete); // ["key", "ifRevision"]
 * ```
 */
export const COMMAND_SHAPES = {
  put: {
    key: required("name"),
    value: required("json"),
    ifRevision: optional("count"),
    ifAbsent: optional("flag"),
  },
  delete: { key: required("name"), ifRevision: optional("count") },
  acquire: {
    name: required("name"),
    owner: required("text"),
    ttlMs: required("positive"),
    waitMs: required("count"),
  },
  renew: { name: required("name"), token: required("positive") },
  release: { name: required("name"), token: required("positive") },
  cancelWait: { name: required("name"), waiterId: required("positive") },
  abandonWait: { name: required("name"), waiterId: required("positive"), at: required("positive") },
  tick: {},
} as const satisfies Record<string, Record<string, FieldSpec>>;

/**
 * The fields of an envelope besides `cmd` (see {@linkcode Envelope}), with their kinds: the
 * exactly-once fields the API fills from headers (`clientId`, `seq`, `idempotencyKey`, ...) and
 * the leader's `time`.
 *
 * @example
 * ```ts
 * import { ENVELOPE_SHAPE } from "./commands.ts";
 * ENVELOPE_SHAPE.clientId; // { kind: "name", required: false }
 * ```
 */
export const ENVELOPE_SHAPE = {
  time: required("count"),
  clientId: optional("name"),
  seq: optional("count"),
  idempotencyKey: optional("name"),
  principal: optional("name"),
  fingerprint: optional("name"),
} as const satisfies Record<string, FieldSpec>;

/** What `validateEnvelope` checks first: `cmd` is required (its op's shape checks the rest). */
const ENVELOPE_FIELDS: Record<string, FieldSpec> = { cmd: required("json"), ...ENVELOPE_SHAPE };

/** The same without `time`: a submission, which the leader stamps (see `decodeSubmission`). */
const SUBMISSION_FIELDS: Record<string, FieldSpec> = Object.fromEntries(
  Object.entries(ENVELOPE_FIELDS).filter(([name]) => name !== "time"),
);

/** Flattens an intersection, so that editors show a derived type as one object. */
type Flat<T> = { -readonly [K in keyof T]: T[K] } & unknown;

/** The object type a shape describes: required fields as such, the others optional. */
type FieldsOf<S extends Record<string, FieldSpec>> = Flat<
  & { [F in keyof S as S[F]["required"] extends true ? F : never]: FieldTypes[S[F]["kind"]] }
  & { [F in keyof S as S[F]["required"] extends true ? never : F]?: FieldTypes[S[F]["kind"]] }
>;

/**
 * The command of one op, derived from {@linkcode COMMAND_SHAPES}.
 *
 * @example
 * ```ts
 * import type { CommandOf } from "./commands.ts";
 * const c: CommandOf<"renew"> = { op: "renew", name: "cron", token: 42 };
 * ```
 */
export type CommandOf<Op extends keyof typeof COMMAND_SHAPES> = Flat<
  { op: Op } & FieldsOf<typeof COMMAND_SHAPES[Op]>
>;

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
export type PutCommand = CommandOf<"put">;

/**
 * Deletes a config value, optionally only if its revision is `ifRevision`.
 *
 * @example
 * ```ts
 * import type { DeleteCommand } from "./commands.ts";
 * const c: DeleteCommand = { op: "delete", key: "app/flags" };
 * ```
 */
export type DeleteCommand = CommandOf<"delete">;

/**
 * Takes a lock for `ttlMs`; when it is held, waits in line up to `waitMs` (0: do not wait).
 *
 * @example
 * ```ts
 * import type { AcquireCommand } from "./commands.ts";
 * const c: AcquireCommand = { op: "acquire", name: "cron", owner: "eu-1", ttlMs: 10_000, waitMs: 0 };
 * ```
 */
export type AcquireCommand = CommandOf<"acquire">;

/**
 * Extends the lease of the holder whose fencing token is `token` by its ttl.
 *
 * @example
 * ```ts
 * import type { RenewCommand } from "./commands.ts";
 * const c: RenewCommand = { op: "renew", name: "cron", token: 42 };
 * ```
 */
export type RenewCommand = CommandOf<"renew">;

/**
 * Frees the lock if `token` still holds it, and hands it to the first waiter.
 *
 * @example
 * ```ts
 * import type { ReleaseCommand } from "./commands.ts";
 * const c: ReleaseCommand = { op: "release", name: "cron", token: 42 };
 * ```
 */
export type ReleaseCommand = CommandOf<"release">;

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
export type CancelWaitCommand = CommandOf<"cancelWait">;

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
export type AbandonWaitCommand = CommandOf<"abandonWait">;

/**
 * Only moves the clock forward: leases expire, waiters time out, locks pass to waiters.
 *
 * @example
 * ```ts
 * import type { TickCommand } from "./commands.ts";
 * const c: TickCommand = { op: "tick" };
 * ```
 */
export type TickCommand = CommandOf<"tick">;

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
export type Envelope = Flat<{ cmd: Command } & FieldsOf<typeof ENVELOPE_SHAPE>>;

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

/**
 * A command as a client submits it: an {@linkcode Envelope} without the time, which the leader
 * adds when it proposes it.
 *
 * @example
 * ```ts
 * import type { Submission } from "./commands.ts";
 * const s: Submission = { cmd: { op: "delete", key: "k" }, idempotencyKey: "a1" };
 * ```
 */
export type Submission = Omit<Envelope, "time">;

/** Checks one field; `path` names it in the sentence returned when it is wrong. */
type FieldCheck = (value: unknown, path: string) => string | undefined;

/** The one check of each kind of field (see {@linkcode FieldKind}). */
const FIELD_CHECKS: Record<FieldKind, FieldCheck> = {
  name: (v, path) =>
    isWellFormedString(v) && v.length > 0
      ? undefined
      : `${path} must be a non-empty well-formed string`,
  text: (v, path) => isWellFormedString(v) ? undefined : `${path} must be a well-formed string`,
  count: (v, path) =>
    Number.isSafeInteger(v) && (v as number) >= 0 ? undefined : `${path} must be an integer >= 0`,
  positive: (v, path) =>
    Number.isSafeInteger(v) && (v as number) >= 1 ? undefined : `${path} must be an integer >= 1`,
  flag: (v, path) => typeof v === "boolean" ? undefined : `${path} must be a boolean`,
  json: (v, path) => checkJsonValue(v, path),
};

function isRecord(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * The first problem with `record`'s fields, in a fixed order (unknown fields, then each field
 * in the shape's order), so that every node words a bad entry alike. `elsewhere` is a field
 * checked by the caller: known, and only required here if `fields` lists it.
 */
function checkFields(
  record: Record<string, unknown>,
  fields: Record<string, FieldSpec>,
  where: string,
  elsewhere: string,
): string | undefined {
  for (const name of Object.keys(record)) {
    // Own fields only: `constructor` or `toString` are not fields of any command.
    if (name !== elsewhere && !Object.hasOwn(fields, name)) {
      return `${where}: unknown field "${name}"`;
    }
  }
  for (const [name, { kind, required }] of Object.entries(fields)) {
    if (!Object.hasOwn(record, name) || record[name] === undefined) {
      if (required) return `${where}.${name} is required`;
      continue;
    }
    if (name === elsewhere) continue;
    const problem = FIELD_CHECKS[kind](record[name], `${where}.${name}`);
    if (problem !== undefined) return problem;
  }
  return undefined;
}

/**
 * Checks one field of one kind, as the state machine does for every entry: undefined when
 * `value` is a good `kind`, else a sentence naming `path`. The API's request schemas refine
 * with this same check (src/api/schemas.ts), so a field's rule is written once.
 *
 * @example
 * ```ts
 * import { checkField } from "./commands.ts";
 * checkField("positive", 0, "token"); // "token must be an integer >= 1"
 * checkField("name", "a", "key"); // undefined
 * ```
 */
export function checkField(kind: FieldKind, value: unknown, path: string): string | undefined {
  return FIELD_CHECKS[kind](value, path);
}

/** Checks an envelope (with `time`) or a submission (without), as `fields` says. */
function validateWith(input: unknown, fields: Record<string, FieldSpec>): EnvelopeCheck {
  if (!isRecord(input)) return { ok: false, detail: "the envelope must be an object" };
  const envelopeProblem = checkFields(input, fields, "envelope", "cmd");
  if (envelopeProblem !== undefined) return { ok: false, detail: envelopeProblem };
  if ((input.clientId === undefined) !== (input.seq === undefined)) {
    return { ok: false, detail: "envelope: clientId and seq go together" };
  }
  const cmd = input.cmd;
  if (!isRecord(cmd)) return { ok: false, detail: "cmd must be an object" };
  if (typeof cmd.op !== "string" || !Object.hasOwn(COMMAND_SHAPES, cmd.op)) {
    return { ok: false, detail: `cmd.op must be one of ${Object.keys(COMMAND_SHAPES).join(", ")}` };
  }
  const shape: Record<string, FieldSpec> = COMMAND_SHAPES[cmd.op as Command["op"]];
  const problem = checkFields(cmd, shape, "cmd", "op");
  if (problem !== undefined) return { ok: false, detail: problem };
  return { ok: true, envelope: input as unknown as Envelope };
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
  return validateWith(input, ENVELOPE_FIELDS);
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

/**
 * Checks a submission and encodes it as msgpack: the bytes a node forwards to the leader and
 * the leader puts in the log after its proposal header (src/node/proposal_envelope.ts). The one
 * check on the way in; throws an {@linkcode InvalidCommandError} if it is not well-formed, so a
 * bad request fails before it is proposed rather than after it is committed.
 *
 * @example
 * ```ts
 * import { decodeSubmission, encodeSubmission } from "./commands.ts";
 * const bytes = encodeSubmission({ cmd: { op: "tick" } });
 * decodeSubmission(bytes, 5); // { ok: true, envelope: { cmd: { op: "tick" }, time: 5 } }
 * ```
 */
export function encodeSubmission(submission: Submission): Uint8Array {
  const check = validateWith(submission, SUBMISSION_FIELDS);
  if (!check.ok) throw new InvalidCommandError(check.detail);
  return encoder.encode(submission);
}

/**
 * Decodes and validates a submission's bytes (see {@linkcode encodeSubmission}) stamped with the
 * leader's `time`, into the envelope the state machine applies. Never throws; the bytes come
 * from the log and may be anything. A `time` inside the bytes is refused (an unknown field): the
 * stamp comes only from the proposal's header.
 *
 * @example
 * ```ts
 * import { decodeSubmission } from "./commands.ts";
 * decodeSubmission(new Uint8Array([0x90]), 1); // { ok: false, detail: "the envelope must be an object" }
 * ```
 */
export function decodeSubmission(bytes: Uint8Array, time: number): EnvelopeCheck {
  let decoded: unknown;
  try {
    decoded = decoder.decode(bytes);
  } catch (error) {
    return { ok: false, detail: `not msgpack: ${error instanceof Error ? error.message : error}` };
  }
  const check = validateWith(decoded, SUBMISSION_FIELDS);
  if (!check.ok) return check;
  const problem = FIELD_CHECKS.count(time, "envelope.time");
  if (problem !== undefined) return { ok: false, detail: problem };
  // A fresh object from the decoder, checked above: stamping it in place copies nothing.
  (decoded as { time: number }).time = time;
  return check;
}
