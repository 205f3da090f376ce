import assert from "node:assert/strict";
import { benchTempRoot } from "./bench_temp_root.ts";
import type { BenchRun } from "../../bench/results.ts";

Deno.test({
  name:
    "bench --quick: a real 3-node edgeraft cluster, two rounds, a report, and no process left behind",
  async fn() {
    const root = await benchTempRoot("bench-quick-");
    const { dir } = root;
    try {
      const out = await root.run("bench/run.ts", [
        "--quick",
        "--only",
        "edgeraft",
        "--workloads",
        "put,lock-contended,failover",
        "--clients",
        "2",
        "--duration",
        "0.5",
        "--failover-runs",
        "1",
        "--rounds",
        "2",
        "--out",
        `${dir}/report`,
      ]);
      assert.equal(out.code, 0, out.stderr);
      assert.match(out.stdout, /## Targets of issue 16/);
      const run: BenchRun = JSON.parse(await Deno.readTextFile(`${dir}/report/raw.json`));
      assert.deepEqual(run.systems, ["edgeraft"]);
      assert.deepEqual(run.cells.map((c) => [c.workload, c.clients]), [
        ["put", 2],
        ["lock-contended", 2],
      ]);
      // Two rounds, each measuring both cells; the tables use their medians.
      assert.deepEqual(run.roundCells?.map((c) => [c.workload, c.round]), [
        ["put", 1],
        ["lock-contended", 1],
        ["put", 2],
        ["lock-contended", 2],
      ]);
      for (const c of [...run.cells, ...run.roundCells!]) {
        assert.equal(c.load.errors, 0, c.load.errorSamples.join("; "));
        assert.ok(c.load.ops > 0);
      }
      assert.equal(run.failover[0].samples.length, 1);
      assert.notEqual(run.failover[0].samples[0].ms, null);
      assert.ok(run.generatorCeiling && run.generatorCeiling.opsPerSec > 0);
      const report = await Deno.readTextFile(`${dir}/report/report.md`);
      assert.match(report, /\| config put \| 2 \|/);
      assert.ok((await Deno.readTextFile(`${dir}/report/chart.svg`)).startsWith("<svg"));
      assert.deepEqual(root.leftovers(), []);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
