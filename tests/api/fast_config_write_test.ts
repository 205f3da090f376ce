/**
 * The write shortcut (`src/api/fast_config_write.ts`) must answer exactly what the router
 * answers. Two client ports over equal fake nodes, one with the fast paths and one without,
 * get the same raw requests over real sockets; the bytes that come back must be the same
 * (the `date` header's value aside: it is the second the answer was written), and so must
 * what each node was asked to propose, its state, its request and proposal metrics and its log.
 * Each case also says whether the shortcut must take it or decline it (then the body must
 * still be there for the long way).
 */
import assert from "node:assert/strict";
import type { ApiOptions } from "../../src/api/app.ts";
import { frontHooksOf, serveClientPort, withFrontHooks } from "../../src/api/http_front.ts";
import { NoLeaderError, OutcomeUnknownError } from "../../src/node/errors.ts";
import { InvalidCommandError } from "../../src/state/errors.ts";
import { makeApp, send } from "./harness.ts";
import { RawConnection } from "./raw_http.ts";
import { fieldLogger, join } from "./shortcut_twins.ts";

const encoder = new TextEncoder();
const LIMITS = { maxBodyBytes: 4096, maxValueBytes: 2048 };

/** What a request is made of; `contentType: null` sends none. */
interface Parts {
  headers?: [string, string][];
  body?: string | Uint8Array;
  contentType?: string | null;
  version?: "1.0" | "1.1";
  host?: string | null;
  close?: boolean;
}

/** The bytes of one request. */
function request(method: string, target: string, parts: Parts = {}): Uint8Array {
  const { body, version = "1.1", host = "127.0.0.1:7001", close = true } = parts;
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

const put = (key: string, body: string | Uint8Array, parts: Parts = {}) =>
  request("PUT", `/v1/config/${key}`, { ...parts, body });
const del = (key: string, parts: Parts = {}) => request("DELETE", `/v1/config/${key}`, parts);

/**
 * One case: what is sent (built when it runs, from the state both nodes share; an array is
 * sent in parts, a moment apart), and how many of its requests the shortcut must take
 * (undefined: it may go either way).
 */
interface Case {
  name: string;
  send: (revisionOf: (key: string) => number) => Uint8Array | Uint8Array[];
  taken: number | undefined;
}

const CASES: Case[] = [
  { name: "create", send: () => put("app/flags", '{"on":true}'), taken: 1 },
  { name: "update", send: () => put("app/flags", '{"on":false}'), taken: 1 },
  {
    name: "If-Match, the current revision",
    send: (rev) => put("app/flags", "1", { headers: [["If-Match", `"${rev("app/flags")}"`]] }),
    taken: 1,
  },
  {
    name: "If-Match, another revision: 412",
    send: () => put("app/flags", "2", { headers: [["If-Match", '"999"']] }),
    taken: 1,
  },
  {
    name: 'If-Match "0" creates',
    send: () => put("made-by-if-match", "0", { headers: [["If-Match", '"0"']] }),
    taken: 1,
  },
  {
    name: "If-None-Match: * on an existing key: 412",
    send: () => put("app/flags", "3", { headers: [["If-None-Match", "*"]] }),
    taken: 1,
  },
  {
    name: "If-None-Match: * on an absent key",
    send: () => put("created-once", '"x"', { headers: [["if-none-match", " * "]] }),
    taken: 1,
  },
  {
    name: "Idempotency-Key, first",
    send: () => put("idem", '{"n":1}', { headers: [["Idempotency-Key", "op-1"]] }),
    taken: 1,
  },
  {
    name: "Idempotency-Key, the retry: replayed",
    send: () => put("idem", '{"n":1}', { headers: [["Idempotency-Key", "op-1"]] }),
    taken: 1,
  },
  {
    name: "Idempotency-Key, another body: 422",
    send: () => put("idem", '{"n":2}', { headers: [["Idempotency-Key", "op-1"]] }),
    taken: 1,
  },
  {
    name: "X-Client-Id and X-Client-Seq",
    send: () => put("session", "1", { headers: [["X-Client-Id", "c1"], ["X-Client-Seq", "5"]] }),
    taken: 1,
  },
  {
    name: "X-Client-Seq again: replayed",
    send: () => put("session", "1", { headers: [["X-Client-Id", "c1"], ["X-Client-Seq", "5"]] }),
    taken: 1,
  },
  {
    name: "X-Client-Seq below the last: 409",
    send: () => put("session", "1", { headers: [["X-Client-Id", "c1"], ["X-Client-Seq", "4"]] }),
    taken: 1,
  },
  {
    name: "a JSON type with parameters, a +json type, a BOM, non-ASCII",
    send: () =>
      join(
        put("typed", '"a"', { contentType: "application/json; charset=utf-8", close: false }),
        put("typed", '"b"', { contentType: "application/merge-patch+json", close: false }),
        put("typed", join(new Uint8Array([0xef, 0xbb, 0xbf]), encoder.encode('"c"')), {
          close: false,
        }),
        put("typed", '"grüße ✓ 🎉"'),
      ),
    taken: 4,
  },
  { name: "DELETE", send: () => del("typed"), taken: 1 },
  { name: "DELETE of a missing key: 404", send: () => del("typed"), taken: 1 },
  {
    name: "DELETE, If-Match another revision: 412",
    send: () => del("app/flags", { headers: [["If-Match", '"998"']] }),
    taken: 1,
  },
  {
    name: "DELETE with an Idempotency-Key, and its retry",
    send: () =>
      join(
        del("created-once", { headers: [["Idempotency-Key", "del-1"]], close: false }),
        del("created-once", { headers: [["Idempotency-Key", "del-1"]] }),
      ),
    taken: 2,
  },
  {
    name: "pipelined, one declined in the middle (its body is still there), a read between",
    send: () =>
      join(
        put("pipe/a", "1", { close: false }),
        put("pipe/b", "2", { contentType: "text/plain", close: false }),
        put("pipe/c", "3", { contentType: "text/plain; x=y", close: false }),
        put("pipe/d", "4", { close: false }),
        request("GET", "/v1/config/pipe/a", { close: false }),
        request("PUT", "/v1/config/pipe/e?x=1", { body: "5", close: false }),
        del("pipe/d"),
      ),
    taken: 4, // two puts, the read, the delete
  },
  {
    name: "HTTP/1.0 without Host",
    send: () => put("old", "10", { version: "1.0", host: null, close: false }),
    taken: 1,
  },
  {
    name: "HTTP/1.0 keep-alive, then a request that closes",
    send: () =>
      join(
        put("old", "11", { version: "1.0", headers: [["Connection", "keep-alive"]], close: false }),
        put("old", "12"),
      ),
    taken: 2,
  },
  // Declined: the router answers (its 4xx, or its 200 for what the shortcut leaves alone).
  { name: "text/plain: 415", send: () => put("d", "1", { contentType: "text/plain" }), taken: 0 },
  { name: "no Content-Type: 415", send: () => put("d", "1", { contentType: null }), taken: 0 },
  {
    name: "two Content-Type lines: 415",
    send: () => put("d", "1", { headers: [["Content-Type", "application/json"]] }),
    taken: 0,
  },
  { name: "not JSON: 400", send: () => put("d", "{"), taken: 0 },
  { name: "no value (JSON null is one)", send: () => put("d", "null"), taken: 1 },
  {
    name: "not UTF-8: 400",
    send: () => put("d", new Uint8Array([0x22, 0xff, 0x22])),
    taken: 0,
  },
  {
    name: "Content-Encoding: gzip: 415",
    send: () => put("d", "1", { headers: [["Content-Encoding", "gzip"]] }),
    taken: 0,
  },
  {
    name: "Content-Encoding: identity",
    send: () => put("d", "2", { headers: [["Content-Encoding", "identity"]] }),
    taken: 0,
  },
  {
    name: "two equal Content-Length lines: 400",
    send: () => put("d", "3", { headers: [["Content-Length", "1"]] }),
    taken: 0,
  },
  {
    name: "a body over maxBodyBytes: 413",
    send: () => put("d", JSON.stringify("x".repeat(5000))),
    taken: 0,
  },
  {
    name: "a value over maxValueBytes: 413",
    send: () => put("d", JSON.stringify("x".repeat(3000))),
    taken: 0,
  },
  { name: "an empty body: 400", send: () => put("d", ""), taken: 0 },
  {
    name: "a malformed If-Match: 400",
    send: () => put("d", "1", { headers: [["If-Match", 'W/"1"']] }),
    taken: 0,
  },
  {
    name: "If-Match with If-None-Match: 400",
    send: () => put("d", "1", { headers: [["If-Match", '"1"'], ["If-None-Match", "*"]] }),
    taken: 0,
  },
  {
    name: "If-None-Match other than *: 400",
    send: () => put("d", "1", { headers: [["If-None-Match", '"5"']] }),
    taken: 0,
  },
  {
    name: "two If-None-Match: * lines: 400",
    send: () => put("d", "1", { headers: [["If-None-Match", "*"], ["If-None-Match", "*"]] }),
    taken: 0,
  },
  {
    name: "a malformed Idempotency-Key: 400",
    send: () => put("d", "1", { headers: [["Idempotency-Key", "k".repeat(5000)]] }),
    taken: 0,
  },
  {
    name: "X-Client-Id without X-Client-Seq: 400",
    send: () => put("d", "1", { headers: [["X-Client-Id", "c1"]] }),
    taken: 0,
  },
  {
    name: "a malformed X-Client-Seq: 400",
    send: () => put("d", "1", { headers: [["X-Client-Id", "c1"], ["X-Client-Seq", "-1"]] }),
    taken: 0,
  },
  {
    name: "a / sent as %2F, as the client package sends it",
    send: () => put("app%2Fenc", "1"),
    taken: 1,
  },
  { name: "a / sent as %2f", send: () => put("app%2fenc", "2"), taken: 1 },
  { name: "a ~ in the key", send: () => put("~user/x~y", "1"), taken: 1 },
  { name: "another escape", send: () => put("app%20space", "1"), taken: 0 },
  { name: "a dot segment behind %2F: 400", send: () => put("a%2F..%2Fb", "1"), taken: 0 },
  { name: "a dot segment: 400", send: () => put("a/../b", "1"), taken: 0 },
  { name: "an empty segment", send: () => put("a//b", "1"), taken: 0 },
  { name: "an empty key", send: () => put("", "1"), taken: 0 },
  { name: "a key over maxKeyBytes: 400", send: () => put("k".repeat(1100), "1"), taken: 0 },
  { name: "a query", send: () => request("PUT", "/v1/config/q?x=1", { body: "1" }), taken: 0 },
  {
    name: "an absolute target",
    send: () => request("PUT", "http://127.0.0.1:7001/v1/config/abs", { body: "1" }),
    taken: 0,
  },
  {
    name: "a lower-case method",
    send: () => request("put", "/v1/config/lc", { body: "1" }),
    taken: 0,
  },
  { name: "PATCH: 405", send: () => request("PATCH", "/v1/config/p", { body: "1" }), taken: 0 },
  {
    name: "Expect: 100-continue",
    send: () => put("expect", "1", { headers: [["Expect", "100-continue"]] }),
    taken: 0,
  },
  {
    name: "a chunked body",
    send: () =>
      encoder.encode(
        "PUT /v1/config/chunked HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
          "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n1\r\n7\r\n0\r\n\r\n",
      ),
    taken: 0,
  },
  {
    name: "a body sent after its head",
    send: () => {
      const whole = put("later", '"slow"');
      return [whole.subarray(0, whole.byteLength - 3), whole.subarray(whole.byteLength - 3)];
    },
    taken: undefined,
  },
  {
    name: "a DELETE with a body",
    send: () => request("DELETE", "/v1/config/old", { body: "{}" }),
    taken: 0,
  },
  { name: "a Host URL cannot take: 400", send: () => put("h", "1", { host: "a%zz" }), taken: 0 },
  { name: "a Host with a bad port: 400", send: () => put("h", "1", { host: "h:99999" }), taken: 0 },
  {
    name: "a header value Headers refuses: 400",
    send: () => put("h", "1", { headers: [["X-Note", "€"]] }),
    taken: 0,
  },
];

/** A few cases again in other roles: the node's errors are answered as the router does. */
const ROLE_CASES: Case[] = [
  { name: "a put", send: () => put("role", '"r"'), taken: 1 },
  {
    name: "a put with If-Match",
    send: (rev) => put("role", '"s"', { headers: [["If-Match", `"${rev("role")}"`]] }),
    taken: 1,
  },
  { name: "a delete", send: () => del("role"), taken: 1 },
  {
    name: "pipelined",
    send: () => join(put("role", "1", { close: false }), del("role")),
    taken: 2,
  },
];

/** The raw bytes a server answers to `chunks` on a fresh connection, until it closes. */
async function rawAnswer(port: number, chunks: Uint8Array[]): Promise<string> {
  const c = await RawConnection.open(port);
  try {
    for (const [i, chunk] of chunks.entries()) {
      if (i > 0) {
        // Let the server see the first part alone before the rest comes.
        await new Promise((r) => setTimeout(r, 30));
      }
      await c.send(chunk);
    }
    await c.waitClosed(5000);
    return c.text.replaceAll(/\r\ndate: [^\r]*/g, "\r\ndate: (now)");
  } finally {
    await c.dispose();
  }
}

/** A node with fast paths and one without, each on a client port of its own. */
async function twins(options: Partial<ApiOptions> = {}) {
  const fastLog = fieldLogger();
  const routedLog = fieldLogger();
  const fast = makeApp({ limits: LIMITS, ...options, fastPaths: true, logger: fastLog });
  const routed = makeApp({ limits: LIMITS, ...options, fastPaths: false, logger: routedLog });
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
        answerHead: (head, body) => {
          const bytes = answerHead(head, body);
          return bytes instanceof Promise ? bytes.then(count) : count(bytes);
        },
        countOwnAnswer: hooks.countOwnAnswer,
      }),
    ),
    serveClientPort({ hostname: "127.0.0.1", port: 0 }, routed.app.fetch),
  ]);
  return { fast, routed, fastLog, routedLog, counter, servers };
}

type Twins = Awaited<ReturnType<typeof twins>>;

/** Sends each case to both ports and compares; asserts how many the shortcut took. */
async function runCases(t: Twins, cases: Case[], role: string): Promise<void> {
  const [fastServer, routedServer] = t.servers;
  for (const c of cases) {
    const sent = c.send((key) => t.fast.node.getValue(key)?.revision ?? 0);
    const chunks = Array.isArray(sent) ? sent : [sent];
    const before = t.counter.taken;
    const a = await rawAnswer(fastServer.addr.port, chunks);
    const b = await rawAnswer(routedServer.addr.port, chunks);
    const what = `${role}: ${c.name}`;
    assert.ok(a.startsWith("HTTP/1.1 "), `${what}: ${a}`);
    assert.equal(a, b, what);
    if (c.taken !== undefined) assert.equal(t.counter.taken - before, c.taken, `${what}: taken`);
    assert.deepStrictEqual(t.fast.node.submissions, t.routed.node.submissions, `${what}: proposed`);
  }
}

/** The request and proposal metrics of an app. */
async function metrics(app: Parameters<typeof send>[0]): Promise<string[]> {
  return (await send(app, "GET", "/metrics")).text.split("\n")
    .filter((l) =>
      l.startsWith("edgeraft_http_requests_total") ||
      l.startsWith("edgeraft_proposal_duration_seconds_count")
    ).sort();
}

/** State, metrics and logs of the two nodes must be the same. */
async function assertSameAfter(t: Twins): Promise<string[]> {
  assert.deepStrictEqual(t.fast.node.sm.snapshot(), t.routed.node.sm.snapshot());
  assert.equal(t.fast.node.revision(), t.routed.node.revision());
  const counted = await metrics(t.fast.app);
  assert.deepStrictEqual(await metrics(t.routed.app), counted);
  // The stack of a logged error names the code that threw, the same on both.
  assert.deepStrictEqual(t.fastLog.lines, t.routedLog.lines);
  return counted;
}

Deno.test("fast config write: the router's bytes, state, metrics and log for every case", async () => {
  const t = await twins();
  try {
    await runCases(t, CASES, "leader");
    const counted = await assertSameAfter(t);
    for (const status of ["200", "404", "409", "412", "422"]) {
      assert.ok(
        counted.some((l) => l.includes('method="PUT"') && l.includes(`status="${status}"`)) ||
          counted.some((l) => l.includes('method="DELETE"') && l.includes(`status="${status}"`)),
        `${status}: ${counted.join("\n")}`,
      );
    }
    assert.ok(t.fast.node.submissions.length > 30, String(t.fast.node.submissions.length));
  } finally {
    await Promise.all(t.servers.map((s) => s.shutdown()));
  }
});

Deno.test("fast config write: a follower, no leader, an unknown outcome, a refused command, a bug", async () => {
  const t = await twins();
  // One error object for both nodes: the log's stack of an internal error is compared too.
  const roles: [string, number, Error | undefined][] = [
    ["follower", 2, undefined],
    ["no leader", 0, new NoLeaderError("no leader is known")],
    ["unknown outcome", 1, new OutcomeUnknownError("the proposal timed out")],
    ["a command the state machine refuses", 1, new InvalidCommandError("value: not taken")],
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
    const errors = t.fastLog.lines.filter((l) => (l as { level: string }).level === "error");
    assert.equal(errors.length, 5); // each of the internal role's requests, logged once
  } finally {
    await Promise.all(t.servers.map((s) => s.shutdown()));
  }
});

Deno.test("fast config write: a node with tokens always goes through the router", async () => {
  const token = "wr1te-token-for-tests";
  const t = await twins({ tokens: [{ token, scopes: ["write"] }] });
  try {
    const cases: Case[] = [
      {
        name: "with the token",
        send: () => put("t", "1", { headers: [["Authorization", `Bearer ${token}`]] }),
        taken: 0,
      },
      { name: "without", send: () => put("t", "2"), taken: 0 },
      {
        name: "a delete",
        send: () => del("t", { headers: [["Authorization", `Bearer ${token}`]] }),
        taken: 0,
      },
    ];
    await runCases(t, cases, "tokens");
    await assertSameAfter(t);
  } finally {
    await Promise.all(t.servers.map((s) => s.shutdown()));
  }
});
