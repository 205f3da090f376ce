import assert from "node:assert/strict";
import { encode } from "@msgpack/msgpack";
import {
  checkField,
  type Command,
  COMMAND_SHAPES,
  decodeCommand,
  decodeSubmission,
  encodeCommand,
  encodeSubmission,
  type Envelope,
  type FieldKind,
  type FieldSpec,
  validateEnvelope,
} from "../../src/state/commands.ts";
import { InvalidCommandError } from "../../src/state/errors.ts";
import { MAX_VALUE_DEPTH } from "../../src/state/json_value.ts";
import { StateMachine } from "../../src/state/state_machine.ts";

const EVERY_COMMAND: Command[] = [
  { op: "put", key: "k", value: { a: [1, 2.5, "x", null, true] } },
  { op: "put", key: "k", value: null, ifRevision: 0, ifAbsent: true },
  { op: "delete", key: "k" },
  { op: "delete", key: "k", ifRevision: 3 },
  { op: "acquire", name: "l", owner: "", ttlMs: 1000, waitMs: 0 },
  { op: "renew", name: "l", token: 4 },
  { op: "release", name: "l", token: 4 },
  { op: "cancelWait", name: "l", waiterId: 5 },
  { op: "tick" },
];

function detailOf(input: unknown): string {
  const check = validateEnvelope(input);
  assert.equal(check.ok, false, "expected the envelope to be refused");
  return check.ok ? "" : check.detail;
}

Deno.test("every command survives encode and decode unchanged", () => {
  for (const cmd of EVERY_COMMAND) {
    const envelopes: Envelope[] = [
      { cmd, time: 0 },
      { cmd, time: 1_700_000_000_000, clientId: "c1", seq: 9, idempotencyKey: "idem" },
    ];
    for (const envelope of envelopes) {
      assert.deepEqual(decodeCommand(encodeCommand(envelope)), { ok: true, envelope });
    }
  }
});

Deno.test("absent optional fields stay absent through the log", () => {
  const bytes = encodeCommand({ cmd: { op: "delete", key: "k", ifRevision: undefined }, time: 1 });
  assert.deepEqual(decodeCommand(bytes), {
    ok: true,
    envelope: { cmd: { op: "delete", key: "k" }, time: 1 },
  });
});

Deno.test("a malformed envelope is refused with a sentence that names the field", () => {
  const put = { op: "put", key: "k", value: 1 };
  assert.match(detailOf(null), /envelope must be an object/);
  assert.match(detailOf([put]), /envelope must be an object/);
  assert.match(detailOf({ cmd: put }), /envelope\.time is required/);
  assert.match(detailOf({ cmd: put, time: -1 }), /envelope\.time must be an integer >= 0/);
  assert.match(detailOf({ cmd: put, time: 1.5 }), /envelope\.time/);
  assert.match(detailOf({ cmd: put, time: 1, extra: 1 }), /unknown field "extra"/);
  assert.match(detailOf({ cmd: put, time: 1, clientId: "c" }), /clientId and seq go together/);
  assert.match(detailOf({ cmd: put, time: 1, seq: 1 }), /clientId and seq go together/);
  assert.match(detailOf({ cmd: put, time: 1, clientId: "", seq: 1 }), /clientId must be/);
  assert.match(detailOf({ cmd: put, time: 1, idempotencyKey: 5 }), /idempotencyKey must be/);
  assert.match(detailOf({ cmd: "put", time: 1 }), /cmd must be an object/);
  assert.match(detailOf({ cmd: { op: "get" }, time: 1 }), /cmd\.op must be one of/);
  assert.match(detailOf({ cmd: { op: "toString" }, time: 1 }), /cmd\.op must be one of/);
  assert.match(detailOf({ cmd: { key: "k" }, time: 1 }), /cmd\.op must be one of/);
});

Deno.test("each command's fields are checked strictly", () => {
  const refused: [Record<string, unknown>, RegExp][] = [
    [{ op: "put", key: "k" }, /cmd\.value is required/],
    [{ op: "put", key: "", value: 1 }, /cmd\.key must be a non-empty/],
    [{ op: "put", key: 7, value: 1 }, /cmd\.key/],
    [{ op: "put", key: "\ud800", value: 1 }, /cmd\.key must be a non-empty well-formed/],
    [{ op: "put", key: "k", value: 1, ifRevision: -1 }, /cmd\.ifRevision/],
    [{ op: "put", key: "k", value: 1, ifRevision: null }, /cmd\.ifRevision/],
    [{ op: "put", key: "k", value: 1, ifAbsent: 1 }, /cmd\.ifAbsent must be a boolean/],
    [{ op: "put", key: "k", value: 1, extra: 0 }, /unknown field "extra"/],
    [{ op: "put", key: "k", value: NaN }, /cmd\.value: numbers must be finite/],
    [{ op: "put", key: "k", value: { a: [Infinity] } }, /cmd\.value\.a\[0\]: numbers/],
    [{ op: "put", key: "k", value: new Date(0) }, /only plain objects/],
    [{ op: "put", key: "k", value: new Uint8Array(1) }, /only plain objects/],
    [{ op: "put", key: "k", value: { s: "\udc00" } }, /strings must be well-formed/],
    [{ op: "put", key: "k", value: { ["\udc00"]: 1 } }, /keys must be well-formed/],
    [{ op: "put", key: "k", value: JSON.parse('{"__proto__":1}') }, /"__proto__" is not/],
    [{ op: "delete", key: "k", ifAbsent: true }, /unknown field "ifAbsent"/],
    [{ op: "acquire", name: "l", owner: "o", ttlMs: 0, waitMs: 0 }, /cmd\.ttlMs must be/],
    [{ op: "acquire", name: "l", owner: "o", ttlMs: 1, waitMs: -1 }, /cmd\.waitMs must be/],
    [{ op: "acquire", name: "l", ttlMs: 1, waitMs: 0 }, /cmd\.owner is required/],
    [{ op: "acquire", name: "", owner: "o", ttlMs: 1, waitMs: 0 }, /cmd\.name/],
    [{ op: "renew", name: "l", token: 0 }, /cmd\.token must be an integer >= 1/],
    [{ op: "release", name: "l", token: "4" }, /cmd\.token/],
    [{ op: "cancelWait", name: "l" }, /cmd\.waiterId is required/],
    [{ op: "tick", time: 5 }, /unknown field "time"/],
  ];
  for (const [cmd, pattern] of refused) assert.match(detailOf({ cmd, time: 1 }), pattern);
});

Deno.test("values nest up to MAX_VALUE_DEPTH levels and no deeper", () => {
  const nested = (depth: number) => {
    let value: unknown = 1;
    for (let i = 0; i < depth; i++) value = [value];
    return value;
  };
  assert.equal(
    validateEnvelope({ cmd: { op: "put", key: "k", value: nested(64) }, time: 1 }).ok,
    true,
  );
  assert.match(
    detailOf({ cmd: { op: "put", key: "k", value: nested(MAX_VALUE_DEPTH + 1) }, time: 1 }),
    /nested deeper than 64/,
  );
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  assert.match(detailOf({ cmd: { op: "put", key: "k", value: cyclic }, time: 1 }), /nested/);
});

Deno.test("encodeCommand throws on what decodeCommand would refuse, by name", () => {
  // By name, not as a built-in TypeError: the API takes only this for the client's mistake.
  assert.throws(
    () => encodeCommand({ cmd: { op: "put", key: "", value: 1 }, time: 1 }),
    (error: unknown) =>
      error instanceof InvalidCommandError && error.name === "InvalidCommandError" &&
      error.message === "cmd.key must be a non-empty well-formed string",
  );
});

Deno.test("only a command's own fields are known: inherited names are unknown fields", () => {
  for (const name of ["constructor", "toString", "hasOwnProperty"]) {
    const check = validateEnvelope({ cmd: { op: "tick", [name]: 1 }, time: 1 });
    assert.deepEqual(check, { ok: false, detail: `cmd: unknown field "${name}"` });
    const envelope = validateEnvelope({ cmd: { op: "tick" }, time: 1, [name]: 1 });
    assert.deepEqual(envelope, { ok: false, detail: `envelope: unknown field "${name}"` });
  }
});

Deno.test("COMMAND_SHAPES is the statement the checks follow, field by field", () => {
  const good: Record<FieldKind, unknown> = {
    name: "a",
    text: "",
    count: 0,
    positive: 1,
    flag: true,
    json: { a: [1] },
  };
  const bad: Record<FieldKind, unknown> = {
    name: "",
    text: 1,
    count: -1,
    positive: 0,
    flag: "yes",
    json: 1n,
  };
  for (const [op, shape] of Object.entries(COMMAND_SHAPES)) {
    const fields = Object.entries(shape as Record<string, FieldSpec>);
    const valid = Object.fromEntries(fields.map(([field, spec]) => [field, good[spec.kind]]));
    assert.equal(validateEnvelope({ cmd: { op, ...valid }, time: 1 }).ok, true, op);
    for (const [field, spec] of fields) {
      const check = validateEnvelope({ cmd: { op, ...valid, [field]: bad[spec.kind] }, time: 1 });
      assert.equal(check.ok, false, `${op}.${field}`);
      if (!check.ok) assert.match(check.detail, new RegExp(`^cmd\\.${field}\\b`));
      if (spec.required) {
        const { [field]: _, ...without } = valid;
        const missing = validateEnvelope({ cmd: { op, ...without }, time: 1 });
        assert.deepEqual(missing, { ok: false, detail: `cmd.${field} is required` });
      }
    }
  }
});

Deno.test("decodeCommand answers bad bytes without throwing", () => {
  const cases: Uint8Array[] = [
    new Uint8Array([0xc1]), // never used in msgpack
    new Uint8Array([0x92]), // an array cut short
    new Uint8Array([0x80, 0x01]), // trailing bytes
    encode([1, 2]),
    encode({ cmd: { op: "put", key: "k", value: new Uint8Array(2) }, time: 1 }),
    encode({ cmd: { op: "put", key: "k", value: new Date(0) }, time: 1 }),
    // A map whose key is __proto__: the decoder refuses it.
    new Uint8Array([0x81, 0xa9, ...new TextEncoder().encode("__proto__"), 0x01]),
  ];
  for (const bytes of cases) {
    const check = decodeCommand(bytes);
    assert.equal(check.ok, false);
  }
});

Deno.test("a bad entry gets the same bad_command answer everywhere and changes nothing", () => {
  const a = new StateMachine();
  const b = new StateMachine();
  a.apply(1, 1, { cmd: { op: "put", key: "k", value: 1 }, time: 10 });
  b.apply(1, 1, { cmd: { op: "put", key: "k", value: 1 }, time: 10 });
  const bytes = encode({ cmd: { op: "put", key: "k", value: 2, ifRevision: "1" }, time: 99 });
  const outA = a.applyEntry(2, 1, bytes);
  const outB = b.applyEntry(2, 1, bytes);
  assert.deepEqual(outA, outB);
  assert.equal(outA.result.ok, false);
  assert.deepEqual(outA.result, {
    ok: false,
    reason: "bad_command",
    detail: "cmd.ifRevision must be an integer >= 0",
  });
  assert.equal(a.get("k")?.value, 1);
  assert.equal(a.now, 10, "a bad envelope's stamp is not trusted");
  assert.equal(a.appliedIndex, 2);
  const nonsense = { cmd: { op: "nope" }, time: 1 };
  const viaObject = a.apply(3, 1, nonsense as unknown as Envelope);
  const viaBytes = b.applyEntry(3, 1, encode(nonsense));
  assert.deepEqual(viaObject, viaBytes);
  assert.equal(viaObject.result.ok === false && viaObject.result.reason, "bad_command");
  assert.deepEqual(a.snapshot(), b.snapshot());
});

Deno.test("a submission is checked and encoded once, and decoded with the leader's stamp", () => {
  const sub = { cmd: { op: "put" as const, key: "k", value: { a: [1] } }, clientId: "c", seq: 3 };
  assert.deepEqual(decodeSubmission(encodeSubmission(sub), 7), {
    ok: true,
    envelope: { ...sub, time: 7 },
  });
  assert.throws(
    () => encodeSubmission({ cmd: { op: "put", key: "", value: 1 } }),
    InvalidCommandError,
  );
  // The time is the header's alone: one in the submission is refused, on the way in and at apply.
  const timed = { cmd: { op: "tick" }, time: 5 } as unknown as Parameters<
    typeof encodeSubmission
  >[0];
  assert.throws(() => encodeSubmission(timed), InvalidCommandError);
  assert.equal(decodeSubmission(encode({ cmd: { op: "tick" }, time: 5 }), 7).ok, false);
  assert.equal(decodeSubmission(encodeSubmission({ cmd: { op: "tick" } }), -1).ok, false);
  assert.equal(decodeSubmission(new Uint8Array([0xc1]), 7).ok, false);
});

Deno.test("checkField is the one check of each kind", () => {
  assert.equal(checkField("positive", 0, "token"), "token must be an integer >= 1");
  assert.equal(checkField("name", "", "key"), "key must be a non-empty well-formed string");
  assert.equal(checkField("text", "", "owner"), undefined);
  assert.equal(checkField("json", 1n, "value") !== undefined, true);
});
