import assert from "node:assert/strict";
import { wrkScript } from "../../bench/wrk_reads.ts";
import { KEY_COUNT } from "../../bench/workloads.ts";

Deno.test("wrk reads: edgeraft's script asks for every bench key, stale only when asked", () => {
  const stale = wrkScript("edgeraft", "stale");
  const linearizable = wrkScript("edgeraft", "linearizable");
  assert.equal(stale.match(/wrk\.format\("GET"/g)?.length, KEY_COUNT);
  assert.ok(stale.includes(`"/v1/config/bench-k009999?consistency=stale"`));
  assert.ok(linearizable.includes(`"/v1/config/bench-k009999")`));
  assert.ok(!linearizable.includes("consistency"));
});

Deno.test("wrk reads: etcd's script posts ranges with base64 keys, serializable when stale", () => {
  const stale = wrkScript("etcd", "stale");
  const linearizable = wrkScript("etcd", "linearizable");
  const key = btoa("bench-k000042");
  assert.ok(stale.includes(`'{"key":"${key}","serializable":true}'`));
  assert.ok(linearizable.includes(`'{"key":"${key}"}'`));
  assert.equal(linearizable.match(/"\/v3\/kv\/range"/g)?.length, KEY_COUNT);
});

Deno.test("wrk reads: the script prints one JSON summary line with its error count", () => {
  const script = wrkScript("edgeraft", "linearizable");
  assert.match(script, /done = function\(summary, latency, _\)/);
  assert.match(script, /e\.connect \+ e\.read \+ e\.write \+ e\.status \+ e\.timeout/);
});

Deno.test("wrk reads: requests are made in init, once wrk knows the Host header", () => {
  const script = wrkScript("etcd", "linearizable");
  const init = script.indexOf("init = function(_)");
  assert.ok(init >= 0);
  assert.ok(
    script.indexOf("wrk.format(") > init,
    "a request made while the script loads has no Host",
  );
});
