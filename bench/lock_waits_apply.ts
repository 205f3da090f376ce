/**
 * CPU per applied entry while many acquire requests wait in line (issue 11: lock waits below the
 * HTTP layer). Builds the API over the in-memory fake node of tests/api, parks `--waiters`
 * long-poll acquires on one lock (or one lock each with `--spread`), then applies entries of
 * three kinds and reports the microseconds per entry, next to the same run with no waiter.
 *
 * Compare two trees (the script imports the app from `--root`, default this repository):
 *
 * ```sh
 * git archive <before> | tar -x -C /tmp/before
 * deno run -A bench/lock_waits_apply.ts --root /tmp/before
 * deno run -A bench/lock_waits_apply.ts
 * ```
 *
 * @module
 */

/** `--name value` and `--flag` arguments. */
function parseArgs(argv: string[]): Record<string, string | undefined> & { spread?: string } {
  const out: Record<string, string | undefined> = {};
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i].replace(/^--/, "");
    if (name === "spread") out.spread = "true";
    else out[name] = argv[++i];
  }
  return out;
}

const args = parseArgs(Deno.args);
const root = new URL(
  args.root ? `file://${Deno.realPathSync(args.root)}/` : "../",
  import.meta.url,
);
const WAITERS = Number(args.waiters ?? 1000);
const ENTRIES = Number(args.entries ?? 3000);

type Harness = typeof import("../tests/api/harness.ts");
const { makeApp, send } = await import(new URL("tests/api/harness.ts", root).href) as Harness;

type Outcome = import("../src/state/results.ts").ApplyOutcome;

/** Outcomes of the three kinds, as the node hands them to its apply listeners. */
const OUTCOMES: Record<string, Outcome[]> = {
  "put": [{
    index: 1,
    result: { ok: true, key: "k", revision: 9, createRevision: 9, version: 1, prevRevision: 0 },
    events: [{ type: "put", revision: 9, key: "k", value: 1, createRevision: 9, version: 1 }],
    revision: 9,
    duplicate: false,
  }],
  "acquire+release (other lock)": [{
    index: 2,
    result: { ok: true, queued: false, name: "o", token: 2, owner: "", ttlMs: 5000, expiresAt: 1 },
    events: [{ type: "lockGranted", name: "o", waiterId: 2, token: 2, owner: "", expiresAt: 1 }],
    revision: 9,
    duplicate: false,
  }, {
    index: 3,
    result: { ok: true, name: "o", token: 2, grantedTo: null },
    events: [{ type: "lockReleased", name: "o", token: 2 }],
    revision: 9,
    duplicate: false,
  }],
  "tick": [{ index: 4, result: { ok: true }, events: [], revision: 9, duplicate: false }],
};

/** Microseconds per entry that the apply listeners alone take, for each kind. */
function dispatchOnly(listeners: ((o: Outcome) => void)[]): Record<string, number> {
  const perEntry: Record<string, number> = {};
  const iterations = 20_000;
  for (const [kind, outcomes] of Object.entries(OUTCOMES)) {
    const started = performance.now();
    for (let i = 0; i < iterations; i++) {
      for (const outcome of outcomes) for (const listener of listeners) listener(outcome);
    }
    perEntry[kind] = (performance.now() - started) * 1000 / (iterations * outcomes.length);
  }
  return perEntry;
}

/** The listener-only numbers of the last busy run. */
let dispatch: { listeners: number; perEntry: Record<string, number> } | undefined;

/** Microseconds per entry for each kind, with `waiters` requests waiting. */
async function measure(waiters: number): Promise<Record<string, number>> {
  const { app, node } = makeApp();
  // Keep a copy of every apply listener, to time them alone as well.
  const listeners = new Set<(o: Outcome) => void>();
  const onApply = node.onApply.bind(node);
  node.onApply = (listener) => {
    listeners.add(listener);
    const off = onApply(listener);
    return () => (listeners.delete(listener), off());
  };
  const lockOf = (i: number) => args.spread ? `busy-${i}` : "busy";
  const locks = new Set(Array.from({ length: Math.max(waiters, 1) }, (_, i) => lockOf(i)));
  for (const name of locks) {
    await send(app, "POST", `/v1/locks/${name}/acquire`, { json: { ttlMs: 3_600_000 } });
  }
  const controller = new AbortController();
  for (let i = 0; i < waiters; i++) {
    void send(app, "POST", `/v1/locks/${lockOf(i)}/acquire`, {
      json: { ttlMs: 5000, waitMs: 60_000, owner: `w${i}` },
      signal: controller.signal,
    }).catch(() => {});
  }
  const queued = () => [...locks].reduce((n, l) => n + node.sm.lockInfo(l).waiters.length, 0);
  while (queued() < waiters) await new Promise((r) => setTimeout(r, 1));
  const kinds: Record<string, (i: number) => Promise<unknown>> = {
    // A config write: one change event.
    "put": (i) => node.submit({ cmd: { op: "put", key: `k${i % 100}`, value: i } }),
    // A grant and a release of another lock: lock events on a lock nobody waits for.
    "acquire+release (other lock)": async (i) => {
      const { result } = await node.submit({
        cmd: { op: "acquire", name: `other-${i % 10}`, owner: "", ttlMs: 5000, waitMs: 0 },
      });
      if (result.ok && "token" in result) {
        await node.submit({ cmd: { op: "release", name: `other-${i % 10}`, token: result.token } });
      }
    },
    // An entry with no event at all.
    "tick": () => node.tick(),
  };
  const perEntry: Record<string, number> = {};
  for (const [kind, apply] of Object.entries(kinds)) {
    for (let i = 0; i < 500; i++) await apply(i); // warm up
    const entriesPer = kind.startsWith("acquire") ? 2 : 1;
    const started = performance.now();
    for (let i = 0; i < ENTRIES; i++) await apply(i);
    perEntry[kind] = (performance.now() - started) * 1000 / (ENTRIES * entriesPer);
  }
  if (waiters > 0) {
    dispatch = { listeners: listeners.size, perEntry: dispatchOnly([...listeners]) };
    // A release that grants the lock to the next waiter: the entry that ends a wait.
    const grants = Math.min(200, waiters - 1);
    const started = performance.now();
    for (let i = 0; i < grants; i++) {
      const name = lockOf(i);
      const token = node.sm.lockInfo(name).holder!.token;
      await node.submit({ cmd: { op: "release", name, token } });
    }
    perEntry["release granting a waiter"] = (performance.now() - started) * 1000 / grants;
  }
  controller.abort();
  return perEntry;
}

const ROUNDS = Number(args.rounds ?? 5);

/** The median of each kind over `ROUNDS` runs (the machine is shared: medians, not means). */
function median(runs: Record<string, number>[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const kind of Object.keys(runs[0])) {
    const sorted = runs.map((r) => r[kind]).sort((a, b) => a - b);
    out[kind] = sorted[Math.floor(sorted.length / 2)];
  }
  return out;
}

// Idle and busy runs alternate, after one of each to warm up the JIT.
await measure(0);
await measure(WAITERS);
const idleRuns: Record<string, number>[] = [];
const busyRuns: Record<string, number>[] = [];
for (let r = 0; r < ROUNDS; r++) {
  idleRuns.push(await measure(0));
  busyRuns.push(await measure(WAITERS));
}
const idle = median(idleRuns);
const busy = median(busyRuns);
const where = args.spread ? `${WAITERS} locks, one waiter each` : `one lock`;
console.log(
  `tree ${root.pathname}: ${WAITERS} waiting requests (${where}), ${ENTRIES} entries, ` +
    `median of ${ROUNDS} rounds`,
);
console.log("kind                          idle µs/entry  busy µs/entry  added by waits");
for (const kind of Object.keys(busy)) {
  const row = [
    kind.padEnd(30),
    (idle[kind]?.toFixed(2) ?? "-").padStart(13),
    busy[kind].toFixed(2).padStart(14),
    (idle[kind] === undefined ? "-" : (busy[kind] - idle[kind]).toFixed(2)).padStart(15),
  ];
  console.log(row.join(" "));
}
const d = dispatch!;
console.log(`the apply listeners alone (${d.listeners} of them), µs per entry:`);
for (const [kind, us] of Object.entries(d.perEntry)) {
  console.log(`${kind.padEnd(30)} ${us.toFixed(3).padStart(13)}`);
}
Deno.exit(0);
