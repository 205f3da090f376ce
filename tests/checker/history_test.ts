import assert from "node:assert/strict";
import {
  type HistoryEvent,
  HistoryRecorder,
  pairOperations,
  parseJsonLines,
  readHistoryFile,
  toJsonLines,
  writeHistoryFile,
} from "./history.ts";

const event = (
  process: number,
  type: HistoryEvent["type"],
  f: HistoryEvent["f"],
  value: HistoryEvent["value"],
  time: number,
  key = "k1",
): HistoryEvent => ({ process, type, f, key, value, time });

Deno.test("recorder stamps time since its start from the injected clock", () => {
  let now = 5_000;
  const history = new HistoryRecorder({ now: () => now });
  now = 5_100;
  history.invoke(1, "write", "k1", 7);
  now = 5_350;
  history.ok(1, "write", "k1", 7);
  assert.deepEqual(history.events, [
    event(1, "invoke", "write", 7, 100),
    event(1, "ok", "write", 7, 350),
  ]);
});

Deno.test("recorder keeps times strictly increasing when the clock stands still or steps back", () => {
  let now = 0;
  const history = new HistoryRecorder({ now: () => now });
  history.invoke(1, "read", "k1");
  history.invoke(2, "read", "k1");
  now = -50;
  history.ok(1, "read", "k1", null);
  assert.deepEqual(history.events.map((e) => e.time), [0, 1, 2]);
});

Deno.test("recorder's default clock gives nanoseconds that increase", () => {
  const history = new HistoryRecorder();
  history.invoke(1, "cas", "k1", [1, 2]);
  history.fail(1, "cas", "k1", [1, 2]);
  history.invoke(1, "write", "k1", 3);
  history.info(1, "write", "k1", 3);
  const times = history.events.map((e) => e.time);
  assert.ok(times[0] >= 0);
  for (let i = 1; i < times.length; i++) assert.ok(times[i] > times[i - 1]);
  assert.ok(times.every(Number.isSafeInteger));
});

Deno.test("JSON lines round trip, in memory and through a history.jsonl file", async () => {
  const history = new HistoryRecorder({ now: () => 0 });
  history.invoke(3, "cas", "k1", [{ a: 1 }, "x"]);
  history.ok(3, "cas", "k1", true);
  history.invoke(4, "acquire", "lock/a", { ttlMs: 1000 });
  history.info(4, "acquire", "lock/a", null);
  const text = history.toJsonLines();
  assert.equal(text.split("\n").length, 5, "one line per event, each ending in a newline");
  assert.deepEqual(JSON.parse(text.split("\n")[0]), {
    process: 3,
    type: "invoke",
    f: "cas",
    key: "k1",
    value: [{ a: 1 }, "x"],
    time: 0,
  });
  assert.deepEqual(parseJsonLines(text), history.events);
  assert.equal(toJsonLines(parseJsonLines(text)), text);

  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/history.jsonl`;
    await writeHistoryFile(path, history.events);
    assert.deepEqual(await readHistoryFile(path), history.events);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("parsing skips blank lines, defaults a missing value to null", () => {
  const text = '\n{"process":1,"type":"invoke","f":"read","key":"k","time":3}\n\n';
  assert.deepEqual(parseJsonLines(text), [event(1, "invoke", "read", null, 3, "k")]);
});

Deno.test("parsing rejects a bad event and names its line", () => {
  const good = JSON.stringify(event(1, "invoke", "read", null, 0));
  const cases: [string, RegExp][] = [
    ["{not json", /line 2/],
    ['{"process":1,"type":"done","f":"read","key":"k","time":0}', /line 2: unknown type "done"/],
    ['{"process":1,"type":"ok","f":"incr","key":"k","time":0}', /line 2: unknown f "incr"/],
    ['{"type":"ok","f":"read","key":"k","time":0}', /line 2: process must be an integer/],
    ['{"process":1,"type":"ok","f":"read","key":7,"time":0}', /line 2: key must be a string/],
    ['{"process":1,"type":"ok","f":"read","key":"k"}', /line 2: time must be a finite number/],
    ["[1,2]", /line 2: not a JSON object/],
  ];
  for (const [line, message] of cases) {
    assert.throws(() => parseJsonLines(`${good}\n${line}\n`), message);
  }
});

Deno.test("pairing: ok completes, fail drops, info and a missing completion are unknown", () => {
  const ops = pairOperations([
    event(1, "invoke", "write", 1, 0),
    event(2, "invoke", "cas", [1, 2], 1),
    event(3, "invoke", "write", 3, 2),
    event(4, "invoke", "read", null, 3),
    event(1, "ok", "write", 1, 10),
    event(2, "fail", "cas", [1, 2], 11),
    event(3, "info", "write", 3, 12),
    event(1, "invoke", "read", null, 13),
    event(1, "ok", "read", 1, 14),
  ]);
  assert.deepEqual(ops, [
    {
      id: 0,
      process: 1,
      f: "write",
      key: "k1",
      input: 1,
      output: 1,
      call: 0,
      ret: 10,
      status: "ok",
    },
    {
      id: 1,
      process: 3,
      f: "write",
      key: "k1",
      input: 3,
      output: undefined,
      call: 2,
      ret: Infinity,
      status: "info",
    },
    {
      id: 2,
      process: 4,
      f: "read",
      key: "k1",
      input: null,
      output: undefined,
      call: 3,
      ret: Infinity,
      status: "info",
    },
    {
      id: 3,
      process: 1,
      f: "read",
      key: "k1",
      input: null,
      output: 1,
      call: 13,
      ret: 14,
      status: "ok",
    },
  ]);
});

Deno.test("pairing rejects malformed histories", () => {
  assert.throws(
    () => pairOperations([event(1, "ok", "read", 1, 0)]),
    /event 0 .*completion without an invoke/,
  );
  assert.throws(
    () =>
      pairOperations([event(1, "invoke", "read", null, 0), event(1, "invoke", "read", null, 1)]),
    /event 1 .*already has an operation in flight/,
  );
  assert.throws(
    () => pairOperations([event(1, "invoke", "read", null, 0), event(1, "ok", "write", 1, 1)]),
    /event 1 .*completes read/,
  );
  assert.throws(
    () => pairOperations([event(1, "invoke", "read", null, 0), event(1, "ok", "read", 1, 1, "k2")]),
    /event 1 .*completes read on "k1"/,
  );
});
