/**
 * The hot path of `KvStorage`: one `append` per Ready, each one atomic commit (one fsync).
 *
 * Run: `deno bench --allow-read --allow-write bench/storage_bench.ts`
 *
 * @module
 */

import type { Entry } from "../src/raft/types.ts";
import { KvStorage } from "../src/storage/kv_storage.ts";

/** Appends `count` entries of `size` bytes per call to a storage of its own. */
async function appender(count: number, size: number): Promise<() => Promise<void>> {
  const dir = await Deno.makeTempDir({ prefix: "storage_bench_" });
  const storage = await KvStorage.open(dir);
  globalThis.addEventListener("unload", () => {
    storage.close();
    Deno.removeSync(dir, { recursive: true });
  });
  const data = new Uint8Array(size).fill(7);
  let last = 0;
  return async () => {
    const entries: Entry[] = [];
    for (let i = 0; i < count; i++) entries.push({ term: 1, index: ++last, type: "normal", data });
    await storage.append({ entries, hardState: { term: 1, vote: 1, commit: last - count } });
  };
}

const oneSmall = await appender(1, 100);
const hundredSmall = await appender(100, 100);
const oneLarge = await appender(1, 22 * 1024);

Deno.bench("append 1 entry of 100 B", { group: "append" }, oneSmall);
Deno.bench("append 100 entries of 100 B", { group: "append" }, hundredSmall);
Deno.bench("append 1 entry of 22 KiB", { group: "append" }, oneLarge);
