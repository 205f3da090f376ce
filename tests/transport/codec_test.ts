import assert from "node:assert/strict";
import { encode } from "@msgpack/msgpack";
import {
  batchHeader,
  decodeMessages,
  encodeMessage,
  encodeMessages,
  MessageDecodeError,
} from "../../src/transport/codec.ts";
import type { Message } from "../../src/raft/types.ts";
import { entries, everyWireMessage, message, prng } from "./fixtures.ts";

/** A valid heartbeat in wire form, to be spoiled one field at a time. */
const HEARTBEAT = [9, 1, 2, 5, 0, 0, [], 9, false, 0, null, null];
const wire = (...msgs: unknown[]) => encode([1, msgs]);
const withField = (i: number, v: unknown) => HEARTBEAT.map((f, j) => (j === i ? v : f));

function assertRejected(bytes: Uint8Array, reason: RegExp): void {
  assert.throws(
    () => decodeMessages(bytes),
    (e) => e instanceof MessageDecodeError && reason.test(e.message),
  );
}

/** Decoding must either succeed or throw MessageDecodeError; anything else fails the test. */
function decodeOrRefuse(bytes: Uint8Array): "ok" | "refused" {
  try {
    decodeMessages(bytes);
    return "ok";
  } catch (e) {
    if (e instanceof MessageDecodeError) return "refused";
    throw new Error(`decode threw ${e} for ${Array.from(bytes.subarray(0, 32))}`);
  }
}

Deno.test("codec: every wire message type survives a round trip", () => {
  const msgs = everyWireMessage();
  assert.deepStrictEqual(decodeMessages(encodeMessages(msgs)), msgs);
  for (const m of msgs) assert.deepStrictEqual(decodeMessages(encodeMessages([m])), [m]);
});

Deno.test("codec: snapshot chunks, first, middle and last, keep their bytes", () => {
  const data = crypto.getRandomValues(new Uint8Array(3000));
  const conf = { voters: [1, 2, 3, 5, 8], learners: [13] };
  const chunks = [0, 1000, 2000].map((offset) =>
    message({
      type: "snap",
      term: 7,
      snapshot: {
        metadata: { index: 1234, term: 6, conf },
        offset,
        data: data.subarray(offset, offset + 1000),
        done: offset === 2000,
        total: 3000,
      },
    })
  );
  assert.deepStrictEqual(decodeMessages(encodeMessages(chunks)), chunks);
});

Deno.test("codec: empty entries, empty payloads and large entries", () => {
  const empty = message({ type: "app", term: 2, index: 4, logTerm: 2, entries: [] });
  const noop = message({
    type: "app",
    term: 2,
    index: 4,
    logTerm: 2,
    entries: entries(4, 1, 0, 2),
  });
  const big = message({
    type: "app",
    term: 2,
    index: 5,
    logTerm: 2,
    entries: entries(5, 2, 1 << 20, 2),
  });
  const many = message({
    type: "app",
    term: 2,
    index: 7,
    logTerm: 2,
    entries: entries(7, 5000, 3, 2),
  });
  const msgs = [empty, noop, big, many];
  assert.deepStrictEqual(decodeMessages(encodeMessages(msgs)), msgs);
});

Deno.test("codec: decoded payloads are views of the body, not copies", () => {
  const body = encodeMessages([message({ type: "app", term: 1, entries: entries(0, 3, 500) })]);
  for (const e of decodeMessages(body)[0].entries) assert.equal(e.data.buffer, body.buffer);
});

Deno.test("codec: per-message encoding framed by batchHeader equals encodeMessages", () => {
  for (const count of [0, 1, 15, 16, 300]) {
    const msgs = Array.from({ length: count }, (_, i) => message({ type: "heartbeat", commit: i }));
    const parts = [batchHeader(count), ...msgs.map(encodeMessage)];
    const joined = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
    parts.reduce((at, p) => (joined.set(p, at), at + p.byteLength), 0);
    assert.deepStrictEqual(joined, encodeMessages(msgs));
  }
  const huge = Array.from({ length: 70_000 }, () => message({ type: "heartbeat" }));
  assert.equal(decodeMessages(encodeMessages(huge), { maxMessages: 70_000 }).length, 70_000);
});

Deno.test("codec: local-only message types cannot be encoded", () => {
  for (const type of ["hup", "beat", "unreachable", "snapStatus"] as const) {
    assert.throws(() => encodeMessages([message({ type })]), TypeError);
  }
  const bad = {
    ...message({ type: "prop" }),
    entries: [{ term: 0, index: 0, type: "x", data: new Uint8Array() }],
  };
  assert.throws(() => encodeMessages([bad as unknown as Message]), TypeError);
});

Deno.test("codec: the unspoiled heartbeat decodes (control for the tests below)", () => {
  assert.equal(decodeMessages(wire(HEARTBEAT))[0].type, "heartbeat");
});

Deno.test("codec: wrong types and ranges are refused with the field named", () => {
  assertRejected(wire(withField(3, -1)), /messages\[0\]\.term: expected a non-negative/);
  assertRejected(wire(withField(3, 1.5)), /float/);
  assertRejected(wire(withField(3, "5")), /string/);
  const unsafe = encode([1, [withField(3, 2n ** 53n + 1n)]], { useBigInt64: true });
  assertRejected(unsafe, /term: expected a non-negative safe integer, got 9007199254740992/);
  assertRejected(wire(withField(5, -(2 ** 40))), /index: expected a non-negative/);
  assertRejected(wire(withField(1, 0)), /from: expected a node id/);
  assertRejected(wire(withField(2, -3)), /to: expected a node id/);
  assertRejected(wire(withField(8, 1)), /reject: expected a boolean, got 1/);
  assertRejected(wire(withField(8, null)), /reject: expected a boolean, got nil/);
  assertRejected(wire(withField(6, null)), /entries: expected an array/);
  assertRejected(wire(withField(11, [1, 2])), /context: expected binary data/);
  assertRejected(wire(withField(10, [1])), /only a snap message carries a snapshot/);
  assertRejected(wire(HEARTBEAT.slice(0, 11)), /expected an array of 12 fields/);
  assertRejected(wire([...HEARTBEAT, null]), /expected an array of 12 fields/);
  assertRejected(wire(new Uint8Array(3)), /messages\[0\]: expected an array of 12 fields/);
  assertRejected(encode([1, { a: 1 }]), /unexpected map/);
  assertRejected(encode(new Date(0)), /unexpected extension type/);
});

Deno.test("codec: unknown and local message types are refused", () => {
  assertRejected(wire(withField(0, 15)), /unknown message type code 15/);
  assertRejected(wire(withField(0, 255)), /unknown message type code 255/);
  assertRejected(wire(withField(0, -1)), /unknown message type code -1/);
  assertRejected(wire(withField(0, true)), /unknown message type code true/);
});

Deno.test("codec: entries are checked field by field and against the append", () => {
  const app = (
    index: number,
    logTerm: number,
    ents: unknown[],
  ) => [1, 1, 2, 3, logTerm, index, ents, 0, false, 0, null, null];
  const data = new Uint8Array(2);
  assert.equal(
    decodeMessages(wire(app(4, 2, [[2, 5, 0, data], [3, 6, 1, data]])))[0].entries.length,
    2,
  );
  assertRejected(
    wire(app(4, 2, [[2, 5, 2, data]])),
    /entries\[0\]\.type: unknown entry type code 2/,
  );
  assertRejected(wire(app(4, 2, [[2, 5, 0, null]])), /entries\[0\]\.data: expected binary data/);
  assertRejected(
    wire(app(4, 2, [[2, 5, 0]])),
    /entries\[0\]: expected \[term, index, type, data\]/,
  );
  assertRejected(wire(app(4, 2, [[2, 6, 0, data]])), /entries\[0\]\.index: expected 5, got 6/);
  assertRejected(wire(app(4, 2, [[3, 5, 0, data], [2, 6, 0, data]])), /entries\[1\]\.term/);
  assertRejected(wire(app(4, 2, [[4, 5, 0, data]])), /entries\[0\]\.term: 4 is outside \[2, 3\]/);
  assertRejected(wire(app(4, 2, [[1, 5, 0, data]])), /entries\[0\]\.term: 1 is outside/);
});

Deno.test("codec: snapshot chunks must be consistent", () => {
  const snap = (chunk: unknown) => [7, 1, 2, 5, 0, 0, [], 0, false, 0, chunk, null];
  const d = new Uint8Array(10);
  assert.equal(decodeMessages(wire(snap([9, 2, [1, 2], [3], 0, d, false, 20])))[0].type, "snap");
  assertRejected(wire(snap(null)), /snapshot: expected a snapshot chunk of 8 fields/);
  assertRejected(wire(snap([9, 2, [1, 2], [3], 15, d, false, 20])), /ends at byte 25, past/);
  assertRejected(wire(snap([9, 2, [1, 2], [3], 0, d, true, 20])), /last chunk ends at byte 10/);
  assertRejected(wire(snap([9, 2, [1, 2], [2], 0, d, false, 20])), /node 2 is listed twice/);
  assertRejected(
    wire(snap([9, 2, [1, 0], [], 0, d, false, 20])),
    /voters\[1\]: expected a node id/,
  );
  assertRejected(wire(snap([9, 2, 1, [], 0, d, false, 20])), /voters: expected an array/);
});

Deno.test("codec: the batch envelope and the limits", () => {
  assertRejected(encode([2, [HEARTBEAT]]), /version: expected 1, got 2/);
  assertRejected(encode([1, []]), /at least one message/);
  assertRejected(encode([1, HEARTBEAT, 3]), /batch: expected \[version, messages\]/);
  assertRejected(encode(HEARTBEAT), /batch: expected \[version, messages\]/);
  const three = wire(HEARTBEAT, HEARTBEAT, HEARTBEAT);
  assert.throws(
    () => decodeMessages(three, { maxMessages: 2 }),
    /3 messages exceed the limit of 2/,
  );
  const app = [
    1,
    1,
    2,
    3,
    0,
    0,
    [[1, 1, 0, new Uint8Array()], [1, 2, 0, new Uint8Array()]],
    0,
    false,
    0,
    null,
    null,
  ];
  assert.throws(() => decodeMessages(wire(app, app), { maxEntries: 3 }), /more than 3 entries/);
  assert.throws(
    () => decodeMessages(wire(withField(11, new Uint8Array(9))), { maxContextBytes: 8 }),
    /9 bytes exceed the limit of 8/,
  );
  assert.throws(() => decodeMessages(three, { maxBytes: 10 }), /exceeds 10/);
  assertRejected(new Uint8Array(), /body is empty/);
  assertRejected("x" as unknown as Uint8Array, /not a Uint8Array/);
});

Deno.test("codec: malformed msgpack is refused before it is decoded", () => {
  const good = encodeMessages(everyWireMessage());
  assertRejected(new Uint8Array([...good, 0xc0]), /1 trailing byte/);
  assertRejected(new Uint8Array([0xc1]), /reserved byte 0xc1/);
  // An array32 that claims 4 billion elements in 5 bytes must not be allocated.
  assertRejected(new Uint8Array([0xdd, 0xff, 0xff, 0xff, 0xff]), /claims 4294967295 elements/);
  // Deep nesting of array16 headers: refused at the depth limit, not decoded.
  const bomb = new Uint8Array(3 * 100_000);
  for (let i = 0; i < bomb.length; i += 3) bomb.set([0xdc, 0xff, 0xff], i);
  assertRejected(bomb, /nested deeper than 5/);
  assertRejected(new Uint8Array([0xc6, 0xff, 0xff, 0xff, 0xff, 1, 2]), /binary at byte 0 claims/);
});

Deno.test("codec: every truncation of a valid body is refused", () => {
  const body = encodeMessages(everyWireMessage());
  for (let n = 0; n < body.length; n++) {
    assert.equal(decodeOrRefuse(body.subarray(0, n)), "refused", `prefix of ${n} bytes`);
  }
});

Deno.test("codec: random bytes and bit flips never throw anything but MessageDecodeError", () => {
  const next = prng(20240601);
  for (let i = 0; i < 2000; i++) {
    const bytes = new Uint8Array(4 + Math.floor(next() * 200));
    for (let j = 0; j < bytes.length; j++) bytes[j] = Math.floor(next() * 256);
    // Bias towards plausible starts, so the fuzz goes past the first byte.
    if (i % 2 === 0) bytes.set([0x92, 0x01, 0x91, 0x9c], 0);
    decodeOrRefuse(bytes);
  }
  const valid = encodeMessages(everyWireMessage());
  let survived = 0;
  for (let i = 0; i < 3000; i++) {
    const bytes = valid.slice();
    for (let k = 0; k < 1 + Math.floor(next() * 3); k++) {
      bytes[Math.floor(next() * bytes.length)] ^= 1 << Math.floor(next() * 8);
    }
    if (decodeOrRefuse(bytes) === "ok") survived++;
  }
  // Some flips land in payload bytes and are legitimately accepted; most must be refused.
  assert.ok(survived < 3000, "some flips must be refused");
});
