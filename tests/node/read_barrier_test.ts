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
