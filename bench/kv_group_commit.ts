/**
 * Group commit in `KvStorage.append`: N callers each append one 100-byte entry in a loop without
 * waiting for one another, as a pipelined leader's Readys would, on a real KvStorage in a temp
 * dir. Prints appends/s and KV commits per append for each N.
 *
 * Run: `deno run --allow-read --allow-write bench/kv_group_commit.ts [seconds per N] [N...]`
 * (defaults: 2 s, callers 1 16 64).
 *
 * @module
 */

import { KvStorage } from "../src/storage/kv_storage.ts";

/**
 * One measured cell: `callers` loops appending for `seconds`.
 *
 * @example
 * ```ts ignore
 * import { measureAppends } from "./kv_group_commit.ts";
 * const { appendsPerSecond } = await measureAppends(16, 1);
 * ```
 */
export async function measureAppends(
  callers: number,
  seconds: number,
): Promise<{ appends: number; commits: number; appendsPerSecond: number }> {
  const dir = await Deno.makeTempDir({ prefix: "kv_group_commit_" });
  const storage = await KvStorage.open(dir);
  const prototype = Deno.AtomicOperation.prototype;
  const original = prototype.commit;
  let commits = 0;
  prototype.commit = function (this: Deno.AtomicOperation) {
    commits++;
    return original.call(this);
  };
  try {
    const data = new Uint8Array(100).fill(7);
    let last = 0;
    let appends = 0;
    const started = performance.now();
    const deadline = started + seconds * 1000;
    const loop = async () => {
      while (performance.now() < deadline) {
        // The index is taken at call time: calls take effect in call order, so each follows
        // the one before it, whoever made it.
        const index = ++last;
        await storage.append({
          entries: [{ term: 1, index, type: "normal", data }],
          hardState: { term: 1, vote: 1, commit: Math.max(0, index - callers) },
        });
        appends++;
      }
    };
    await Promise.all(Array.from({ length: callers }, loop));
    const elapsed = (performance.now() - started) / 1000;
    return { appends, commits, appendsPerSecond: appends / elapsed };
  } finally {
    prototype.commit = original;
    storage.close();
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) {
  const seconds = Number(Deno.args[0] ?? 2);
  const counts = Deno.args.length > 1 ? Deno.args.slice(1).map(Number) : [1, 16, 64];
  console.log("callers  appends/s  commits/append");
  for (const callers of counts) {
    const { appends, commits, appendsPerSecond } = await measureAppends(callers, seconds);
    console.log(
      `${String(callers).padStart(7)}  ${appendsPerSecond.toFixed(0).padStart(9)}  ${
        (commits / appends).toFixed(3).padStart(14)
      }`,
    );
  }
}
