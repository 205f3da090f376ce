import assert from "node:assert/strict";
import { openWriteTrace } from "../../src/node/write_trace.ts";
import { readTraces, stepsPerEntry } from "../../bench/write_trace.ts";

Deno.test("write trace: the steps of an entry are lined up across the three nodes' files", () => {
  const dir = Deno.makeTempDirSync();
  try {
    // Written by hand at known times: leader 1 proposes seq 4, which becomes entry 10.
    const t = 1_000_000;
    const lines = (node: number, rows: [number, string][]) =>
      Deno.writeTextFileSync(
        `${dir}/n${node}.trace`,
        rows.map(([ms, rest]) => `${(t + ms).toFixed(3)} ${node} ${rest}`).join("\n") + "\n",
      );
    lines(1, [
      [0, "propose 4"],
      [0.02, "ready 10 10"],
      [0.5, "appended 10"],
      [0.6, "recv-ack 2 10"],
      [0.62, "recv-ack 3 10"],
      [0.65, "applied 10 4"],
    ]);
    lines(2, [[0.15, "recv-app 1 10 10"], [0.45, "appended 10"]]);
    lines(3, [[0.3, "recv-app 1 9 11"], [0.7, "appended 11"]]);
    const steps = stepsPerEntry(readTraces(dir), 1);
    const at = (name: string) => Number(steps.get(name)?.[0]?.toFixed(3));
    assert.equal(at("leader Ready"), 0.02);
    assert.equal(at("a follower receives it"), 0.15);
    assert.equal(at("a follower has it on disk"), 0.45);
    assert.equal(at("the leader has it on disk"), 0.5);
    assert.equal(at("the first ack reaches the leader"), 0.6);
    assert.equal(at("applied on the leader"), 0.65);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("write trace: a node's trace file gets one line per event, written on close", () => {
  const path = Deno.makeTempFileSync();
  try {
    const trace = openWriteTrace(path, 2);
    trace.record("propose", 1);
    trace.record("applied", 5, 1);
    assert.equal(Deno.readTextFileSync(path), "", "buffered until close (or 1000 lines)");
    trace.close();
    const rows = Deno.readTextFileSync(path).trim().split("\n").map((l) => l.split(" ").slice(1));
    assert.deepStrictEqual(rows, [["2", "propose", "1"], ["2", "applied", "5", "1"]]);
  } finally {
    Deno.removeSync(path);
  }
});
