/**
 * The lock shortcut (`src/api/fast_lock.ts`) must answer exactly what the router answers. Two
 * client ports over equal fake nodes, one with the fast paths and one without, get the same
 * raw requests over real sockets, one after the other; the bytes that come back must be the
 * same (the `date` header's value aside), and so must what each node was asked to propose, its
 * state, its request, proposal and lock-wait metrics and its log. Each case also says how many
 * of its requests the shortcut must take (0: it declines, and the router answers). Cases with
 * a wait run a script: a waiter is sent, found queued, then released, timed out or abandoned.
 */
import assert from "node:assert/strict";
import { type ApiOptions, createApp } from "../../src/api/app.ts";
import { frontHooksOf, serveClientPort, withFrontHooks } from "../../src/api/http_front.ts";
import { NoLeaderError, OutcomeUnknownError } from "../../src/node/errors.ts";
import { LockWaits } from "../../src/node/lock_waits.ts";
import { InvalidCommandError } from "../../src/state/errors.ts";
import { poll } from "../process/poll.ts";
import { FakeNode, ManualClock } from "./fake_node.ts";
import { send } from "./harness.ts";
import { RawConnection } from "./raw_http.ts";
import { fieldLogger, join } from "./shortcut_twins.ts";

const encoder = new TextEncoder();
const LIMITS = { maxBodyBytes: 4096 };
/** How long past `waitMs` a waiter trusts the log here: short, for the 504 case. */
const GRACE_MS = 300;

/** A fake node whose lock waits give up soon after `waitMs` (the 504 `timeout` end). */
class ShortGraceNode extends FakeNode {
  override readonly lockWaits: LockWaits = new LockWaits(this, { graceMs: GRACE_MS });
}

/** What a request is made of; `contentType: null` sends none. */
interface Parts {
  headers?: [string, string][];
  contentType?: string | null;
  version?: "1.0" | "1.1";
  host?: string | null;
  close?: boolean;
}

/** The bytes of one request. */
function request(
  method: string,
  target: string,
  body: string | Uint8Array | undefined,
  parts: Parts = {},
): Uint8Array {
  const { version = "1.1", host = "127.0.0.1:7001", close = true } = parts;
  let head = `${method} ${target} HTTP/${version}\r\n`;
  if (host !== null) head += `Host: ${host}\r\n`;
  const type = parts.contentType === undefined
    ? (body === undefined ? null : "application/json")
    : parts.contentType;
  if (type !== null) head += `Content-Type: ${type}\r\n`;
  for (const [name, value] of parts.headers ?? []) head += `${name}: ${value}\r\n`;
  const bytes = typeof body === "string" ? encoder.encode(body) : body;
  if (bytes !== undefined) head += `Content-Length: ${bytes.byteLength}\r\n`;
  if (close) head += "Connection: close\r\n";
  return join(encoder.encode(head + "\r\n"), bytes ?? new Uint8Array(0));
}

const acquire = (name: string, body: unknown, parts: Parts = {}) =>
  request("POST", `/v1/locks/${name}/acquire`, JSON.stringify(body), parts);
const release = (name: string, token: number, parts: Parts = {}) =>
  request("POST", `/v1/locks/${name}/release`, JSON.stringify({ token }), parts);
const renew = (name: string, token: number, parts: Parts = {}) =>
  request("POST", `/v1/locks/${name}/renew`, JSON.stringify({ token }), parts);

/** One side of the comparison: a node, its clock, its client port. */
interface Side {
  node: FakeNode;
  clock: ManualClock;
  port: number;
}

/** The token of a lock's holder on `side` (both sides hold the same). */
function holderToken(side: Side, name: string): number {
  const holder = side.node.lockInfo(name).holder;
  assert.ok(holder, `${name} is held`);
  return holder.token;
}

/**
 * One case: what it sends on a side (the raw answers, in order), and how many of its
 * requests the shortcut must take.
 */
interface Case {
  name: string;
  run: (side: Side) => Promise<string[]>;
  taken: number;
}

/** A case of one connection: `send` (from the side's state) and its answers until it closes. */
function simple(
  name: string,
  taken: number,
  send: (side: Side) => Uint8Array,
): Case {
  return { name, taken, run: async (side) => [await rawAnswer(side.port, send(side))] };
}

/** The raw bytes a server answers to `bytes` on a fresh connection, until it closes. */
async function rawAnswer(port: number, bytes: Uint8Array): Promise<string> {
  const c = await RawConnection.open(port);
  try {
    await c.send(bytes);
    await c.waitClosed(5000);
    return scrub(c.text);
  } finally {
    await c.dispose();
  }
}

/** The answer with `date`'s value left out (the second it was written). */
function scrub(text: string): string {
  return text.replaceAll(/\r\ndate: [^\r]*/g, "\r\ndate: (now)");
}

/**
 * Sends a waiting acquire on a connection of its own, waits until it is in line, then runs
 * `meanwhile` (which ends the wait), and returns the waiter's answer after `meanwhile`'s.
 */
async function waitThen(
  side: Side,
  name: string,
  body: unknown,
  meanwhile: () => Promise<string[]>,
): Promise<string[]> {
  const waiter = await RawConnection.open(side.port);
  try {
    const before = side.node.lockInfo(name).waiters.length;
    await waiter.send(acquire(name, body));
    await poll(() => side.node.lockInfo(name).waiters.length > before || undefined, {
      what: `a waiter on ${name}`,
    });
    const others = await meanwhile();
    await waiter.waitClosed(5000);
    return [...others, scrub(waiter.text)];
  } finally {
    await waiter.dispose();
  }
}

const CASES: Case[] = [
  simple("granted", 1, () => acquire("a", { ttlMs: 5000, owner: "x" })),
  simple("held: 409", 1, () => acquire("a", { ttlMs: 5000, owner: "y" })),
  simple("held, waitMs 0: 409", 1, () => acquire("a", { ttlMs: 5000, waitMs: 0 })),
  simple("renew", 1, (s) => renew("a", holderToken(s, "a"))),
  simple("renew with another token: 409", 1, (s) => renew("a", holderToken(s, "a") + 99)),
  simple("release with an unknown token: 409", 1, (s) => release("a", holderToken(s, "a") + 7)),
  simple("release", 1, (s) => release("a", holderToken(s, "a"))),
  simple("release again: 409", 1, () => release("a", 1)),
  simple("granted without an owner", 1, () => acquire("b", { ttlMs: 60_000 })),
  {
    name: "queued, then granted after a release",
    taken: 2,
    run: (side) =>
      waitThen(side, "b", { ttlMs: 5000, owner: "next", waitMs: 30_000 }, async () => [
        await rawAnswer(side.port, release("b", holderToken(side, "b"))),
      ]),
  },
  {
    name: "queued, the wait runs out in the log: 409 stayed held",
    taken: 1,
    run: (side) =>
      waitThen(side, "b", { ttlMs: 5000, waitMs: 1000 }, async () => {
        side.clock.advance(1000);
        await side.node.tick();
        return [];
      }),
  },
  {
    name: "queued, no decision within waitMs + grace: 504, withdrawn",
    taken: 1,
    run: (side) => waitThen(side, "b", { ttlMs: 5000, waitMs: 50 }, () => Promise.resolve([])),
  },
  simple(
    "Idempotency-Key, first",
    1,
    () => acquire("c", { ttlMs: 5000 }, { headers: [["Idempotency-Key", "k1"]] }),
  ),
  simple(
    "Idempotency-Key, the retry: replayed",
    1,
    () => acquire("c", { ttlMs: 5000 }, { headers: [["Idempotency-Key", "k1"]] }),
  ),
  simple(
    "Idempotency-Key, another body: 422",
    1,
    () => acquire("c", { ttlMs: 6000 }, { headers: [["Idempotency-Key", "k1"]] }),
  ),
  simple(
    "X-Client-Id and -Seq on an acquire",
    1,
    () =>
      acquire("s", { ttlMs: 5000 }, { headers: [["X-Client-Id", "c1"], ["X-Client-Seq", "3"]] }),
  ),
  simple(
    "X-Client-Seq again: replayed",
    1,
    () =>
      acquire("s", { ttlMs: 5000 }, { headers: [["X-Client-Id", "c1"], ["X-Client-Seq", "3"]] }),
  ),
  simple(
    "X-Client-Seq again, another body: 422",
    1,
    () =>
      acquire("s", { ttlMs: 7000 }, { headers: [["X-Client-Id", "c1"], ["X-Client-Seq", "3"]] }),
  ),
  simple(
    "X-Client-Seq below the last, on a release: 409",
    1,
    (s) =>
      release("s", holderToken(s, "s"), {
        headers: [["X-Client-Id", "c1"], ["X-Client-Seq", "2"]],
      }),
  ),
  simple(
    "X-Client-Seq next, on a release",
    1,
    (s) =>
      release("s", holderToken(s, "s"), {
        headers: [["X-Client-Id", "c1"], ["X-Client-Seq", "4"]],
      }),
  ),
  simple("pipelined: acquire, renew, a config read, acquire, acquire", 4, () =>
    join(
      acquire("p", { ttlMs: 5000 }, { close: false }),
      // The grant's token is not known when the bytes are made: a renew with another (409),
      // a config read, a try-lock again (409), another lock.
      renew("p", 424242, { close: false }),
      request("GET", "/v1/config/absent", undefined, { close: false }),
      acquire("p", { ttlMs: 5000 }, { close: false }),
      acquire("q", { ttlMs: 5000 }),
    )),
  simple("pipelined, one declined in the middle (its body is still there)", 2, () =>
    join(
      acquire("r", { ttlMs: 5000 }, { close: false }),
      acquire("r", { ttlMs: 5000 }, { contentType: "text/plain", close: false }),
      acquire("r2", { ttlMs: 5000 }),
    )),
  simple(
    "HTTP/1.0 without Host",
    1,
    () => acquire("old", { ttlMs: 5000 }, { version: "1.0", host: null, close: false }),
  ),
  simple("HTTP/1.0 keep-alive, then a request that closes", 2, (s) =>
    join(
      renew("old", holderToken(s, "old"), {
        version: "1.0",
        headers: [["Connection", "keep-alive"]],
        close: false,
      }),
      release("old", holderToken(s, "old")),
    )),
  // Declined: the router answers with its 4xx (or its 200 for what the shortcut leaves alone).
  simple("no body: 400", 0, () => request("POST", "/v1/locks/d/acquire", undefined)),
  simple("an empty body: 400", 0, () => request("POST", "/v1/locks/d/acquire", "")),
  simple("not JSON: 400", 0, () => request("POST", "/v1/locks/d/acquire", "{")),
  simple("text/plain: 415", 0, () => acquire("d", { ttlMs: 5000 }, { contentType: "text/plain" })),
  simple("no Content-Type: 415", 0, () => acquire("d", { ttlMs: 5000 }, { contentType: null })),
  simple("no ttlMs: 400", 0, () => acquire("d", { owner: "x" })),
  simple("an unknown field: 400", 0, () => acquire("d", { ttlMs: 5000, extra: 1 })),
  simple("ttlMs out of range: 400", 0, () => acquire("d", { ttlMs: 1 })),
  simple(
    "a token that is a string: 400",
    0,
    () => request("POST", "/v1/locks/d/release", '{"token":"1"}'),
  ),
  simple(
    "Content-Encoding: gzip: 415",
    0,
    () => acquire("d", { ttlMs: 5000 }, { headers: [["Content-Encoding", "gzip"]] }),
  ),
  simple(
    "two Content-Length lines",
    0,
    () => acquire("d", { ttlMs: 5000 }, { headers: [["Content-Length", "15"]] }),
  ),
  simple(
    "a body over maxBodyBytes: 413",
    0,
    () => acquire("d", { ttlMs: 5000, owner: "o".repeat(5000) }),
  ),
  simple(
    "a malformed Idempotency-Key: 400",
    0,
    () => acquire("d", { ttlMs: 5000 }, { headers: [["Idempotency-Key", "k".repeat(5000)]] }),
  ),
  simple(
    "X-Client-Id without X-Client-Seq: 400",
    0,
    () => acquire("d", { ttlMs: 5000 }, { headers: [["X-Client-Id", "c1"]] }),
  ),
  simple("an escaped name", 0, () => acquire("d%2Dx", { ttlMs: 5000 })),
  simple("a dot segment", 0, () => acquire("..", { ttlMs: 5000 })),
  simple("a name over the limit: 400", 0, () => acquire("n".repeat(2000), { ttlMs: 5000 })),
  simple(
    "a query",
    0,
    () => request("POST", "/v1/locks/d/acquire?x=1", JSON.stringify({ ttlMs: 5000 })),
  ),
  simple(
    "a lower-case method",
    0,
    () => request("post", "/v1/locks/d/acquire", JSON.stringify({ ttlMs: 5000 })),
  ),
  simple("PUT: 405", 0, () => request("PUT", "/v1/locks/d/release", '{"token":1}')),
  simple(
    "Expect: 100-continue",
    0,
    () => acquire("e", { ttlMs: 5000 }, { headers: [["Expect", "100-continue"]] }),
  ),
  simple("a chunked body", 0, () =>
    encoder.encode(
      "POST /v1/locks/f/acquire HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
        'Transfer-Encoding: chunked\r\nConnection: close\r\n\r\nf\r\n{"ttlMs": 5000}\r\n0\r\n\r\n',
    )),
  simple(
    "a header value Headers refuses: 400",
    0,
    () => acquire("d", { ttlMs: 5000 }, { headers: [["X-Note", "€"]] }),
  ),
];

/** A few cases again in other roles: the node's errors are answered as the router does. */
const ROLE_CASES: Case[] = [
  simple("an acquire", 1, () => acquire("role", { ttlMs: 5000 })),
  simple("a waiting acquire", 1, () => acquire("role", { ttlMs: 5000, waitMs: 100 })),
  simple("a renew", 1, () => renew("role", 1)),
  simple("a release", 1, () => release("role", 1)),
];

/** A node with fast paths and one without, each on a client port of its own. */
async function twins(options: Partial<ApiOptions> = {}) {
  const make = (fastPaths: boolean) => {
    const clock = new ManualClock();
    const node = new ShortGraceNode({ clock });
    const logger = fieldLogger();
    const app = createApp(node, {
      clusterId: "test",
      peers: new Map([[1, "http://127.0.0.1:7101"], [2, "http://127.0.0.1:7102"]]),
      clientUrls: new Map([[1, "http://127.0.0.1:7001"]]),
      clock: clock.now,
      limits: LIMITS,
      ...options,
      fastPaths,
      logger,
    });
    return { app, node, clock, logger };
  };
  const fast = make(true);
  const routed = make(false);
  assert.equal(frontHooksOf(routed.app.fetch).answerHead, undefined);
  const hooks = frontHooksOf(fast.app.fetch);
  const answerHead = hooks.answerHead!;
  const counter = { taken: 0 };
  const count = (bytes: Uint8Array | undefined) => {
    if (bytes !== undefined) counter.taken++;
    return bytes;
  };
  const servers = await Promise.all([
    serveClientPort(
      { hostname: "127.0.0.1", port: 0 },
      withFrontHooks((req, info) => fast.app.fetch(req, info), {
        answerHead: (head, body, signal) => {
          const bytes = answerHead(head, body, signal);
          return bytes instanceof Promise ? bytes.then(count) : count(bytes);
        },
        countOwnAnswer: hooks.countOwnAnswer,
      }),
    ),
    serveClientPort({ hostname: "127.0.0.1", port: 0 }, routed.app.fetch),
  ]);
  const sides: [Side, Side] = [
    { node: fast.node, clock: fast.clock, port: servers[0].addr.port },
    { node: routed.node, clock: routed.clock, port: servers[1].addr.port },
  ];
  return { fast, routed, counter, servers, sides };
}

type Twins = Awaited<ReturnType<typeof twins>>;

/** Runs each case on both sides, one after the other, and compares. */
async function runCases(t: Twins, cases: Case[], role: string): Promise<string> {
  const [fastSide, routedSide] = t.sides;
  let all = "";
  for (const c of cases) {
    const what = `${role}: ${c.name}`;
    const before = t.counter.taken;
    const a = await c.run(fastSide);
    assert.equal(t.counter.taken - before, c.taken, `${what}: taken`);
    const b = await c.run(routedSide);
    for (const answer of a) assert.ok(answer.startsWith("HTTP/1.1 "), `${what}: ${answer}`);
    assert.deepStrictEqual(a, b, what);
    // Both nodes settle (a withdrawal is proposed in the background) before they are compared.
    await poll(
      () =>
        t.fast.node.submissions.length === t.routed.node.submissions.length &&
          t.fast.node.lockWaits.waiting === 0 && t.routed.node.lockWaits.waiting === 0 ||
        undefined,
      { what: `${what}: both nodes settled` },
    );
    assert.deepStrictEqual(t.fast.node.submissions, t.routed.node.submissions, `${what}: proposed`);
    all += a.join("");
  }
  return all;
}

/** The request, proposal and lock-wait metrics of an app. */
async function metrics(app: Parameters<typeof send>[0]): Promise<string[]> {
  return (await send(app, "GET", "/metrics")).text.split("\n")
    .filter((l) =>
      l.startsWith("edgeraft_http_requests_total") ||
      l.startsWith("edgeraft_proposal_duration_seconds_count") ||
      l.startsWith("edgeraft_lock_waiters")
    ).sort();
}

/** State, metrics and logs of the two nodes must be the same. */
async function assertSameAfter(t: Twins): Promise<string[]> {
  assert.deepStrictEqual(t.fast.node.sm.snapshot(), t.routed.node.sm.snapshot());
  assert.equal(t.fast.node.revision(), t.routed.node.revision());
  const counted = await metrics(t.fast.app);
  assert.deepStrictEqual(await metrics(t.routed.app), counted);
  assert.deepStrictEqual(t.fast.logger.lines, t.routed.logger.lines);
  return counted;
}

Deno.test("fast lock: the router's bytes, proposals, state, metrics and log for every case", async () => {
  const t = await twins();
  try {
    const answers = await runCases(t, CASES, "leader");
    // The cases reach what they are named after.
    for (
      const part of [
        "idempotent-replayed: true",
        "stayed held for waitMs = 1000",
        "the wait did not end in time",
        "stale-sequence",
        "client-seq-reused",
        "idempotency-key-reused",
        '"owner":"next"',
        "unsupported-media-type",
        "limit-exceeded",
      ]
    ) assert.ok(answers.includes(part), part);
    const counted = await assertSameAfter(t);
    for (
      const [action, status] of [
        ["acquire", 200],
        ["acquire", 409],
        ["acquire", 504],
        [
          "acquire",
          422,
        ],
        ["release", 200],
        ["release", 409],
        ["renew", 200],
        ["renew", 409],
      ]
    ) {
      assert.ok(
        counted.some((l) => l.includes(`{name}/${action}"`) && l.includes(`status="${status}"`)),
        `${action} ${status}: ${counted.join("\n")}`,
      );
    }
    // The 504's withdrawal was proposed on both.
    assert.ok(t.fast.node.submissions.some((s) => s.cmd.op === "abandonWait"));
  } finally {
    await Promise.all(t.servers.map((s) => s.shutdown()));
  }
});

Deno.test("fast lock: a client that leaves during a wait: withdrawn, 499 counted and logged, as the router does", async () => {
  const t = await twins();
  try {
    const leave = async (side: Side) => {
      await rawAnswer(side.port, acquire("gone", { ttlMs: 60_000 }));
      const c = await RawConnection.open(side.port);
      await c.send(acquire("gone", { ttlMs: 5000, waitMs: 30_000 }));
      await poll(() => side.node.lockInfo("gone").waiters.length === 1 || undefined, {
        what: "the waiter in line",
      });
      await c.dispose();
      await poll(() => side.node.lockInfo("gone").waiters.length === 0 || undefined, {
        what: "the wait withdrawn",
      });
      await poll(() => side.node.lockWaits.waiting === 0 || undefined, { what: "no waits" });
      return scrub(c.text);
    };
    const before = t.counter.taken;
    const a = await leave(t.sides[0]);
    const b = await leave(t.sides[1]);
    assert.equal(a, "");
    assert.equal(b, "");
    assert.equal(t.counter.taken - before, 2);
    assert.deepStrictEqual(t.fast.node.submissions, t.routed.node.submissions);
    assert.ok(t.fast.node.submissions.some((s) => s.cmd.op === "abandonWait"));
    // The 499 is counted and logged once the wait is withdrawn: poll for the log line.
    await poll(
      () => t.fast.logger.lines.length > 0 && t.routed.logger.lines.length > 0 || undefined,
      { what: "the client went away line" },
    );
    const counted = await assertSameAfter(t);
    assert.ok(counted.some((l) => l.includes('status="499"')), counted.join("\n"));
    assert.ok(
      counted.some((l) => l.startsWith("edgeraft_lock_waiters") && l.endsWith(" 0")),
      counted.join("\n"),
    );
  } finally {
    await Promise.all(t.servers.map((s) => s.shutdown()));
  }
});

Deno.test("fast lock: a follower, no leader, an unknown outcome, a refused command, a bug", async () => {
  const t = await twins();
  // One error object for both nodes: the log's stack of an internal error is compared too.
  const roles: [string, number, Error | undefined][] = [
    ["follower", 2, undefined],
    ["no leader", 0, new NoLeaderError("no leader is known")],
    ["unknown outcome", 1, new OutcomeUnknownError("the proposal timed out")],
    ["a command the state machine refuses", 1, new InvalidCommandError("ttlMs: not taken")],
    ["internal", 1, new TypeError("x is undefined")],
  ];
  try {
    for (const [role, leader, error] of roles) {
      for (const { node } of [t.fast, t.routed]) {
        node.leader = leader;
        node.submitError = error;
      }
      await runCases(t, ROLE_CASES, role);
    }
    const counted = await assertSameAfter(t);
    for (const status of ["503", "504", "400", "500"]) {
      assert.ok(counted.some((l) => l.includes(`status="${status}"`)), counted.join("\n"));
    }
    const errors = t.fast.logger.lines.filter((l) => (l as { level: string }).level === "error");
    assert.equal(errors.length, 4); // each of the internal role's requests, logged once
  } finally {
    await Promise.all(t.servers.map((s) => s.shutdown()));
  }
});

Deno.test("fast lock: a node with tokens always goes through the router", async () => {
  const token = "l0ck-token-for-tests";
  const t = await twins({ tokens: [{ token, scopes: ["lock"] }] });
  try {
    const auth: [string, string][] = [["Authorization", `Bearer ${token}`]];
    await runCases(t, [
      simple("with the token", 0, () => acquire("t", { ttlMs: 5000 }, { headers: auth })),
      simple("without", 0, () => acquire("t", { ttlMs: 5000 })),
      simple("a release", 0, (s) => release("t", holderToken(s, "t"), { headers: auth })),
    ], "tokens");
    await assertSameAfter(t);
  } finally {
    await Promise.all(t.servers.map((s) => s.shutdown()));
  }
});
