/**
 * The request and response schemas of the v1 API. Request schemas validate every path
 * segment, query parameter, header and body the API reads (through {@linkcode parseWith}), and
 * the same objects are registered to generate `/openapi.json`; response schemas only describe.
 *
 * Schemas are built from the node's {@linkcode Limits}, so the document states the limits the
 * node enforces. A check that enforces a limit says `(limit <name> = <value>)` in its message,
 * which {@linkcode parseWith} turns into a `limit-exceeded` problem naming the limit.
 *
 * @module
 */

import { checkJsonValue } from "../state/json_value.ts";
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

/** A string that is UTF-8 clean (no lone surrogates) and free of control characters. */
function nameLike(noun: string, limit: keyof Limits, max: number) {
  return z.string()
    .refine((s) => s.isWellFormed(), `${noun} must be well-formed Unicode`)
    .refine((s) => !/\p{Cc}/u.test(s), `${noun} must not contain control characters`)
    .refine(
      (s) => utf8Length(s) <= max,
      limitMessage(`${noun} is longer than ${max} bytes of UTF-8`, limit, max),
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

/** The JSON value of a config key, checked as the state machine will store it. */
function jsonValue(limits: Limits) {
  return z.unknown().superRefine((value, ctx) => {
    if (value === undefined) {
      ctx.addIssue({ code: "custom", message: "the body must be a JSON value" });
      return;
    }
    const problem = checkJsonValue(value, "value");
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
  const key = nameLike("the key", "maxKeyBytes", limits.maxKeyBytes)
    .refine((s) => s.length > 0, "the key must not be empty")
    .refine((s) => !hasDotSegment(s), "the key must not have a . or .. segment")
    .openapi({
      description: `A config key of at most ${limits.maxKeyBytes} bytes of UTF-8; may contain ` +
        "`/` (sent raw or as %2F), but no `.` or `..` segment.",
    });
  const prefix = nameLike("the prefix", "maxKeyBytes", limits.maxKeyBytes);
  const lockName = nameLike("the lock name", "maxLockNameBytes", limits.maxLockNameBytes)
    .refine((s) => s.length > 0, "the lock name must not be empty")
    .refine((s) => !hasDotSegment(s), "the lock name must not have a . or .. segment")
    .openapi({
      description: `A lock name of at most ${limits.maxLockNameBytes} bytes of UTF-8; a \`/\` ` +
        "in it must be sent as %2F; no `.` or `..` segment.",
    });
  const consistency = z.enum(["linearizable", "stale"]).optional().openapi({
    description: "linearizable (default) confirms leadership with ReadIndex; stale answers " +
      "from this node and says how stale in X-Last-Contact-Ms.",
  });
  const ttlMs = z.number().int()
    .min(
      limits.minTtlMs,
      limitMessage(`ttlMs is below ${limits.minTtlMs}`, "minTtlMs", limits.minTtlMs),
    )
    .max(
      limits.maxTtlMs,
      limitMessage(`ttlMs is above ${limits.maxTtlMs}`, "maxTtlMs", limits.maxTtlMs),
    );
  const waitMs = z.number().int().min(0)
    .max(
      limits.maxWaitMs,
      limitMessage(`waitMs is above ${limits.maxWaitMs}`, "maxWaitMs", limits.maxWaitMs),
    );
  const owner = nameLike("owner", "maxOwnerBytes", limits.maxOwnerBytes);
  const token = z.number().int().min(1).openapi({ description: "The fencing token of the grant." });

  return {
    key,
    lockName,
    value: jsonValue(limits),
    readQuery: z.object({ consistency }),
    listQuery: z.object({
      prefix: prefix.optional(),
      after: prefix.optional().openapi({ description: "The previous page's `next`." }),
      limit: integerText("limit", { limit: "maxListLimit", value: limits.maxListLimit })
        .refine((n) => n >= 1, "limit must be at least 1").optional()
        .openapi({ type: "integer", description: "Keys per page (default 100)." }),
      consistency,
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
    clientId: nameLike("X-Client-Id", "maxClientIdBytes", limits.maxClientIdBytes)
      .refine((s) => s.length > 0, "X-Client-Id must not be empty"),
    clientSeq: integerText("X-Client-Seq"),
    idempotencyKey: nameLike(
      "Idempotency-Key",
      "maxIdempotencyKeyBytes",
      limits.maxIdempotencyKeyBytes,
    )
      .refine((s) => s.length > 0, "Idempotency-Key must not be empty"),
    lastEventId: integerText("Last-Event-ID"),
  };
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
