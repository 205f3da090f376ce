import assert from "node:assert/strict";
import { ALL_WORKLOADS, parseBenchOptions, UsageError } from "../../bench/options.ts";

Deno.test("options: defaults run everything at 1, 16 and 64 clients for 5 s", () => {
  const o = parseBenchOptions([]);
  assert.equal(o.quick, false);
  assert.equal(o.durationS, 5);
  assert.deepEqual(o.clients, [1, 16, 64]);
  assert.deepEqual(o.workloads, [...ALL_WORKLOADS]);
  assert.equal(o.only, undefined);
  assert.equal(o.httpClient, "raw");
  assert.equal(o.memoryKeys, 100_000);
  assert.equal(o.rounds, 1);
});

Deno.test("options: --quick shortens everything, explicit flags still win", () => {
  const o = parseBenchOptions(["--duration", "2.5", "--quick", "--memory-keys", "300"]);
  assert.equal(o.quick, true);
  assert.equal(o.durationS, 2.5);
  assert.equal(o.memoryKeys, 300);
  assert.equal(o.failoverRuns, 2);
  assert.ok(o.warmupS < 1);
});

Deno.test("options: lists and choices", () => {
  const o = parseBenchOptions([
    "--only",
    "etcd",
    "--workloads",
    "put, lock-contended,failover",
    "--clients",
    "8",
    "--http-client",
    "fetch",
    "--warmup",
    "0",
    "--out",
    "/tmp/x",
    "--rounds",
    "3",
  ]);
  assert.equal(o.only, "etcd");
  assert.deepEqual(o.workloads, ["put", "lock-contended", "failover"]);
  assert.deepEqual(o.clients, [8]);
  assert.equal(o.httpClient, "fetch");
  assert.equal(o.warmupS, 0);
  assert.equal(o.outDir, "/tmp/x");
  assert.equal(o.rounds, 3);
});

Deno.test("options: what is not understood is a usage error naming the flag", () => {
  for (
    const args of [
      ["--only", "consul"],
      ["--workloads", "put,scan"],
      ["--clients", "1,0"],
      ["--clients", "1.5"],
      ["--rounds", "0"],
      ["--rounds", "2.5"],
      ["--duration", "-1"],
      ["--duration"],
      ["--workloads", ","],
      ["--verbose"],
    ]
  ) {
    assert.throws(() => parseBenchOptions(args), UsageError, args.join(" "));
  }
});
