/**
 * Micro-benchmarks of the Raft core's hot path: a leader taking a proposal through Ready and
 * the followers' acknowledgements, on the synchronous test network (no I/O).
 *
 *   deno bench bench/raft_bench.ts
 *
 * @module
 */

import { TestNetwork } from "../tests/raft/network.ts";

const payload = new Uint8Array(100);

Deno.bench("raft: propose -> commit -> apply, 3 nodes, one entry per round", (b) => {
  const net = new TestNetwork({ voters: 3 });
  net.campaign(1);
  const leader = net.node(1);
  b.start();
  for (let i = 0; i < 1000; i++) {
    leader.propose(payload);
    net.settle();
  }
  b.end();
});

Deno.bench("raft: 100 proposals batched per round, 3 nodes", (b) => {
  const net = new TestNetwork({ voters: 3 });
  net.campaign(1);
  const leader = net.node(1);
  b.start();
  for (let round = 0; round < 10; round++) {
    for (let i = 0; i < 100; i++) leader.propose(payload);
    net.settle();
  }
  b.end();
});

Deno.bench("raft: 1000 heartbeat rounds, 5 nodes", (b) => {
  const net = new TestNetwork({ voters: 5 });
  net.campaign(1);
  b.start();
  net.tick(1000, [1]);
  b.end();
});
