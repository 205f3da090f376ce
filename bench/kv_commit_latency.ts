/**
 * How long one durable write takes on this machine's disk, three ways, one at a time: a Deno KV
 * commit shaped like a follower's append (a log block and the hard state), a Deno KV commit of
 * the block alone, and a bare 4 KiB `write` + `fdatasync` on a plain file. The gap between the
 * first and the last is what Deno KV adds to every acknowledged write; the last is the floor any
 * system with the same durability pays (etcd's WAL too).
 *
 * Run: `deno run -A bench/kv_commit_latency.ts [writes per way, default 3000]`.
 *
 * @module
 */

import { LatencyHistogram } from "./histogram.ts";

/**
 * Times `write` `count` times, one after the other.
 *
 * @example
 * ```ts ignore
 * import { timeEach } from "./kv_commit_latency.ts";
 * (await timeEach(100, () => Promise.resolve())).percentile(50);
 * ```
 */
export async function timeEach(
  count: number,
  write: (i: number) => Promise<unknown>,
): Promise<LatencyHistogram> {
  const histogram = new LatencyHistogram();
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    await write(i);
    histogram.record(performance.now() - started);
  }
  return histogram;
}

if (import.meta.main) {
  const count = Number(Deno.args[0] ?? 3000);
  const dir = await Deno.makeTempDir({ prefix: "kv_commit_latency_" });
  const kv = await Deno.openKv(`${dir}/raft.kv`);
  const file = await Deno.open(`${dir}/plain`, { write: true, create: true });
  try {
    // Four appends share a block, as small entries do (`kv_log_layout.ts` merges them).
    const block = new Uint8Array(300).fill(1);
    const hardState = new Uint8Array(20);
    const page = new Uint8Array(4096);
    const ways: [string, (i: number) => Promise<unknown>][] = [
      [
        "Deno KV: a log block + the hard state",
        (i) => kv.atomic().set(["log", i >> 2], block).set(["hard"], hardState).commit(),
      ],
      [
        "Deno KV: a log block alone",
        (i) => kv.atomic().set(["log", 1e6 + (i >> 2)], block).commit(),
      ],
      ["write 4 KiB + fdatasync", async () => {
        await file.write(page);
        await file.syncData();
      }],
    ];
    for (const [name, write] of ways) {
      const h = await timeEach(count, write);
      console.log(
        `${name.padEnd(40)} p50 ${h.percentile(50).toFixed(3)} ms  p90 ${
          h.percentile(90).toFixed(3)
        } ms`,
      );
    }
  } finally {
    kv.close();
    file.close();
    await Deno.remove(dir, { recursive: true });
  }
}
