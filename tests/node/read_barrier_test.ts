import assert from "node:assert/strict";
import { ReadBarrier, ReadTimeoutError } from "../../src/node/read_barrier.ts";

/** Whether `p` has settled after the microtasks queued so far have run. */
async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  p.then(() => done = true, () => done = true);
  await new Promise((r) => setTimeout(r, 0));
  return done;
}

Deno.test("read barrier (6.4): reads queued while a round is confirmed share the next round", async () => {
  const b = new ReadBarrier(5_000, 50);
  const first = b.wait();
  const r1 = b.start(0)!;
  const second = b.wait();
  const third = b.wait();
  assert.equal(b.start(1), undefined, "no second round while the first awaits its quorum");
  b.confirmed(r1, 7);
  b.applied(7);
  await first;
  assert.equal(await settled(second), false, "a read that came after round 1 began waits");
  const r2 = b.start(2)!;
  assert.notDeepEqual(r2, r1);
  assert.equal(b.start(3), undefined, "nothing left to start");
  b.confirmed(r2, 9);
  b.applied(8);
  assert.equal(await settled(third), false, "served only once the read index is applied");
  b.applied(9);
  await Promise.all([second, third]);
});

Deno.test("read barrier: a round unconfirmed after retryMs no longer holds the next back", async () => {
  const b = new ReadBarrier(5_000, 50);
  const lost = b.wait();
  const r1 = b.start(0)!; // its messages are lost: no ReadState ever comes
  const next = b.wait();
  assert.equal(b.start(49), undefined);
  const r2 = b.start(50)!;
  assert.ok(r2);
  b.confirmed(r2, 3);
  b.applied(3);
  await next;
  b.confirmed(r1, 2); // late, still fine
  b.applied(3);
  await lost;
  b.close();
});

Deno.test("read barrier: unconfirmed rounds time out, close() fails the rest", async () => {
  const b = new ReadBarrier(20, 50);
  const timedOut = b.wait();
  b.start(0);
  await assert.rejects(timedOut, ReadTimeoutError);
  const queued = b.wait();
  b.close();
  await assert.rejects(queued, ReadTimeoutError);
});

Deno.test("read barrier: a lost round is asked again under a new context until confirmed", async () => {
  // A follower's forwarded request, or the leader's answer, was dropped: no ReadState comes
  // for r1 and no new read arrives. The round must be asked again, not left to time out.
  const b = new ReadBarrier(5_000, 50);
  const lost = b.wait();
  const r1 = b.start(0)!;
  assert.equal(b.start(49), undefined, "not yet: the answer may still come");
  const r2 = b.start(50);
  assert.ok(r2, "asked again after retryMs");
  assert.notDeepEqual(r2, r1);
  const r3 = b.start(100);
  assert.ok(r3, "and again, as long as no answer comes");
  assert.equal(b.start(120), undefined);
  b.confirmed(r3, 4);
  assert.equal(b.start(200), undefined, "a confirmed round is not asked again");
  b.applied(4);
  await lost;
  b.confirmed(r1, 2); // a late answer to a round already served is ignored
  b.applied(4);
  b.close();
});

Deno.test("read barrier: reads queued since a lost round join its retry", async () => {
  const b = new ReadBarrier(5_000, 50);
  const lost = b.wait();
  b.start(0);
  const later = b.wait();
  const retry = b.start(60)!;
  b.confirmed(retry, 8);
  b.applied(8);
  await Promise.all([lost, later]);
  b.close();
});

Deno.test("read barrier: a late answer to the lost round serves only the reads in it", async () => {
  const b = new ReadBarrier(5_000, 50);
  const lost = b.wait();
  const r1 = b.start(0)!;
  const later = b.wait();
  b.start(60); // the retry, with `later` in it
  b.confirmed(r1, 5); // r1 was slow, not lost
  b.applied(5);
  await lost;
  assert.equal(await settled(later), false, "r1 was asked before `later` arrived");
  b.close();
  await assert.rejects(later, ReadTimeoutError);
});

Deno.test("read barrier: contexts differ between barriers (nodes, or runs of one node)", () => {
  const a = new ReadBarrier(5_000, 50);
  const b = new ReadBarrier(5_000, 50);
  a.wait().catch(() => {});
  b.wait().catch(() => {});
  const ca = a.start(0)!;
  const cb = b.start(0)!;
  assert.notDeepEqual(ca, cb);
  b.confirmed(ca, 1); // another barrier's answer confirms nothing here
  b.applied(1);
  assert.equal(b.start(10), undefined, "still awaiting its own round");
  a.close();
  b.close();
});

Deno.test("read barrier: retries do not extend a read's deadline", async () => {
  const b = new ReadBarrier(60, 10);
  const read = b.wait();
  const started = performance.now();
  b.start(0);
  let t = 0;
  const retrying = setInterval(() => b.start(t += 10), 5);
  try {
    await assert.rejects(read, ReadTimeoutError);
  } finally {
    clearInterval(retrying);
  }
  const waited = performance.now() - started;
  assert.ok(waited < 1000, `failed after ${waited} ms`);
  b.close();
});
