import assert from "node:assert/strict";
import { LatencyHistogram } from "../../bench/histogram.ts";
import { type HttpClient, openHttpClient } from "../../bench/http_clients.ts";
import { type LoadProgress, runLoad, summarize } from "../../bench/load.ts";
import { serveTrivial } from "../../bench/trivial_server.ts";

Deno.test("histogram: exact below 256 µs, nearest rank", () => {
  const h = new LatencyHistogram();
  for (let us = 1; us <= 100; us++) h.record(us / 1000);
  assert.equal(h.count, 100);
  assert.equal(h.percentile(50), 0.05);
  assert.equal(h.percentile(99), 0.099);
  assert.equal(h.percentile(100), 0.1);
  assert.equal(h.percentile(0), 0.001);
  assert.equal(h.min, 0.001);
  assert.equal(h.max, 0.1);
  assert.ok(Math.abs(h.mean - 0.0505) < 1e-12);
});

Deno.test("histogram: within 1 % over six orders of magnitude, max exact", () => {
  const h = new LatencyHistogram();
  const samples: number[] = [];
  // A deterministic spread from 0.3 ms to 30 s.
  for (let i = 0; i < 5000; i++) samples.push(0.3 * 10 ** ((i * 7919) % 5000 / 1000));
  for (const s of samples) h.record(s);
  const sorted = [...samples].sort((a, b) => a - b);
  for (const p of [1, 25, 50, 90, 99, 99.9]) {
    const exact = sorted[Math.ceil((p / 100) * sorted.length) - 1];
    const got = h.percentile(p);
    assert.ok(Math.abs(got - exact) / exact < 0.01, `p${p}: ${got} vs ${exact}`);
  }
  assert.equal(h.max, sorted.at(-1));
  assert.equal(h.percentile(100), sorted.at(-1));
});

Deno.test("histogram: empty, negative and huge samples, merge", () => {
  const empty = new LatencyHistogram();
  assert.deepEqual([empty.percentile(50), empty.min, empty.max, empty.mean], [0, 0, 0, 0]);
  const a = new LatencyHistogram();
  a.record(-5);
  a.record(10_000_000); // beyond the top bucket: clamped there, max stays exact
  const b = new LatencyHistogram();
  b.record(2);
  a.merge(b);
  assert.equal(a.count, 3);
  assert.equal(a.min, 0);
  assert.equal(a.max, 10_000_000);
  assert.ok(Math.abs(a.percentile(50) - 2) / 2 < 0.01);
  assert.ok(a.percentile(100) <= 10_000_000);
});

Deno.test("summarize: throughput from the count and the elapsed time", () => {
  const h = new LatencyHistogram();
  for (let i = 0; i < 500; i++) h.record(4);
  const r = summarize(h, { workers: 2, errors: 1, elapsedMs: 250, errorSamples: ["x"] });
  assert.equal(r.ops, 500);
  assert.equal(r.opsPerSec, 2000);
  assert.deepEqual(r.latencyMs, { p50: 4, p99: 4, max: 4, mean: 4 });
  assert.equal(summarize(new LatencyHistogram(), { ...r, elapsedMs: 0 }).opsPerSec, 0);
});

Deno.test("runLoad: a tiny closed-loop run against a trivial local server", async () => {
  const server = serveTrivial();
  const origin = `http://127.0.0.1:${server.addr.port}`;
  const clients: HttpClient[] = [];
  const progress: LoadProgress[] = [];
  try {
    const result = await runLoad({
      workers: 4,
      warmupMs: 100,
      durationMs: 400,
      progressIntervalMs: 100,
      onProgress: (p) => progress.push(p),
      makeWorker() {
        const http = openHttpClient("raw", origin);
        clients.push(http);
        return {
          async op() {
            const { status, body } = await http.request({
              method: "PUT",
              path: "/v1/config/k",
              body: '"v"',
            });
            assert.equal(status, 200);
            assert.equal(body, '{"ok":true}');
          },
          close: () => http.close(),
        };
      },
    });
    assert.equal(result.workers, 4);
    assert.equal(result.errors, 0);
    assert.ok(result.ops > 50, `only ${result.ops} requests in 400 ms`);
    assert.ok(result.elapsedMs >= 400 && result.elapsedMs < 2000, `elapsed ${result.elapsedMs}`);
    assert.ok(Math.abs(result.opsPerSec - (result.ops * 1000) / result.elapsedMs) < 1e-6);
    assert.ok(result.latencyMs.p50 > 0 && result.latencyMs.p50 <= result.latencyMs.p99);
    assert.ok(result.latencyMs.p99 <= result.latencyMs.max);
    assert.ok(progress.some((p) => p.phase === "measure"));
    assert.ok(progress.every((p, i) => i === 0 || p.ops >= progress[i - 1].ops));
  } finally {
    for (const c of clients) c.close();
    await server.shutdown();
  }
});

Deno.test("runLoad: failed operations are errors, not latencies, and workers close", async () => {
  let closed = 0;
  let calls = 0;
  const result = await runLoad({
    workers: 2,
    durationMs: 100,
    errorBackoffMs: 5,
    makeWorker: (index) => ({
      op() {
        calls++;
        if (index === 1) return Promise.reject(new Error("refused"));
        return new Promise((resolve) => setTimeout(resolve, 2));
      },
      close() {
        closed++;
      },
    }),
  });
  assert.ok(calls > 2);
  assert.ok(result.errors > 0);
  assert.deepEqual(result.errorSamples, ["Error: refused"]);
  assert.ok(result.ops > 0);
  assert.ok(result.latencyMs.p50 >= 1.5, `p50 ${result.latencyMs.p50}`);
  assert.equal(closed, 2);
});
