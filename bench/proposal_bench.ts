/**
 * What one write costs in CPU on its way into the log and out of it: encoding and validating it
 * where it is proposed, forwarding it from a follower, and decoding, validating and applying it
 * on every node. Two views:
 *
 * - the steps alone, per write, with a 100-byte value and a client session (as the API sends);
 * - three real `RaftNode`s on the in-memory storage and network, writes submitted to the leader
 *   and to a follower: the process's CPU time per write (all three nodes) is printed.
 *
 *   deno bench --allow-all bench/proposal_bench.ts
 *
 * @module
 */

import process from "node:process";
import { memoryLogger } from "../src/node/logger.ts";
import { RaftNode, type Submission } from "../src/node/raft_node.ts";
import { decode, encode, Encoder } from "@msgpack/msgpack";
import { encodeCommand, encodeSubmission } from "../src/state/commands.ts";
import { StateMachine } from "../src/state/state_machine.ts";
import { MemoryStorage } from "../src/storage/memory_storage.ts";
import { MemoryNetwork } from "../src/transport/memory_transport.ts";
import {
  frameProposal,
  readProposal,
  unwrapLegacyProposal,
} from "../src/node/proposal_envelope.ts";

const TIME = 1_700_000_000_000;
const VALUE = "v".repeat(98); // a JSON string of 100 bytes
const BATCH = 1000;

function submission(i: number): Submission {
  return {
    cmd: { op: "put", key: `config/service-${i % 5000}`, value: VALUE },
    clientId: "client-1",
    seq: i + 1,
  };
}

/** The steps of one write as the node runs them. */
interface WritePath {
  /** The leader: a submission to the entry's data. */
  propose(sub: Submission, proposer: number, seq: number, time: number): Uint8Array;
  /** A follower: a submission to the bytes it forwards to the leader. */
  forward(sub: Submission): Uint8Array;
  /** The leader: forwarded bytes to the entry's data. */
  accept(body: Uint8Array, proposer: number, seq: number, time: number): Uint8Array;
  /** Every node: an entry's data applied. */
  apply(sm: StateMachine, index: number, data: Uint8Array): void;
}

/** Since issue 11: encoded and checked once where submitted, a header before the bytes. */
const current: WritePath = {
  propose: (sub, proposer, seq, time) =>
    frameProposal({ proposer, seq, time, body: encodeSubmission(sub) }),
  forward: (sub) => encodeSubmission(sub),
  accept: (body, proposer, seq, time) => frameProposal({ proposer, seq, time, body }),
  apply(sm, index, data) {
    const p = readProposal(data)!;
    sm.applySubmission(index, 1, p.time, p.body);
  },
};

/**
 * Before issue 11, for comparison in the same run: the envelope (time inside) checked and
 * encoded by the leader, in a msgpack array with proposer and seq; a follower forwarded the
 * submission as msgpack, which the leader decoded and encoded again.
 */
const legacyEncoder = new Encoder();
const legacy: WritePath = {
  propose: (sub, proposer, seq, time) =>
    legacyEncoder.encode([proposer, seq, encodeCommand({ ...sub, time })]),
  forward: (sub) => encode(sub),
  accept: (body, proposer, seq, time) =>
    legacy.propose(decode(body) as Submission, proposer, seq, time),
  apply(sm, index, data) {
    const p = unwrapLegacyProposal(data)!;
    sm.applyEntry(index, 1, p.command);
  },
};

for (const [format, path] of [["now", current], ["before", legacy]] as const) {
  Deno.bench({
    name: `${format}: a leader encodes ${BATCH} submissions into entries`,
    group: "leader",
    baseline: format === "now",
    fn(b) {
      const subs = Array.from({ length: BATCH }, (_, i) => submission(i));
      b.start();
      for (let i = 0; i < BATCH; i++) path.propose(subs[i], 1, 1_000_000 + i, TIME + i);
      b.end();
    },
  });
  Deno.bench({
    name: `${format}: ${BATCH} writes forwarded by a follower, taken by the leader`,
    group: "forward",
    baseline: format === "now",
    fn(b) {
      const subs = Array.from({ length: BATCH }, (_, i) => submission(i));
      b.start();
      for (let i = 0; i < BATCH; i++) {
        path.accept(path.forward(subs[i]), 1, 1_000_000 + i, TIME + i);
      }
      b.end();
    },
  });
  let applied = 0;
  const sm = new StateMachine();
  Deno.bench({
    name: `${format}: a node decodes, checks and applies ${BATCH} entries`,
    group: "apply",
    baseline: format === "now",
    fn(b) {
      const first = applied + 1;
      const entries = Array.from(
        { length: BATCH },
        (_, i) => path.propose(submission(first + i), 1, first + i, TIME + first + i),
      );
      b.start();
      for (const data of entries) path.apply(sm, ++applied, data);
      b.end();
    },
  });
}

/** CPU µs of `fn` per operation over `ops` operations (user + system). */
function cpuPer(ops: number, fn: () => void): number {
  const before = process.cpuUsage();
  fn();
  const used = process.cpuUsage(before);
  return (used.user + used.system) / ops;
}

/**
 * The steps' CPU per write, both formats taking turns round by round, the least of 30 rounds
 * of ${BATCH} writes: on a shared machine the least is the cost, the rest is others' load.
 */
function measureSteps(): void {
  const rounds = 30;
  const least = new Map<string, number>();
  const note = (name: string, us: number) =>
    least.set(name, Math.min(least.get(name) ?? Infinity, us));
  const machines = new Map([[current, new StateMachine()], [legacy, new StateMachine()]]);
  let index = 0;
  for (let round = 0; round < rounds; round++) {
    const first = index + 1;
    index += BATCH;
    const subs = Array.from({ length: BATCH }, (_, i) => submission(first + i));
    for (const [format, path] of [["now", current], ["before", legacy]] as const) {
      note(
        `${format}: leader, submission -> entry`,
        cpuPer(BATCH, () => {
          for (let i = 0; i < BATCH; i++) path.propose(subs[i], 1, first + i, TIME + first + i);
        }),
      );
      note(
        `${format}: follower forwards, leader takes it`,
        cpuPer(BATCH, () => {
          for (let i = 0; i < BATCH; i++) {
            path.accept(path.forward(subs[i]), 1, first + i, TIME + first + i);
          }
        }),
      );
      const entries = subs.map((sub, i) => path.propose(sub, 1, first + i, TIME + first + i));
      const sm = machines.get(path)!;
      note(
        `${format}: a node applies an entry`,
        cpuPer(BATCH, () => {
          for (let i = 0; i < BATCH; i++) path.apply(sm, first + i, entries[i]);
        }),
      );
    }
  }
  for (const [name, us] of least) console.log(`CPU per write, ${name}: ${us.toFixed(2)} µs`);
}

let stepsMeasured = false;
Deno.bench("steps: CPU per write of each step, both formats, least of 30 rounds (printed)", () => {
  if (stepsMeasured) return;
  stepsMeasured = true;
  measureSteps();
});

/** Three nodes in memory; resolves with the leader and one follower. */
async function cluster(): Promise<{ nodes: RaftNode[]; leader: RaftNode; follower: RaftNode }> {
  const net = new MemoryNetwork();
  const peers = new Map([1, 2, 3].map((id) => [id, `mem://${id}`]));
  const nodes = await Promise.all([1, 2, 3].map((id) =>
    RaftNode.start({
      id,
      peers,
      storage: new MemoryStorage(),
      transport: (events) => net.attach(id, events),
      logger: memoryLogger(),
    })
  ));
  const deadline = Date.now() + 10_000;
  while (!nodes.some((n) => n.isLeader())) {
    if (Date.now() > deadline) throw new Error("no leader within 10 s");
    await new Promise((r) => setTimeout(r, 10));
  }
  const leader = nodes.find((n) => n.isLeader())!;
  return { nodes, leader, follower: nodes.find((n) => n !== leader)! };
}

const WRITES = 2000;
const IN_FLIGHT = 50;

/** Submits `WRITES` writes through `via`, `IN_FLIGHT` at a time; returns CPU µs per write. */
async function cpuPerWrite(via: RaftNode, offset: number): Promise<number> {
  const before = process.cpuUsage();
  let next = 0;
  await Promise.all(Array.from({ length: IN_FLIGHT }, async () => {
    while (next < WRITES) {
      const i = next++;
      await via.submit({ ...submission(offset + i), seq: offset + i + 1 });
    }
  }));
  const used = process.cpuUsage(before);
  return (used.user + used.system) / WRITES;
}

/** Median CPU µs per write over 5 rounds after a warm-up round, through the leader or a follower. */
async function measure(via: "leader" | "follower"): Promise<void> {
  const c = await cluster();
  try {
    const node = c[via];
    let offset = 0;
    const runs: number[] = [];
    for (let round = 0; round < 6; round++) {
      const perWrite = await cpuPerWrite(node, offset);
      offset += WRITES;
      if (round > 0) runs.push(perWrite);
    }
    runs.sort((a, b) => a - b);
    console.log(
      `CPU per write (3 nodes in one process) via the ${via}: median ${runs[2].toFixed(1)} µs, ` +
        `runs ${runs.map((r) => r.toFixed(1)).join(" ")}`,
    );
  } finally {
    for (const n of c.nodes) await n.stop();
  }
}

// Deno's bench runner calls a function many times; the cluster runs once, the rest wait for it.
const measured = new Map<string, Promise<void>>();
for (const via of ["leader", "follower"] as const) {
  Deno.bench(
    `cluster: 6 x ${WRITES} writes via the ${via}, 3 in-memory nodes (CPU printed)`,
    async () => {
      if (!measured.has(via)) measured.set(via, measure(via));
      await measured.get(via);
    },
  );
}
