/**
 * How long one compaction of a large state holds a node's event loop: the state machine is
 * filled with big values (as a node applies them from the log), then a snapshot is taken and
 * written to Deno KV, and then restored, while a 1 ms interval records the longest gap between
 * its runs. Small writes keep being applied meanwhile, as on a node under load.
 *
 * ```sh
 * deno run --allow-all bench/compaction_stall.ts                  # 250 values of ~200 KB
 * deno run --allow-all bench/compaction_stall.ts --values 500 --rows 1300
 * deno run --allow-all bench/compaction_stall.ts --root /tmp/old  # another checkout's src/
 * deno run --allow-all bench/compaction_stall.ts --keys 1000000    # 1M keys of 100 bytes
 * DENO_V8_FLAGS=--trace-gc deno run --allow-all bench/compaction_stall.ts --keys 1000000
 * ```
 *
 * With `--root`, the modules come from that checkout: a version without
 * `StateMachine.captureSnapshot` is measured the old way (`snapshot()` and `restore()` at once).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { join, resolve } from "node:path";

const { values: args } = parseArgs({
  options: {
    values: { type: "string", default: "250" },
    rows: { type: "string", default: "2650" },
    root: { type: "string", default: resolve(import.meta.dirname!, "..") },
    /** Many small keys instead (100-byte strings, as `deno task bench:scale` writes). */
    keys: { type: "string", default: "0" },
  },
});
const root = args.root!;
const count = Number(args.values);
const rows = Number(args.rows);
const smallKeys = Number(args.keys);

const { StateMachine } = await import(join(root, "src/state/state_machine.ts"));
const { encodeCommand } = await import(join(root, "src/state/commands.ts"));
const { KvStorage } = await import(join(root, "src/storage/kv_storage.ts"));
let slices: { runInSlices<T>(steps: Iterator<unknown, T>): Promise<T> } | undefined;
try {
  slices = await import(join(root, "src/node/run_in_slices.ts"));
} catch {
  slices = undefined; // the old code: everything at once
}

/** ~200 KB of JSON made of many small records (rows = 2650), as in the process test. */
function bigValue(i: number): unknown {
  const list = [];
  for (let r = 0; r < rows; r++) {
    list.push({ id: r, name: `row-${i}-${r}`, score: r * 1.5, tags: ["a", "bc"], ok: r % 2 === 0 });
  }
  return { i, rows: list };
}

/** Records the longest gap between runs of a 1 ms interval, and how many gaps exceeded 50 ms. */
class StallMeter {
  #last = performance.now();
  #timer: ReturnType<typeof setInterval>;
  max = 0;
  over50 = 0;
  constructor() {
    this.#timer = setInterval(() => {
      const now = performance.now();
      const gap = now - this.#last;
      if (gap > this.max) this.max = gap;
      if (gap > 50) this.over50++;
      this.#last = now;
    }, 1);
  }
  stop(): void {
    clearInterval(this.#timer);
    const gap = performance.now() - this.#last; // the last stretch counts too
    if (gap > this.max) this.max = gap;
    if (gap > 50) this.over50++;
  }
}

const sm = new StateMachine();
let index = 0;
const time = 1_700_000_000_000;
sm.applyNoop(++index, 1);
if (smallKeys > 0) {
  const value = "v".repeat(100);
  for (let i = 0; i < smallKeys; i++) {
    const key = `scale/${String(i).padStart(8, "0")}`;
    sm.applyEntry(++index, 1, encodeCommand({ cmd: { op: "put", key, value }, time }));
  }
  console.log(`state: ${smallKeys} keys of 100 bytes (deno ${Deno.version.deno}, ${root})`);
} else {
  for (let i = 0; i < count; i++) {
    const data = encodeCommand({ cmd: { op: "put", key: `big/${i}`, value: bigValue(i) }, time });
    sm.applyEntry(++index, 1, data);
  }
  console.log(`state: ${count} values, ${rows} rows each (deno ${Deno.version.deno}, ${root})`);
}

// A write load on the same event loop: one small put per ms, as entries a node applies.
let writes = 0;
const load = setInterval(() => {
  const data = encodeCommand({
    cmd: { op: "put", key: `load/${writes % 100}`, value: writes },
    time,
  });
  sm.applyEntry(++index, 1, data);
  writes++;
}, 1);

const dir = await Deno.makeTempDir({ prefix: "compaction_stall_" });
const storage = await KvStorage.open(dir);
try {
  const conf = { voters: [1], learners: [] };
  let bytes = new Uint8Array();
  // Twice: a version that keeps encodings of large values pays for them the first time only.
  for (const round of ["first", "second"]) {
    const at = index;
    const meter = new StallMeter();
    let started = performance.now();
    if (slices && "captureSnapshot" in sm) {
      const capture = sm.captureSnapshot();
      try {
        bytes = await slices.runInSlices(capture.encode());
      } finally {
        capture.release();
      }
    } else {
      bytes = sm.snapshot();
    }
    const encodeMs = performance.now() - started;
    started = performance.now();
    await storage.saveSnapshot({ metadata: { index: at, term: 1, conf }, data: bytes });
    const writeMs = performance.now() - started;
    meter.stop();
    console.log(
      `${round} compaction: ${(bytes.byteLength / 1e6).toFixed(1)} MB, encode ${
        encodeMs.toFixed(0)
      } ms, KV write ${writeMs.toFixed(0)} ms; event loop max stall ${meter.max.toFixed(0)} ms, ` +
        `${meter.over50} stalls over 50 ms; ${writes} writes applied so far`,
    );
  }

  const meter = new StallMeter();
  const started = performance.now();
  const restored = slices && "restoreSteps" in StateMachine
    ? await slices.runInSlices(StateMachine.restoreSteps(bytes))
    : StateMachine.restore(bytes);
  meter.stop();
  console.log(
    `restore: ${(performance.now() - started).toFixed(0)} ms; event loop max stall ` +
      `${meter.max.toFixed(0)} ms, ${meter.over50} stalls over 50 ms (${restored.appliedIndex})`,
  );
} finally {
  clearInterval(load);
  storage.close();
  await Deno.remove(dir, { recursive: true });
}
