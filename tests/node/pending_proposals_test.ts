import assert from "node:assert/strict";
import { OutcomeUnknownError } from "../../src/node/errors.ts";
import { systemClock } from "../../src/node/clock.ts";
import { PendingProposals, ProposalTimeoutError } from "../../src/node/pending_proposals.ts";
import type { ApplyOutcome } from "../../src/state/results.ts";

const outcome = (index: number): ApplyOutcome => ({
  index,
  result: { ok: true },
  events: [],
  revision: index,
  duplicate: false,
} as unknown as ApplyOutcome);

Deno.test("pending proposals: each waiter gets its own outcome, in any order", async () => {
  const pending = new PendingProposals(5_000);
  const a = pending.next();
  const b = pending.next();
  const waitA = pending.wait(a);
  const waitB = pending.wait(b);
  pending.settle(b, outcome(2));
  pending.settle(a, outcome(1));
  pending.settle(a, outcome(9)); // a second settle is ignored
  assert.equal((await waitA).index, 1);
  assert.equal((await waitB).index, 2);
});

Deno.test("pending proposals: an unapplied proposal times out, a settled one does not", async () => {
  const pending = new PendingProposals(30);
  const early = pending.next();
  const late = pending.next();
  const settled = pending.wait(early);
  const timedOut = pending.wait(late);
  pending.settle(early, outcome(1));
  assert.equal((await settled).index, 1);
  await assert.rejects(timedOut, ProposalTimeoutError);
  // A timeout is one of the unknown outcomes (504), never a refusal.
  await assert.rejects(timedOut, OutcomeUnknownError);
  pending.settle(late, outcome(2)); // too late: nobody listens, nothing throws
});

Deno.test("pending proposals: close() rejects every waiter and stops the timer", async () => {
  const pending = new PendingProposals(60_000);
  const waits = [pending.wait(pending.next()), pending.wait(pending.next())];
  pending.close(new Error("stopping"));
  for (const w of waits) await assert.rejects(w, /stopping/);
  // The test sanitizer fails this test if the sweep interval were still running.
});

Deno.test("pending proposals: two runs of a node do not number their proposals alike", () => {
  // The log may hold entries of a previous run, applied after a restart: counting from the same
  // start would settle a new proposal with an old entry's outcome (the simulator's seed 255).
  let draw = 0;
  const clock = { ...systemClock, random: () => [0.25, 0.75][draw++] };
  const first = new PendingProposals(5_000, clock);
  const second = new PendingProposals(5_000, clock);
  const a = Array.from({ length: 1000 }, () => first.next());
  const b = new Set(Array.from({ length: 1000 }, () => second.next()));
  assert.ok(a.every((seq) => !b.has(seq) && Number.isSafeInteger(seq)));
});
