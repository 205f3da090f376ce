import assert from "node:assert/strict";
import { benchTempRoot } from "./bench_temp_root.ts";
import type { ScaleRun } from "../../bench/scale_report.ts";
import { parseScaleOptions } from "../../bench/scale_options.ts";
import { UsageError } from "../../bench/options.ts";

Deno.test("bench:scale flags: defaults, repeated --node-arg, and malformed values refused", () => {
  const o = parseScaleOptions([]);
  assert.deepEqual([o.keys, o.batch, o.clients, o.settleS, o.systems], [
    1_000_000,
    100_000,
    64,
    30,
    undefined,
  ]);
  assert.deepEqual(
    parseScaleOptions(["--node-arg", "--snapshot-entries", "--node-arg=50000"]).nodeArgs,
    ["--snapshot-entries", "50000"],
  );
  assert.throws(() => parseScaleOptions(["--keys", "0"]), UsageError);
  assert.throws(() => parseScaleOptions(["--systems", "zookeeper"]), UsageError);
  assert.throws(() => parseScaleOptions(["--keys", "10", "--batch", "20"]), UsageError);
  assert.equal(parseScaleOptions(["--profile", "/tmp/p"]).profileDir, "/tmp/p");
  assert.throws(() => parseScaleOptions(["--profile"]), UsageError);
});

Deno.test({
  name: "bench:scale 3000 keys: 3 batches measured on a real cluster, a follower restarted",
  async fn() {
    const root = await benchTempRoot("bench-scale-quick-");
    const { dir } = root;
    try {
      const out = await root.run("bench/scale.ts", [
        ...["--keys", "3000", "--batch", "1000", "--systems", "edgeraft"],
        ...["--settle", "1", "--out", `${dir}/report`],
      ]);
      const { stdout } = out;
      assert.equal(out.code, 0, out.stderr + stdout);
      assert.match(stdout, /\| 0 elections during the load \|.*\| (PASS|FAIL) \|/);
      const run: ScaleRun = JSON.parse(await Deno.readTextFile(`${dir}/report/scale.json`));
      assert.equal(run.systems.length, 1);
      const r = run.systems[0];
      assert.equal(r.system, "edgeraft");
      assert.equal(r.batches.length, 3);
      assert.deepEqual(r.batches.map((b) => b.keysStored), [1000, 2000, 3000]);
      for (const b of r.batches) {
        assert.ok(b.writesPerSec > 0 && b.keys === 1000, JSON.stringify(b));
        assert.ok(b.termEnd !== null && b.termEnd >= 1, JSON.stringify(b));
        assert.ok(b.compactions !== null && b.loopDelayMaxMs !== null, JSON.stringify(b));
        if (Deno.build.os === "linux") {
          // The delay less the wait for a CPU: never more than the delay itself.
          assert.ok(
            typeof b.loopOwnDelayMaxMs === "number" && b.loopOwnDelayMaxMs <= b.loopDelayMaxMs!,
            JSON.stringify(b),
          );
        }
        assert.equal(b.rssBytes.length, 3);
        for (const rss of b.rssBytes) assert.ok(rss !== null && rss > 1e6, JSON.stringify(b));
      }
      assert.ok(r.elections !== null && r.termEnd !== null);
      assert.ok(r.rssSettledBytes.every((b) => b !== null && b > 1e6));
      assert.deepEqual(r.restarts.map((x) => x.how), ["SIGTERM", "SIGKILL"]);
      for (const x of r.restarts) assert.ok(x.readyMs !== null && x.readyMs > 0, x.error);
      assert.match(await Deno.readTextFile(`${dir}/report/README.md`), /follower restart/);
      assert.ok((await Deno.readTextFile(`${dir}/report/scale.svg`)).startsWith("<svg"));
      assert.deepEqual(root.leftovers(), []);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
