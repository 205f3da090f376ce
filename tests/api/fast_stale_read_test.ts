/**
 * The stale-read shortcut (`src/api/fast_stale_read.ts`) must answer exactly what the router
 * answers. Two apps over equal fake nodes, one with the shortcut and one without, get the same
 * requests; status, every header, body and the request metrics must match.
 */
import assert from "node:assert/strict";
import type { ApiOptions } from "../../src/api/app.ts";
import { fastStaleRead } from "../../src/api/fast_stale_read.ts";
import { resolveLimits } from "../../src/api/limits.ts";
import { ApiMetrics } from "../../src/api/metrics.ts";
import { type Answer, makeApp, send } from "./harness.ts";

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
  ["/v1/config/flags?consistency=stale", { "if-none-match": '"1"' }],
  ["/v1/config/flags?consistency=stale", { "if-none-match": 'W/"1", "7"' }],
  ["/v1/config/flags?consistency=stale", { "if-none-match": '"999"' }],
  ["/v1/config/flags?consistency=stale", { "if-none-match": "*" }],
  // Declined by the shortcut, answered by the router:
  ["/v1/config/missing?consistency=stale"],
  ["/v1/config/with%20space?consistency=stale"],
  ["/v1/config/a/../flags?consistency=stale"],
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
  assert.equal(take("/v1/config/with%2Fslash?consistency=stale"), undefined);
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
