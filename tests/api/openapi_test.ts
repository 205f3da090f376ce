/**
 * `/openapi.json` against the server it describes: every route of the real app is driven with a
 * battery of good and bad requests (wrong method, no token, wrong scope, bad JSON, oversized
 * body, wrong content type, missing key, conflicts, no leader, unknown outcomes), and each
 * (route, status) pair observed must be in the document the same app serves.
 */

import assert from "node:assert/strict";
import type { TokenConfig } from "../../src/api/middleware/auth/principal.ts";
import { serveClientPort } from "../../src/api/http_front.ts";
import { sharedProblems } from "../../src/api/openapi.ts";
import { MembershipError } from "../../src/node/membership.ts";
import { NoLeaderError, ProposalTimeoutError } from "../../src/node/raft_node.ts";
import { ReadTimeoutError } from "../../src/node/read_barrier.ts";
import { makeApp, send } from "./harness.ts";
import { rawRequest } from "./raw_http.ts";

const TOKENS: TokenConfig[] = [
  { name: "admin", token: "admin-token", scopes: ["admin"] },
  { name: "reader", token: "read-token", scopes: ["read"] },
  { name: "app-writer", token: "write-app", scopes: ["read", "write"], keyPrefixes: ["app/"] },
  { name: "locker", token: "lock-token", scopes: ["lock"], lockPrefixes: ["cron/"] },
];

/** A documented operation: "GET /v1/config/{key}". */
type Route = string;

// deno-lint-ignore no-explicit-any
type OpenApiDocument = { paths: Record<string, Record<string, any>> };

/** What one app answered, by route. */
class Observations {
  readonly seen = new Map<Route, Set<number>>();

  add(route: Route, status: number): void {
    let statuses = this.seen.get(route);
    if (statuses === undefined) this.seen.set(route, statuses = new Set());
    statuses.add(status);
  }
}

type App = ReturnType<typeof makeApp>;

/**
 * Drives every route of `ctx.app` and records what it answered. `auth` is the admin header
 * (empty for an open app); with tokens, the battery also sends no token and a token whose
 * scopes or prefixes do not allow the request.
 */
async function battery(ctx: App, withTokens: boolean): Promise<Observations> {
  const { app, node } = ctx;
  const seen = new Observations();
  const admin: Record<string, string> = withTokens ? { authorization: "Bearer admin-token" } : {};
  const hit = async (
    route: Route,
    method: string,
    path: string,
    init: { json?: unknown; body?: BodyInit; headers?: Record<string, string> } = {},
  ) => {
    const answer = await send(app, method, path, {
      ...init,
      headers: { ...admin, ...init.headers },
      // An answer that streams on (a watch) must fail the test, not hang it.
      signal: AbortSignal.timeout(10_000),
    }).catch((error) => {
      throw new Error(`${method} ${path}: ${error}`);
    });
    seen.add(route, answer.status);
    return answer;
  };
  const big = "x".repeat(1024 * 1024 + 10);

  // Every path, with a method it does not take.
  const wrongMethods: [Route, string, string][] = [
    ["GET /v1/config/{key}", "PATCH", "/v1/config/app/a"],
    ["GET /v1/config", "POST", "/v1/config"],
    ["POST /v1/locks/{name}/acquire", "GET", "/v1/locks/cron/acquire"],
    ["POST /v1/locks/{name}/renew", "PUT", "/v1/locks/cron/renew"],
    ["POST /v1/locks/{name}/release", "DELETE", "/v1/locks/cron/release"],
    ["GET /v1/locks/{name}", "POST", "/v1/locks/cron"],
    ["GET /v1/watch", "POST", "/v1/watch"],
    ["GET /v1/cluster", "DELETE", "/v1/cluster"],
    ["GET /healthz", "POST", "/healthz"],
    ["GET /readyz", "PUT", "/readyz"],
    ["GET /metrics", "DELETE", "/metrics"],
    ["GET /openapi.json", "POST", "/openapi.json"],
    ["GET /v1/members", "PUT", "/v1/members"],
    ["POST /v1/members/{id}/promote", "GET", "/v1/members/4/promote"],
    ["DELETE /v1/members/{id}", "PATCH", "/v1/members/4"],
    ["POST /v1/leader/transfer", "GET", "/v1/leader/transfer"],
    ["GET /v1/snapshot", "POST", "/v1/snapshot"],
  ];
  for (const [route, method, path] of wrongMethods) await hit(route, method, path);
  const json = { "content-type": "application/json" };
  // Every route that takes a body, with a content coding the server does not take (a GET has
  // no body to decode: the header alone changes nothing, and a watch would stream on).
  const gzip = { "content-encoding": "gzip" };
  for (const [route, , path] of wrongMethods) {
    const [method] = route.split(" ");
    if (method === "GET") continue;
    await hit(route, method, path, { body: "{}", headers: { ...json, ...gzip } });
  }

  // Config values.
  const put = "PUT /v1/config/{key}";
  const get = "GET /v1/config/{key}";
  const del = "DELETE /v1/config/{key}";
  const list = "GET /v1/config";
  await hit(put, "PUT", "/v1/config/app/a", { json: { on: true } });
  await hit(put, "PUT", "/v1/config/app/a", { json: 2, headers: { "if-match": '"99"' } });
  await hit(put, "PUT", "/v1/config/app/a", { json: 2, headers: { "if-none-match": "*" } });
  await hit(put, "PUT", "/v1/config/app/a", { json: 2, headers: { "if-match": 'W/"1"' } });
  await hit(put, "PUT", "/v1/config/app/a", { body: "{not json", headers: json });
  await hit(put, "PUT", "/v1/config/app/a", {
    body: "1",
    headers: { "content-type": "text/plain" },
  });
  await hit(put, "PUT", "/v1/config/app/a", { body: JSON.stringify(big), headers: json });
  await hit(put, "PUT", "/v1/config/", { json: 1 });
  await hit(put, "PUT", "/v1/config/app/s", { json: 1, headers: { "x-client-id": "c1" } });
  for (const seq of ["5", "4"]) { // the second is stale
    await hit(put, "PUT", "/v1/config/app/s", {
      json: 1,
      headers: { "x-client-id": "c1", "x-client-seq": seq },
    });
  }
  // One idempotency key for two different requests.
  for (const [path, value] of [["/v1/config/app/i1", 1], ["/v1/config/app/i2", 2]] as const) {
    await hit(put, "PUT", path, { json: value, headers: { "idempotency-key": "same-key" } });
  }
  await hit(get, "GET", "/v1/config/app/a");
  await hit(get, "GET", "/v1/config/app/a", { headers: { "if-none-match": '"1"' } });
  await hit(get, "GET", "/v1/config/app/missing");
  await hit(get, "GET", "/v1/config/app/a?consistency=sometimes");
  await hit(get, "GET", "/v1/config/app/a?consistency=stale");
  await hit(get, "HEAD", "/v1/config/app/a");
  await hit(list, "GET", "/v1/config?prefix=app/");
  await hit(list, "GET", "/v1/config?prefix=app/", { headers: { "if-none-match": '"2"' } });
  const listed = await hit(list, "GET", "/v1/config?prefix=app/");
  await hit(list, "GET", "/v1/config?prefix=app/", {
    headers: { "if-none-match": listed.headers.get("etag")! },
  });
  await hit(list, "GET", "/v1/config?limit=0");
  await hit(del, "DELETE", "/v1/config/app/a", { headers: { "if-match": '"99"' } });
  await hit(del, "DELETE", "/v1/config/app/a", { body: big, headers: json });
  await hit(del, "DELETE", "/v1/config/app/a");
  await hit(del, "DELETE", "/v1/config/app/a");
  await hit(del, "DELETE", "/v1/config/app/s", {
    headers: { "x-client-id": "c1", "x-client-seq": "1" },
  });
  await hit(del, "DELETE", "/v1/config/app/s", { headers: { "x-client-seq": "1" } });

  // Locks.
  const acquire = "POST /v1/locks/{name}/acquire";
  const renew = "POST /v1/locks/{name}/renew";
  const release = "POST /v1/locks/{name}/release";
  const info = "GET /v1/locks/{name}";
  const granted = await hit(acquire, "POST", "/v1/locks/cron/acquire", { json: { ttlMs: 5000 } });
  await hit(acquire, "POST", "/v1/locks/cron/acquire", { json: { ttlMs: 5000, owner: "b" } });
  await hit(acquire, "POST", "/v1/locks/cron/acquire", { json: { ttlMs: 1 } });
  await hit(acquire, "POST", "/v1/locks/cron/acquire", { json: { ttlMs: 5000, extra: 1 } });
  await hit(acquire, "POST", "/v1/locks/cron/acquire", { body: "{", headers: json });
  await hit(acquire, "POST", "/v1/locks/cron/acquire", {
    body: '{"ttlMs":5000}',
    headers: { "content-type": "text/plain" },
  });
  await hit(acquire, "POST", "/v1/locks/cron/acquire", { body: big, headers: json });
  await hit(acquire, "POST", "/v1/locks/other/acquire", {
    json: { ttlMs: 5000 },
    headers: { "x-client-id": "c2", "x-client-seq": "9" },
  });
  await hit(acquire, "POST", "/v1/locks/other2/acquire", {
    json: { ttlMs: 5000 },
    headers: { "x-client-id": "c2", "x-client-seq": "3" },
  });
  const token = granted.body.token;
  for (const [route, action] of [[renew, "renew"], [release, "release"]] as const) {
    await hit(route, "POST", `/v1/locks/cron/${action}`, { json: { token: token + 1000 } });
    await hit(route, "POST", `/v1/locks/cron/${action}`, { json: { token: "x" } });
    await hit(route, "POST", `/v1/locks/cron/${action}`, { body: "[", headers: json });
    await hit(route, "POST", `/v1/locks/cron/${action}`, {
      body: JSON.stringify({ token }),
      headers: { "content-type": "text/plain" },
    });
    await hit(route, "POST", `/v1/locks/cron/${action}`, { body: big, headers: json });
    await hit(route, "POST", `/v1/locks/cron/${action}`, {
      json: { token },
      headers: { "x-client-id": "c2", "x-client-seq": "1" },
    });
    await hit(route, "POST", `/v1/locks/cron/${action}`, { json: { token } });
  }
  await hit(info, "GET", "/v1/locks/cron");
  await hit(info, "GET", "/v1/locks/cron?consistency=never");
  await hit(info, "GET", "/v1/locks/%FF");

  // The node's errors: no leader, an unknown outcome, a read no quorum confirmed, a bug.
  const nodeErrors: [string, () => void][] = [
    ["no leader", () => node.submitError = new NoLeaderError("no leader is known")],
    ["timeout", () => node.submitError = new ProposalTimeoutError("not applied in time")],
    ["bug", () => node.submitError = new Error("a bug")],
  ];
  for (const [, fail] of nodeErrors) {
    fail();
    await hit(put, "PUT", "/v1/config/app/n", { json: 1 });
    await hit(del, "DELETE", "/v1/config/app/n");
    await hit(acquire, "POST", "/v1/locks/cron2/acquire", { json: { ttlMs: 5000 } });
    await hit(renew, "POST", "/v1/locks/cron/renew", { json: { token } });
    await hit(release, "POST", "/v1/locks/cron/release", { json: { token } });
    node.submitError = undefined;
  }
  for (
    const error of [
      new NoLeaderError("no leader"),
      new ReadTimeoutError("not confirmed"),
      new Error("a bug"),
    ]
  ) {
    node.readError = error;
    await hit(get, "GET", "/v1/config/app/x");
    await hit(list, "GET", "/v1/config");
    await hit(info, "GET", "/v1/locks/cron");
    node.readError = undefined;
  }

  // Watch: a stream (only its status is read), bad parameters, and one too many.
  const watch = "GET /v1/watch";
  // The first stays open while the second asks, so that the second is one too many.
  const open: Response[] = [];
  for (const query of ["?prefix=app/", "?prefix=app/", "?fromRevision=x"]) {
    const response = await app.request(`/v1/watch${query}`, { headers: admin });
    seen.add(watch, response.status);
    open.push(response);
  }
  for (const response of open) await response.body?.cancel();

  // Cluster and operations.
  await hit("GET /v1/cluster", "GET", "/v1/cluster");
  await hit("GET /healthz", "GET", "/healthz");
  await hit("GET /readyz", "GET", "/readyz");
  node.leader = 0;
  await hit("GET /readyz", "GET", "/readyz");
  node.leader = 1;
  await hit("GET /metrics", "GET", "/metrics");
  await hit("GET /v1/status", "GET", "/v1/status");
  await hit("GET /v1/status", "POST", "/v1/status");
  await hit("GET /openapi.json", "GET", "/openapi.json");

  // Membership and backups.
  const members = "GET /v1/members";
  const add = "POST /v1/members";
  const promote = "POST /v1/members/{id}/promote";
  const remove = "DELETE /v1/members/{id}";
  const transfer = "POST /v1/leader/transfer";
  const snapshot = "GET /v1/snapshot";
  const learner = { peerUrl: "http://127.0.0.1:7104", clientUrl: "http://127.0.0.1:7004" };
  await hit(members, "GET", "/v1/members");
  await hit(add, "POST", "/v1/members", { json: { ...learner, role: "learner" } });
  await hit(add, "POST", "/v1/members", { json: learner }); // taken: 409
  await hit(add, "POST", "/v1/members", { json: { ...learner, role: "voter" } });
  await hit(add, "POST", "/v1/members", { body: "{", headers: json });
  await hit(add, "POST", "/v1/members", { body: big, headers: json });
  await hit(add, "POST", "/v1/members", {
    body: JSON.stringify(learner),
    headers: { "content-type": "text/plain" },
  });
  await hit(promote, "POST", "/v1/members/4/promote");
  await hit(promote, "POST", "/v1/members/99/promote");
  await hit(promote, "POST", "/v1/members/4/promote"); // a voter already: 409
  await hit(promote, "POST", "/v1/members/x/promote");
  await hit(remove, "DELETE", "/v1/members/4");
  await hit(remove, "DELETE", "/v1/members/4");
  await hit(remove, "DELETE", "/v1/members/0");
  await hit(transfer, "POST", "/v1/leader/transfer");
  await hit(transfer, "POST", "/v1/leader/transfer", { json: { to: 3 } });
  await hit(transfer, "POST", "/v1/leader/transfer", { json: { to: 99 } });
  await hit(transfer, "POST", "/v1/leader/transfer", { json: { to: "x" } });
  await hit(transfer, "POST", "/v1/leader/transfer", { body: "{", headers: json });
  await hit(transfer, "POST", "/v1/leader/transfer", { body: big, headers: json });
  await hit(transfer, "POST", "/v1/leader/transfer", {
    body: "{}",
    headers: { "content-type": "text/plain" },
  });
  const fakeMembership = node.membership!;
  for (
    const error of [
      new MembershipError("change-in-progress", "another change is in progress"),
      new MembershipError("no-leader", "no leader is known"),
      new MembershipError("outcome-unknown", "the leader did not answer"),
      new MembershipError("transfer-failed", "node 2 did not take over"),
      new MembershipError("no-quorum", "1 of 2 answer"),
    ]
  ) {
    for (
      const [route, method, path, body] of [
        [add, "POST", "/v1/members", { peerUrl: "http://h:1", clientUrl: "http://h:2" }],
        [promote, "POST", "/v1/members/2/promote", undefined],
        [remove, "DELETE", "/v1/members/3", undefined],
        [transfer, "POST", "/v1/leader/transfer", undefined],
      ] as const
    ) {
      fakeMembership.failNext = error;
      await hit(route, method, path, { json: body });
    }
  }
  fakeMembership.failNext = undefined;
  await hit(snapshot, "GET", "/v1/snapshot");
  await hit(snapshot, "GET", "/v1/snapshot?consistency=stale");
  await hit(snapshot, "GET", "/v1/snapshot?consistency=sometimes");
  node.readError = new NoLeaderError("no leader");
  await hit(snapshot, "GET", "/v1/snapshot");
  node.readError = undefined;
  node.membership = undefined;
  await hit(members, "GET", "/v1/members");
  await hit(add, "POST", "/v1/members", { json: learner });
  await hit(promote, "POST", "/v1/members/2/promote");
  await hit(remove, "DELETE", "/v1/members/2");
  await hit(transfer, "POST", "/v1/leader/transfer");
  node.membership = fakeMembership;
  const backup = node.backup;
  (node as { backup?: unknown }).backup = undefined;
  await hit(snapshot, "GET", "/v1/snapshot");
  node.backup = backup;

  if (withTokens) {
    const asWho = (who: string | undefined): Record<string, string> =>
      who === undefined ? {} : { authorization: who };
    for (const who of [undefined, "Bearer nope", "Bearer read-token", "Bearer lock-token"]) {
      const headers = { ...asWho(who) };
      const requests: [Route, string, string, unknown?][] = [
        [get, "GET", "/v1/config/secret/a"],
        [put, "PUT", "/v1/config/secret/a", 1],
        [del, "DELETE", "/v1/config/secret/a"],
        [list, "GET", "/v1/config?prefix=secret/"],
        [acquire, "POST", "/v1/locks/jobs/acquire", { ttlMs: 5000 }],
        [renew, "POST", "/v1/locks/jobs/renew", { token: 1 }],
        [release, "POST", "/v1/locks/jobs/release", { token: 1 }],
        [info, "GET", "/v1/locks/jobs"],
        ["GET /v1/cluster", "GET", "/v1/cluster"],
        ["GET /metrics", "GET", "/metrics"],
        ["GET /v1/status", "GET", "/v1/status"],
        [members, "GET", "/v1/members"],
        [add, "POST", "/v1/members", learner],
        [promote, "POST", "/v1/members/2/promote"],
        [remove, "DELETE", "/v1/members/2"],
        [transfer, "POST", "/v1/leader/transfer"],
        [snapshot, "GET", "/v1/snapshot"],
      ];
      for (const [route, method, path, body] of requests) {
        const answer = await send(app, method, path, { json: body, headers });
        seen.add(route, answer.status);
      }
      const response = await app.request("/v1/watch?prefix=secret/", { headers });
      seen.add(watch, response.status);
      await response.body?.cancel();
    }
    // A token limited to app/ may write app/ keys, not list everything.
    const writer = { authorization: "Bearer write-app" };
    seen.add(list, (await send(app, "GET", "/v1/config", { headers: writer })).status);
  }
  return seen;
}

/** The documented statuses of each operation of `doc`, as "GET /path" -> statuses. */
function documented(doc: OpenApiDocument): Map<Route, Set<number>> {
  const routes = new Map<Route, Set<number>>();
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, operation] of Object.entries(item)) {
      routes.set(
        `${method.toUpperCase()} ${path}`,
        new Set(Object.keys(operation.responses).map(Number)),
      );
    }
  }
  return routes;
}

/** Fails naming every (route, status) the app answered that its own document leaves out. */
function assertAllDocumented(seen: Observations, doc: OpenApiDocument): void {
  const routes = documented(doc);
  const missing: string[] = [];
  for (const [route, statuses] of seen.seen) {
    const known = routes.get(route);
    assert.ok(known !== undefined, `${route} is answered but not in the document`);
    for (const status of statuses) if (!known.has(status)) missing.push(`${route} ${status}`);
  }
  assert.deepEqual(missing, [], `answered but not documented:\n${missing.join("\n")}`);
  // And the battery drove every documented route: none is left out of the check.
  assert.deepEqual([...routes.keys()].filter((route) => !seen.seen.has(route)), []);
}

/** The battery must reach what it claims to, or the check above would pass vacuously. */
function assertReached(seen: Observations, route: Route, statuses: number[]): void {
  const got = seen.seen.get(route) ?? new Set();
  const unreached = statuses.filter((status) => !got.has(status));
  assert.deepEqual(unreached, [], `${route}: the battery did not reach ${unreached}`);
}

for (const withTokens of [false, true]) {
  Deno.test(`openapi: every status the server answers is documented (${withTokens ? "with tokens" : "open"})`, async () => {
    const ctx = makeApp({ tokens: withTokens ? TOKENS : undefined, limits: { maxWatchers: 1 } });
    const doc = await (await ctx.app.request("/openapi.json")).json() as OpenApiDocument;
    const seen = await battery(ctx, withTokens);
    assertAllDocumented(seen, doc);
    const auth = withTokens ? [401, 403] : [];
    assertReached(seen, "PUT /v1/config/{key}", [200, 400, 409, 412, 413, 415, 500, 503, 504]);
    assertReached(seen, "DELETE /v1/config/{key}", [200, 404, 409, 412, 413, 503, 504, ...auth]);
    assertReached(seen, "GET /v1/config/{key}", [200, 304, 400, 404, 500, 503, ...auth]);
    assertReached(seen, "GET /v1/config", [200, 304, 400, 503, ...auth]);
    assertReached(seen, "POST /v1/locks/{name}/acquire", [200, 400, 409, 413, 415, 503, 504]);
    for (const action of ["renew", "release"]) {
      assertReached(seen, `POST /v1/locks/{name}/${action}`, [200, 400, 409, 413, 415, 504]);
    }
    assertReached(seen, "GET /v1/locks/{name}", [200, 400, 503, ...auth]);
    assertReached(seen, "GET /v1/watch", [200, 400, 405, 429, ...auth]);
    assertReached(seen, "GET /readyz", [200, 503, 405]);
    assertReached(seen, "GET /metrics", [200, 405, ...auth]);
    assertReached(seen, "GET /v1/members", [200, 405, 501, ...auth]);
    assertReached(seen, "POST /v1/members", [201, 400, 409, 413, 415, 501, 503, 504, ...auth]);
    assertReached(seen, "POST /v1/members/{id}/promote", [200, 400, 404, 409, 501, 503, 504]);
    assertReached(seen, "DELETE /v1/members/{id}", [200, 400, 404, 409, 501, 503, 504, ...auth]);
    assertReached(seen, "POST /v1/leader/transfer", [200, 400, 404, 413, 415, 501, 503, 504]);
    assertReached(seen, "GET /v1/snapshot", [200, 400, 405, 501, 503, ...auth]);
    await ctx.node.tick(); // let waits and leases settle before the app is dropped
  });
}

Deno.test("openapi: the details the issue found missing are in the document", async () => {
  const { app } = makeApp({ tokens: TOKENS });
  const doc = await (await app.request("/openapi.json")).json() as OpenApiDocument;
  const list = doc.paths["/v1/config"].get;
  // deno-lint-ignore no-explicit-any
  const params = (list.parameters as any[]).map((p) => `${p.in} ${p.name}`);
  assert.ok(params.includes("header If-None-Match"), params.join(", "));
  assert.ok(doc.paths["/v1/config/{key}"].put.responses[200].headers.ETag);
  for (
    const [path, method] of Object.entries(doc.paths).flatMap(([p, item]) =>
      Object.keys(item).map((m) => [p, m] as const)
    )
  ) {
    const responses = doc.paths[path][method].responses;
    assert.ok(responses[405]?.headers?.Allow, `${method} ${path}: 405 with Allow`);
    if (!["/healthz", "/readyz", "/openapi.json"].includes(path)) {
      assert.ok(responses[401] && responses[403], `${method} ${path}: 401 and 403`);
    }
  }
  // The lock-held 409 keeps its own schema and says it may also be a stale sequence.
  const held = doc.paths["/v1/locks/{name}/acquire"].post.responses[409];
  assert.match(held.description, /held.*X-Client-Seq/);
});

Deno.test("openapi: sharedProblems follows the route's traits", () => {
  const front = ["408", "431", "505"];
  assert.deepEqual(
    Object.keys(sharedProblems({ auth: false, probe: true })),
    ["405", "500", ...front].sort(),
  );
  assert.deepEqual(
    Object.keys(sharedProblems({ auth: true, read: true })),
    ["400", "401", "403", "405", "500", "503", ...front].sort(),
  );
  assert.match(
    sharedProblems({ auth: false, write: true, read: true })[503],
    /leader.*; or .*quorum/,
  );
  assert.match(
    sharedProblems({ auth: false, body: "json" })[415],
    /application\/json.*; or .*Content-Encoding/,
  );
});

Deno.test("openapi: what the client port's front answers itself is on every operation", async () => {
  const { app } = makeApp();
  const doc = await (await app.request("/openapi.json")).json() as OpenApiDocument;
  const server = await serveClientPort(
    { hostname: "127.0.0.1", port: 0, limits: { headerTimeoutMs: 200 } },
    app.fetch,
  );
  try {
    const port = server.addr.port;
    const headers = Array.from({ length: 200 }, (_, i) => `x-h${i}: 1\r\n`).join("");
    const answers = [
      await rawRequest(port, `GET /v1/config/a HTTP/1.1\r\nhost: x\r\n${headers}\r\n`),
      await rawRequest(port, "GET /v1/config/a HTTP/2.0\r\nhost: x\r\n\r\n"),
      await rawRequest(port, "GET /v1/config/a HTTP/1.1\r\nhost: x\r\n"), // never ends
    ];
    const statuses = answers.map((answer) => answer.status);
    assert.deepEqual(statuses, [431, 505, 408]);
    for (const [route, documentedStatuses] of documented(doc)) {
      for (const status of statuses) {
        assert.ok(documentedStatuses.has(status), `${route} does not document ${status}`);
      }
    }
  } finally {
    await server.shutdown();
  }
});
