import assert from "node:assert/strict";
import type { AcquireCommand } from "../../src/state/commands.ts";
import { MAX_ATTEMPTS } from "../../src/state/lock_table.ts";
import { Sessions } from "../../src/state/sessions.ts";
import { StateMachine } from "../../src/state/state_machine.ts";
import { encode } from "@msgpack/msgpack";
import { LogDriver, seededRandom, START_TIME as T } from "./log_driver.ts";

const HOUR = 3_600_000;
const FP_A = "a".repeat(64);
const FP_B = "b".repeat(64);

function acquire(owner: string, waitMs = 0, name = "job", ttlMs = 10_000): AcquireCommand {
  return { op: "acquire", name, owner, ttlMs, waitMs };
}

// ---- defect 1: keys are scoped by principal and bound to the request -----------------------

Deno.test("the same key with a different request is refused, not replayed, and nothing applies", () => {
  const log = new LogDriver();
  const first = log.run({ op: "put", key: "idA", value: 1 }, {
    idempotencyKey: "k1",
    fingerprint: FP_A,
  });
  assert.equal(first.result.ok, true);
  const other = log.run({ op: "put", key: "idB", value: 1 }, {
    idempotencyKey: "k1",
    fingerprint: FP_B,
  });
  assert.deepEqual(other.result, { ok: false, reason: "key_reused", idempotencyKey: "k1" });
  assert.equal(other.duplicate, false);
  assert.deepEqual(other.events, []);
  assert.equal(log.sm.get("idB"), undefined);
  assert.equal(log.sm.revision, 1);
  // The refusal left no trace: the real retry still replays the first answer.
  const retry = log.run({ op: "put", key: "idA", value: 1 }, {
    idempotencyKey: "k1",
    fingerprint: FP_A,
  });
  assert.equal(retry.duplicate, true);
  assert.deepEqual(retry.result, first.result);
});

Deno.test("a key reused across routes (a lock acquire after a put) is refused too", () => {
  const log = new LogDriver();
  log.run({ op: "put", key: "a", value: 1 }, { idempotencyKey: "k", fingerprint: FP_A });
  const lock = log.run(acquire("x"), { idempotencyKey: "k", fingerprint: FP_B });
  assert.equal(lock.result.ok, false);
  assert.equal(lock.duplicate, false);
  assert.equal(log.sm.lockInfo("job").holder, null);
});

Deno.test("principals never see each other's keys or sessions", () => {
  const log = new LogDriver();
  const a = log.run({ op: "put", key: "a", value: 1 }, {
    idempotencyKey: "k",
    principal: "tokenA",
    fingerprint: FP_A,
  });
  const b = log.run({ op: "put", key: "a", value: 2 }, {
    idempotencyKey: "k",
    principal: "tokenB",
    fingerprint: FP_A,
  });
  assert.equal(a.duplicate, false);
  assert.equal(b.duplicate, false, "another principal's key is not a retry of this one");
  assert.equal(log.sm.get("a")?.value, 2);
  // The open API's principal is a third one.
  assert.equal(
    log.run({ op: "put", key: "a", value: 3 }, { idempotencyKey: "k", fingerprint: FP_A })
      .duplicate,
    false,
  );
  // Client sessions likewise: the same id under two principals is two sessions.
  log.run({ op: "put", key: "s", value: 1 }, { clientId: "c", seq: 5, principal: "tokenA" });
  const other = log.run({ op: "put", key: "s", value: 2 }, {
    clientId: "c",
    seq: 1,
    principal: "tokenB",
  });
  assert.equal(other.result.ok, true, "not stale: tokenB's session c is new");
  // A principal whose name is a prefix of another's does not collide with it.
  const p1 = log.run({ op: "tick" }, { idempotencyKey: "bc", principal: "a", fingerprint: FP_A });
  const p2 = log.run({ op: "tick" }, { idempotencyKey: "c", principal: "ab", fingerprint: FP_B });
  assert.equal(p1.duplicate || p2.duplicate, false);
});

Deno.test("a retried (id, seq) with a different request is refused; stale stays stale", () => {
  const log = new LogDriver();
  const first = log.run({ op: "put", key: "k", value: 1 }, {
    clientId: "c",
    seq: 3,
    fingerprint: FP_A,
  });
  const other = log.run({ op: "put", key: "k", value: 2 }, {
    clientId: "c",
    seq: 3,
    fingerprint: FP_B,
  });
  assert.deepEqual(other.result, { ok: false, reason: "seq_reused", clientId: "c", seq: 3 });
  assert.equal(other.duplicate, false);
  assert.equal(log.sm.get("k")?.value, 1);
  const retry = log.run({ op: "put", key: "k", value: 1 }, {
    clientId: "c",
    seq: 3,
    fingerprint: FP_A,
  });
  assert.deepEqual(retry.result, first.result);
  assert.equal(retry.duplicate, true);
  const stale = log.result({ op: "put", key: "k", value: 9 }, {
    clientId: "c",
    seq: 2,
    fingerprint: FP_B,
  });
  assert.equal(stale.ok === false && stale.reason, "stale_sequence");
});

Deno.test("a key forgotten after idleMs of log time applies afresh, whatever the request", () => {
  const log = new LogDriver({ sessionIdleMs: HOUR });
  log.run({ op: "put", key: "a", value: 1 }, { idempotencyKey: "k", fingerprint: FP_A });
  log.tickAfter(HOUR);
  const later = log.run({ op: "put", key: "b", value: 1 }, {
    idempotencyKey: "k",
    fingerprint: FP_B,
  });
  assert.equal(later.result.ok, true);
  assert.equal(later.duplicate, false);
  assert.equal(log.sm.get("b")?.value, 1);
});

Deno.test("principals, fingerprints and waits survive a snapshot; restore is deterministic", () => {
  const log = new LogDriver();
  log.run({ op: "put", key: "a", value: 1 }, {
    idempotencyKey: "k",
    principal: "p",
    fingerprint: FP_A,
  });
  log.run({ op: "put", key: "a", value: 2 }, {
    clientId: "c",
    seq: 1,
    principal: "p",
    fingerprint: FP_A,
  });
  log.run(acquire("a"));
  log.run(acquire("b", 30_000), { idempotencyKey: "w", principal: "p", fingerprint: FP_B });
  const bytes = log.sm.snapshot();
  const copy = StateMachine.restore(bytes);
  assert.deepEqual(copy.snapshot(), bytes);
  const index = log.index + 1;
  const refused = copy.apply(index, 1, {
    cmd: { op: "put", key: "z", value: 0 },
    time: log.time,
    idempotencyKey: "k",
    principal: "p",
    fingerprint: FP_B,
  });
  assert.equal(refused.result.ok === false && refused.result.reason, "key_reused");
  const seq = copy.apply(index + 1, 1, {
    cmd: { op: "put", key: "z", value: 0 },
    time: log.time,
    clientId: "c",
    seq: 1,
    principal: "p",
    fingerprint: FP_B,
  });
  assert.equal(seq.result.ok === false && seq.result.reason, "seq_reused");
  // The queued wait is still known as such: its grant settles the key's answer.
  const release = copy.apply(index + 2, 1, {
    cmd: { op: "release", name: "job", token: 3 },
    time: log.time,
  });
  assert.equal(release.result.ok, true);
  const replay = copy.apply(index + 3, 1, {
    cmd: acquire("b", 30_000),
    time: log.time,
    idempotencyKey: "w",
    principal: "p",
    fingerprint: FP_B,
  });
  assert.equal(replay.duplicate, true);
  assert.equal(replay.result.ok && "token" in replay.result && replay.result.token, index + 2);
});

Deno.test("a format 1 snapshot (keys without principals) still restores", () => {
  const options = [10_000, HOUR, 10_000, 10_000];
  const result = {
    ok: true,
    key: "a",
    revision: 1,
    createRevision: 1,
    version: 1,
    prevRevision: 0,
  };
  const bytes = encode({
    format: 1,
    options,
    clock: [1, 1, T, false],
    config: [0, [], [0, []]],
    locks: [],
    sessions: [[["c", 4, result, T]], [["k", result, T]]],
  });
  const sm = StateMachine.restore(bytes);
  const replay = sm.apply(2, 1, { cmd: { op: "tick" }, time: T, idempotencyKey: "k" });
  assert.equal(replay.duplicate, true);
  assert.deepEqual(replay.result, result);
  const session = sm.apply(3, 1, { cmd: { op: "tick" }, time: T, clientId: "c", seq: 4 });
  assert.equal(session.duplicate, true);
});

// ---- defect 2: a retried acquire is answered with what happened to its wait ---------------

Deno.test("a retry of a queued acquire gets the grant once the wait was granted", () => {
  const log = new LogDriver();
  const held = log.result(acquire("a"));
  const queued = log.run(acquire("b", 30_000), { idempotencyKey: "w", fingerprint: FP_A });
  assert.equal(queued.result.ok && "queued" in queued.result && queued.result.queued, true);
  assert.ok(held.ok && "token" in held);
  const release = log.result({ op: "release", name: "job", token: held.token });
  assert.ok(release.ok && "grantedTo" in release && release.grantedTo !== null);
  const retry = log.run(acquire("b", 30_000), { idempotencyKey: "w", fingerprint: FP_A });
  assert.equal(retry.duplicate, true);
  assert.deepEqual(retry.result, {
    ok: true,
    queued: false,
    name: "job",
    token: release.grantedTo.token,
    owner: "b",
    ttlMs: 10_000,
    expiresAt: release.grantedTo.expiresAt,
  });
});

Deno.test("a retry of a wait that timed out gets the refusal, with the holder as an object", () => {
  const log = new LogDriver();
  log.result(acquire("a", 0, "job", 60_000));
  log.run(acquire("b", 1000), { idempotencyKey: "w", fingerprint: FP_A });
  log.tickAfter(1000);
  const retry = log.run(acquire("b", 1000), { idempotencyKey: "w", fingerprint: FP_A });
  assert.equal(retry.duplicate, true);
  assert.deepEqual(retry.result, {
    ok: false,
    reason: "held",
    name: "job",
    holder: { token: 1, owner: "a", expiresAt: T + 60_000 },
    expiresAt: T + 60_000,
  });
});

Deno.test("a withdrawn wait is forgotten: the retry applies afresh at the end of the line", () => {
  const log = new LogDriver();
  log.result(acquire("a"));
  const w = log.run(acquire("b", 30_000), { idempotencyKey: "w", fingerprint: FP_A });
  log.run(acquire("c", 30_000));
  const waiterId = w.index;
  const gone = log.run({ op: "abandonWait", name: "job", waiterId, at: w.index });
  assert.deepEqual(gone.result, { ok: true, name: "job", waiterId, released: 0 });
  assert.deepEqual(log.sm.lockInfo("job").waiters.map((x) => x.owner), ["c"]);
  const retry = log.run(acquire("b", 30_000), { idempotencyKey: "w", fingerprint: FP_A });
  assert.equal(retry.duplicate, false, "applied afresh, not a replay of a wait it no longer has");
  assert.equal(retry.result.ok && "queued" in retry.result && retry.result.queued, true);
  assert.deepEqual(log.sm.lockInfo("job").waiters.map((x) => x.owner), ["c", "b"]);
  // And that new wait is now what the key answers.
  const again = log.run(acquire("b", 30_000), { idempotencyKey: "w", fingerprint: FP_A });
  assert.equal(again.duplicate, true);
  assert.deepEqual(again.result, retry.result);
  // The same holds for a client session's (id, seq).
  const s = log.run(acquire("d", 30_000), { clientId: "cl", seq: 1, fingerprint: FP_B });
  log.run({ op: "abandonWait", name: "job", waiterId: s.index, at: s.index });
  const sRetry = log.run(acquire("d", 30_000), { clientId: "cl", seq: 1, fingerprint: FP_B });
  assert.equal(sRetry.duplicate, false);
  assert.deepEqual(log.sm.lockInfo("job").waiters.map((x) => x.owner), ["c", "b", "d"]);
});

Deno.test("a grant withdrawn from a departed client is released; its retry never gets that token", () => {
  const log = new LogDriver();
  const a = log.result(acquire("a"));
  assert.ok(a.ok && "token" in a);
  const w = log.run(acquire("b", 30_000), { idempotencyKey: "w", fingerprint: FP_A });
  log.run(acquire("c", 30_000));
  const release = log.result({ op: "release", name: "job", token: a.token });
  assert.ok(release.ok && "grantedTo" in release && release.grantedTo?.owner === "b");
  const granted = release.grantedTo.token;
  const gone = log.run({ op: "abandonWait", name: "job", waiterId: w.index, at: w.index });
  assert.deepEqual(gone.result, { ok: true, name: "job", waiterId: w.index, released: granted });
  assert.equal(log.sm.lockInfo("job").holder?.owner, "c", "handed to the next in line");
  const retry = log.run(acquire("b", 30_000), { idempotencyKey: "w", fingerprint: FP_A });
  assert.equal(retry.duplicate, false);
  assert.ok(retry.result.ok && "queued" in retry.result && retry.result.queued);
});

Deno.test("a retry answered after the request that gives up has taken the wait over", () => {
  const log = new LogDriver();
  const a = log.result(acquire("a"));
  assert.ok(a.ok && "token" in a);
  const w = log.run(acquire("b", 30_000), { idempotencyKey: "w", fingerprint: FP_A });
  const retry = log.run(acquire("b", 30_000), { idempotencyKey: "w", fingerprint: FP_A });
  assert.equal(retry.duplicate, true);
  // The first request's connection dropped, but the retry already waits in its place.
  const gone = log.run({ op: "abandonWait", name: "job", waiterId: w.index, at: w.index });
  assert.equal(gone.result.ok, false);
  assert.deepEqual(log.sm.lockInfo("job").waiters.map((x) => x.waiterId), [w.index]);
  // The same for a grant: a replayed grant is not released under the retry's feet.
  const release = log.result({ op: "release", name: "job", token: a.token });
  assert.ok(release.ok && "grantedTo" in release && release.grantedTo !== null);
  const replay = log.run(acquire("b", 30_000), { idempotencyKey: "w", fingerprint: FP_A });
  assert.equal(
    replay.result.ok && "token" in replay.result && replay.result.token,
    release
      .grantedTo.token,
  );
  const late = log.run({ op: "abandonWait", name: "job", waiterId: w.index, at: retry.index });
  assert.equal(late.result.ok, false);
  assert.equal(log.sm.lockInfo("job").holder?.token, release.grantedTo.token);
  // The last request to be answered may withdraw it.
  const last = log.run({ op: "abandonWait", name: "job", waiterId: w.index, at: replay.index });
  assert.equal(last.result.ok, true);
  assert.equal(log.sm.lockInfo("job").holder, null);
});

Deno.test("Sessions alone: answer, remember, settle, withdraw", () => {
  const s = new Sessions({ idleMs: HOUR, maxSessions: 2, maxIdempotencyKeys: 2 });
  const env = { cmd: acquire("b", 1000), time: 0, idempotencyKey: "k", fingerprint: FP_A };
  assert.equal(s.answer(env), undefined);
  const queued = { ok: true, queued: true, name: "job", waiterId: 7, deadline: 1000 } as const;
  s.remember(env, queued, 0);
  assert.deepEqual(s.answer(env), { result: queued, duplicate: true });
  s.settle(7, { ok: true });
  assert.deepEqual(s.answer(env), { result: { ok: true }, duplicate: true });
  s.withdraw(7);
  assert.equal(s.answer(env), undefined);
  assert.deepEqual(s.answer({ ...env, fingerprint: FP_B })?.result, {
    ok: false,
    reason: "key_reused",
    idempotencyKey: "k",
  });
  // The caps still hold, and dropping a record drops what it indexed.
  for (const k of ["x", "y", "z"]) s.remember({ ...env, idempotencyKey: k }, queued, 1);
  assert.equal(s.size.keys, 2);
});

Deno.test("random lock traffic: a replayed acquire never reports a wait or grant that is not so", () => {
  for (let seed = 1; seed <= 40; seed++) {
    const random = seededRandom(seed);
    const pick = <T>(xs: T[]): T => xs[Math.floor(random() * xs.length)];
    const log = new LogDriver({ maxIdempotencyKeys: 8 });
    const names = ["a", "b"];
    /** Each key is one request: its command is fixed, so its fingerprint is too. */
    const requests = new Map<string, AcquireCommand>();
    for (let k = 0; k < 6; k++) {
      requests.set(`k${k}`, acquire(`o${k}`, pick([0, 500, 5000]), pick(names), 2000));
    }
    const keyWait = new Map<string, number>(); // key -> the wait its last application made
    const grants = new Map<number, number>(); // token -> waiter id it was granted to
    const timedOut = new Set<number>();
    const releasedByAbandon = new Set<number>();
    // waiter id -> the entries answered with that wait (its attempts), and those that let go
    const attempts = new Map<number, Set<number>>();
    const letGo = new Map<number, Set<number>>();
    const answered = (wait: number, index: number) => {
      attempts.set(wait, (attempts.get(wait) ?? new Set()).add(index));
    };
    const tokens: [string, number][] = [];
    const note = (events: { type: string }[]) => {
      for (const e of events as { type: string; waiterId: number; token: number }[]) {
        if (e.type === "lockGranted") grants.set(e.token, e.waiterId);
        if (e.type === "waitTimedOut") timedOut.add(e.waiterId);
      }
    };
    for (let step = 0; step < 400; step++) {
      const roll = random();
      if (roll < 0.45) {
        const key = pick([...requests.keys()]);
        const cmd = requests.get(key)!;
        const out = log.run(cmd, { idempotencyKey: key, fingerprint: key.padEnd(8, "-") });
        note(out.events);
        const r = out.result;
        const where = `seed ${seed} step ${step} ${key}: ${JSON.stringify(r)}`;
        const wait = r.ok && "queued" in r ? (r.queued ? r.waiterId : grants.get(r.token)) : 0;
        if (wait) answered(wait, out.index);
        if (!out.duplicate) {
          keyWait.set(key, wait ?? 0);
          if (r.ok && "token" in r) tokens.push([cmd.name, r.token]);
          continue;
        }
        if (r.ok && "queued" in r && r.queued) {
          const line = log.sm.lockInfo(cmd.name).waiters.map((w) => w.waiterId);
          assert.ok(line.includes(r.waiterId), `replayed "queued" but not in line: ${where}`);
        } else if (r.ok && "token" in r) {
          assert.ok(grants.has(r.token), `replayed a token never granted: ${where}`);
          assert.ok(!releasedByAbandon.has(r.token), `replayed a token the node let go: ${where}`);
        } else if (!r.ok && r.reason === "held" && cmd.waitMs > 0) {
          assert.ok(
            timedOut.has(keyWait.get(key)!),
            `replayed a timeout that did not happen: ${where}`,
          );
        }
      } else if (roll < 0.55) {
        const out = log.run(acquire("x", pick([0, 1000]), pick(names), 2000));
        note(out.events);
        const r = out.result;
        if (r.ok && "token" in r) tokens.push([r.name, r.token]);
      } else if (roll < 0.7 && tokens.length > 0) {
        const [name, token] = pick(tokens);
        note(log.run({ op: "release", name, token }).events);
      } else if (roll < 0.85) {
        const name = pick(names);
        const info = log.sm.lockInfo(name);
        const ids = [...info.waiters.map((w) => w.waiterId), info.holder?.waiterId ?? 0];
        const waiterId = pick(ids);
        if (waiterId === 0) continue;
        const at = pick([...attempts.get(waiterId) ?? [waiterId]]);
        const out = log.run({ op: "abandonWait", name, waiterId, at });
        if (!letGo.has(waiterId)) letGo.set(waiterId, new Set());
        letGo.get(waiterId)!.add(at);
        // Withdrawn exactly when every attempt answered with the wait has let go.
        const all = [...attempts.get(waiterId) ?? [waiterId]];
        const allGone = all.length <= MAX_ATTEMPTS && all.every((a) => letGo.get(waiterId)!.has(a));
        assert.equal(out.result.ok, allGone, `seed ${seed} step ${step}: ${JSON.stringify(all)}`);
        note(out.events);
        if (out.result.ok && "released" in out.result && out.result.released > 0) {
          releasedByAbandon.add(out.result.released);
        }
        if (out.result.ok) {
          for (const [key, w] of keyWait) {
            if (w !== waiterId) continue;
            const again = log.run(requests.get(key)!, {
              idempotencyKey: key,
              fingerprint: key.padEnd(8, "-"),
            });
            note(again.events);
            assert.equal(again.duplicate, false, `seed ${seed}: a withdrawn wait was replayed`);
            const r = again.result;
            const wait = r.ok && "queued" in r ? (r.queued ? r.waiterId : r.token) : 0;
            keyWait.set(key, wait);
            if (wait) answered(wait, again.index);
            if (r.ok && "token" in r) tokens.push([r.name, r.token]);
          }
        }
      } else {
        note(log.tickAfter(pick([100, 600, 2500])).events);
      }
    }
  }
});

Deno.test("a wait cancelled by an older node's cancelWait is withdrawn from its key too", () => {
  const log = new LogDriver();
  log.result(acquire("a"));
  const w = log.run(acquire("b", 30_000), { idempotencyKey: "w", fingerprint: FP_A });
  assert.equal(log.result({ op: "cancelWait", name: "job", waiterId: w.index }).ok, true);
  const retry = log.run(acquire("b", 30_000), { idempotencyKey: "w", fingerprint: FP_A });
  assert.equal(retry.duplicate, false, 'not a replayed "queued" for a wait that is gone');
  assert.deepEqual(log.sm.lockInfo("job").waiters.map((x) => x.waiterId), [retry.index]);
});
