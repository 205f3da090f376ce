/**
 * Long work in slices: timers and network I/O get their turn between slices (a chain of
 * `setImmediate` starved Deno's network I/O), and cancelled work is closed.
 */

import assert from "node:assert/strict";
import { runInSlices, SlicedWorkCancelled } from "../../src/node/run_in_slices.ts";

/** `steps` steps of `ms` busy milliseconds each. */
function* busy(steps: number, ms: number, log: string[] = []): Generator<void, number> {
  try {
    for (let i = 0; i < steps; i++) {
      const until = performance.now() + ms;
      while (performance.now() < until) {
        // busy, as an encoder is
      }
      yield;
    }
    return steps;
  } finally {
    log.push("closed");
  }
}

Deno.test("runInSlices lets timers and network requests run between its slices", async () => {
  const abort = new AbortController();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: abort.signal, onListen() {} },
    () => new Response("ok"),
  );
  let ticks = 0;
  const timer = setInterval(() => ticks++, 5);
  let answered = 0;
  let working = true;
  const client = (async () => {
    while (working) {
      const res = await fetch(`http://127.0.0.1:${server.addr.port}/`);
      await res.text();
      answered++;
    }
  })();
  try {
    const started = performance.now();
    assert.equal(await runInSlices(busy(300, 1), { sliceMs: 5 }), 300);
    const ms = performance.now() - started;
    // ~300 ms of work: the interval and the server must have run many times meanwhile.
    assert.ok(ticks >= 10, `the interval ran ${ticks} times in ${ms.toFixed(0)} ms`);
    assert.ok(answered >= 10, `the server answered ${answered} requests in ${ms.toFixed(0)} ms`);
  } finally {
    working = false;
    await client;
    clearInterval(timer);
    abort.abort();
    await server.finished;
  }
});

Deno.test("runInSlices closes cancelled work and says so", async () => {
  const log: string[] = [];
  let asked = 0;
  await assert.rejects(
    runInSlices(busy(1000, 1, log), { sliceMs: 2, cancelled: () => ++asked >= 2 }),
    SlicedWorkCancelled,
  );
  assert.deepEqual(log, ["closed"]);
  assert.equal(asked, 2);
});
