/**
 * Thousands of malformed and hostile requests, from a seed: bad JSON, wrong types, huge bodies
 * and keys, path tricks, bad tokens, junk headers and methods. Every write is built to be
 * refused before anything is proposed, so the state machine's snapshot must not change by a
 * byte; reads may succeed. No answer may be a 5xx, and every refusal is a problem+json.
 *
 * Replay one seed with `FUZZ_SEED=<n> deno test --allow-all tests/api/fuzz_test.ts`.
 */

import assert from "node:assert/strict";
import type { TokenConfig } from "../../src/api/middleware/auth/principal.ts";
import { makeApp } from "./harness.ts";

const SEED = Number(Deno.env.get("FUZZ_SEED") ?? 20_240_601);
const REQUESTS = 4000;

/** mulberry32: small, fast, good enough to pick cases. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)];
  const bytes = (n: number) => Uint8Array.from({ length: n }, () => int(256));
  const text = (n: number) =>
    Array.from({ length: n }, () => String.fromCharCode(int(3) === 0 ? int(0x10000) : 32 + int(95)))
      .join("");
  return { next, int, pick, bytes, text };
}

interface Hostile {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: BodyInit;
  /** A write that must be refused (reads may succeed). */
  refused: boolean;
}

const TOKENS: TokenConfig[] = [
  { token: "reader-token", scopes: ["read"] },
  {
    token: "writer-token",
    scopes: ["write", "lock"],
    keyPrefixes: ["app/"],
    lockPrefixes: ["app/"],
  },
];
const JSON_TYPE = { "content-type": "application/json" };

function generators(r: ReturnType<typeof prng>) {
  const writer = { ...JSON_TYPE, authorization: "Bearer writer-token" };
  const goodKey = () => `app/${r.int(5)}`;
  const badSegments = [
    "%00",
    "a%0Ab",
    "%7F",
    "%C0%AF",
    "%FF",
    "%ED%A0%80",
    "%",
    "%G1",
    "a%2",
    "",
    "%C2%85",
    // Dot segments, which no key or lock name may hold (a lone `.` or `%2E` segment is resolved
    // by URL parsing in the test client; the ones behind %2F reach the server).
    ".",
    "%2e",
    "..%2Fx",
    "%2E%2E%2Fx",
    "x%2F..",
  ];
  const wrongValues = [null, true, "1000", [], {}, 1.5, -5, 0, 1e300, "", [1000]];
  const lockOps = ["acquire", "renew", "release"];
  /** A write route with the method it takes. */
  const writeRoute = (): [string, string] =>
    r.pick<[string, string]>([
      ["PUT", `/v1/config/${goodKey()}`],
      ["POST", `/v1/locks/app%2F${r.int(3)}/${r.pick(lockOps)}`],
    ]);
  const junkJson = () =>
    r.pick([
      "{",
      "[1,",
      '{"ttlMs":}',
      "nul",
      "'single'",
      "{ttlMs: 1000}",
      '"unterminated',
      "[]]",
      "\u0000",
      "1 2",
      "",
    ]) || "{";

  return [
    // Valid bodies sent with a content coding the API does not decode.
    (): Hostile => {
      const [method, path] = writeRoute();
      return {
        method,
        path,
        headers: { ...writer, "content-encoding": r.pick(["gzip", "br", "deflate", "x, gzip"]) },
        body: path.startsWith("/v1/config/") ? "1" : '{"ttlMs":1000}',
        refused: true,
      };
    },
    // Malformed JSON bodies on every write route.
    (): Hostile => {
      const [method, path] = writeRoute();
      return { method, path, headers: writer, body: junkJson(), refused: true };
    },
    // Random bytes, sometimes invalid UTF-8.
    (): Hostile => ({
      method: "PUT",
      path: `/v1/config/${goodKey()}`,
      headers: writer,
      body: Uint8Array.from([0xff, ...r.bytes(r.int(64))]),
      refused: true,
    }),
    // Wrong media type.
    (): Hostile => ({
      method: "PUT",
      path: `/v1/config/${goodKey()}`,
      headers: {
        ...writer,
        "content-type": r.pick(["text/plain", "application/x-www-form-urlencoded", "json", ""]),
      },
      body: "1",
      refused: true,
    }),
    // Wrong types and unknown fields in lock bodies.
    (): Hostile => {
      const op = r.pick(lockOps);
      const field = op === "acquire" ? r.pick(["ttlMs", "waitMs", "owner"]) : "token";
      const base: Record<string, unknown> = op === "acquire" ? { ttlMs: 1000 } : { token: 3 };
      const body = r.int(4) === 0
        ? { ...base, [r.pick(["extra", "__proto__", "constructor", "TTLMS"])]: 1 }
        : { ...base, [field]: field === "owner" ? r.pick([1, null, [], {}]) : r.pick(wrongValues) };
      if (op === "acquire" && field === "waitMs" && body.waitMs === 0) body.waitMs = -1;
      return {
        method: "POST",
        path: `/v1/locks/app%2Ffuzz/${op}`,
        headers: writer,
        body: JSON.stringify(body),
        refused: true,
      };
    },
    // Bodies over the limit (rarely: each is a MiB).
    (): Hostile => {
      const [method, path] = writeRoute();
      const body = r.int(20) === 0 ? `"${"z".repeat(1024 * 1024)}"` : junkJson();
      return { method, path, headers: writer, body, refused: true };
    },
    // Keys and names over the limits, and bad path segments.
    (): Hostile => {
      const segment = r.int(2) === 0
        ? `app/${"k".repeat(1021 + r.int(200))}`
        : `app/${r.pick(badSegments)}${r.pick(badSegments)}`;
      if (segment === "app/") {
        return { method: "PUT", path: "/v1/config/", headers: writer, body: "1", refused: true };
      }
      const onLock = r.int(3) === 0;
      return {
        method: onLock ? "POST" : r.pick(["PUT", "DELETE"]),
        path: onLock ? `/v1/locks/${segment.replace("/", "%2F")}/acquire` : `/v1/config/${segment}`,
        headers: writer,
        body: onLock ? '{"ttlMs":1000}' : "1",
        refused: true,
      };
    },
    // Bad or missing tokens, on any route.
    (): Hostile => ({
      method: r.pick(["GET", "PUT", "POST", "DELETE"]),
      path: r.pick(["/v1/config/app/1", "/v1/config", "/v1/locks/app%2F1/acquire", "/v1/cluster"]),
      headers: {
        ...JSON_TYPE,
        ...(r.int(4) === 0 ? {} : {
          authorization: r.pick([
            `Bearer ${r.text(r.int(40)).replace(/[^\x21-\x7e]/g, "x")}`,
            "Bearer writer-token2",
            "Basic d3JpdGVyLXRva2Vu",
            `Bearer ${"a".repeat(5000)}`,
            "Bearer",
            "writer-token",
          ]),
        }),
      },
      body: undefined,
      refused: true,
    }),
    // Tokens outside their scope or prefixes.
    (): Hostile => ({
      method: r.pick(["PUT", "DELETE", "POST"]),
      path: r.pick(["/v1/config/other", "/v1/config/apple", "/v1/locks/cron/acquire"]),
      headers: {
        ...JSON_TYPE,
        authorization: `Bearer ${r.pick(["reader-token", "writer-token"])}`,
      },
      body: '{"ttlMs":1000}',
      refused: true,
    }),
    // Junk conditional and session headers.
    (): Hostile => ({
      method: "PUT",
      path: `/v1/config/${goodKey()}`,
      headers: {
        ...writer,
        ...r.pick<Record<string, string>>([
          {
            "if-match": r.pick([
              "*",
              'W/"1"',
              "1",
              '"-1"',
              '"1", "2"',
              '"x"',
              '"99999999999999999"',
            ]),
          },
          { "if-none-match": r.pick(['"1"', "W/*", "**"]) },
          { "x-client-id": "c" },
          { "x-client-seq": "1" },
          { "x-client-id": "c", "x-client-seq": r.pick(["-1", "1.5", "x", "", "01"]) },
          { "idempotency-key": "" },
          { "if-match": '"1"', "if-none-match": "*" },
          { "content-length": r.pick(["abc", "-1", "1e3"]) },
        ]),
      },
      body: "1",
      refused: true,
    }),
    // Values the state machine could not store.
    (): Hostile => ({
      method: "PUT",
      path: `/v1/config/${goodKey()}`,
      headers: writer,
      body: r.pick([
        "[".repeat(65 + r.int(5000)) + "]".repeat(65 + r.int(5000)),
        '{"__proto__":1}',
        '"\\ud800"',
        '{"a":"\\udfff"}',
        "",
      ]),
      refused: true,
    }),
    // Wrong methods and odd ones.
    (): Hostile => {
      const [method, path] = r.pick([
        [r.pick(["PATCH", "OPTIONS", "FOO"]), "/v1/config/app/1"],
        ["POST", "/v1/config/app/1"],
        [r.pick(["PUT", "POST", "DELETE"]), "/v1/config"],
        [r.pick(["PUT", "POST"]), r.pick(["/v1/cluster", "/v1/watch", "/healthz", "/metrics"])],
        [r.pick(["GET", "PUT", "DELETE"]), "/v1/locks/app%2F1/acquire"],
      ]);
      return { method, path, headers: writer, body: "1", refused: true };
    },
    // Reads with path tricks and junk queries: anything but a 5xx.
    (): Hostile => ({
      method: r.pick(["GET", "HEAD"]),
      path: r.pick([
        "/v1/config/../../etc/passwd",
        "/v1/config/%2e%2e/%2e%2e/secret",
        "/v1//config",
        `/v1/config/${r.pick(badSegments)}`,
        `/v1/config?limit=${r.pick(["-1", "0", "x", "1e9", "", "5"])}&prefix=${
          r.pick(badSegments)
        }`,
        `/v1/watch?fromRevision=${r.pick(["-1", "x", "1.5", "9".repeat(30)])}`,
        `/v1/locks/${r.pick(badSegments)}`,
        `/v1/config/app/1?consistency=${r.pick(["STALE", "", "weak"])}`,
        `/${r.text(r.int(20)).replace(/[?#]/g, "")}`,
      ]),
      headers: { authorization: "Bearer reader-token" },
      refused: false,
    }),
  ];
}

Deno.test(`fuzz: ${REQUESTS} hostile requests, no 5xx, no change (seed ${SEED})`, async () => {
  const { app, node } = makeApp({ tokens: TOKENS });
  const admin = { authorization: "Bearer writer-token", ...JSON_TYPE };
  for (let i = 0; i < 5; i++) {
    await app.request(`/v1/config/app/${i}`, { method: "PUT", headers: admin, body: `${i}` });
  }
  await app.request("/v1/locks/app%2F1/acquire", {
    method: "POST",
    headers: admin,
    body: '{"ttlMs":60000}',
  });
  const before = node.sm.snapshot();
  const proposed = node.submissions.length;
  const r = prng(SEED);
  const gens = generators(r);
  const statuses = new Map<number, number>();

  for (let i = 0; i < REQUESTS; i++) {
    const hostile = gens[r.int(gens.length)]();
    let response: Response;
    try {
      response = await app.request(hostile.path, {
        method: hostile.method,
        headers: hostile.headers,
        body: hostile.method === "GET" || hostile.method === "HEAD" ? undefined : hostile.body,
      });
    } catch (error) {
      // The request itself could not be built (an invalid URL or header): nothing was sent.
      if (error instanceof TypeError) continue;
      throw error;
    }
    const where = `#${i} ${hostile.method} ${hostile.path.slice(0, 80)} ${
      JSON.stringify(hostile.headers)
    }`;
    statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
    if (response.headers.get("content-type")?.startsWith("text/event-stream")) {
      await response.body?.cancel();
      continue;
    }
    const text = await response.text();
    assert.ok(response.status < 500, `${where}: ${response.status} ${text}`);
    if (hostile.refused) assert.ok(response.status >= 400, `${where}: ${response.status} ${text}`);
    assert.equal(
      node.submissions.length,
      proposed,
      `${where}: proposed (${response.status} ${text})`,
    );
    if (response.status >= 400 && hostile.method !== "HEAD") {
      assert.equal(response.headers.get("content-type"), "application/problem+json", where);
      const problem = JSON.parse(text);
      assert.equal(typeof problem.detail, "string", where);
      assert.equal(problem.status, response.status, where);
    }
  }
  assert.equal(node.submissions.length, proposed, "a refused request was proposed");
  assert.deepEqual(node.sm.snapshot(), before, "the state changed");
  assert.equal(node.listeners, 0);
  console.log("statuses:", Object.fromEntries([...statuses].sort(([a], [b]) => a - b)));
});
