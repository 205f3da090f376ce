/**
 * The stale-read shortcut (`src/api/fast_stale_read.ts`) must answer exactly what the router
 * answers. Two apps over equal fake nodes, one with the shortcut and one without, get the same
 * requests; status, every header, body and the request metrics must match. The shortcut the
 * client port's server takes from the request head must write the very same bytes.
 */
import assert from "node:assert/strict";
import type { ApiOptions } from "../../src/api/app.ts";
import { fastStaleRead } from "../../src/api/fast_stale_read.ts";
import { frontHooksOf, serveClientPort, withFrontHooks } from "../../src/api/http_front.ts";
import { resolveLimits } from "../../src/api/limits.ts";
import { ApiMetrics } from "../../src/api/metrics.ts";
import { type Answer, makeApp, send } from "./harness.ts";
import { RawConnection } from "./raw_http.ts";
import { NoLeaderError } from "../../src/node/errors.ts";
import { ReadTimeoutError } from "../../src/node/read_barrier.ts";

const TOKENS = [{ token: "r3ad-token-for-tests", scopes: ["read", "write"] as const }];

function twins(options: Partial<ApiOptions> = {}) {
  const fast = makeApp({ ...options, fastPaths: true });
  const routed = makeApp({ ...options, fastPaths: false });
  return { fast, routed, both: [fast, routed] };
}

const seen = (a: Answer) => ({
  status: a.status,
  headers: [...a.headers.entries()].sort(),
  text: a.text,
});

const REQUESTS: [string, Record<string, string>?][] = [
  ["/v1/config/flags?consistency=stale"],
  ["/v1/config/app/eu-west/banner.v2?consistency=stale"],
  ["/v1/config/app%2Feu-west%2fbanner.v2?consistency=stale"], // the client package's %2F
  ["/v1/config/flags?consistency=stale", { "if-none-match": '"1"' }],
  ["/v1/config/flags?consistency=stale", { "if-none-match": 'W/"1", "7"' }],
  ["/v1/config/flags?consistency=stale", { "if-none-match": '"999"' }],
  ["/v1/config/flags?consistency=stale", { "if-none-match": "*" }],
  // Declined by the shortcut, answered by the router:
  ["/v1/config/missing?consistency=stale"],
  ["/v1/config/with%20space?consistency=stale"],
  ["/v1/config/a/../flags?consistency=stale"],
  ["/v1/config/a%2F..%2Fflags?consistency=stale"],
  ["/v1/config/a//b?consistency=stale"],
  ["/v1/config/flags"],
  ["/v1/config/flags?consistency=stale&x=1"],
  ["/v1/config/flags?consistency=STALE"],
  ["/v1/config/?consistency=stale"],
  [`/v1/config/${"k".repeat(2000)}?consistency=stale`],
];

async function seed(apps: { app: Parameters<typeof send>[0] }[], auth?: string) {
  const headers: Record<string, string> = auth ? { authorization: `Bearer ${auth}` } : {};
  for (const { app } of apps) {
    assert.equal(
      (await send(app, "PUT", "/v1/config/flags", { json: { on: true }, headers })).status,
      200,
    );
    const banner = await send(app, "PUT", "/v1/config/app/eu-west/banner.v2", {
      json: "hello",
      headers,
    });
    assert.equal(banner.status, 200);
  }
}

Deno.test("fast stale read: answers as the router does, declined cases included", async () => {
  const { fast, routed, both } = twins();
  await seed(both);
  for (const role of ["leader", "follower"] as const) {
    for (const { node, clock } of both) {
      node.leader = role === "leader" ? node.id : 2;
      node.lastContact = role === "leader" ? 0 : clock.now() - 40;
    }
    for (const [path, headers] of REQUESTS) {
      const a = await send(fast.app, "GET", path, { headers });
      const b = await send(routed.app, "GET", path, { headers });
      assert.deepStrictEqual(seen(a), seen(b), `${role}: GET ${path} ${JSON.stringify(headers)}`);
    }
  }
  const metrics = async (app: Parameters<typeof send>[0]) =>
    (await send(app, "GET", "/metrics")).text.split("\n")
      .filter((l) => l.startsWith("edgeraft_http_requests_total")).sort();
  assert.deepStrictEqual(await metrics(fast.app), await metrics(routed.app));
});

Deno.test("fast stale read: takes the requests it is for, and only those", async () => {
  const { fast } = twins();
  await seed([fast]);
  const shortcut = fastStaleRead({
    node: fast.node,
    metrics: new ApiMetrics(),
    clientUrls: new Map(),
    open: true,
    limits: resolveLimits(),
    clock: fast.clock.now,
  });
  const take = (path: string, init?: RequestInit) =>
    shortcut(new Request(`http://127.0.0.1:7001${path}`, init));
  assert.equal(take("/v1/config/flags?consistency=stale")?.status, 200);
  assert.equal(take("/v1/config/flags?consistency=stale", { method: "HEAD" }), undefined);
  assert.equal(take("/v1/config/missing?consistency=stale"), undefined);
  assert.equal(take("/v1/config/flags"), undefined);
  assert.equal(take("/v1/config/with%20space?consistency=stale"), undefined);
  assert.equal(take("/v1/config/app%2Feu-west%2Fbanner.v2?consistency=stale")?.status, 200);
});

Deno.test("fast stale read: a node with tokens always goes through the router", async () => {
  const { fast, routed, both } = twins({
    tokens: [...TOKENS].map((t) => ({ ...t, scopes: [...t.scopes] })),
  });
  await seed(both, TOKENS[0].token);
  for (const authorization of [undefined, `Bearer ${TOKENS[0].token}`, "Bearer wrong"]) {
    const headers: Record<string, string> = authorization ? { authorization } : {};
    const path = "/v1/config/flags?consistency=stale";
    const a = await send(fast.app, "GET", path, { headers });
    const b = await send(routed.app, "GET", path, { headers });
    assert.deepStrictEqual(seen(a), seen(b), `authorization ${authorization}`);
  }
});

/** The raw bytes a server answers to `request` on a fresh connection, until it closes. */
async function rawAnswer(port: number, request: string): Promise<string> {
  const c = await RawConnection.open(port);
  try {
    await c.send(request);
    await c.waitClosed(5000);
    return c.text.replaceAll(/\r\ndate: [^\r]*/g, "\r\ndate: (now)");
  } finally {
    await c.dispose();
  }
}

const HEAD_REQUESTS: string[] = [
  ...REQUESTS.map(([path, headers]) =>
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:7001\r\n${
      Object.entries(headers ?? {}).map(([n, v]) => `${n}: ${v}\r\n`).join("")
    }Connection: close\r\n\r\n`
  ),
  // Two If-None-Match lines, joined as Headers.get joins them.
  'GET /v1/config/flags?consistency=stale HTTP/1.1\r\nHost: x\r\nIf-None-Match: "7"\r\n' +
  'if-none-match: "1"\r\nConnection: close\r\n\r\n',
  // Keep-alive, pipelined: three answers on one connection, the last one closes it.
  "GET /v1/config/flags?consistency=stale HTTP/1.1\r\nHost: x\r\n\r\n" +
  "GET /v1/config/app/eu-west/banner.v2?consistency=stale HTTP/1.1\r\nHost: x\r\n\r\n" +
  "GET /v1/config/missing?consistency=stale HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
  // HTTP/1.0: the connection ends after the answer.
  "GET /v1/config/flags?consistency=stale HTTP/1.0\r\n\r\n",
  "\r\n\r\nGET /v1/config/flags?consistency=stale HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
  // Declined by the head shortcut, and the same answer the long way:
  "get /v1/config/flags?consistency=stale HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
  "HEAD /v1/config/flags?consistency=stale HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
  "GET http://x/v1/config/flags?consistency=stale HTTP/1.1\r\nConnection: close\r\n\r\n",
  "GET /v1/config/flags?consistency=stale HTTP/1.1\r\nConnection: close\r\n\r\n",
  "GET /v1/config/flags?consistency=stale HTTP/1.1\r\nHost: x/y\r\nConnection: close\r\n\r\n",
  // A Host no URL takes, a header value no Headers takes: the long way's 400.
  "GET /v1/config/flags?consistency=stale HTTP/1.1\r\nHost: a%zz\r\nConnection: close\r\n\r\n",
  "GET /v1/config/flags HTTP/1.1\r\nHost: x\r\nX-Note: \u20ac\r\nConnection: close\r\n\r\n",
  "GET /v1/config/flags?consistency=stale HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n" +
  "Connection: close\r\n\r\n{}",
  // Linearizable reads: taken after the node's linearizableRead, a missing key declined.
  "GET /v1/config/flags HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
  'GET /v1/config/flags HTTP/1.1\r\nHost: x\r\nIf-None-Match: "1"\r\nConnection: close\r\n\r\n',
  "GET /v1/config/app/eu-west/banner.v2 HTTP/1.1\r\nHost: x\r\n\r\n" +
  "GET /v1/config/flags HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
  "GET /v1/config/missing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
  "GET /v1/config/flags?consistency=linearizable HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
];

Deno.test("fast stale read from the head: the same bytes as the Request shortcut and the router", async () => {
  const head = makeApp({ fastPaths: true });
  const request = makeApp({ fastPaths: true });
  const routed = makeApp({ fastPaths: false });
  const all = [head, request, routed];
  await seed(all);
  // The head shortcut is the hooks' (served as is); without the hooks the server builds a
  // Request, which the Request shortcut takes; without fast paths the router answers.
  const headHooks = frontHooksOf(head.app.fetch);
  const answerHead = headHooks.answerHead!;
  let taken = 0;
  const handlers: Deno.ServeHandler[] = [
    withFrontHooks((req, info) => head.app.fetch(req, info), {
      answerHead: (h, body) => {
        const count = (bytes: Uint8Array | undefined) => {
          if (bytes !== undefined) taken++;
          return bytes;
        };
        const bytes = answerHead(h, body);
        return bytes instanceof Promise ? bytes.then(count) : count(bytes);
      },
      countOwnAnswer: headHooks.countOwnAnswer,
    }),
    withFrontHooks((req, info) => request.app.fetch(req, info), {
      countOwnAnswer: frontHooksOf(request.app.fetch).countOwnAnswer,
    }),
    routed.app.fetch,
  ];
  assert.equal(frontHooksOf(routed.app.fetch).answerHead, undefined);
  const servers = await Promise.all(
    handlers.map((handler) => serveClientPort({ hostname: "127.0.0.1", port: 0 }, handler)),
  );
  try {
    const roles = ["leader", "follower", "no leader", "read fails", "read times out"] as const;
    for (const role of roles) {
      for (const { node, clock } of all) {
        // A read that times out has a leader it could not confirm (a partition): x-leader.
        node.leader = role === "leader"
          ? node.id
          : role === "follower" || role === "read times out"
          ? 2
          : 0;
        node.lastContact = role === "leader" ? 0 : clock.now() - 40;
        node.readError = role === "read fails"
          ? new NoLeaderError("no leader is known")
          : role === "read times out"
          ? new ReadTimeoutError("the read could not be confirmed by a quorum in time")
          : undefined;
      }
      for (const text of HEAD_REQUESTS) {
        const [a, b, c] = await Promise.all(
          servers.map((s) => rawAnswer(s.addr.port, text)),
        );
        assert.ok(a.startsWith("HTTP/1.1 "), `${role}: ${JSON.stringify(text)}: ${a}`);
        assert.equal(a, b, `${role}, head vs Request shortcut: ${JSON.stringify(text)}`);
        assert.equal(a, c, `${role}, head shortcut vs router: ${JSON.stringify(text)}`);
      }
    }
    // Per role, stale: 7 of REQUESTS (one with %2F), two If-None-Match lines, 2 pipelined,
    // HTTP/1.0, after empty lines, without Host; linearizable: 5 reads of keys that are there,
    // and when the read fails, the missing key's too.
    assert.equal(taken, roles.length * (13 + 5) + 2);
    const metrics = async (app: Parameters<typeof send>[0]) =>
      (await send(app, "GET", "/metrics")).text.split("\n")
        .filter((l) => l.startsWith("edgeraft_http_requests_total")).sort();
    const counted = await metrics(head.app);
    assert.deepStrictEqual(await metrics(request.app), counted);
    assert.deepStrictEqual(await metrics(routed.app), counted);
    assert.ok(counted.some((l) => l.includes('status="304"')), counted.join("\n"));
    assert.ok(counted.some((l) => l.includes('status="503"')), counted.join("\n"));
    assert.ok(
      counted.includes(
        'edgeraft_http_requests_total{method="other",route="connection",status="400"} 15',
      ),
      counted.join("\n"),
    );
  } finally {
    await Promise.all(servers.map((s) => s.shutdown()));
  }
});
