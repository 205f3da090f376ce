/**
 * The request and response schemas of the v1 API. Request schemas validate every path
 * segment, query parameter, header and body the API reads (through {@linkcode parseWith}), and
 * the same objects are registered to generate `/openapi.json`; response schemas only describe.
 *
 * Every field that becomes a command's (or the envelope's) field is built from its statement in
 * `COMMAND_SHAPES` / `ENVELOPE_SHAPE` (src/state/commands.ts): its JSON type from its kind, and
 * the state machine's own check of that kind (`checkField`) as the first refinement, so the API
 * can never accept what the log would refuse. The API adds only what is its own: per-node
 * limits, control characters, dot segments, defaults for optional body fields.
 *
 * Schemas are built from the node's {@linkcode Limits}, so the document states the limits the
 * node enforces. A check that enforces a limit says `(limit <name> = <value>)` in its message,
 * which {@linkcode parseWith} turns into a `limit-exceeded` problem naming the limit.
 *
 * @module
 */

import {
  checkField,
  COMMAND_SHAPES,
  ENVELOPE_SHAPE,
  type FieldKind,
  type FieldSpec,
} from "../state/commands.ts";
import { type Limits, utf8Length } from "./limits.ts";
import { invalidRequest, limitExceeded, type ProblemError } from "./problem.ts";
import { z } from "./zod.ts";

/** Limits whose violation is about size of content rather than shape: 413, not 400. */
const CONTENT_TOO_LARGE = new Set(["maxValueBytes", "maxBodyBytes"]);

/** Built-in checks cannot carry parameters, so a limit's name rides in its message. */
function limitMessage(what: string, limit: keyof Limits, value: number): string {
  return `${what} (limit ${limit} = ${value})`;
}

/**
 * Validates `input` with `schema`; throws the problem the first issue amounts to.
 *
 * @example
 * ```ts
 * import { buildSchemas, parseWith } from "./schemas.ts";
 * import { DEFAULT_LIMITS } from "./limits.ts";
 * const s = buildSchemas(DEFAULT_LIMITS);
 * parseWith(s.key, "app/flags", "key"); // "app/flags"
 * ```
 */
export function parseWith<S extends z.ZodType>(
  schema: S,
  input: unknown,
  what: string,
): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw problemOf(result.error, what);
}

function problemOf(error: z.ZodError, what: string): ProblemError {
  const issue = error.issues[0];
  const where = issue.path.length > 0 ? `${what}.${issue.path.join(".")}` : what;
  const message = issue.code === "unrecognized_keys"
    ? `unknown field(s) ${issue.keys.map((k) => JSON.stringify(k)).join(", ")}`
    : issue.message;
  const detail = `${where}: ${message}`;
  const limit = /\(limit (\w+) = /.exec(message)?.[1];
  if (limit !== undefined) {
    return limitExceeded(limit, detail, CONTENT_TOO_LARGE.has(limit) ? 413 : 400);
  }
  return invalidRequest(detail);
}

/** The zod type of each kind of field: its JSON type (what the document shows). */
interface ZodOfKind {
  name: z.ZodString;
  text: z.ZodString;
  count: z.ZodNumber;
  positive: z.ZodNumber;
  flag: z.ZodBoolean;
  json: z.ZodUnknown;
}

/** A field's JSON type for each kind; the kind's rule itself is the state's `checkField`. */
const KIND_TYPES: { [K in FieldKind]: () => ZodOfKind[K] } = {
  name: () => z.string(),
  text: () => z.string(),
  count: () => z.number().openapi({ type: "integer", minimum: 0 }),
  positive: () => z.number().openapi({ type: "integer", minimum: 1 }),
  flag: () => z.boolean(),
  json: () => z.unknown(),
};

/**
 * The schema of one command or envelope field: its kind's JSON type, refined first by the
 * state machine's check of that kind. `noun` names the field in the message.
 */
function shapedField<K extends FieldKind>(
  spec: FieldSpec & { kind: K },
  noun: string,
): ZodOfKind[K] {
  const schema: z.ZodType = KIND_TYPES[spec.kind]();
  return schema.superRefine((value, ctx) => {
    const problem = checkField(spec.kind, value, noun);
    if (problem !== undefined) ctx.addIssue({ code: "custom", message: problem });
  }) as ZodOfKind[K];
}

/** The API's rules for a string beyond its kind: no control characters, at most `max` bytes. */
function withinLimits(schema: z.ZodString, noun: string, limit: keyof Limits, max: number) {
  return schema
    .refine((s) => !/\p{Cc}/u.test(s), `${noun} must not contain control characters`)
    .refine(
      (s) => utf8Length(s) <= max,
      limitMessage(`${noun} is longer than ${max} bytes of UTF-8`, limit, max),
    );
}

/** A string that is not a command field (a prefix): UTF-8 clean, free of control characters. */
function nameLike(noun: string, limit: keyof Limits, max: number) {
  return withinLimits(
    z.string().refine((s) => s.isWellFormed(), `${noun} must be well-formed Unicode`),
    noun,
    limit,
    max,
  );
}

/**
 * Whether a key or lock name has a `.` or `..` segment between its `/`s. Refused: `q/../b`
 * would name one thing in a path that is normalised and another in one that is not (see the
 * path-segments middleware), and a token limited to `q/` must not reach `b` by any spelling.
 */
function hasDotSegment(s: string): boolean {
  return s.split("/").some((segment) => segment === "." || segment === "..");
}

/** A query parameter or header holding a non-negative integer, in decimal. */
function integerText(noun: string, max?: { limit: keyof Limits; value: number }) {
  return z.string()
    .regex(/^(0|[1-9][0-9]{0,15})$/, `${noun} must be a decimal integer >= 0`)
    .transform(Number)
    .refine((n) => Number.isSafeInteger(n), `${noun} is too large`)
    .refine(
      (n) => max === undefined || n <= max.value,
      max && limitMessage(`${noun} is above ${max.value}`, max.limit, max.value),
    );
}

/** The JSON value of a config key: a put's `value`, within the node's size limit. */
function jsonValue(limits: Limits) {
  return z.unknown().superRefine((value, ctx) => {
    if (value === undefined) {
      ctx.addIssue({ code: "custom", message: "the body must be a JSON value" });
      return;
    }
    const problem = checkField(COMMAND_SHAPES.put.value.kind, value, "value");
    if (problem !== undefined) {
      ctx.addIssue({ code: "custom", message: problem });
      return;
    }
    const bytes = utf8Length(JSON.stringify(value));
    if (bytes > limits.maxValueBytes) {
      ctx.addIssue({
        code: "custom",
        message: limitMessage(
          `the value is ${bytes} bytes of compact JSON`,
          "maxValueBytes",
          limits.maxValueBytes,
        ),
      });
    }
  }).openapi({
    description: `Any JSON value, at most ${limits.maxValueBytes} bytes as compact JSON.`,
  });
}

/**
 * Builds every schema for the given limits.
 *
 * @example
 * ```ts
 * import { buildSchemas } from "./schemas.ts";
 * import { resolveLimits } from "./limits.ts";
 * const s = buildSchemas(resolveLimits({ maxTtlMs: 60_000 }));
 * s.acquireBody.safeParse({ ttlMs: 120_000 }).success; // false
 * ```
 */
export function buildSchemas(limits: Limits) {
  const { put, acquire, renew } = COMMAND_SHAPES;
  const key = withinLimits(
    shapedField(put.key, "the key"),
    "the key",
    "maxKeyBytes",
    limits.maxKeyBytes,
  )
    .refine((s) => !hasDotSegment(s), "the key must not have a . or .. segment")
    .openapi({
      description: `A config key of at most ${limits.maxKeyBytes} bytes of UTF-8; may contain ` +
        "`/` (sent raw or as %2F), but no `.` or `..` segment.",
    });
  const prefix = nameLike("the prefix", "maxKeyBytes", limits.maxKeyBytes);
  const lockName = withinLimits(
    shapedField(acquire.name, "the lock name"),
    "the lock name",
    "maxLockNameBytes",
    limits.maxLockNameBytes,
  )
    .refine((s) => !hasDotSegment(s), "the lock name must not have a . or .. segment")
    .openapi({
      description: `A lock name of at most ${limits.maxLockNameBytes} bytes of UTF-8; a \`/\` ` +
        "in it must be sent as %2F; no `.` or `..` segment.",
    });
  const consistency = z.enum(["linearizable", "stale"]).optional().openapi({
    description: "linearizable (default) confirms leadership with ReadIndex; stale answers " +
      "from this node and says how stale in X-Last-Contact-Ms.",
  });
  const maxStalenessMs = integerText("maxStalenessMs").optional().openapi({
    type: "integer",
    description: "Answer from this node if it heard from a leader within this many ms " +
      "(X-Last-Contact-Ms says how long ago), else as a linearizable read. Implies " +
      "consistency=stale; refused with consistency=linearizable.",
  });
  const ttlMs = shapedField(acquire.ttlMs, "ttlMs")
    .refine(
      (n) => n >= limits.minTtlMs,
      limitMessage(`ttlMs is below ${limits.minTtlMs}`, "minTtlMs", limits.minTtlMs),
    )
    .refine(
      (n) => n <= limits.maxTtlMs,
      limitMessage(`ttlMs is above ${limits.maxTtlMs}`, "maxTtlMs", limits.maxTtlMs),
    )
    .openapi({ minimum: limits.minTtlMs, maximum: limits.maxTtlMs });
  const waitMs = shapedField(acquire.waitMs, "waitMs")
    .refine(
      (n) => n <= limits.maxWaitMs,
      limitMessage(`waitMs is above ${limits.maxWaitMs}`, "maxWaitMs", limits.maxWaitMs),
    )
    .openapi({ maximum: limits.maxWaitMs });
  const owner = withinLimits(
    shapedField(acquire.owner, "owner"),
    "owner",
    "maxOwnerBytes",
    limits.maxOwnerBytes,
  );
  const token = shapedField(renew.token, "token").openapi({
    description: "The fencing token of the grant.",
  });

  return {
    key,
    lockName,
    value: jsonValue(limits),
    readQuery: z.object({ consistency, maxStalenessMs }),
    listQuery: z.object({
      prefix: prefix.optional(),
      after: prefix.optional().openapi({ description: "The previous page's `next`." }),
      limit: integerText("limit", { limit: "maxListLimit", value: limits.maxListLimit })
        .refine((n) => n >= 1, "limit must be at least 1").optional()
        .openapi({ type: "integer", description: "Keys per page (default 100)." }),
      consistency,
      maxStalenessMs,
    }),
    watchQuery: z.object({
      prefix: prefix.optional(),
      fromRevision: integerText("fromRevision").optional().openapi({
        type: "integer",
        description: "The first revision to send (default: the next one).",
      }),
    }),
    acquireBody: z.strictObject({
      ttlMs,
      owner: owner.optional(),
      waitMs: waitMs.optional().openapi({
        description: "0 or absent: try-lock; else wait in line.",
      }),
    }).openapi("AcquireRequest"),
    tokenBody: z.strictObject({ token }).openapi("TokenRequest"),
    clientId: withinLimits(
      shapedField(ENVELOPE_SHAPE.clientId, "X-Client-Id"),
      "X-Client-Id",
      "maxClientIdBytes",
      limits.maxClientIdBytes,
    ),
    clientSeq: integerText("X-Client-Seq").superRefine((n, ctx) => {
      const problem = checkField(ENVELOPE_SHAPE.seq.kind, n, "X-Client-Seq");
      if (problem !== undefined) ctx.addIssue({ code: "custom", message: problem });
    }),
    idempotencyKey: withinLimits(
      shapedField(ENVELOPE_SHAPE.idempotencyKey, "Idempotency-Key"),
      "Idempotency-Key",
      "maxIdempotencyKeyBytes",
      limits.maxIdempotencyKeyBytes,
    ),
    lastEventId: integerText("Last-Event-ID"),
    memberId: memberId("id"),
    addMemberBody: z.strictObject({
      id: positiveId("id").optional().openapi({
        description: "The new member's id (default: the next free one; ids are never reused).",
      }),
      peerUrl: memberUrl("peerUrl").openapi({
        description: "Where the other members reach it (its --peer-addr).",
        example: "http://127.0.0.1:7104",
      }),
      clientUrl: memberUrl("clientUrl").openapi({
        description: "Its client API (X-Leader, /v1/cluster).",
        example: "http://127.0.0.1:7004",
      }),
      role: z.string().refine(
        (r) => r === "learner",
        'role must be "learner": a member joins as a learner and becomes a voter by ' +
          "POST /v1/members/{id}/promote once it has caught up",
      ).optional().openapi({ type: "string", enum: ["learner"], description: "Default learner." }),
    }).openapi("AddMemberRequest"),
    transferBody: z.strictObject({
      to: positiveId("to").optional().openapi({
        description: "The voter to hand over to (default: the most caught-up live voter).",
      }),
    }).openapi("TransferRequest"),
  };
}

/** A member id in a JSON body: an integer >= 1. */
function positiveId(noun: string) {
  return z.custom<number>(
    (n) => Number.isSafeInteger(n) && (n as number) >= 1,
    `${noun} must be an integer >= 1`,
  ).openapi({ type: "integer", minimum: 1 });
}

/** A member id in a path segment, in decimal. */
function memberId(noun: string) {
  return z.string()
    .regex(/^[1-9][0-9]{0,15}$/, `${noun} must be a decimal integer >= 1`)
    .transform(Number)
    .refine((n) => Number.isSafeInteger(n), `${noun} is too large`)
    .openapi({ type: "integer", minimum: 1 });
}

/** The longest member URL taken: a scheme, a host and a port need far less. */
const MAX_MEMBER_URL = 1024;

/**
 * A member's peer or client URL: http(s), a host, no path, query, fragment or credentials.
 * Sent on as the URL's origin, so `http://h:1/` and `http://h:1` are one member.
 */
function memberUrl(noun: string) {
  return z.string().transform((text, ctx) => {
    const refuse = (why: string) => {
      ctx.addIssue({
        code: "custom",
        message: `${noun} must be an http(s) URL such as http://10.0.0.4:7104 (${why})`,
      });
      return z.NEVER;
    };
    if (text.length > MAX_MEMBER_URL) return refuse(`at most ${MAX_MEMBER_URL} characters`);
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      return refuse("not a URL");
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") return refuse("not http(s)");
    if (url.username || url.password) return refuse("no credentials");
    if (url.pathname !== "/" || url.search || url.hash) return refuse("no path or query");
    return url.origin;
  }).openapi({ type: "string", format: "uri" });
}

/**
 * The schemas for one set of limits.
 *
 * @example
 * ```ts
 * import type { Schemas } from "./schemas.ts";
 * const check = (s: Schemas) => s.key.safeParse("a").success;
 * ```
 */
export type Schemas = ReturnType<typeof buildSchemas>;
