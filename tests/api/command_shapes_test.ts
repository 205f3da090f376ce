/**
 * The API's request schemas (zod, src/api/schemas.ts) are built from the state machine's one
 * statement of each command's shape (COMMAND_SHAPES and ENVELOPE_SHAPE, src/state/commands.ts):
 * each command field's schema refines first with the state's own check of its kind. These tests
 * pin that down from outside: whatever a schema accepts, the state machine accepts too (else a
 * valid-looking request would be refused at apply), and every field of the commands the routes
 * build has a schema (a field added to a shape and forgotten by the API shows here).
 */
import assert from "node:assert/strict";
import { DEFAULT_LIMITS, resolveLimits } from "../../src/api/limits.ts";
import { buildSchemas } from "../../src/api/schemas.ts";
import {
  COMMAND_SHAPES,
  type FieldKind,
  type FieldSpec,
  validateEnvelope,
} from "../../src/state/commands.ts";

const GOOD: Record<FieldKind, unknown> = {
  name: "a",
  text: "",
  count: 0,
  positive: 1,
  flag: true,
  json: 1,
};

/** Whether the state machine takes `value` as `op`'s `field` (the other fields valid). */
function stateAccepts(op: keyof typeof COMMAND_SHAPES, field: string, value: unknown): boolean {
  const shape: Record<string, FieldSpec> = COMMAND_SHAPES[op];
  const cmd = Object.fromEntries(
    Object.entries(shape).map(([name, spec]) => [name, GOOD[spec.kind]]),
  );
  return validateEnvelope({ cmd: { op, ...cmd, [field]: value }, time: 1 }).ok;
}

const STRINGS = ["", "a", " ", "\ud800", "a\ud800b", "\u0000", "a/b", "é", "x".repeat(5000)];
const NUMBERS = [
  -1,
  0,
  1,
  1.5,
  2 ** 53 - 1,
  2 ** 53,
  Number.MAX_VALUE,
  NaN,
  Infinity,
  -0,
  DEFAULT_LIMITS.minTtlMs,
  DEFAULT_LIMITS.maxTtlMs,
];
const INTEGER_TEXTS = ["0", "1", "-1", "01", "1.0", "9007199254740991", "9007199254740993", ""];
const OTHERS = [null, true, [], {}, "1"];

Deno.test("command shapes: every request schema is at least as strict as the command field it fills", () => {
  for (const limits of [DEFAULT_LIMITS, resolveLimits({ minTtlMs: 1, maxKeyBytes: 8192 })]) {
    const s = buildSchemas(limits);
    // schema, the command field it becomes, and the inputs to try
    const pairs: [
      string,
      { safeParse(v: unknown): { success: boolean; data?: unknown } },
      keyof typeof COMMAND_SHAPES,
      string,
      unknown[],
    ][] = [
      ["key", s.key, "put", "key", STRINGS],
      ["key", s.key, "delete", "key", STRINGS],
      ["lockName", s.lockName, "acquire", "name", STRINGS],
      ["lockName", s.lockName, "renew", "name", STRINGS],
      ["lockName", s.lockName, "release", "name", STRINGS],
      ["value", s.value, "put", "value", [...STRINGS, ...NUMBERS, ...OTHERS, undefined, 1n]],
    ];
    for (const [name, schema, op, field, inputs] of pairs) {
      for (const input of inputs) {
        const parsed = schema.safeParse(input);
        if (!parsed.success) continue;
        assert.ok(
          stateAccepts(op, field, parsed.data),
          `${name} accepts ${JSON.stringify(input)?.slice(0, 40)}, ${op}.${field} refuses it`,
        );
      }
    }
    // The acquire body's fields, and the token body's.
    for (const ttlMs of [...NUMBERS, ...OTHERS]) {
      const parsed = s.acquireBody.safeParse({ ttlMs });
      if (parsed.success) {
        assert.ok(stateAccepts("acquire", "ttlMs", parsed.data.ttlMs), `ttlMs ${ttlMs}`);
      }
    }
    for (const waitMs of [...NUMBERS, ...OTHERS]) {
      const parsed = s.acquireBody.safeParse({ ttlMs: limits.minTtlMs, waitMs });
      if (parsed.success) {
        assert.ok(stateAccepts("acquire", "waitMs", parsed.data.waitMs ?? 0), `waitMs ${waitMs}`);
      }
    }
    for (const owner of [...STRINGS, ...OTHERS]) {
      const parsed = s.acquireBody.safeParse({ ttlMs: limits.minTtlMs, owner });
      if (parsed.success) {
        assert.ok(stateAccepts("acquire", "owner", parsed.data.owner ?? ""), `owner ${owner}`);
      }
    }
    for (const token of [...NUMBERS, ...OTHERS]) {
      const parsed = s.tokenBody.safeParse({ token });
      if (parsed.success) {
        assert.ok(stateAccepts("renew", "token", parsed.data.token), `token ${token}`);
      }
    }
    // Exactly-once headers become envelope fields: checked as the envelope checks them.
    const envelopeAccepts = (fields: Record<string, unknown>) =>
      validateEnvelope({ cmd: { op: "tick" }, time: 1, ...fields }).ok;
    for (const input of STRINGS) {
      const id = s.clientId.safeParse(input);
      if (id.success) assert.ok(envelopeAccepts({ clientId: id.data, seq: 1 }), `id ${input}`);
      const key = s.idempotencyKey.safeParse(input);
      if (key.success) assert.ok(envelopeAccepts({ idempotencyKey: key.data }), `key ${input}`);
    }
    for (const input of INTEGER_TEXTS) {
      const seq = s.clientSeq.safeParse(input);
      if (seq.success) assert.ok(envelopeAccepts({ clientId: "c", seq: seq.data }), `seq ${input}`);
    }
  }
});

Deno.test("command shapes: the lock bodies and the path name cover every field of their commands", () => {
  const s = buildSchemas(DEFAULT_LIMITS);
  const fields = (op: keyof typeof COMMAND_SHAPES) => Object.keys(COMMAND_SHAPES[op]).sort();
  // The lock's name comes from the path (schemas.lockName), the rest from the body.
  assert.deepEqual(["name", ...Object.keys(s.acquireBody.shape)].sort(), fields("acquire"));
  assert.deepEqual(["name", ...Object.keys(s.tokenBody.shape)].sort(), fields("renew"));
  assert.deepEqual(fields("release"), fields("renew"));
});
