/** Round trips to peers, timed from heartbeats (issue 18: timing that says when it is wrong). */

import assert from "node:assert/strict";
import { PeerRtt, tooSlowForElections } from "../../src/node/peer_rtt.ts";

Deno.test("peer rtt: an answer times the first unanswered heartbeat; stray answers count nothing", () => {
  const rtt = new PeerRtt();
  assert.equal(rtt.answered(2, 5), undefined); // nothing sent yet
  rtt.sent(2, 100);
  rtt.sent(2, 150); // still waiting: the wait is timed from the first
  assert.equal(rtt.answered(2, 180), 80);
  assert.equal(rtt.answered(2, 190), undefined); // a duplicate answer
  assert.deepEqual(rtt.summary(2), { peer: 2, samples: 1, p50Ms: 80, p99Ms: 80 });
  assert.equal(rtt.summary(3), undefined);
});

Deno.test("peer rtt: median and p99 over the last 256 round trips, per peer", () => {
  const rtt = new PeerRtt();
  let t = 0;
  // 300 round trips of 1..300 ms to peer 2: the window keeps 45..300.
  for (let i = 1; i <= 300; i++) {
    rtt.sent(2, t);
    t += i;
    rtt.answered(2, t);
  }
  rtt.sent(3, t);
  rtt.answered(3, t + 2);
  const [two, three] = rtt.summaries();
  assert.equal(two.samples, 256);
  assert.equal(two.p50Ms, 173);
  assert.equal(two.p99Ms, 298);
  assert.deepEqual(three, { peer: 3, samples: 1, p50Ms: 2, p99Ms: 2 });
});

Deno.test("peer rtt: too slow for elections once p99 passes a fifth of the timeout, over 20 samples", () => {
  const s = (samples: number, p99Ms: number) => ({ peer: 2, samples, p50Ms: 1, p99Ms });
  assert.equal(tooSlowForElections(s(256, 31), 150), true);
  assert.equal(tooSlowForElections(s(256, 30), 150), false);
  assert.equal(tooSlowForElections(s(19, 500), 150), false); // too few to say
  assert.equal(tooSlowForElections(s(256, 300), 2000), false); // --timing wan's timeout
});
