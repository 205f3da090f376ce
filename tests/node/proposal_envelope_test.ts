/**
 * The entry format: a binary header (marker, version, proposer, seq, time) before the
 * submission's msgpack bytes; garbage refused at apply with nothing applied; and entries in the
 * older format (`[proposer, seq, envelope]`, in the logs of existing data directories) still
 * applied by a node.
 */

import assert from "node:assert/strict";
import { encode } from "@msgpack/msgpack";
import {
  frameProposal,
  readProposal,
  unwrapLegacyProposal,
} from "../../src/node/proposal_envelope.ts";
import { encodeCommand, encodeSubmission } from "../../src/state/commands.ts";
import { StateMachine } from "../../src/state/state_machine.ts";
import { MemoryStorage } from "../../src/storage/memory_storage.ts";
import { poll } from "../process/poll.ts";
import { startSoloNode } from "./solo_node.ts";

const TIME = 1_700_000_000_000;

Deno.test("proposal format: the header's fields come back, the body is a view, not a copy", () => {
  const body = encodeSubmission({ cmd: { op: "put", key: "k", value: 1 }, clientId: "c", seq: 2 });
  for (
    const [proposer, seq, time] of [
      [1, 1, TIME],
      [0, 0, 0],
      [127, 128, 16_383],
      [2 ** 31, 2 ** 53 - 1, 2 ** 53 - 1],
    ]
  ) {
    const data = frameProposal({ proposer, seq, time, body });
    assert.equal(data[0], 0xc1, "starts with the byte msgpack never produces");
    const p = readProposal(data);
    assert.deepEqual(p && { ...p, body: [...p.body] }, { proposer, seq, time, body: [...body] });
    assert.equal(p!.body.buffer, data.buffer);
  }
});

Deno.test("proposal format: a header the reader does not know is no proposal", () => {
  const good = frameProposal({ proposer: 1, seq: 300, time: TIME, body: new Uint8Array([0x80]) });
  const other = good.slice();
  other[1] = 2; // a newer version
  const cases: [string, Uint8Array][] = [
    ["empty", new Uint8Array()],
    ["msgpack", encode({ cmd: { op: "tick" }, time: 1 })],
    ["another version", other],
    ["cut in the header", good.subarray(0, 4)],
    ["a varint of 9 bytes", new Uint8Array([0xc1, 1, ...Array(9).fill(0xff), 1, 1, 1])],
    ["a varint past 2^53", new Uint8Array([0xc1, 1, ...Array(7).fill(0xff), 0x7f, 1, 1])],
  ];
  for (const [what, data] of cases) assert.equal(readProposal(data), undefined, what);
});

Deno.test("proposal format: a header field that is no integer >= 0 is the node's bug", () => {
  for (const time of [-1, 1.5, NaN, 2 ** 53]) {
    assert.throws(
      () => frameProposal({ proposer: 1, seq: 1, time, body: new Uint8Array() }),
      RangeError,
    );
  }
});

Deno.test("proposal format: garbage after a good header is refused at apply, nothing applied", () => {
  const sm = new StateMachine();
  sm.applySubmission(1, 1, TIME, encodeSubmission({ cmd: { op: "put", key: "a", value: 1 } }));
  const bodies: Uint8Array[] = [
    new Uint8Array(),
    new Uint8Array([0xc1]),
    encode([1, 2, 3]),
    encode({ cmd: { op: "put", key: "a", value: 2 }, time: TIME + 5 }), // a time of its own
    encode({ cmd: { op: "put", key: "", value: 2 } }),
    encode({ cmd: { op: "put", key: "a", value: 2 }, extra: 1 }),
  ];
  let index = 1;
  for (const body of bodies) {
    const data = frameProposal({ proposer: 1, seq: index, time: TIME + index, body });
    const p = readProposal(data)!;
    const outcome = sm.applySubmission(++index, 1, p.time, p.body);
    assert.equal(outcome.result.ok, false);
    assert.equal(!outcome.result.ok && outcome.result.reason, "bad_command");
  }
  assert.equal(sm.appliedIndex, index);
  assert.equal(sm.revision, 1, "nothing was applied");
  assert.equal(sm.get("a")?.value, 1);
  assert.equal(sm.now, TIME, "no stamp is trusted from a refused entry");
});

Deno.test("proposal format: an entry in the older format, from an existing log, is applied", async () => {
  // What a node before issue 11 wrote: [proposer, seq, envelope], the time in the envelope.
  const old = encode([
    1,
    41,
    encodeCommand({
      cmd: { op: "put", key: "old", value: "kept" },
      time: TIME,
      clientId: "c",
      seq: 1,
    }),
  ]);
  assert.equal(unwrapLegacyProposal(old)?.seq, 41);
  const storage = new MemoryStorage();
  await storage.append({
    entries: [{ term: 1, index: 1, type: "normal", data: old }],
    hardState: { term: 1, vote: 1, commit: 0 },
  });
  const node = await startSoloNode({ storage, tickMs: 5 });
  try {
    // A one-node cluster leads at once; its first entry commits the old one too.
    await poll(() => node.appliedIndex() >= 2 || undefined, { what: "the old entry applied" });
    const after = await node.submit({ cmd: { op: "put", key: "new", value: 1 } });
    assert.equal(after.result.ok, true);
    await node.linearizableRead();
    assert.equal(node.getValue("old")?.value, "kept");
    assert.equal(node.getValue("new")?.revision, 2);
  } finally {
    await node.stop();
  }
});
